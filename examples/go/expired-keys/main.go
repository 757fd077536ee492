// Command expired-keys is one replica of a service that acts on Redis keys
// when they expire, where only one replica may act at a time: the scenario
// of the redsync-on-Redis-Cluster article (README.md compares the two), on
// redlead's election.
//
//	expired-keys -id A -data redis://127.0.0.1:6379 -nodes redis://n1,redis://n2,... [-record FILE] [-ttl 5s]
//	expired-keys -data redis://127.0.0.1:6379 -schedule job:1 -in 3s
//
// Every replica campaigns; the leader alone subscribes to the data node's
// keyspace "expired" events and handles them. Handling a key is a Lua script
// on the data node that checks the leader's term against the highest term
// it has seen (a fence), removes the key from a shadow sorted set of
// pending keys and appends it to a list of handled keys, so a key is handled
// once and a deposed leader's late write is refused. Keyspace events are
// fire-and-forget (a key that expires while nobody is subscribed is never
// announced again), so a new leader subscribes first and then handles every
// pending key whose time has passed, and rescans each second.
//
// A revoked leader (lease lost, taken over) stops handling at once and
// closes its subscription; it resumes when elected again. SIGTERM/SIGINT
// stop handling and resign, so another replica takes over in milliseconds
// instead of after the lease.
//
// Producers schedule a key with schedule() (or -schedule): the key with its
// ttl and its entry in the pending set, atomically, on the data node's clock.
package main

// #include <time.h>
// static unsigned long long mono_ns(void) {
//     struct timespec ts;
//     clock_gettime(CLOCK_MONOTONIC, &ts);
//     return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
// }
import "C"

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"redlead.dev/go/redlead"
)

// Keys on the data node. The handled list stands for the real work (send
// the reminder, close the order, ...); whatever the work is, it should take
// the term and refuse a lower one as the script does.
const (
	keyPrefix    = "job:"
	expiredChan  = "__keyevent@0__:expired"
	fenceKey     = "expired-keys:fence"
	pendingKey   = "expired-keys:pending"
	handledKey   = "expired-keys:handled"
	electionName = "expired-keys-leader"
)

// handleScript: KEYS fence, pending, handled; ARGV term, key ("" to only
// raise the fence), replica id. Returns -1 when a higher term has been seen
// (the caller is no longer the leader), 0 when the key was handled already,
// 1 when this call handled it, 2 for a fence-only call. One script, so the
// fence check and the write are atomic on the data node.
const handleScript = `
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
local term = tonumber(ARGV[1])
if term < fence then return -1 end
if term > fence then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[2] == '' then return 2 end
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[1])
return 1
`

// scheduleScript: KEYS key, pending; ARGV ttl ms. The due time comes from
// the data node's clock, the same clock that expires the key.
const scheduleScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), KEYS[1])
return now
`

// dueScript: KEYS pending. The pending keys whose time has passed.
const dueScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
`

// schedule makes key expire after ttl and records it as pending.
func schedule(c *conn, key string, ttl time.Duration) error {
	_, err := c.do("EVAL", scheduleScript, "2", key, pendingKey, strconv.FormatInt(ttl.Milliseconds(), 10))
	return err
}

// monoNs reads CLOCK_MONOTONIC, one clock for every process on the host, so
// the records of different replicas can be compared (Go's time.Now keeps a
// monotonic reading but does not expose it).
func monoNs() uint64 { return uint64(C.mono_ns()) }

// replica is one process's state.
type replica struct {
	id, data string
	record   *os.File // O_APPEND: one write per line, ordered by the kernel
	logf     func(string, ...any)

	ready    chan struct{} // closed once election is set
	election *redlead.Election

	mu      sync.Mutex
	current *leadership // nil when not leading
}

// leadership is one term's handling loop.
type leadership struct {
	term   uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *replica) appendRecord(format string, args ...any) {
	if _, err := r.record.WriteString(fmt.Sprintf(format, args...) + "\n"); err != nil {
		r.logf("record: %v", err)
	}
}

// onElected starts handling for term. It runs on the election's callback
// thread, so it only starts a goroutine.
func (r *replica) onElected(term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.appendRecord("elected %s %d %d", r.id, term, monoNs())
	r.logf("elected, term %d: subscribing to %s", term, expiredChan)
	ctx, cancel := context.WithCancel(context.Background())
	l := &leadership{term: term, cancel: cancel, done: make(chan struct{})}
	r.current = l
	go r.lead(ctx, l)
}

