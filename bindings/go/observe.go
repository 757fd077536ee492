package redlead

/*
#include <stdlib.h>
#include "redlead.h"
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// ObserveOptions configures an Observer.
type ObserveOptions struct {
	// How often the nodes are asked when nothing is announced; 0: 1 s.
	PollInterval time.Duration
	// Called first with the leader at start, then after every change of the
	// holding: a new leader, none (""), or the same leader holding anew (a
	// new term). Runs on the observer's own library thread, one call at a
	// time, in order; changes that come while it runs are coalesced to the
	// latest. A panic is recovered. Do not call Close from it.
	OnChange func(leader string)
}

// observeSink turns the library's calls into OnChange.
type observeSink struct{ f func(string) }

func (s *observeSink) deliver(leader *C.char) {
	if s.f == nil {
		return
	}
	id := ""
	if leader != nil {
		id = C.GoString(leader)
	}
	s.f(id)
}

// Observer watches who holds a resource without campaigning for it, like
// etcd's Observe. The leader is the owner id of the lock value that a
// quorum of nodes holds; when no value has a quorum (nobody holds it, a
// handover is under way, the nodes disagree) or fewer than a quorum of
// nodes answer, there is none. It is safe for concurrent use.
type Observer struct {
	g    guard
	o    *C.redlead_observer
	stop func() bool
}

// Observe starts watching resource: the nodes are asked once before it
// returns (about one round trip), then every PollInterval and at once when
// a node announces a release or a resignation of the resource. It runs
// until Close, or until ctx is done (then it is closed as by Close).
func (c *Client) Observe(ctx context.Context, resource string, o ObserveOptions) (*Observer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.PollInterval < 0 {
		return nil, invalid("PollInterval must not be negative")
	}
	r, err := cString("resource", resource)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(r))
	if !c.g.enter() {
		return nil, closedError("client")
	}
	ob := &Observer{}
	var cerr *C.redlead_error
	st := C.redlead_observer_start(c.c, r, millis(o.PollInterval), observeClosure(&observeSink{o.OnChange}), &ob.o, &cerr)
	c.g.leave()
	runtime.KeepAlive(c)
	if err := check(st, cerr); err != nil {
		return nil, err // the library dropped the closure
	}
	runtime.SetFinalizer(ob, (*Observer).Close)
	ob.stop = context.AfterFunc(ctx, func() { _ = ob.Close() })
	return ob, nil
}

// Leader is the leader seen last (no network call); false when none is
// known.
func (o *Observer) Leader() (string, bool) {
	if !o.g.enter() {
		return "", false
	}
	defer o.g.leave()
	buf := (*C.char)(C.malloc(258))
	defer C.free(unsafe.Pointer(buf))
	var needed C.size_t
	if uint32(C.redlead_observer_leader(o.o, buf, 258, &needed, nil)) != statusOK || needed == 0 {
		return "", false
	}
	return C.GoString(buf), true
}

// Close stops observing and returns once no OnChange call runs any more;
// idempotent. From inside OnChange it returns ErrWrongThread and stops
// nothing.
func (o *Observer) Close() error {
	o.g.mu.Lock()
	if o.g.closed {
		o.g.mu.Unlock()
		return nil
	}
	// Marked closed before the (blocking) free, so that an OnChange calling
	// Leader while the free waits for it does not wait for the free in turn.
	o.g.closed = true
	p := o.o
	o.g.mu.Unlock()
	var cerr *C.redlead_error
	st := uint32(C.redlead_observer_free(p, &cerr))
	if st == statusWrongThread {
		o.g.mu.Lock()
		o.g.closed = false
		o.g.mu.Unlock()
		return errorFrom(st, cerr)
	}
	runtime.SetFinalizer(o, nil)
	if o.stop != nil {
		o.stop()
	}
	return check(st, cerr)
}
