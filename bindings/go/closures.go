package redlead

/*
#include <stdint.h>
#include <stdlib.h>
#include "redlead.h"

extern void goRedleadCompletion(void *, redlead_status, redlead_lock *, redlead_error *);
extern void goRedleadLost(void *);
extern void goRedleadEvent(void *, redlead_event *);
extern void goRedleadDrop(void *);
extern void goRedleadObserve(void *, char *);

// The context of every closure is a runtime/cgo.Handle, an integer.
static redlead_completion rl_completion(uintptr_t h) {
	redlead_completion c = {(void *)h, goRedleadCompletion, goRedleadDrop};
	return c;
}
static redlead_lost_closure rl_lost(uintptr_t h) {
	redlead_lost_closure c = {(void *)h, goRedleadLost, goRedleadDrop};
	return c;
}
static redlead_event_closure rl_events(uintptr_t h) {
	redlead_event_closure c = {(void *)h, (void (*)(void *, const redlead_event *))goRedleadEvent, goRedleadDrop};
	return c;
}
static redlead_observe_closure rl_observe(uintptr_t h) {
	redlead_observe_closure c = {(void *)h, (void (*)(void *, const char *))goRedleadObserve, goRedleadDrop};
	return c;
}
*/
import "C"

import (
	"runtime/cgo"
	"sync"
)

// result is what a completion delivers.
type result struct {
	lock *C.redlead_lock
	err  error
}

// completion receives one asynchronous call's result.
type completion struct{ ch chan result }

func newCompletion() (*completion, C.redlead_completion) {
	c := &completion{ch: make(chan result, 1)}
	h := cgo.NewHandle(c)
	return c, C.rl_completion(C.uintptr_t(h))
}

// lostSignal closes a channel once.
type lostSignal struct {
	once sync.Once
	ch   chan struct{}
}

func (l *lostSignal) fire() { l.once.Do(func() { close(l.ch) }) }

func lostClosure(l *lostSignal) C.redlead_lost_closure {
	return C.rl_lost(C.uintptr_t(cgo.NewHandle(l)))
}

func eventClosure(s *eventSink) C.redlead_event_closure {
	return C.rl_events(C.uintptr_t(cgo.NewHandle(s)))
}

func observeClosure(s *observeSink) C.redlead_observe_closure {
	return C.rl_observe(C.uintptr_t(cgo.NewHandle(s)))
}
