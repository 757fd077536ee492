// Package redlead is Redlock over N independent Redis masters, with fencing
// tokens and leader election, for Go: a cgo binding of the C library
// libredlead (see README.md for building).
//
// A Client holds the node connections; TryAcquire and Acquire take a Lock
// (honouring the context's cancellation and deadline), and Elect runs a
// candidate's campaign with callbacks. Every error is an *Error matching one
// of the sentinel errors (ErrNotAcquired, ErrLost, ...) for errors.Is, with
// what each node answered in Outcomes.
//
// What Redlock assumes: bounded clock drift between the nodes and this
// process, and pauses shorter than a lock's safety margin. Lock.IsHeld turns
// false (and Lock.Lost closes) before the validity ends so that a holder can
// stop in time; pass Lock.FencingToken to the protected resource so that it
// can refuse a stale holder when those assumptions fail.
package redlead
