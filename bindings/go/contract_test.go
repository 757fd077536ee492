package redlead

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// osThreads is the process's OS thread count, from the kernel.
func osThreads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// The Go runtime may start a spare thread or two on its own (sysmon's
// hand-offs, a GC worker); more than that would be threads per call.
const runtimeSlack = 3

func TestWaitingAcquiresWithAContextPinNoThreads(t *testing.T) {
	c := newClient(t)
	holder, err := c.TryAcquire(context.Background(), "go-threads-async", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	// Warm up: the library's threads and the runtime's first Ms exist
	// before the baseline.
	warm, cancelWarm := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, _ = c.Acquire(warm, "go-threads-async", time.Second)
	cancelWarm()
	before := osThreads(t)

	const waiters = 24
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Acquire(ctx, "go-threads-async", time.Second)
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // all 24 are waiting in the library now
	during := osThreads(t)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrCancelled) {
			t.Fatalf("a waiting acquire ended with %v, want ErrCancelled", err)
		}
	}
	// Cancelling wakes 48 goroutines that each make a short cgo call (24
	// cancels, 24 returning acquires freeing their signal); the runtime may
	// start a thread for each while another is in C (seen under -race:
	// +23). Those are calls in flight too, and idle afterwards.
	after := osThreads(t)
	t.Logf("OS threads: %d before, %d with %d acquires waiting on a context, %d after cancelling them all at once",
		before, during, waiters, after)
	if during-before > runtimeSlack {
		t.Fatalf("%d waiting acquires added %d OS threads: a context's wait must not pin a thread", waiters, during-before)
	}
	if after-before > 2*waiters+runtimeSlack {
		t.Fatalf("cancelling %d acquires added %d OS threads", waiters, after-before)
	}
}

func TestBlockingCallsPinAtMostOneThreadEach(t *testing.T) {
	c := newClient(t)
	holder, err := c.TryAcquire(context.Background(), "go-threads-blocking", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	before := osThreads(t)
	// context.Background can never end, so Acquire uses the blocking C
	// call: each waiting call occupies its OS thread, and no more.
	const inFlight = 6
	var wg sync.WaitGroup
	errs := make(chan error, inFlight)
	for i := 0; i < inFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := c.Acquire(context.Background(), "go-threads-blocking", 5*time.Second)
			if err == nil {
				err = l.Release(context.Background())
			}
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	during := osThreads(t)
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a blocking acquire: %v", err)
		}
	}
	t.Logf("OS threads: %d before, %d with %d blocking acquires in flight", before, during, inFlight)
	if during-before > inFlight+runtimeSlack {
		t.Fatalf("%d blocking calls in flight added %d OS threads", inFlight, during-before)
	}
}

