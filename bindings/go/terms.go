package redlead

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrTermEnded is the cause (context.Cause) of a term's context once the
// term is over; the error is a *TermEndedError, which says why.
var ErrTermEnded = errors.New("redlead: term ended")

// TermEndedError is the cause of a term context that ended with its term.
type TermEndedError struct {
	Term   uint64
	Reason RevokeReason // RevokeStopped also when the election was closed
}

func (e *TermEndedError) Error() string {
	return fmt.Sprintf("redlead: term %d ended: %s", e.Term, e.Reason)
}

func (e *TermEndedError) Unwrap() error { return ErrTermEnded }

// termScopes keeps the context of the current term: made when ELECTED is
// delivered, cancelled when REVOKED is delivered (before the OnElected and
// OnRevoked callbacks run), on the election's event thread.
type termScopes struct {
	mu     sync.Mutex
	term   uint64
	ctx    context.Context // nil when not leading
	cancel context.CancelCauseFunc
	next   chan struct{} // closed at the next change, then replaced
	closed bool
}

func newTermScopes() *termScopes { return &termScopes{next: make(chan struct{})} }

// changed wakes the waiters; called with mu held.
func (s *termScopes) changed() {
	close(s.next)
	s.next = make(chan struct{})
}

func (s *termScopes) begin(term uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil { // never expected: every ELECTED follows a REVOKED
		s.cancel(&TermEndedError{Term: s.term, Reason: RevokeStopped})
	}
	s.term = term
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.changed()
}

func (s *termScopes) end(term uint64, reason RevokeReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel(&TermEndedError{Term: term, Reason: reason})
	}
	s.ctx, s.cancel = nil, nil
	s.changed()
}

// close ends the current term (if any) and every wait: the election is gone.
func (s *termScopes) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel(&TermEndedError{Term: s.term, Reason: RevokeStopped})
	}
	s.ctx, s.cancel = nil, nil
	if !s.closed {
		s.closed = true
		s.changed()
	}
}

// current returns the term's context while leading, and a channel closed at
// the next change.
func (s *termScopes) current() (context.Context, uint64, <-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx, s.term, s.next, s.closed
}

// RunWhileLeader waits until this candidate leads, then runs f with the
// term number and a context cancelled when that term ends (its cause, from
// context.Cause, is a *TermEndedError; errors.Is(cause, ErrTermEnded)), when
// ctx ends, or when the election is closed; it returns f's error. Like
// client-go's OnStartedLeading(ctx): scope the leader's work with the
// context and return when it is done. It runs f once; call it in a loop to
// serve every term. It returns ctx's error when ctx ends before this
// candidate leads, and ErrClosed once the election is closed.
//
// The term's context is cancelled when the REVOKED event is delivered on the
// election's event thread, before OnRevoked runs: as soon as the term ends
// unless an earlier callback (OnElected, OnRevoked, OnLeaderChange) is still
// running, so keep those short. IsLeader, computed from the clock, turns
// false on time whatever the callbacks do.
func (e *Election) RunWhileLeader(ctx context.Context, f func(ctx context.Context, term uint64) error) error {
	for {
		termCtx, term, next, closed := e.terms.current()
		if closed {
			return closedError("election")
		}
		if termCtx != nil && termCtx.Err() == nil {
			run, cancel := context.WithCancelCause(ctx)
			stop := context.AfterFunc(termCtx, func() { cancel(context.Cause(termCtx)) })
			defer stop()
			defer cancel(nil)
			return f(run, term)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-next:
		}
	}
}
