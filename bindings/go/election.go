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

// RevokeReason says why a leadership ended.
type RevokeReason int

const (
	RevokeLostQuorum RevokeReason = 1
	RevokeTakenOver  RevokeReason = 2
	RevokeResigned   RevokeReason = 3
	RevokeStopped    RevokeReason = 4
)

func (r RevokeReason) String() string {
	switch r {
	case RevokeLostQuorum:
		return "lost quorum"
	case RevokeTakenOver:
		return "taken over"
	case RevokeResigned:
		return "resigned"
	case RevokeStopped:
		return "stopped"
	}
	return "none"
}

// ElectionOptions configures a candidate. Zero durations take the library's
// defaults (scaled to TTL, 5 s by default). The callbacks run on one library
// thread per election, one at a time and in order; every OnElected is
// followed by an OnRevoked before the next OnElected. A panic in a callback
// is recovered (the event is dropped). Do not call Close from a callback.
type ElectionOptions struct {
	TTL            time.Duration // lease: how long a crashed leader blocks the others
	RenewInterval  time.Duration // default TTL/3
	RetryInterval  time.Duration // a follower's time between attempts; default TTL/5
	RetryJitter    time.Duration // random extra per attempt; default TTL/50
	StepDownMargin time.Duration
	StopTimeout    time.Duration // how long Close waits for a running callback; default 5 s

	OnElected      func(term uint64)
	OnRevoked      func(term uint64, reason RevokeReason)
	OnLeaderChange func(leader string) // "" when no leader is known
}

// eventSink turns C events into the term contexts and the callbacks.
type eventSink struct {
	o     ElectionOptions
	terms *termScopes
}

func (s *eventSink) deliver(ev *C.redlead_event) {
	switch ev.kind {
	case eventElected:
		s.terms.begin(uint64(ev.term))
		if s.o.OnElected != nil {
			s.o.OnElected(uint64(ev.term))
		}
	case eventRevoked:
		s.terms.end(uint64(ev.term), RevokeReason(ev.reason))
		if s.o.OnRevoked != nil {
			s.o.OnRevoked(uint64(ev.term), RevokeReason(ev.reason))
		}
	case eventLeaderChanged:
		if s.o.OnLeaderChange != nil {
			leader := ""
			if ev.leader_id != nil {
				leader = C.GoString(ev.leader_id)
			}
			s.o.OnLeaderChange(leader)
		}
	}
}

// Election is one candidate's campaign. It is safe for concurrent use.
type Election struct {
	g     guard
	e     *C.redlead_election
	stop  func() bool
	terms *termScopes
}

// Elect starts campaigning for resource as candidate id; the campaign runs
// in the background until Close, or until ctx is done (then it is closed as
// by Close).
func (c *Client) Elect(ctx context.Context, resource, id string, o ElectionOptions) (*Election, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := cString("resource", resource)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(r))
	cid, err := cString("id", id)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cid))
	cfg := C.redlead_election_config_new()
	if cfg == nil {
		return nil, &Error{Status: statusInternal, Message: "redlead_election_config_new failed"}
	}
	defer C.redlead_election_config_free(cfg)
	var cerr *C.redlead_error
	set := func(d time.Duration, f func(*C.redlead_election_config, C.uint64_t, **C.redlead_error) uint32) error {
		if d == 0 || cerr != nil {
			return nil
		}
		return check(f(cfg, millis(d), &cerr), cerr)
	}
	for _, s := range []error{
		set(o.TTL, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_ttl_ms(c, v, e)
		}),
		set(o.RenewInterval, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_renew_interval_ms(c, v, e)
		}),
		set(o.RetryInterval, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_retry_interval_ms(c, v, e)
		}),
		set(o.RetryJitter, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_retry_jitter_ms(c, v, e)
		}),
		set(o.StepDownMargin, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_step_down_margin_ms(c, v, e)
		}),
		set(o.StopTimeout, func(c *C.redlead_election_config, v C.uint64_t, e **C.redlead_error) uint32 {
			return C.redlead_election_config_set_stop_timeout_ms(c, v, e)
		}),
	} {
		if s != nil {
			return nil, s
		}
	}
	if !c.g.enter() {
		return nil, closedError("client")
	}
	el := &Election{terms: newTermScopes()}
	cerr = nil
	st := C.redlead_election_start(c.c, r, cid, cfg, eventClosure(&eventSink{o, el.terms}), &el.e, &cerr)
	c.g.leave()
	runtime.KeepAlive(c)
	if err := check(st, cerr); err != nil {
		return nil, err // the library dropped the closure
	}
	runtime.SetFinalizer(el, (*Election).Close)
	el.stop = context.AfterFunc(ctx, func() { _ = el.Close() })
	return el, nil
}