func TestWatchedLocksAddNoThreads(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	warm, err := c.TryAcquire(ctx, "go-threads-watched-warm", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = warm.Lost() // the library's background runtime runs from here on
	before := osThreads(t)
	var locks []*Lock
	for i := 0; i < 100; i++ {
		l, err := c.TryAcquire(ctx, fmt.Sprintf("go-threads-watched-%d", i), 10*time.Second,
			WithAutoExtend(time.Minute, 0))
		if err != nil {
			t.Fatal(err)
		}
		_ = l.Lost()
		locks = append(locks, l)
	}
	during := osThreads(t)
	for _, l := range append(locks, warm) {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("OS threads: %d before, %d with 100 auto-extended locks watched", before, during)
	if during-before > runtimeSlack {
		t.Fatalf("100 watched locks added %d OS threads: watchers must be tasks, not threads", during-before)
	}
}

func TestLostClosesWhenTheLossCameBeforeTheFirstCall(t *testing.T) {
	c := newClient(t)
	// Auto-extension capped at 600 ms: the library declares the lock lost
	// before its validity ends, with nobody watching yet.
	l, err := c.TryAcquire(context.Background(), "go-lost-late", 500*time.Millisecond,
		WithAutoExtend(600*time.Millisecond, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitFor(t, func() bool { return !l.IsHeld() }, 3*time.Second, "the lock given up at its cap")
	select {
	case <-l.Lost():
	case <-time.After(time.Second):
		t.Fatal("Lost, first called after the loss, did not close")
	}
}

func TestLostIsNotClosedByRelease(t *testing.T) {
	c := newClient(t)
	l, err := c.TryAcquire(context.Background(), "go-lost-release", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
		t.Fatal("Lost closed by Release")
	case <-l.Lost():
		t.Fatal("Lost, called after Release, is closed")
	case <-time.After(200 * time.Millisecond):
	}
}

// A Go program cannot run the library in a forked child: syscall.ForkExec
// execs at once and the runtime offers no bare fork, so ErrForked reaches
// Go code only through a status the C library returns (its own fork tests
// are in ffi/tests). What the binding owns is the mapping.
func TestForkedStatusIsErrForked(t *testing.T) {
	err := errorFrom(statusForked, nil)
	var e *Error
	if !errors.Is(err, ErrForked) || errors.Is(err, ErrInternal) || !errors.As(err, &e) || e.Status != statusForked {
		t.Fatalf("status %d became %#v", statusForked, err)
	}
	if !strings.Contains(err.Error(), "fork") {
		t.Fatalf("message of a forked status: %q", err.Error())
	}
}

func TestRedsyncKeyShapeWithoutPrefixOrHashTag(t *testing.T) {
	c, err := NewClient(nodeURLs, WithKeyPrefix(""), WithKeyHashTag(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := c.TryAcquire(context.Background(), "go-plain-key", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The key is the resource itself, as go-redsync names it.
	if n := nodesWithKey(t, "go-plain-key"); n < 3 {
		t.Fatalf("key go-plain-key on %d nodes", n)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return nodesWithKey(t, "go-plain-key") == 0 }, time.Second, "key released")
}

func TestRetryCountEndsAWaitingAcquireEarly(t *testing.T) {
	holder := newClient(t)
	h, err := holder.TryAcquire(context.Background(), "go-retry-count", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := NewClient(nodeURLs, WithRetryCount(2), WithRetry(20*time.Millisecond, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err = c.Acquire(ctx, "go-retry-count", time.Second)
	took := time.Since(t0)
	t.Logf("2 attempts 20 ms apart on a held resource: %v after %v", err, took)
	if !errors.Is(err, ErrNotAcquired) || took > 2*time.Second {
		t.Fatalf("got %v after %v, want ErrNotAcquired well before the 5 s deadline", err, took)
	}
}

func TestConfigOptionsAreValidatedByTheLibrary(t *testing.T) {
	_ = newClient(t) // the process-wide runtime runs from here on
	for name, opt := range map[string]Option{
		"drift factor 0.7":             WithDriftFactor(0.7),
		"runtime threads 0":            WithRuntimeThreads(0),
		"runtime threads 4 once built": WithRuntimeThreads(4),
		"client cert that is no PEM":   WithTLSClientCert("not a certificate", "not a key"),
	} {
		if c, err := NewClient(nodeURLs, opt); !errors.Is(err, ErrInvalidArgument) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestElectionHealthAndTransitions(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	opts := ElectionOptions{TTL: 2 * time.Second, RetryInterval: 50 * time.Millisecond}
	a, err := c.Elect(ctx, "go-election-health", "A", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, a.IsLeader, 5*time.Second, "A elected")
	b, err := c.Elect(ctx, "go-election-health", "B", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !a.IsHealthy() || !b.IsHealthy() {
		t.Fatalf("healthy: leader %v, follower %v", a.IsHealthy(), b.IsHealthy())
	}
	time.Sleep(200 * time.Millisecond) // B sees A as the holder
	if _, err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b.IsLeader, 3*time.Second, "B takes over")
	// A transition is leadership changing hands as B observed it: A -> B.
	waitFor(t, func() bool { return b.Transitions() >= 1 }, 3*time.Second, "B counts the hand-over")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.IsHealthy() || b.Transitions() != 0 {
		t.Fatalf("after Close: healthy=%v transitions=%d (a closed election answers zero values)", b.IsHealthy(), b.Transitions())
	}
}

// blackHole is a TCP listener that accepts connections and never answers:
// a Redis node hung after the connection was made.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "redis://" + l.Addr().String()
}

func TestTryAcquireCancelledMidAttemptReturnsAtOnceAndLeavesNoKey(t *testing.T) {
	// Two real nodes and three that never answer: the attempt can only end
	// by the 3 s node timeout, or by the context.
	urls := append(append([]string(nil), nodeURLs[:2]...), blackHole(t), blackHole(t), blackHole(t))
	c, err := NewClient(urls, WithNodeTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	t0 := time.Now()
	_, err = c.TryAcquire(ctx, "go-try-cancel", 10*time.Second)
	took := time.Since(t0)
	onLive := nodesWithKey(t, "redlead:{go-try-cancel}")
	var e *Error
	t.Logf("try-acquire against 3 hung nodes, cancelled after 150 ms: %v after %v; key on %d live nodes then", err, took, onLive)
	if !errors.As(err, &e) || e.Status != statusCancelled || !errors.Is(err, context.Canceled) || took > time.Second {
		t.Fatalf("got %#v after %v, want the library's ErrCancelled well before the 3 s node timeout", err, took)
	}
	// The attempt's SETs reached the live nodes; the library releases them
	// in the background once the attempt ends.
	waitFor(t, func() bool { return nodesWithKey(t, "redlead:{go-try-cancel}") == 0 }, 6*time.Second,
		"no key left on the live nodes by the cancelled attempt")
}

// freezer is a TCP proxy to a real node that can stop forwarding (a node
// or link that hangs mid-conversation) and resume.
type freezer struct {
	url    string
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{}
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{url: "redis://" + l.Addr().String(), thaw: make(chan struct{})}
	close(f.thaw)
	var conns []net.Conn
	var cmu sync.Mutex
	track := func(c net.Conn) { cmu.Lock(); conns = append(conns, c); cmu.Unlock() }
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				f.mu.Lock()
				thaw := f.thaw
				f.mu.Unlock()
				<-thaw // held while frozen, delivered in order after
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", strings.TrimPrefix(target, "redis://"))
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(up)
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	t.Cleanup(func() {
		f.set(false)
		l.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
	})
	return f
}

func (f *freezer) set(frozen bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if frozen == f.frozen {
		return
	}
	f.frozen = frozen
	if frozen {
		f.thaw = make(chan struct{})
	} else {
		close(f.thaw)
	}
}

func TestExtendAndReleaseReturnAtOnceWhenTheContextEndsMidCall(t *testing.T) {
	var proxies []*freezer
	var urls []string
	for _, u := range nodeURLs {
		p := newFreezer(t, u)
		proxies = append(proxies, p)
		urls = append(urls, p.url)
	}
	c, err := NewClient(urls, WithNodeTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := c.TryAcquire(context.Background(), "go-midcall", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Three of five links hang: no quorum can answer before the 3 s node
	// timeout, so only the context can end the calls early.
	for _, p := range proxies[:3] {
		p.set(true)
	}
	for _, step := range []struct {
		name string
		call func(context.Context) error
	}{
		{"extend", func(ctx context.Context) error { return l.Extend(ctx, 20*time.Second) }},
		{"release", l.Release}, // last: it frees the lock
	} {
		name, call := step.name, step.call
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		t0 := time.Now()
		err := call(ctx)
		took := time.Since(t0)
		cancel()
		t.Logf("%s over 3 hung links, context ends after 150 ms: %v after %v", name, err, took)
		if !errors.Is(err, context.DeadlineExceeded) || took > time.Second {
			t.Fatalf("%s: %v after %v, want the context's error well before the 3 s node timeout", name, err, took)
		}
	}
	for _, p := range proxies[:3] {
		p.set(false)
	}
	// The release went on in the background once the links came back.
	waitFor(t, func() bool { return nodesWithKey(t, "redlead:{go-midcall}") == 0 }, 5*time.Second,
		"the lock released in the background after the links came back")
}
