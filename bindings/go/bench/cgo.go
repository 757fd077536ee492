package main

// The same two calls as the C door (bench/doors/door_c.c), made straight
// through cgo with no binding code: the line `go-cgo` separates what the
// binding adds from what cgo and the Go scheduler add around a C call that
// waits on the network.

/*
#cgo LDFLAGS: -lredlead
#include <redlead.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

type cgoClient struct {
	c *C.redlead_client
}

func newCgoClient(urls []string) (*cgoClient, error) {
	cs := make([]*C.char, len(urls))
	for i, u := range urls {
		cs[i] = C.CString(u)
		defer C.free(unsafe.Pointer(cs[i]))
	}
	arr := (**C.char)(C.malloc(C.size_t(len(cs)) * C.size_t(unsafe.Sizeof(cs[0]))))
	defer C.free(unsafe.Pointer(arr))
	copy(unsafe.Slice(arr, len(cs)), cs)
	var c *C.redlead_client
	var e *C.redlead_error
	if st := C.redlead_client_new(arr, C.size_t(len(cs)), nil, &c, &e); st != C.REDLEAD_OK {
		defer C.redlead_error_free(e)
		return nil, fmt.Errorf("redlead_client_new: %s", C.GoString(C.redlead_error_message(e)))
	}
	return &cgoClient{c}, nil
}

// once is one timed try-acquire + release of resource (a C string).
func (c *cgoClient) once(resource *C.char) (time.Duration, error) {
	var l *C.redlead_lock
	var e *C.redlead_error
	t := time.Now()
	st := C.redlead_lock_try_acquire(c.c, resource, C.uint64_t(ttl.Milliseconds()), 0, &l, &e)
	if st == C.REDLEAD_OK {
		st = C.redlead_lock_release(l, &e)
	}
	d := time.Since(t)
	C.redlead_lock_free(l)
	if st != C.REDLEAD_OK {
		defer C.redlead_error_free(e)
		return d, fmt.Errorf("go-cgo: status %d: %s", int(st), C.GoString(C.redlead_error_message(e)))
	}
	return d, nil
}

func (c *cgoClient) close() { C.redlead_client_free(c.c) }
