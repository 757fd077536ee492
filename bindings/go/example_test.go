package redlead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"redlead.dev/go/redlead"
)

// urls are the test nodes (started by the package's TestMain).
func urls() []string { return redlead.NodeURLsForTests() }

func ExampleClient_TryAcquire() {
	client, err := redlead.NewClient(urls())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := context.Background()
	lock, err := client.TryAcquire(ctx, "example-job", 10*time.Second, redlead.WithFencing())
	if errors.Is(err, redlead.ErrNotAcquired) {
		fmt.Println("busy")
		return
	}
	if err != nil {
		panic(err)
	}
	fmt.Println("token > 0:", lock.FencingToken() > 0)
	// ... pass lock.FencingToken() to the protected resource; stop when
	// <-lock.Lost() fires ...
	fmt.Println("release:", lock.Release(ctx))
	// Output:
	// token > 0: true
	// release: <nil>
}

func ExampleClient_Acquire() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lock, err := client.Acquire(ctx, "example-acquire", 5*time.Second, redlead.WithOwner("worker-1"))
	if err != nil {
		panic(err)
	}
	owner, held, _ := client.Holder(ctx, "example-acquire")
	fmt.Println(owner, held)
	_ = lock.Release(ctx)
	// Output: worker-1 true
}

func ExampleClient_Elect() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	elected := make(chan uint64, 1)
	e, err := client.Elect(context.Background(), "example-leader", "node-1", redlead.ElectionOptions{
		TTL:       2 * time.Second,
		OnElected: func(term uint64) { elected <- term },
	})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	<-elected
	fmt.Println("leading:", e.IsLeader())
	// Output: leading: true
}

func ExampleLock_Lost() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	ctx := context.Background()
	// Kept extended in the background for at most 600 ms: after that the
	// library gives it up, and Lost closes before the validity ends.
	lock, err := client.TryAcquire(ctx, "example-lost", 300*time.Millisecond,
		redlead.WithAutoExtend(600*time.Millisecond, 0))
	if err != nil {
		panic(err)
	}
	defer lock.Close()
	work := time.NewTicker(50 * time.Millisecond)
	defer work.Stop()
	for {
		select {
		case <-lock.Lost():
			fmt.Println("lost; still held:", lock.IsHeld())
			return
		case <-work.C:
			// ... one step of the critical section ...
		}
	}
	// Output: lost; still held: false
}

func ExampleLock_Extend() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	ctx := context.Background()
	lock, err := client.TryAcquire(ctx, "example-extend", time.Second)
	if err != nil {
		panic(err)
	}
	defer lock.Release(ctx)
	if err := lock.Extend(ctx, 10*time.Second); err != nil {
		panic(err) // ErrLost: a quorum says it is gone; stop working
	}
	fmt.Println(lock.Validity() > 5*time.Second, lock.Extensions())
	// Output: true 1
}

func ExampleError() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	ctx := context.Background()
	held, _ := client.TryAcquire(ctx, "example-error", 5*time.Second)
	defer held.Release(ctx)
	_, err := client.TryAcquire(ctx, "example-error", 5*time.Second)
	var e *redlead.Error
	if errors.Is(err, redlead.ErrNotAcquired) && errors.As(err, &e) {
		nodes := 0
		for _, o := range e.Outcomes { // what each node answered
			if o.Kind == redlead.OutcomeHeld {
				nodes++
			}
		}
		fmt.Println("held elsewhere on a quorum:", nodes >= 3)
	}
	// Output: held elsewhere on a quorum: true
}

func ExampleElection_Resign() {
	client, _ := redlead.NewClient(urls())
	defer client.Close()
	ctx := context.Background()
	elected := make(chan string, 2)
	opts := func(id string) redlead.ElectionOptions {
		return redlead.ElectionOptions{
			TTL:       5 * time.Second,
			OnElected: func(term uint64) { elected <- id },
		}
	}
	a, _ := client.Elect(ctx, "example-resign", "a", opts("a"))
	defer a.Close()
	fmt.Println(<-elected, "leads")
	b, _ := client.Elect(ctx, "example-resign", "b", opts("b"))
	defer b.Close()
	// A resignation hands over at once: b need not wait for a's 5 s lease.
	resigned, _ := a.Resign(ctx)
	fmt.Println("resigned:", resigned)
	fmt.Println(<-elected, "leads")
	// Output:
	// a leads
	// resigned: true
	// b leads
}
