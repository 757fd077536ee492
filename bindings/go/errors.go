package redlead

/*
#include <stdlib.h>
#include "redlead.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is. Every error the package returns is an
// *Error that matches exactly one of them.
var (
	// ErrNotAcquired: the lock is held elsewhere.
	ErrNotAcquired = errors.New("redlead: not acquired")
	// ErrLost: the lock is known to be gone (expired, or a quorum says it is
	// no longer ours).
	ErrLost = errors.New("redlead: lock lost")
	// ErrInvalidArgument: a parameter was rejected; nothing was sent.
	ErrInvalidArgument = errors.New("redlead: invalid argument")
	// ErrConnection: no quorum of nodes was reachable.
	ErrConnection = errors.New("redlead: no quorum of nodes reachable")
	// ErrTimeout: a wait budget ran out.
	ErrTimeout = errors.New("redlead: timed out")
	// ErrClosed: the lock was released, or the object was closed.
	ErrClosed = errors.New("redlead: closed")
	// ErrForked: used in a child process after fork().
	ErrForked = errors.New("redlead: used after fork")
	// ErrWrongThread: the call would deadlock where it was made (e.g.
	// Election.Close from the election's own callback).
	ErrWrongThread = errors.New("redlead: wrong thread")
	// ErrCancelled: the context ended the call.
	ErrCancelled = errors.New("redlead: cancelled")
	// ErrInternal: a bug in the library (a panic or an unexpected reply).
	ErrInternal = errors.New("redlead: internal error")
)

// Values of the C ABI's enums, fixed and never renumbered (cgo gives enum
// constants no Go constant form); constantsMatchHeader checks them.
const (
	statusOK              = 0
	statusNotAcquired     = 1
	statusLost            = 2
	statusInvalidArgument = 3
	statusConnection      = 4
	statusTimeout         = 5
	statusClosed          = 6
	statusForked          = 7
	statusWrongThread     = 8
	statusPanic           = 9
	statusInternal        = 10
	statusCancelled       = 11

	eventElected       = 0
	eventRevoked       = 1
	eventLeaderChanged = 2
)

// constantsMatchHeader reports the first constant that differs from the
// header's value (for the tests).
func constantsMatchHeader() string {
	pairs := []struct {
		name      string
		ours, hdr int
	}{
		{"REDLEAD_OK", statusOK, int(C.REDLEAD_OK)},
		{"REDLEAD_NOT_ACQUIRED", statusNotAcquired, int(C.REDLEAD_NOT_ACQUIRED)},
		{"REDLEAD_LOST", statusLost, int(C.REDLEAD_LOST)},
		{"REDLEAD_ERR_INVALID_ARGUMENT", statusInvalidArgument, int(C.REDLEAD_ERR_INVALID_ARGUMENT)},
		{"REDLEAD_ERR_CONNECTION", statusConnection, int(C.REDLEAD_ERR_CONNECTION)},
		{"REDLEAD_ERR_TIMEOUT", statusTimeout, int(C.REDLEAD_ERR_TIMEOUT)},
		{"REDLEAD_ERR_CLOSED", statusClosed, int(C.REDLEAD_ERR_CLOSED)},
		{"REDLEAD_ERR_FORKED", statusForked, int(C.REDLEAD_ERR_FORKED)},
		{"REDLEAD_ERR_WRONG_THREAD", statusWrongThread, int(C.REDLEAD_ERR_WRONG_THREAD)},
		{"REDLEAD_ERR_PANIC", statusPanic, int(C.REDLEAD_ERR_PANIC)},
		{"REDLEAD_ERR_INTERNAL", statusInternal, int(C.REDLEAD_ERR_INTERNAL)},
		{"REDLEAD_ERR_CANCELLED", statusCancelled, int(C.REDLEAD_ERR_CANCELLED)},
		{"REDLEAD_EVENT_ELECTED", eventElected, int(C.REDLEAD_EVENT_ELECTED)},
		{"REDLEAD_EVENT_REVOKED", eventRevoked, int(C.REDLEAD_EVENT_REVOKED)},
		{"REDLEAD_EVENT_LEADER_CHANGED", eventLeaderChanged, int(C.REDLEAD_EVENT_LEADER_CHANGED)},
		{"REDLEAD_OUTCOME_OK", int(OutcomeOK), int(C.REDLEAD_OUTCOME_OK)},
		{"REDLEAD_OUTCOME_HELD", int(OutcomeHeld), int(C.REDLEAD_OUTCOME_HELD)},
		{"REDLEAD_OUTCOME_NOT_HELD", int(OutcomeNotHeld), int(C.REDLEAD_OUTCOME_NOT_HELD)},
		{"REDLEAD_OUTCOME_ERROR", int(OutcomeError), int(C.REDLEAD_OUTCOME_ERROR)},
		{"REDLEAD_OUTCOME_TIMEOUT", int(OutcomeTimeout), int(C.REDLEAD_OUTCOME_TIMEOUT)},
		{"REDLEAD_OUTCOME_NOT_AWAITED", int(OutcomeNotAwaited), int(C.REDLEAD_OUTCOME_NOT_AWAITED)},
		{"REDLEAD_REVOKE_LOST_QUORUM", int(RevokeLostQuorum), int(C.REDLEAD_REVOKE_LOST_QUORUM)},
		{"REDLEAD_REVOKE_TAKEN_OVER", int(RevokeTakenOver), int(C.REDLEAD_REVOKE_TAKEN_OVER)},
		{"REDLEAD_REVOKE_RESIGNED", int(RevokeResigned), int(C.REDLEAD_REVOKE_RESIGNED)},
		{"REDLEAD_REVOKE_STOPPED", int(RevokeStopped), int(C.REDLEAD_REVOKE_STOPPED)},
	}
	for _, p := range pairs {
		if p.ours != p.hdr {
			return p.name
		}
	}
	return ""
}

// OutcomeKind is what one node answered.
type OutcomeKind int

const (
	OutcomeOK         OutcomeKind = 0
	OutcomeHeld       OutcomeKind = 1
	OutcomeNotHeld    OutcomeKind = 2
	OutcomeError      OutcomeKind = 3
	OutcomeTimeout    OutcomeKind = 4
	OutcomeNotAwaited OutcomeKind = 5
)

func (k OutcomeKind) String() string {
	switch k {
	case OutcomeOK:
		return "ok"
	case OutcomeHeld:
		return "held"
	case OutcomeNotHeld:
		return "not held"
	case OutcomeError:
		return "error"
	case OutcomeTimeout:
		return "timeout"
	case OutcomeNotAwaited:
		return "not awaited"
	}
	return fmt.Sprintf("outcome(%d)", int(k))
}

// NodeOutcome is one node's answer to an operation.
type NodeOutcome struct {
	Node    string // address, never a password
	Kind    OutcomeKind
	Message string
}

// Error is every error of the package: the library's status and message,
// and what each node answered when the nodes were asked.
type Error struct {
	Status   int // the C redlead_status
	Message  string
	Outcomes []NodeOutcome
	cause    error // the context's error for a cancelled call
}

func (e *Error) Error() string { return "redlead: " + e.Message }

// Unwrap gives the context's error (context.Canceled or
// context.DeadlineExceeded) of a call the context ended.
func (e *Error) Unwrap() error { return e.cause }

// Is matches the sentinel of the error's status.
func (e *Error) Is(target error) bool { return sentinel(e.Status) == target }

func sentinel(status int) error {
	switch status {
	case statusNotAcquired:
		return ErrNotAcquired
	case statusLost:
		return ErrLost
	case statusInvalidArgument:
		return ErrInvalidArgument
	case statusConnection:
		return ErrConnection
	case statusTimeout:
		return ErrTimeout
	case statusClosed:
		return ErrClosed
	case statusForked:
		return ErrForked
	case statusWrongThread:
		return ErrWrongThread
	case statusCancelled:
		return ErrCancelled
	}
	return ErrInternal
}

// errorFrom turns a status and its error object into an *Error, and frees
// the object.
func errorFrom(st uint32, cerr *C.redlead_error) error {
	e := &Error{Status: int(st)}
	if cerr == nil {
		e.Message = C.GoString(C.redlead_status_str(st))
		return e
	}
	defer C.redlead_error_free(cerr)
	e.Message = C.GoString(C.redlead_error_message(cerr))
	n := int(C.redlead_error_node_count(cerr))
	for i := 0; i < n; i++ {
		var node, msg *C.char
		var kind uint32
		if C.redlead_error_node_outcome(cerr, C.size_t(i), &node, &kind, &msg, nil) == statusOK {
			e.Outcomes = append(e.Outcomes, NodeOutcome{C.GoString(node), OutcomeKind(kind), C.GoString(msg)})
		}
	}
	return e
}

// check is errorFrom for a call that may have succeeded.
func check(st uint32, cerr *C.redlead_error) error {
	if st == statusOK {
		return nil
	}
	return errorFrom(st, cerr)
}

func closedError(what string) error {
	return &Error{Status: statusClosed, Message: what + " is closed"}
}

func invalid(msg string) error {
	return &Error{Status: statusInvalidArgument, Message: "invalid argument: " + msg}
}