// IsLeader reports whether this candidate leads now (from the clock: false
// at the step-down instant even if a renewal is late).
func (e *Election) IsLeader() bool {
	if !e.g.enter() {
		return false
	}
	defer e.g.leave()
	return C.redlead_election_is_leader(e.e) != 0
}

// Term is the current term (a fencing token) while leading, else 0.
func (e *Election) Term() uint64 {
	if !e.g.enter() {
		return 0
	}
	defer e.g.leave()
	return uint64(C.redlead_election_term(e.e))
}

// Transitions counts how many times this candidate saw leadership change
// hands since it started.
func (e *Election) Transitions() uint64 {
	if !e.g.enter() {
		return 0
	}
	defer e.g.leave()
	return uint64(C.redlead_election_transitions(e.e))
}

// IsHealthy is false when the campaign is stuck (still holding leadership a
// renew interval past its step-down point) or ended without Close; for
// liveness probes.
func (e *Election) IsHealthy() bool {
	if !e.g.enter() {
		return false
	}
	defer e.g.leave()
	return C.redlead_election_is_healthy(e.e) != 0
}

// Leader asks the nodes who leads now ("" and false when nobody does). It
// blocks for about one round trip.
func (e *Election) Leader(ctx context.Context) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	if !e.g.enter() {
		return "", false, closedError("election")
	}
	defer e.g.leave()
	buf := (*C.char)(C.malloc(258))
	defer C.free(unsafe.Pointer(buf))
	var needed C.size_t
	var cerr *C.redlead_error
	if err := check(C.redlead_election_leader(e.e, buf, 258, &needed, &cerr), cerr); err != nil {
		return "", false, err
	}
	if needed == 0 {
		return "", false, nil
	}
	return C.GoString(buf), true, nil
}

// Resign gives up leadership now (the campaign goes on); true when this call
// ended a leadership. It blocks for about one round trip.
func (e *Election) Resign(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if !e.g.enter() {
		return false, closedError("election")
	}
	defer e.g.leave()
	var resigned C.uint8_t
	var cerr *C.redlead_error
	if err := check(C.redlead_election_resign(e.e, &resigned, &cerr), cerr); err != nil {
		return false, err
	}
	return resigned != 0, nil
}

// Close stops the campaign, resigns if leading, and returns when no
// callback runs any more; idempotent. Calls made meanwhile (also from a
// callback still running) answer as after Close and never wait for it. From
// inside the election's own callback Close returns ErrWrongThread and stops
// nothing.
func (e *Election) Close() error {
	e.g.mu.Lock()
	if e.g.closed {
		e.g.mu.Unlock()
		return nil
	}
	// Marked closed before the (blocking) free, so that a callback calling
	// IsLeader or Term while the free waits for it does not wait for the
	// free in turn.
	e.g.closed = true
	p := e.e
	e.g.mu.Unlock()
	var cerr *C.redlead_error
	st := uint32(C.redlead_election_free(p, &cerr))
	if st == statusWrongThread {
		e.g.mu.Lock()
		e.g.closed = false
		e.g.mu.Unlock()
		return errorFrom(st, cerr)
	}
	runtime.SetFinalizer(e, nil)
	if e.stop != nil {
		e.stop()
	}
	e.terms.close()
	return check(st, cerr) // freed also after a timeout behind a callback
}
