package redlead

/*
#include <stdlib.h>
#include "redlead.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// maxWait is the longest wait the library accepts (24 h).
const maxWait = 24 * time.Hour

// LockOption configures one acquisition.
type LockOption func(*C.redlead_lock_options) uint32

// WithFencing also obtains a fencing token (one more round trip); see
// Lock.FencingToken.
func WithFencing() LockOption {
	return func(o *C.redlead_lock_options) uint32 {
		return C.redlead_lock_options_set_fenced(o, 1, nil)
	}
}

// WithOwner stores a label with the lock so that Client.Holder can say who
// holds the resource (UTF-8, at most 256 bytes).
func WithOwner(owner string) LockOption {
	return func(o *C.redlead_lock_options) uint32 {
		p, err := cString("owner", owner)
		if err != nil {
			return statusInvalidArgument
		}
		defer C.free(unsafe.Pointer(p))
		return C.redlead_lock_options_set_owner(o, p, nil)
	}
}

// WithAutoExtend keeps the lock extended in the background until it was held
// maxHold (a cap is required: Redlock's liveness rule); every ttl/3 unless
// interval > 0. When the cap is reached or extending fails, Lost fires
// before the validity ends.
func WithAutoExtend(maxHold, interval time.Duration) LockOption {
	return func(o *C.redlead_lock_options) uint32 {
		if maxHold <= 0 {
			return statusInvalidArgument
		}
		return C.redlead_lock_options_set_auto_extend(o, millis(maxHold), 0, millis(interval), nil)
	}
}

// Lock is a held (or formerly held) lock. It is safe for concurrent use.
// Release it when done; Close (or the finalizer) frees it and releases it in
// the background if still held.
type Lock struct {
	g        guard
	l        *C.redlead_lock
	resource string
	lost     *lostSignal
	watch    sync.Once // registers lost with the library
}

// TryAcquire makes one attempt to take the lock on resource for ttl. It
// fails with ErrNotAcquired when the lock is held elsewhere (the *Error
// carries each node's outcome). The context cancels the attempt (a
// cancelled attempt leaves no key). It occupies its OS thread for the one
// attempt, bounded by the node timeouts.
func (c *Client) TryAcquire(ctx context.Context, resource string, ttl time.Duration, opts ...LockOption) (*Lock, error) {
	return c.acquire(ctx, resource, ttl, 0, opts)
}

// Acquire retries with jittered delays until the lock on resource is taken,
// the context is done (its deadline bounds the wait; without one, at most
// 24 h), or the client's retry count is spent. A cancelled acquire returns
// an error matching both ErrCancelled and the context's error, and leaves no
// key on the nodes: an attempt in flight finishes in the background and
// releases what it took.
func (c *Client) Acquire(ctx context.Context, resource string, ttl time.Duration, opts ...LockOption) (*Lock, error) {
	wait := maxWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
		if wait <= 0 {
			return nil, ctx.Err()
		}
	}
	return c.acquire(ctx, resource, ttl, wait, opts)
}

func (c *Client) acquire(ctx context.Context, resource string, ttl, wait time.Duration, opts []LockOption) (*Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := cString("resource", resource)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(r))
	o := C.redlead_lock_options_new()
	if o == nil {
		return nil, &Error{Status: statusInternal, Message: "redlead_lock_options_new failed"}
	}
	defer C.redlead_lock_options_free(o)
	for _, opt := range opts {
		if st := opt(o); st != statusOK {
			return nil, &Error{Status: int(st), Message: "invalid lock option: " + C.GoString(C.redlead_status_str(st))}
		}
	}
	if ctx.Done() == nil {
		// A context that can never end needs no cancellation: the blocking
		// call costs one hand-off each way, instead of a callback thread, a
		// cgo callback and a channel (measured in docs/performance.md).
		var cl *C.redlead_lock
		var cerr *C.redlead_error
		if !c.g.enter() {
			return nil, closedError("client")
		}
		st := C.redlead_lock_acquire_with(c.c, r, millis(ttl), millis(wait), o, nil, &cl, &cerr)
		c.g.leave()
		runtime.KeepAlive(c)
		afterBlockingCall()
		if err := check(st, cerr); err != nil {
			return nil, err
		}
		return newLock(cl, resource), nil
	}
	cancel := C.redlead_cancel_new()
	if cancel == nil {
		return nil, &Error{Status: statusForked, Message: "redlead_cancel_new failed (forked child?)"}
	}
	var cancelMu sync.Mutex
	freed := false
	defer func() {
		cancelMu.Lock()
		freed = true
		C.redlead_cancel_free(cancel)
		cancelMu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() {
		cancelMu.Lock()
		if !freed {
			C.redlead_cancel_cancel(cancel, nil)
		}
		cancelMu.Unlock()
	})
	defer stop()

	var res result
	if wait == 0 {
		// One attempt, bounded by the node timeouts: the blocking call with
		// the cancellation signal occupies this thread that long, and spares
		// the completion's callback from a library thread into Go and the
		// channel hand-off (perf, TryAcquire+Release with a cancellable
		// context: p50 580-730 us through the completion, the same as with
		// context.Background through this path).
		var cerr *C.redlead_error
		if !c.g.enter() {
			return nil, closedError("client")
		}
		st := C.redlead_lock_acquire_with(c.c, r, millis(ttl), 0, o, cancel, &res.lock, &cerr)
		c.g.leave()
		runtime.KeepAlive(c)
		afterBlockingCall()
		res.err = check(st, cerr)
	} else {
		// A wait may be long: no OS thread sits in it. The completion comes
		// from a library thread; cancelling makes it come promptly.
		comp, cc := newCompletion()
		if !c.g.enter() {
			goRedleadDropHandle(cc)
			return nil, closedError("client")
		}
		var cerr *C.redlead_error
		st := C.redlead_lock_acquire_async(c.c, r, millis(ttl), millis(wait), o, cancel, cc, &cerr)
		c.g.leave()
		runtime.KeepAlive(c)
		if err := check(st, cerr); err != nil {
			return nil, err // the completion was dropped by the library
		}
		res = <-comp.ch
	}
	stop()
	if res.err != nil {
		if e, ok := res.err.(*Error); ok && e.Status == statusCancelled {
			e.cause = ctx.Err()
		}
		return nil, res.err
	}
	l := newLock(res.lock, resource)
	if err := ctx.Err(); err != nil {
		// Acquired as the context ended: the caller will not use it.
		l.Close()
		return nil, &Error{Status: statusCancelled, Message: "acquire of " + resource + " cancelled", cause: err}
	}
	return l, nil
}

// goRedleadDropHandle frees the handle of a closure that was never given to
// the library.
func goRedleadDropHandle(cc C.redlead_completion) { goRedleadDrop(cc.context) }

func newLock(cl *C.redlead_lock, resource string) *Lock {
	l := &Lock{l: cl, resource: resource, lost: &lostSignal{ch: make(chan struct{})}}
	runtime.SetFinalizer(l, (*Lock).Close)
	return l
}

// Resource is the locked resource's name.
func (l *Lock) Resource() string { return l.resource }

// Lost is closed when the lock is lost while held: a quorum says it is gone,
// or an extension failed (or auto-extension reached its cap) and less than
// the safety margin of validity is left. It is never closed by Release.
// Call it while the lock is held; a loss before the first call still closes
// the channel at that call.
func (l *Lock) Lost() <-chan struct{} {
	// The library's watcher is registered on the first call only: it costs
	// a task on the library's background runtime and, when the lock ends, a
	// callback from a library thread into Go, which a lock nobody watches
	// should not pay (measured over the bench's 6400 acquire+release: ~3
	// fewer context switches per operation, 113-115k vs 128-148k).
	l.watch.Do(func() {
		if !l.g.enter() {
			return // closed: never lost while held from here on
		}
		defer l.g.leave()
		// Fails only for a released lock, which is never lost.
		_ = C.redlead_lock_on_lost(l.l, lostClosure(l.lost), nil)
	})
	return l.lost.ch
}

// IsHeld reports whether it is safe to act under the lock; it turns false
// before the validity ends when the lock could not be extended.
func (l *Lock) IsHeld() bool {
	if !l.g.enter() {
		return false
	}
	defer l.g.leave()
	return C.redlead_lock_is_held(l.l) != 0
}

// Validity is the time left before someone else may take the lock (0 when
// over or released).
func (l *Lock) Validity() time.Duration {
	if !l.g.enter() {
		return 0
	}
	defer l.g.leave()
	return time.Duration(C.redlead_lock_validity_ms(l.l)) * time.Millisecond
}

// FencingToken is the lock's fencing token (WithFencing), strictly greater
// than every earlier fenced acquisition's of the resource; 0 when unfenced.
func (l *Lock) FencingToken() uint64 {
	if !l.g.enter() {
		return 0
	}
	defer l.g.leave()
	return uint64(C.redlead_lock_fencing_token(l.l))
}

// Extensions counts the extensions so far (Extend and auto-extension).
func (l *Lock) Extensions() uint32 {
	if !l.g.enter() {
		return 0
	}
	defer l.g.leave()
	return uint32(C.redlead_lock_extensions(l.l))
}

// Extend sets the lock's remaining time to live to ttl where it is still
// ours; it needs a quorum and never re-creates an expired key. ErrLost when
// a quorum says it is gone. When the context ends first, Extend returns its
// error at once (the extension finishes in the background). It occupies its
// OS thread while it waits, at most about the node timeout.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ctx.Done() == nil {
		return l.blocking(func(cerr **C.redlead_error) uint32 {
			return C.redlead_lock_extend(l.l, millis(ttl), cerr)
		})
	}
	return l.waitAsync(ctx, func(cc C.redlead_completion, cerr **C.redlead_error) uint32 {
		return C.redlead_lock_extend_async(l.l, millis(ttl), cc, cerr)
	})
}

// Release releases the lock on every node and frees it; it returns when a
// quorum answered. ErrLost tells that the critical section may have
// overlapped another holder's. When the context ends first, Release returns
// its error at once (the release goes on in the background). It occupies
// its OS thread while it waits, at most about the node timeout.
func (l *Lock) Release(ctx context.Context) error {
	var err error
	if ctx.Done() == nil {
		err = l.blocking(func(cerr **C.redlead_error) uint32 {
			return C.redlead_lock_release(l.l, cerr)
		})
	} else {
		err = l.waitAsync(ctx, func(cc C.redlead_completion, cerr **C.redlead_error) uint32 {
			return C.redlead_lock_release_async(l.l, cc, cerr)
		})
	}
	l.Close()
	return err
}

// blocking runs a call bounded by a few node timeouts for a context that
// can never end (context.Background): no completion, no callback thread.
func (l *Lock) blocking(call func(**C.redlead_error) uint32) error {
	if !l.g.enter() {
		return closedError("lock")
	}
	var cerr *C.redlead_error
	st := call(&cerr)
	l.g.leave()
	runtime.KeepAlive(l)
	afterBlockingCall()
	return check(st, cerr)
}

// afterBlockingCall passes through the Go scheduler after a C call that
// waited on the network, at most every yieldEvery. A goroutine that only
// makes blocking cgo calls never does, so every 10 ms the runtime's sysmon
// takes it for one hogging its P: it preempts it, hands its P to another
// thread (a wake-up and a hop back) and then polls every 20 us for the next
// millisecond. A Gosched after every call cures that but costs a hop of its
// own (it wakes a spinning thread for the requeued goroutine), hence the
// throttle. perf, 6000 blocking acquire+release on 2 cores, context
// switches per operation: 13-16 with no yield, 10.8 with one per call,
// 7.4-8.5 throttled (the same loop in C: 7.1-7.8); the calling side's share
// of the CPU samples is then 22.7 % in Go against 20.4 % in C.
func afterBlockingCall() {
	now := int64(time.Since(yieldEpoch)) // monotonic: a wall clock step cannot stall the yields
	last := lastYield.Load()
	if now-last >= int64(yieldEvery) && lastYield.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
}

// yieldEvery is well under sysmon's 10 ms preemption period.
const yieldEvery = 2 * time.Millisecond

var (
	yieldEpoch = time.Now()
	lastYield  atomic.Int64
)

// Close frees the lock, releasing it in the background if still held; it
// never waits on the network. Idempotent.
func (l *Lock) Close() error {
	l.g.close(func() {
		C.redlead_lock_free(l.l)
		l.l = nil
		runtime.SetFinalizer(l, nil)
	})
	return nil
}