// stopLeading ends the current term's handling and waits until no handling
// of it is in flight; idempotent.
func (r *replica) stopLeading(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.current
	if l == nil {
		return
	}
	r.current = nil
	l.cancel()
	<-l.done // one round trip at most: cancel closes the connections
	r.appendRecord("stopped %s %d %s %d", r.id, l.term, strings.ReplaceAll(why, " ", "-"), monoNs())
	r.logf("stopped handling (term %d): %s", l.term, why)
}

// lead runs while this replica leads for l.term: fence, subscribe, catch up,
// then handle events and rescan each second.
func (r *replica) lead(ctx context.Context, l *leadership) {
	defer close(l.done)
	<-r.ready
	var cmd *conn
	defer func() {
		if cmd != nil {
			cmd.Close()
		}
	}()
	// call runs the fenced script, redialling the command connection after
	// an error; -1 means a newer leader exists.
	call := func(key string) (int64, error) {
		if cmd == nil {
			c, err := dial(r.data)
			if err != nil {
				return 0, err
			}
			cmd = c
			context.AfterFunc(ctx, func() { c.Close() }) // unblocks a read in flight
		}
		v, err := cmd.do("EVAL", handleScript, "3", fenceKey, pendingKey, handledKey,
			strconv.FormatUint(l.term, 10), key, r.id)
		if err != nil {
			cmd.Close()
			cmd = nil
			return 0, err
		}
		n, _ := v.(int64)
		return n, nil
	}
	// First raise the fence to our term: from here on a deposed leader's
	// late handling is refused by the data node.
	for {
		n, err := call("")
		if ctx.Err() != nil {
			return
		}
		if err == nil && n == -1 {
			r.appendRecord("fenced - %s %d", r.id, l.term)
			return
		}
		if err == nil {
			break
		}
		r.logf("data node: %v (retrying)", err)
		time.Sleep(100 * time.Millisecond)
	}

	events := make(chan string, 1024)
	resubscribed := make(chan struct{}, 1)
	var subscriber sync.WaitGroup
	subscriber.Add(1)
	go func() { defer subscriber.Done(); r.subscribe(ctx, events, resubscribed) }()
	// Unsubscribed (connection closed) before this term's done is closed.
	defer subscriber.Wait()
	defer l.cancel()

	// handle returns false when the data node has seen a newer term.
	handle := func(key, via string) bool {
		// Term, IsLeader, Term between two clock readings: the records of a
		// lower term must all be checked before those of a higher one.
		t0 := monoNs()
		a := r.election.Term()
		leading := r.election.IsLeader()
		b := r.election.Term()
		t1 := monoNs()
		if !leading || a != l.term || b != l.term {
			// Past the step-down instant (OnRevoked is on its way): leave
			// the key pending for the next leader's scan.
			return true
		}
		n, err := call(key)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				r.logf("handling %s: %v (the rescan retries it)", key, err)
			}
		case n == 1:
			r.appendRecord("handled %s %s %d %d %d %s", key, r.id, l.term, t0, t1, via)
		case n == -1:
			r.appendRecord("fenced %s %s %d", key, r.id, l.term)
			return false
		}
		return true
	}
	rescan := func() bool {
		due, err := func() ([]any, error) {
			if cmd == nil {
				if _, err := call(""); err != nil {
					return nil, err
				}
			}
			v, err := cmd.do("EVAL", dueScript, "1", pendingKey)
			if err != nil {
				cmd.Close()
				cmd = nil
				return nil, err
			}
			xs, _ := v.([]any)
			return xs, nil
		}()
		if err != nil {
			return ctx.Err() == nil
		}
		for _, k := range due {
			if s, ok := k.(string); ok && !handle(s, "scan") {
				return false
			}
		}
		return true
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resubscribed:
			// Subscribed (again): whatever expired before is handled now,
			// whatever expires after is announced.
			if !rescan() {
				return
			}
		case key := <-events:
			if !handle(key, "event") {
				return
			}
		case <-tick.C:
			if !rescan() {
				return
			}
		}
	}
}

