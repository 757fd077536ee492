package redlead

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func recv[T any](t *testing.T, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("timed out waiting for: %s", what)
		panic("unreachable")
	}
}

func TestRunWhileLeaderContextEndsWithTheTerm(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	res := fmt.Sprintf("go-terms-%d", time.Now().UnixNano())
	a, err := c.Elect(ctx, res, "a", ElectionOptions{TTL: 900 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	started := make(chan uint64, 1)
	done := make(chan error, 1)
	go func() {
		done <- a.RunWhileLeader(ctx, func(ctx context.Context, term uint64) error {
			started <- term
			<-ctx.Done()
			return context.Cause(ctx)
		})
	}()
	term := recv(t, started, 3*time.Second, "a leads and runs f")
	if term == 0 || term != a.Term() {
		t.Fatalf("f got term %d, the election says %d", term, a.Term())
	}
	if ok, err := a.Resign(ctx); !ok || err != nil {
		t.Fatalf("resign: %v %v", ok, err)
	}
	err = recv(t, done, 2*time.Second, "f's context ends with the term")
	var ended *TermEndedError
	if !errors.As(err, &ended) || !errors.Is(err, ErrTermEnded) {
		t.Fatalf("cause %v (%T), want a *TermEndedError", err, err)
	}
	if ended.Term != term || ended.Reason != RevokeResigned {
		t.Fatalf("ended %+v, want term %d resigned", ended, term)
	}
	t.Logf("term %d ended: %v", term, err)

	// A follower whose ctx ends first gets ctx's error; a closed one ErrClosed.
	b, err := c.Elect(ctx, res, "b", ElectionOptions{TTL: 900 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return a.IsLeader() || b.IsLeader() }, 3*time.Second, "a leader again")
	follower := a
	if a.IsLeader() {
		follower = b
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = follower.RunWhileLeader(short, func(context.Context, uint64) error { return errors.New("ran") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("follower: %v, want the context's deadline", err)
	}
	b.Close()
	if err := b.RunWhileLeader(ctx, func(context.Context, uint64) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestRunWhileLeaderContextEndsWhenTheElectionCloses(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	res := fmt.Sprintf("go-terms-close-%d", time.Now().UnixNano())
	a, err := c.Elect(ctx, res, "a", ElectionOptions{TTL: 900 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- a.RunWhileLeader(ctx, func(ctx context.Context, term uint64) error {
			<-ctx.Done()
			return context.Cause(ctx)
		})
	}()
	waitFor(t, a.IsLeader, 3*time.Second, "a leads")
	time.Sleep(20 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	err = recv(t, done, 2*time.Second, "f's context ends on Close")
	var ended *TermEndedError
	if !errors.As(err, &ended) || ended.Reason != RevokeStopped {
		t.Fatalf("cause %v, want the term ended by stop", err)
	}
}
