package redlead

/*
#include <stdint.h>
#include "redlead.h"

extern void goRedleadLog(void *, redlead_log_record *);
extern void goRedleadDrop(void *);

static redlead_log_closure rl_log(uintptr_t h) {
	redlead_log_closure c = {(void *)h, (void (*)(void *, const redlead_log_record *))goRedleadLog, goRedleadDrop};
	return c;
}
*/
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// logSink forwards the library's records to a slog.Logger.
type logSink struct{ l *slog.Logger }

//export goRedleadLog
func goRedleadLog(ctx unsafe.Pointer, r *C.redlead_log_record) {
	defer func() { _ = recover() }()
	s := handleOf(ctx).Value().(*logSink)
	s.l.Log(context.Background(), slogLevel(int(r.level)), C.GoString(r.message),
		slog.String("target", C.GoString(r.target)))
}

func slogLevel(l int) slog.Level {
	switch l {
	case 1:
		return slog.LevelError
	case 2:
		return slog.LevelWarn
	case 3:
		return slog.LevelInfo
	case 4:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 4 // trace
}

func redleadLevel(l slog.Level) C.uint32_t {
	switch {
	case l >= slog.LevelError:
		return 1
	case l >= slog.LevelWarn:
		return 2
	case l >= slog.LevelInfo:
		return 3
	case l >= slog.LevelDebug:
		return 4
	}
	return 5
}

// SetLogger sends the library's log records at minLevel and above to l,
// process-wide, each with a "target" attribute (e.g. "redlead::lock"). The
// records reach l from one library thread, in order. SetLogger(nil, 0) stops
// them; it returns after the last record was handed to the old logger.
func SetLogger(l *slog.Logger, minLevel slog.Level) error {
	var cerr *C.redlead_error
	if l == nil {
		return check(uint32(C.redlead_log_clear(&cerr)), cerr)
	}
	h := cgo.NewHandle(&logSink{l})
	return check(uint32(C.redlead_log_set_callback(C.rl_log(C.uintptr_t(h)), redleadLevel(minLevel), &cerr)), cerr)
}
