package redlead

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Real redis-server nodes, started for the package's tests and stopped by
// pid at the end.
var (
	nodeURLs []string
	nodeDirs []string
)

func TestMain(m *testing.M) {
	procs, urls, err := startNodes(5)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start redis-server nodes:", err)
		os.Exit(1)
	}
	nodeURLs = urls
	code := m.Run()
	for _, p := range procs {
		_ = p.Process.Kill()
		_, _ = p.Process.Wait()
	}
	for _, d := range nodeDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startNodes(n int) ([]*exec.Cmd, []string, error) {
	var procs []*exec.Cmd
	var urls []string
	for len(urls) < n {
		port, err := freePort()
		if err != nil {
			return procs, nil, err
		}
		dir, err := os.MkdirTemp("", "redlead-go-node")
		if err != nil {
			return procs, nil, err
		}
		nodeDirs = append(nodeDirs, dir)
		cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			return procs, nil, err
		}
		procs = append(procs, cmd)
		up := false
		for i := 0; i < 100 && !up; i++ {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				up = true
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if up {
			urls = append(urls, fmt.Sprintf("redis://127.0.0.1:%d", port))
		}
	}
	return procs, urls, nil
}

// nodesWithKey counts the nodes where key exists, asked over a raw socket.
func nodesWithKey(t *testing.T, key string) int {
	n := 0
	for _, u := range nodeURLs {
		c, err := net.Dial("tcp", strings.TrimPrefix(u, "redis://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n", len(key), key)
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, ":1") {
			n++
		}
	}
	return n
}

func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(nodeURLs, WithRetry(5*time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConstantsMatchTheHeader(t *testing.T) {
	if name := constantsMatchHeader(); name != "" {
		t.Fatalf("%s differs from include/redlead.h", name)
	}
}

func TestLockRoundTripAndNotAcquiredWithOutcomes(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	l, err := c.TryAcquire(ctx, "go-rt", 10*time.Second, WithFencing())
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsHeld() || l.Validity() < 9*time.Second || l.FencingToken() == 0 {
		t.Fatalf("held=%v validity=%v token=%d", l.IsHeld(), l.Validity(), l.FencingToken())
	}
	_, err = c.TryAcquire(ctx, "go-rt", time.Second)
	var e *Error
	if !errors.Is(err, ErrNotAcquired) || !errors.As(err, &e) || len(e.Outcomes) != len(nodeURLs) {
		t.Fatalf("second acquire: %v (outcomes %+v)", err, e)
	}
	t.Logf("held elsewhere: %v; first node: %+v", err, e.Outcomes[0])
	if err := l.Extend(ctx, 20*time.Second); err != nil || l.Validity() < 15*time.Second {
		t.Fatalf("extend: %v, validity %v", err, l.Validity())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("release after release: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := c.TryAcquire(ctx, "go-rt", time.Second)
	if err != nil {
		t.Fatalf("released resource not free: %v", err)
	}
	l2.Close()
}

func TestMutualExclusionLosesNoUpdate(t *testing.T) {
	c := newClient(t)
	var wg sync.WaitGroup
	counter, failures := 0, int32(0)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				l, err := c.Acquire(ctx, "go-counter", 5*time.Second)
				cancel()
				if err != nil {
					atomic.AddInt32(&failures, 1)
					continue
				}
				v := counter
				time.Sleep(time.Millisecond)
				counter = v + 1
				if err := l.Release(context.Background()); err != nil {
					atomic.AddInt32(&failures, 1)
				}
			}
		}()
	}
	wg.Wait()
	if counter != 40 || failures != 0 {
		t.Fatalf("counter %d after 40 locked increments, %d failures", counter, failures)
	}
}

func TestAcquireCancelledByContextReturnsPromptlyAndLeavesNoKey(t *testing.T) {
	c := newClient(t)
	holder, err := c.TryAcquire(context.Background(), "go-cancel-held", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	t0 := time.Now()
	_, err = c.Acquire(ctx, "go-cancel-held", 5*time.Second)
	took := time.Since(t0)
	t.Logf("acquire of a held resource, cancelled after 200 ms: %v after %v", err, took)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) || took > time.Second {
		t.Fatalf("got %v after %v", err, took)
	}

	cancelled, acquired := 0, 0
	for i := 0; i < 30; i++ {
		res := fmt.Sprintf("go-cancel-race-%d", i)
		ctx, cancel := context.WithCancel(context.Background())
		go func(d time.Duration) { time.Sleep(d); cancel() }(time.Duration(i%3) * 300 * time.Microsecond)
		l, err := c.Acquire(ctx, res, 5*time.Second)
		cancel()
		switch {
		case err == nil:
			acquired++
			l.Close()
		case errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled):
			cancelled++
			time.Sleep(100 * time.Millisecond)
			if n := nodesWithKey(t, "redlead:{"+res+"}"); n != 0 {
				t.Fatalf("cancelled acquire of %s left its key on %d nodes", res, n)
			}
		default:
			t.Fatal(err)
		}
	}
	t.Logf("30 acquires cancelled at once: %d cancelled (no key left), %d completed first", cancelled, acquired)
	if cancelled == 0 {
		t.Fatal("no acquire was cancelled")
	}
}

