package redlead

/*
#include <stdlib.h>
#include "redlead.h"
*/
import "C"

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// guard makes Close safe against calls in other goroutines: a call holds it
// shared while it uses the C handle; Close takes it exclusively, once.
type guard struct {
	mu     sync.RWMutex
	closed bool
}

func (g *guard) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *guard) leave() { g.mu.RUnlock() }

// close runs free once, with no call in progress; false if already closed.
func (g *guard) close(free func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	free()
	return true
}

// cString copies s for C; a NUL byte inside is an invalid argument (C would
// silently cut the string there).
func cString(name, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalid(name + " contains a NUL byte")
	}
	return C.CString(s), nil
}

func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	return C.uint64_t(d.Milliseconds())
}

// Option configures a Client.
type Option func(*C.redlead_config) uint32

// WithNodeTimeout sets how long one node may take to answer one command
// (default 50 ms).
func WithNodeTimeout(d time.Duration) Option {
	return func(c *C.redlead_config) uint32 {
		return C.redlead_config_set_node_timeout_ms(c, millis(d), nil)
	}
}

// WithRetry sets the delay between a waiting acquire's attempts and the
// random extra delay added to each (defaults 200 ms and 100 ms).
func WithRetry(delay, jitter time.Duration) Option {
	return func(c *C.redlead_config) uint32 {
		if st := C.redlead_config_set_retry_delay_ms(c, millis(delay), nil); st != statusOK {
			return st
		}
		return C.redlead_config_set_retry_jitter_ms(c, millis(jitter), nil)
	}
}

// WithKeyPrefix sets the prefix of every Redis key (default "redlead:").
func WithKeyPrefix(prefix string) Option {
	return func(c *C.redlead_config) uint32 {
		p, err := cString("key prefix", prefix)
		if err != nil {
			return statusInvalidArgument
		}
		defer C.free(unsafe.Pointer(p))
		return C.redlead_config_set_key_prefix(c, p, nil)
	}
}

// WithConnectTimeout sets the timeout of one connection attempt (default
// 500 ms).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *C.redlead_config) uint32 {
		return C.redlead_config_set_connect_timeout_ms(c, millis(d), nil)
	}
}

// WithTLSRootCA trusts this CA (PEM) for rediss:// nodes.
func WithTLSRootCA(pem string) Option {
	return func(c *C.redlead_config) uint32 {
		p, err := cString("CA PEM", pem)
		if err != nil {
			return statusInvalidArgument
		}
		defer C.free(unsafe.Pointer(p))
		return C.redlead_config_set_tls_root_ca_pem(c, p, nil)
	}
}

// WithTLSClientCert presents this client certificate and key (PEM) to
// rediss:// nodes that require client authentication.
func WithTLSClientCert(certPEM, keyPEM string) Option {
	return func(c *C.redlead_config) uint32 {
		cp, err := cString("certificate PEM", certPEM)
		if err != nil {
			return statusInvalidArgument
		}
		defer C.free(unsafe.Pointer(cp))
		kp, err := cString("key PEM", keyPEM)
		if err != nil {
			return statusInvalidArgument
		}
		defer C.free(unsafe.Pointer(kp))
		return C.redlead_config_set_tls_client_cert_pem(c, cp, kp, nil)
	}
}

// WithRetryCount caps a waiting acquire's attempts (0, the default: only
// the wait bounds it).
func WithRetryCount(n uint32) Option {
	return func(c *C.redlead_config) uint32 {
		return C.redlead_config_set_retry_count(c, C.uint32_t(n), nil)
	}
}

// WithDriftFactor sets the clock drift allowance as a fraction of the ttl,
// in [0, 0.5) (default 0.01).
func WithDriftFactor(f float64) Option {
	return func(c *C.redlead_config) uint32 {
		return C.redlead_config_set_drift_factor(c, C.double(f), nil)
	}
}

// WithKeyHashTag chooses the key shape: prefix{resource} (true, the
// default: a lock's keys share a Redis Cluster slot) or prefix+resource
// (false). WithKeyPrefix("") and WithKeyHashTag(false) give the keys of
// go-redsync, so both can guard one resource during a migration.
func WithKeyHashTag(on bool) Option {
	return func(c *C.redlead_config) uint32 {
		v := C.uint8_t(0)
		if on {
			v = 1
		}
		return C.redlead_config_set_key_hash_tag(c, v, nil)
	}
}

