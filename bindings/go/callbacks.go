package redlead

// The functions the library calls back. They run on library threads (a
// redlead-cb thread for completions and lost signals, one event thread per
// election, one thread per observer); each recovers panics so that nothing
// unwinds into C, and none keeps a Go pointer in C: the closures' context is
// a runtime/cgo.Handle.

/*
#include "redlead.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

func handleOf(ctx unsafe.Pointer) cgo.Handle { return cgo.Handle(uintptr(ctx)) }

//export goRedleadCompletion
func goRedleadCompletion(ctx unsafe.Pointer, st C.redlead_status, lock *C.redlead_lock, cerr *C.redlead_error) {
	defer func() { _ = recover() }()
	c := handleOf(ctx).Value().(*completion)
	r := result{lock: lock}
	if uint32(st) != statusOK {
		r.err = errorFrom(uint32(st), cerr)
	}
	c.ch <- r // buffered: never blocks
}

//export goRedleadLost
func goRedleadLost(ctx unsafe.Pointer) {
	defer func() { _ = recover() }()
	handleOf(ctx).Value().(*lostSignal).fire()
}

//export goRedleadEvent
func goRedleadEvent(ctx unsafe.Pointer, ev *C.redlead_event) {
	defer func() { _ = recover() }()
	handleOf(ctx).Value().(*eventSink).deliver(ev)
}

//export goRedleadObserve
func goRedleadObserve(ctx unsafe.Pointer, leader *C.char) {
	defer func() { _ = recover() }()
	handleOf(ctx).Value().(*observeSink).deliver(leader)
}

//export goRedleadDrop
func goRedleadDrop(ctx unsafe.Pointer) {
	defer func() { _ = recover() }()
	handleOf(ctx).Delete()
}
