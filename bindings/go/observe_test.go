package redlead

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestObserverFollowsTheHolderAQuorumAgreesOn(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	res := fmt.Sprintf("go-observed-%d", time.Now().UnixNano())
	l, err := c.TryAcquire(ctx, res, 5*time.Second, WithOwner("go-obs-a"))
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan string, 16)
	// A poll interval far longer than the test: only the first poll and the
	// release announcement can explain what it sees.
	ob, err := c.Observe(ctx, res, ObserveOptions{
		PollInterval: 10 * time.Minute,
		OnChange:     func(leader string) { changes <- leader },
	})
	if err != nil {
		t.Fatal(err)
	}
	if leader, ok := ob.Leader(); !ok || leader != "go-obs-a" {
		t.Fatalf("leader at start %q %v", leader, ok)
	}
	if first := recv(t, changes, 2*time.Second, "the first call"); first != "go-obs-a" {
		t.Fatalf("first call %q", first)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if next := recv(t, changes, 2*time.Second, "the release seen"); next != "" {
		t.Fatalf("after the release %q, want none", next)
	}
	if leader, ok := ob.Leader(); ok {
		t.Fatalf("leader after the release %q", leader)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := ob.Leader(); ok {
		t.Fatal("a closed observer knows a leader")
	}
}

func TestObserverBadInputAndCloseFromOnChange(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	if _, err := c.Observe(ctx, "", ObserveOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty resource: %v", err)
	}
	if _, err := c.Observe(ctx, "r", ObserveOptions{PollInterval: -time.Second}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative interval: %v", err)
	}
	fromCallback := make(chan error, 1)
	var ob *Observer
	ready := make(chan struct{})
	ob, err := c.Observe(ctx, "go-observe-close", ObserveOptions{OnChange: func(string) {
		<-ready
		fromCallback <- ob.Close()
	}})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	if err := recv(t, fromCallback, 2*time.Second, "Close from OnChange"); !errors.Is(err, ErrWrongThread) {
		t.Fatalf("Close from OnChange: %v, want ErrWrongThread", err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
}