// WithRuntimeThreads sets the library's I/O threads (1..256, default 1),
// process-wide. It applies only to the first client of the process; a later
// client asking for a different count fails with ErrInvalidArgument.
func WithRuntimeThreads(n int) Option {
	return func(c *C.redlead_config) uint32 {
		if n <= 0 || n > 256 {
			return statusInvalidArgument
		}
		return C.redlead_config_set_runtime_threads(c, C.uint32_t(n), nil)
	}
}

// Client is a Redlock client over N independent Redis masters. It is safe
// for concurrent use; Close it when done (a finalizer frees it otherwise).
type Client struct {
	g guard
	c *C.redlead_client
}

// NewClient makes a client over the node URLs
// (redis://[user:password@]host:port[/db], rediss:// for TLS). Connections
// are made lazily, so a node that is down now does not fail this call.
func NewClient(urls []string, opts ...Option) (*Client, error) {
	if len(urls) == 0 {
		return nil, invalid("urls must name at least one Redis master")
	}
	cfg := C.redlead_config_new()
	if cfg == nil {
		return nil, &Error{Status: statusInternal, Message: "redlead_config_new failed"}
	}
	defer C.redlead_config_free(cfg)
	for _, o := range opts {
		if st := o(cfg); st != statusOK {
			return nil, &Error{Status: int(st), Message: "invalid option: " + C.GoString(C.redlead_status_str(st))}
		}
	}
	curls := make([]*C.char, len(urls))
	for i, u := range urls {
		p, err := cString("url", u)
		if err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(p))
		curls[i] = p
	}
	// The array lives in C memory: a Go array of C pointers may be passed,
	// but C memory keeps the cgo rules trivially satisfied.
	arr := (**C.char)(C.malloc(C.size_t(len(urls)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(arr))
	copy(unsafe.Slice(arr, len(urls)), curls)
	var cerr *C.redlead_error
	cl := &Client{}
	if err := check(C.redlead_client_new(arr, C.size_t(len(urls)), cfg, &cl.c, &cerr), cerr); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(cl, (*Client).Close)
	return cl, nil
}

// Close frees the client; idempotent. Locks and elections made from it stay
// usable and must be closed on their own.
func (c *Client) Close() error {
	c.g.close(func() {
		C.redlead_client_free(c.c)
		c.c = nil
		runtime.SetFinalizer(c, nil)
	})
	return nil
}

// Holder asks the nodes who holds resource: held is true when a quorum
// agrees on one holder; owner is its owner label (WithOwner), "" when it set
// none. It blocks for about one round trip (the context is checked before).
func (c *Client) Holder(ctx context.Context, resource string) (owner string, held bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	r, err := cString("resource", resource)
	if err != nil {
		return "", false, err
	}
	defer C.free(unsafe.Pointer(r))
	if !c.g.enter() {
		return "", false, closedError("client")
	}
	defer c.g.leave()
	var h C.uint8_t
	var o *C.char
	var cerr *C.redlead_error
	err = check(C.redlead_client_holder(c.c, r, &h, &o, &cerr), cerr)
	runtime.KeepAlive(c)
	if err != nil {
		return "", false, err
	}
	if o != nil {
		owner = C.GoString(o)
		C.redlead_string_free(o)
	}
	return owner, h != 0, nil
}

// Ping sends PING to every node and returns each node's outcome, in the
// order of the URLs. It blocks for about one round trip.
func (c *Client) Ping(ctx context.Context) ([]NodeOutcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !c.g.enter() {
		return nil, closedError("client")
	}
	defer c.g.leave()
	var out *C.redlead_outcomes
	var cerr *C.redlead_error
	if err := check(C.redlead_client_ping(c.c, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	runtime.KeepAlive(c)
	defer C.redlead_outcomes_free(out)
	n := int(C.redlead_outcomes_count(out))
	res := make([]NodeOutcome, 0, n)
	for i := 0; i < n; i++ {
		var node, msg *C.char
		var kind uint32
		if C.redlead_outcomes_get(out, C.size_t(i), &node, &kind, &msg, nil) == statusOK {
			res = append(res, NodeOutcome{C.GoString(node), OutcomeKind(kind), C.GoString(msg)})
		}
	}
	return res, nil
}
