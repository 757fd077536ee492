package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test runs its replicas as this test binary re-executed with
// replicaEnv set, so they are built exactly as the test is (with -race
// under `go test -race`) and no `go build` runs inside the test.
const replicaEnv = "EXPIRED_KEYS_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A redis-server on a free loopback port, stopped by pid.
type node struct {
	cmd  *exec.Cmd
	addr string
}

func startNode(t *testing.T) *node {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir := t.TempDir()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n := &node{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port)}
		for i := 0; i < 100; i++ {
			if c, err := dial(n.addr); err == nil {
				v, err := c.do("PING")
				c.Close()
				if err == nil && v == "PONG" {
					t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
					return n
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The port was taken between Listen and redis-server: try another.
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
	t.Fatal("could not start redis-server")
	return nil
}

func (n *node) url() string { return "redis://" + n.addr }

// do runs one command on the data node on a fresh connection.
func do(t *testing.T, addr string, args ...string) any {
	t.Helper()
	c, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// Record lines, as main.go writes them.
type handledLine struct {
	key, id string
	term    uint64
	t0, t1  uint64
	via     string
	pos     int // line number: file order is the order of the write calls
}

type record struct {
	elected   map[uint64]string // term -> id
	electedAt map[uint64]uint64 // term -> CLOCK_MONOTONIC
	stopped   map[string]int    // "id term" -> line number
	stopWhy   map[string]string
	handled   []handledLine
	fenced    int
	lines     int
}

func readRecord(t *testing.T, path string) record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := record{elected: map[uint64]string{}, electedAt: map[uint64]uint64{}, stopped: map[string]int{}, stopWhy: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r.lines++
		w := strings.Fields(sc.Text())
		u := func(i int) uint64 {
			v, err := strconv.ParseUint(w[i], 10, 64)
			if err != nil {
				t.Fatalf("record line %d %q: %v", r.lines, sc.Text(), err)
			}
			return v
		}
		switch {
		case w[0] == "elected" && len(w) == 4:
			term := u(2)
			if prev, ok := r.elected[term]; ok {
				t.Fatalf("term %d elected twice (%s and %s)", term, prev, w[1])
			}
			r.elected[term] = w[1]
			r.electedAt[term] = u(3)
		case w[0] == "stopped" && len(w) == 5:
			r.stopped[w[1]+" "+w[2]] = r.lines
			r.stopWhy[w[1]+" "+w[2]] = w[3]
		case w[0] == "handled" && len(w) == 7:
			r.handled = append(r.handled, handledLine{w[1], w[2], u(3), u(4), u(5), w[6], r.lines})
		case w[0] == "fenced" && len(w) == 4:
			r.fenced++
		case w[0] == "exit" && len(w) == 3:
		default:
			t.Fatalf("malformed record line %d: %q", r.lines, sc.Text())
		}
	}
	return r
}

// lastElected is the highest term in the record and its id.
func (r record) lastElected() (uint64, string) {
	var best uint64
	for term := range r.elected {
		if term > best {
			best = term
		}
	}
	return best, r.elected[best]
}

type replicaProc struct {
	id   string
	cmd  *exec.Cmd
	log  string
	done chan error
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOnlyTheLeaderHandlesEachExpiredKeyExactlyOnce(t *testing.T) {
	var lockNodes []string
	for i := 0; i < 5; i++ {
		lockNodes = append(lockNodes, startNode(t).url())
	}
	// The data node starts without keyspace events: the replicas turn them on.
	data := startNode(t)
	dir := t.TempDir()
	recordPath := filepath.Join(dir, "record")
	if err := os.WriteFile(recordPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	replicas := map[string]*replicaProc{}
	for _, id := range []string{"A", "B", "C"} {
		p := &replicaProc{id: id, log: filepath.Join(dir, "replica-"+id+".log"), done: make(chan error, 1)}
		logf, err := os.Create(p.log)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(os.Args[0], "-id", id, "-data", data.url(), "-nodes", strings.Join(lockNodes, ","),
			"-record", recordPath, "-ttl", "2s")
		p.cmd.Env = append(os.Environ(), replicaEnv+"=1")
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait(); logf.Close() }()
		replicas[id] = p
		t.Cleanup(func() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
		})
	}
	defer func() {
		if t.Failed() {
			for _, id := range []string{"A", "B", "C"} {
				b, _ := os.ReadFile(replicas[id].log)
				t.Logf("--- replica %s log:\n%s", id, b)
			}
			b, _ := os.ReadFile(recordPath)
			t.Logf("--- record:\n%s", b)
		}
	}()

	// The producer schedules a key every 40 ms with a ttl of 150-850 ms for
	// the whole test, through every handover.
	var (
		prodMu    sync.Mutex
		scheduled []string
	)
	stopProducer := make(chan struct{})
	producerDone := make(chan error, 1)
	go func() {
		c, err := dial(data.addr)
		if err != nil {
			producerDone <- err
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-stopProducer:
				producerDone <- nil
				return
			case <-time.After(40 * time.Millisecond):
			}
			key := fmt.Sprintf("%s%d", keyPrefix, i)
			if err := schedule(c, key, time.Duration(150+(i*37)%700)*time.Millisecond); err != nil {
				producerDone <- err
				return
			}
			prodMu.Lock()
			scheduled = append(scheduled, key)
			prodMu.Unlock()
		}
	}()

	leaderAbove := func(term uint64) (uint64, string) {
		var got uint64
		var id string
		waitFor(t, 15*time.Second, fmt.Sprintf("a leader elected above term %d", term), func() bool {
			got, id = readRecord(t, recordPath).lastElected()
			return got > term
		})
		return got, id
	}
	subscribers := func() int64 {
		v := do(t, data.addr, "PUBSUB", "NUMSUB", expiredChan).([]any)
		return v[1].(int64)
	}
	// Only the leader subscribes; a deposed leader's connection closes a
	// moment after its "stopped" line, so the count is awaited.
	expectOneSubscriber := func(when string) {
		waitFor(t, 2*time.Second, "exactly one subscriber "+when, func() bool { return subscribers() == 1 })
	}

	term1, first := leaderAbove(0)
	t.Logf("%s elected, term %d", first, term1)
	cfg := do(t, data.addr, "CONFIG", "GET", "notify-keyspace-events").([]any)
	if flags := cfg[1].(string); !strings.ContainsRune(flags, 'E') || !strings.ContainsRune(flags, 'x') {
		t.Fatalf("the replicas did not enable expired events: notify-keyspace-events=%q", flags)
	}
	time.Sleep(1500 * time.Millisecond)
	expectOneSubscriber("while " + first + " leads")

	// Freeze the leader past its lease: another replica takes over; when
	// the frozen one wakes it must learn it was revoked and stop.
	frozen := replicas[first]
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGSTOP %s (lease 2 s)", first)
	term2, second := leaderAbove(term1)
	t.Logf("%s elected, term %d, while %s is frozen", second, term2, first)
	time.Sleep(500 * time.Millisecond)
	if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, first+" stops handling after waking up deposed", func() bool {
		_, ok := readRecord(t, recordPath).stopped[fmt.Sprintf("%s %d", first, term1)]
		return ok
	})
	expectOneSubscriber("after " + first + " woke up deposed")
	time.Sleep(time.Second)

	// Graceful handovers: SIGTERM the leader twice; each time another
	// replica must be elected within about a second (a resignation, not
	// the 2 s lease) and handling must go on under its term.
	type handover struct {
		from, to       string
		fromTerm, term uint64
		took           time.Duration
	}
	var handovers []handover
	prevTerm, prevID := term2, second
	for i := 0; i < 2; i++ {
		p := replicas[prevID]
		sent := monoNs()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		term, id := leaderAbove(prevTerm)
		took := time.Duration(readRecord(t, recordPath).electedAt[term] - sent)
		t.Logf("SIGTERM %s (term %d): %s elected, term %d, %v after the signal", prevID, prevTerm, id, term, took)
		handovers = append(handovers, handover{prevID, id, prevTerm, term, took})
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("replica %s after SIGTERM: %v", prevID, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("replica %s did not exit after SIGTERM", prevID)
		}
		time.Sleep(1500 * time.Millisecond)
		expectOneSubscriber("while " + id + " leads")
		prevTerm, prevID = term, id
	}

	// Let every scheduled key expire and be handled, then stop the last one.
	close(stopProducer)
	if err := <-producerDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every scheduled key handled", func() bool {
		return do(t, data.addr, "ZCARD", pendingKey).(int64) == 0
	})
	last := replicas[prevID]
	_ = last.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-last.done; err != nil {
		t.Fatalf("replica %s after SIGTERM: %v", prevID, err)
	}

	// The checks.
	rec := readRecord(t, recordPath)
	prodMu.Lock()
	keys := append([]string(nil), scheduled...)
	prodMu.Unlock()

	// 1. The data node's handled list (written atomically with the fence
	// check): every scheduled key exactly once, terms never decreasing.
	list := do(t, data.addr, "LRANGE", handledKey, "0", "-1").([]any)
	seen := map[string]int{}
	var lastTerm uint64
	fromList := map[string]bool{}
	for _, v := range list {
		w := strings.Fields(v.(string))
		term, _ := strconv.ParseUint(w[2], 10, 64)
		if term < lastTerm {
			t.Fatalf("handled list: term %d after term %d (%s)", term, lastTerm, v)
		}
		lastTerm = term
		seen[w[0]]++
		fromList[v.(string)] = true
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Fatalf("key %s handled %d times", k, seen[k])
		}
	}
	if len(list) != len(keys) {
		t.Fatalf("%d handled entries for %d scheduled keys", len(list), len(keys))
	}

	// 2. The record says the same, and each handling was by the id elected
	// for its term, checked leading before the data node was touched.
	if len(rec.handled) != len(list) {
		t.Fatalf("%d handled lines in the record, %d in the data node's list", len(rec.handled), len(list))
	}
	viaEvent := 0
	termsOf := map[string]map[uint64]int{}
	for _, h := range rec.handled {
		if !fromList[fmt.Sprintf("%s %s %d", h.key, h.id, h.term)] {
			t.Fatalf("record line %d (%s by %s, term %d) is not in the data node's list", h.pos, h.key, h.id, h.term)
		}
		if rec.elected[h.term] != h.id {
			t.Fatalf("%s handled %s under term %d, which %q was elected for", h.id, h.key, h.term, rec.elected[h.term])
		}
		if stop, ok := rec.stopped[fmt.Sprintf("%s %d", h.id, h.term)]; ok && h.pos > stop {
			t.Fatalf("%s handled %s (line %d) after it stopped leading term %d (line %d)", h.id, h.key, h.pos, h.term, stop)
		}
		if h.via == "event" {
			viaEvent++
		}
		if termsOf[h.id] == nil {
			termsOf[h.id] = map[uint64]int{}
		}
		termsOf[h.id][h.term]++
	}

	// 3. Leader of the time: every leadership check of a lower term came
	// before every check of a higher one on the shared clock (t0 of the
	// earlier < t1 of the later), whatever the write order.
	byTerm := append([]handledLine(nil), rec.handled...)
	sort.Slice(byTerm, func(i, j int) bool { return byTerm[i].term < byTerm[j].term })
	maxT0 := uint64(0) // the latest check of all lower terms
	var maxT0Term uint64
	for i := 0; i < len(byTerm); {
		j := i
		for j < len(byTerm) && byTerm[j].term == byTerm[i].term {
			if maxT0 != 0 && byTerm[j].t1 <= maxT0 {
				t.Fatalf("term %d checked at %d, before a check of term %d at %d: two leaders at once",
					byTerm[j].term, byTerm[j].t1, maxT0Term, maxT0)
			}
			j++
		}
		for k := i; k < j; k++ {
			if byTerm[k].t0 > maxT0 {
				maxT0, maxT0Term = byTerm[k].t0, byTerm[k].term
			}
		}
		i = j
	}

	// 4. Handovers within about a second, and handling went on under the
	// new term.
	for _, h := range handovers {
		if h.took > 1500*time.Millisecond {
			t.Fatalf("handover %s -> %s took %v after SIGTERM (the lease is 2 s)", h.from, h.to, h.took)
		}
		if termsOf[h.to][h.term] == 0 {
			t.Fatalf("%s handled nothing under term %d after taking over", h.to, h.term)
		}
	}

	// 5. The replica frozen past its lease learned it was revoked, stopped,
	// and handled keys again when elected again.
	if why := rec.stopWhy[fmt.Sprintf("%s %d", first, term1)]; why == "signal" {
		t.Fatalf("%s stopped term %d only at its SIGTERM, not when revoked", first, term1)
	}
	if len(termsOf[first]) < 2 {
		t.Fatalf("%s handled keys under %d term(s); it must resume when elected again: %v", first, len(termsOf[first]), termsOf[first])
	}

	// 6. The events drive the handling; the scan is the catch-up.
	if viaEvent*2 < len(rec.handled) {
		t.Fatalf("only %d of %d keys handled from expired events", viaEvent, len(rec.handled))
	}
	// 7. A deposed leader's late handling (the first term, after four) is
	// refused by the data node and leaves the key pending.
	c, err := dial(data.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := schedule(c, "job:late", time.Minute); err != nil {
		t.Fatal(err)
	}
	v, err := c.do("EVAL", handleScript, "3", fenceKey, pendingKey, handledKey, strconv.FormatUint(term1, 10), "job:late", first)
	if err != nil || v != int64(-1) {
		t.Fatalf("handling under stale term %d: %v %v, want -1 (fenced)", term1, v, err)
	}
	if n := do(t, data.addr, "ZCARD", pendingKey).(int64); n != 1 {
		t.Fatalf("a fenced handling changed the pending set: %d pending", n)
	}

	t.Logf("%d keys scheduled, each handled exactly once (%d from events, %d by the catch-up scan), %d terms, %d late handlings refused by the fence; handling per replica and term: %v",
		len(keys), viaEvent, len(rec.handled)-viaEvent, len(rec.elected), rec.fenced, termsOf)
}