// subscribe keeps a subscription to the expired events open until ctx ends,
// and signals resubscribed after each (re)subscription is confirmed.
func (r *replica) subscribe(ctx context.Context, events chan<- string, resubscribed chan<- struct{}) {
	for ctx.Err() == nil {
		err := func() error {
			sub, err := dial(r.data)
			if err != nil {
				return err
			}
			stop := context.AfterFunc(ctx, func() { sub.Close() })
			defer stop()
			defer sub.Close()
			if err := sub.send("SUBSCRIBE", expiredChan); err != nil {
				return err
			}
			if _, err := sub.read(); err != nil { // the confirmation
				return err
			}
			select {
			case resubscribed <- struct{}{}:
			default:
			}
			for {
				v, err := sub.read()
				if err != nil {
					return err
				}
				msg, _ := v.([]any)
				if len(msg) == 3 && msg[0] == "message" {
					if key, ok := msg[2].(string); ok && strings.HasPrefix(key, keyPrefix) {
						select {
						case events <- key:
						case <-ctx.Done():
							return nil
						}
					}
				}
			}
		}()
		if ctx.Err() != nil {
			return
		}
		r.logf("subscription: %v (resubscribing)", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// enableKeyspaceEvents turns on the expired events ("Ex") on the data node,
// keeping whatever classes were already on.
func enableKeyspaceEvents(data string) error {
	c, err := dial(data)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.do("CONFIG", "GET", "notify-keyspace-events")
	if err != nil {
		return err
	}
	cur := ""
	if xs, ok := v.([]any); ok && len(xs) == 2 {
		cur, _ = xs[1].(string)
	}
	want := cur
	for _, f := range "Ex" {
		if !strings.ContainsRune(want, f) && !(f == 'x' && strings.ContainsRune(want, 'A')) {
			want += string(f)
		}
	}
	if want == cur {
		return nil
	}
	_, err = c.do("CONFIG", "SET", "notify-keyspace-events", want)
	return err
}

func main() {
	fs := flag.NewFlagSet("expired-keys", flag.ExitOnError)
	id := fs.String("id", "", "this replica's id (unique)")
	data := fs.String("data", "redis://127.0.0.1:6379", "the data node whose expired keys are handled")
	nodes := fs.String("nodes", "", "comma-separated redis:// URLs of the election's independent masters")
	record := fs.String("record", os.DevNull, "append-only record of elections and handled keys (for tests)")
	ttl := fs.Duration("ttl", 5*time.Second, "leader lease: how long a crashed leader blocks the others")
	scheduleKey := fs.String("schedule", "", "instead: schedule this key (job:...) to expire after -in, and exit")
	in := fs.Duration("in", 3*time.Second, "with -schedule: the key's ttl")
	_ = fs.Parse(os.Args[1:])
	if *scheduleKey != "" {
		c, err := dial(*data)
		if err == nil {
			err = schedule(c, *scheduleKey, *in)
			c.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "schedule:", err)
			os.Exit(1)
		}
		return
	}
	if *id == "" || *nodes == "" {
		fs.Usage()
		os.Exit(2)
	}
	logger := log.New(os.Stderr, "replica-"+*id+" ", log.Lmicroseconds)
	f, err := os.OpenFile(*record, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		logger.Fatal(err)
	}
	if err := enableKeyspaceEvents(*data); err != nil {
		// Managed Redis may forbid CONFIG; then it must be set there.
		logger.Printf("could not enable notify-keyspace-events (set it to Ex on the data node): %v", err)
	}
	r := &replica{id: *id, data: *data, record: f, logf: logger.Printf, ready: make(chan struct{})}

	client, err := redlead.NewClient(strings.Split(*nodes, ","))
	if err != nil {
		logger.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	e, err := client.Elect(context.Background(), electionName, *id, redlead.ElectionOptions{
		TTL:       *ttl,
		OnElected: r.onElected,
		OnRevoked: func(term uint64, why redlead.RevokeReason) {
			// Called before the lease ends; stop acting now. The campaign
			// goes on, and a later OnElected resumes handling.
			r.stopLeading(why.String())
		},
		OnLeaderChange: func(leader string) { logger.Printf("leader is now %q", leader) },
	})
	if err != nil {
		logger.Fatal(err)
	}
	r.election = e
	close(r.ready)
	logger.Printf("campaigning for %s", electionName)

	<-ctx.Done()
	// Stop handling first, then resign: nothing is handled after the
	// release, and the next leader need not wait for the lease.
	r.stopLeading("signal")
	if err := e.Close(); err != nil && !errors.Is(err, redlead.ErrClosed) {
		logger.Printf("close: %v", err)
	}
	r.appendRecord("exit %s %d", r.id, monoNs())
	client.Close()
	f.Close()
	logger.Printf("resigned and stopped")
}