func TestAcquireHonoursTheContextDeadline(t *testing.T) {
	c := newClient(t)
	holder, err := c.TryAcquire(context.Background(), "go-deadline", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = c.Acquire(ctx, "go-deadline", time.Second)
	took := time.Since(t0)
	t.Logf("acquire with a 300 ms deadline: %v after %v", err, took)
	if !(errors.Is(err, ErrNotAcquired) || errors.Is(err, context.DeadlineExceeded)) || took > 900*time.Millisecond {
		t.Fatalf("got %v after %v", err, took)
	}
}

func TestAutoExtendThenLostChannelClosesAtTheCap(t *testing.T) {
	c := newClient(t)
	l, err := c.TryAcquire(context.Background(), "go-auto", 600*time.Millisecond, WithAutoExtend(1500*time.Millisecond, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	time.Sleep(time.Second)
	if !l.IsHeld() || l.Extensions() < 3 {
		t.Fatalf("after 1 s of a 600 ms ttl: held=%v extensions=%d", l.IsHeld(), l.Extensions())
	}
	select {
	case <-l.Lost():
		if l.IsHeld() {
			t.Fatal("Lost closed while IsHeld is still true")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Lost never closed after the auto-extend cap")
	}
}

func TestOwnerLabelAndHolder(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	l, err := c.TryAcquire(ctx, "go-owned", 5*time.Second, WithOwner("worker-7"))
	if err != nil {
		t.Fatal(err)
	}
	owner, held, err := c.Holder(ctx, "go-owned")
	if err != nil || !held || owner != "worker-7" {
		t.Fatalf("holder: %q %v %v", owner, held, err)
	}
	l.Release(ctx)
	owner, held, err = c.Holder(ctx, "go-owned")
	if err != nil || held || owner != "" {
		t.Fatalf("holder after release: %q %v %v", owner, held, err)
	}
}

func TestPingReportsEveryNode(t *testing.T) {
	c := newClient(t)
	out, err := c.Ping(context.Background())
	if err != nil || len(out) != len(nodeURLs) {
		t.Fatalf("ping: %v %+v", err, out)
	}
	for _, o := range out {
		if o.Kind != OutcomeOK {
			t.Fatalf("node %s: %v %s", o.Node, o.Kind, o.Message)
		}
	}
}

func TestElectionFailoverAndRecoveredCallbackPanic(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	var aElected, bElected, aRevoked atomic.Int32
	opts := func(elected *atomic.Int32, revoked *atomic.Int32, panics bool) ElectionOptions {
		return ElectionOptions{
			TTL:           1500 * time.Millisecond,
			RetryInterval: 100 * time.Millisecond,
			OnElected: func(term uint64) {
				elected.Add(1)
				if panics {
					panic("a user callback panics; it must not cross into C")
				}
			},
			OnRevoked: func(term uint64, r RevokeReason) {
				if revoked != nil {
					revoked.Add(1)
				}
			},
		}
	}
	a, err := c.Elect(ctx, "go-election", "A", opts(&aElected, &aRevoked, true))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return a.IsLeader() }, 5*time.Second, "A elected")
	b, err := c.Elect(ctx, "go-election", "B", opts(&bElected, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	if leader, ok, err := b.Leader(ctx); err != nil || !ok || leader != "A" {
		t.Fatalf("leader: %q %v %v", leader, ok, err)
	}
	termA := a.Term()
	if resigned, err := a.Resign(ctx); err != nil || !resigned {
		t.Fatalf("resign: %v %v", resigned, err)
	}
	waitFor(t, func() bool { return b.IsLeader() }, 3*time.Second, "B takes over")
	if b.Term() <= termA || aRevoked.Load() != 1 {
		t.Fatalf("term %d after %d; A revoked %d times", b.Term(), termA, aRevoked.Load())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.Resign(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("resign after close: %v", err)
	}
	if err := b.Close(); err != nil || b.IsLeader() {
		t.Fatalf("close: %v", err)
	}
}

func TestElectionEndsWithItsContext(t *testing.T) {
	c := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	// A ttl far longer than the wait below: the key can only vanish in time
	// because it was released, not because it expired.
	e, err := c.Elect(ctx, "go-election-ctx", "A", ElectionOptions{TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.IsLeader() }, 5*time.Second, "elected")
	cancel()
	waitFor(t, func() bool { return !e.IsLeader() }, 3*time.Second, "stopped by the context")
	// The release returns at the quorum; the last node's delete may still be
	// on its way when IsLeader turns false.
	waitFor(t, func() bool { return nodesWithKey(t, "redlead:{go-election-ctx}") == 0 }, time.Second,
		"the leader's key released on every node after the context ended")
}

func TestBadInputIsInvalidArgument(t *testing.T) {
	ctx := context.Background()
	if _, err := NewClient(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("no urls: %v", err)
	}
	if _, err := NewClient([]string{"not a url"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad url: %v", err)
	}
	c := newClient(t)
	for name, res := range map[string]string{"empty": "", "invalid UTF-8": "\xff\xfe", "NUL": "a\x00b"} {
		if _, err := c.TryAcquire(ctx, res, time.Second); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s resource: %v", name, err)
		}
	}
	if _, err := c.TryAcquire(ctx, "go-bad", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ttl 0: %v", err)
	}
	if _, err := c.TryAcquire(ctx, "go-bad", time.Second, WithAutoExtend(0, 0)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("auto-extend without cap: %v", err)
	}
	if _, err := c.Elect(ctx, "go-bad", "", ElectionOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty candidate id: %v", err)
	}
	c.Close()
	c.Close()
	if _, err := c.TryAcquire(ctx, "go-bad", time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("use after Close: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logRecorder is a slog.Handler that keeps what it is given.
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.mu.Lock()
	r.records = append(r.records, line)
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) find(s string) (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.records {
		if strings.Contains(l, s) {
			return l, len(r.records)
		}
	}
	return "", len(r.records)
}

func TestLibraryLogRecordsReachSlog(t *testing.T) {
	rec := &logRecorder{}
	if err := SetLogger(slog.New(rec), slog.LevelDebug); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	ctx := context.Background()
	holder, err := c.TryAcquire(ctx, "go-log", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	_, _ = c.TryAcquire(ctx, "go-log", 5*time.Second) // the core logs "acquire failed"
	var line string
	waitFor(t, func() bool { line, _ = rec.find("acquire failed"); return line != "" }, 3*time.Second, "log record")
	t.Logf("record: %s", line)
	if !strings.HasPrefix(line, "DEBUG") || !strings.Contains(line, "target=redlead") {
		t.Fatalf("record without level or target: %s", line)
	}
	if err := SetLogger(nil, 0); err != nil {
		t.Fatal(err)
	}
	_, before := rec.find("")
	_, _ = c.TryAcquire(ctx, "go-log", 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if _, after := rec.find(""); after != before {
		t.Fatalf("%d records after the logger was cleared", after-before)
	}
}

func TestCloseDoesNotWaitForACallbackThatUsesTheElection(t *testing.T) {
	c := newClient(t)
	var self atomic.Pointer[Election]
	var sawLeaderInRevoked atomic.Int32
	sawLeaderInRevoked.Store(-1)
	e, err := c.Elect(context.Background(), "go-election-close", "A", ElectionOptions{
		TTL: time.Second,
		OnRevoked: func(term uint64, r RevokeReason) {
			if el := self.Load(); el != nil {
				v := int32(0)
				if el.IsLeader() {
					v = 1
				}
				sawLeaderInRevoked.Store(v)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	self.Store(e)
	waitFor(t, func() bool { return e.IsLeader() }, 5*time.Second, "elected")
	t0 := time.Now()
	err = e.Close()
	took := time.Since(t0)
	t.Logf("Close with a callback calling IsLeader meanwhile: %v after %v", err, took)
	if err != nil || took > time.Second || sawLeaderInRevoked.Load() != 0 {
		t.Fatalf("close: %v after %v; IsLeader inside OnRevoked: %d", err, took, sawLeaderInRevoked.Load())
	}
}

func TestExtendAndReleaseReturnWhenTheContextEnds(t *testing.T) {
	c := newClient(t)
	l, err := c.TryAcquire(context.Background(), "go-ctx-ops", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Extend(done, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("extend with a done context: %v", err)
	}
	if err := l.Release(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("release with a done context: %v", err)
	}
	// Release freed the handle; the lock is released in the background.
	waitFor(t, func() bool { return nodesWithKey(t, "redlead:{go-ctx-ops}") == 0 }, 2*time.Second, "key released")
	if l.IsHeld() {
		t.Fatal("closed lock still held")
	}
}
