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
