// Command bench measures acquire + release from Go through redlead and
// through go-redsync (goredis v9, one pool per node) on the same nodes, in
// interleaved batches so that drift of the machine hits both alike. It is a
// separate module so the binding never depends on redsync; scripts/bench.sh
// builds it and runs it next to the Rust API and the raw-socket floor.
//
//	BENCH_URLS=redis://127.0.0.1:p1,... BENCH_N=3000 go run .
//
// prints `BENCH go ...`, `BENCH go-fenced ...`, `BENCH go-cgo ...` (the
// C calls through cgo without the binding, cgo.go) and `BENCH go-redsync ...`.
package main

// #include <stdlib.h>
import "C"

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	goredislib "github.com/redis/go-redis/v9"

	"redlead.dev/go/redlead"
)

const ttl = 10 * time.Second

func report(name string, xs []time.Duration) {
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("BENCH %s n=%d p50_us=%.1f p99_us=%.1f\n", name, len(xs), us(xs[len(xs)/2]), us(xs[int(float64(len(xs))*0.99)]))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func main() {
	urls := strings.Split(os.Getenv("BENCH_URLS"), ",")
	if len(urls) == 0 || urls[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: BENCH_URLS=redis://h:p,... [BENCH_N=3000] bench")
		os.Exit(2)
	}
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("BENCH_N")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()

	client, err := redlead.NewClient(urls)
	must(err)
	defer client.Close()
	redleadOnce := func(resource string, opts ...redlead.LockOption) time.Duration {
		t := time.Now()
		l, err := client.TryAcquire(ctx, resource, ttl, opts...)
		must(err)
		must(l.Release(ctx))
		return time.Since(t)
	}

	raw, err := newCgoClient(urls)
	must(err)
	defer raw.close()
	rawResource := C.CString("bench-go-cgo")
	defer C.free(unsafe.Pointer(rawResource))
	cgoOnce := func() time.Duration {
		d, err := raw.once(rawResource)
		must(err)
		return d
	}

	var pools []redsyncredis.Pool
	for _, u := range urls {
		opt, err := goredislib.ParseURL(u)
		must(err)
		pools = append(pools, goredis.NewPool(goredislib.NewClient(opt)))
	}
	rs := redsync.New(pools...)
	mutex := rs.NewMutex("bench-go-redsync", redsync.WithExpiry(ttl), redsync.WithTries(1))
	redsyncOnce := func() time.Duration {
		t := time.Now()
		must(mutex.LockContext(ctx))
		ok, err := mutex.UnlockContext(ctx)
		must(err)
		if !ok {
			must(fmt.Errorf("redsync unlock reported not ok"))
		}
		return time.Since(t)
	}

	for i := 0; i < 200; i++ {
		redleadOnce("bench-go")
		redleadOnce("bench-go-fenced", redlead.WithFencing())
		cgoOnce()
		redsyncOnce()
	}
	plain, fenced, peer := make([]time.Duration, 0, n), make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	viaCgo := make([]time.Duration, 0, n)
	const batch = 100
	for len(plain) < n {
		k := batch
		if n-len(plain) < k {
			k = n - len(plain)
		}
		for i := 0; i < k; i++ {
			plain = append(plain, redleadOnce("bench-go"))
		}
		for i := 0; i < k; i++ {
			fenced = append(fenced, redleadOnce("bench-go-fenced", redlead.WithFencing()))
		}
		for i := 0; i < k; i++ {
			viaCgo = append(viaCgo, cgoOnce())
		}
		for i := 0; i < k; i++ {
			peer = append(peer, redsyncOnce())
		}
	}
	report("go", plain)
	report("go-fenced", fenced)
	report("go-cgo", viaCgo)
	report("go-redsync", peer)
}
