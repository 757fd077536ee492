// Command candidate is the cross-language election candidate in Go over
// redlead.dev/go/redlead (tests/cross-language/README.md has the protocol
// and the argument).
//
//	candidate-go ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...
//
// Same behaviour as c/candidate.c: while leading, one O_APPEND write of
// "<term> <id> <seq> <t0_ns> <t1_ns>" per tick; commands on stdin, one reply
// line each on stdout.
package main

// #include <time.h>
// static unsigned long long mono_ns(void) {
//     struct timespec ts;
//     clock_gettime(CLOCK_MONOTONIC, &ts);
//     return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
// }
import "C"

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"redlead.dev/go/redlead"
)

// nowNs reads CLOCK_MONOTONIC itself: Go's time.Now() keeps a monotonic
// reading but does not expose it, and the checker compares these readings
// with the other languages'.
func nowNs() uint64 { return uint64(C.mono_ns()) }

func reply(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...) // os.Stdout is unbuffered
}

func main() {
	if len(os.Args) < 7 {
		fmt.Fprintln(os.Stderr, "usage: candidate-go ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...")
		os.Exit(2)
	}
	id, record, resource := os.Args[1], os.Args[2], os.Args[3]
	ttlMs, _ := strconv.ParseUint(os.Args[4], 10, 64)
	nodeTimeoutMs, _ := strconv.ParseUint(os.Args[5], 10, 64)
	// O_APPEND: the kernel orders all processes' records by their write calls.
	f, err := os.OpenFile(record, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "candidate-go:", err)
		os.Exit(3)
	}
	client, err := redlead.NewClient(os.Args[6:], redlead.WithNodeTimeout(time.Duration(nodeTimeoutMs)*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "candidate-go:", err)
		os.Exit(3)
	}
	ctx := context.Background()
	election, err := client.Elect(ctx, resource, id, redlead.ElectionOptions{TTL: time.Duration(ttlMs) * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "candidate-go:", err)
		os.Exit(3)
	}
	reply("ready %s", id)

	// stdin is read on a goroutine of its own; commands run in the loop
	// below, which also appends, so nothing is appended for a term after
	// `resign` returned.
	commands := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			commands <- sc.Text()
		}
		close(commands) // EOF: the driver went away
	}()

	var held *redlead.Lock
	var seq uint64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case line, ok := <-commands:
			if !ok {
				break loop
			}
			words := strings.Fields(line)
			if len(words) == 0 {
				continue
			}
			arg, num := "", uint64(1000)
			if len(words) > 1 {
				arg = words[1]
			}
			if len(words) > 2 {
				num, _ = strconv.ParseUint(words[2], 10, 64)
			}
			switch words[0] {
			case "resign":
				resigned, err := election.Resign(ctx)
				if err != nil {
					reply("error %v", err)
				} else if resigned {
					reply("resigned 1")
				} else {
					reply("resigned 0")
				}
			case "lock", "try":
				l, err := client.TryAcquire(ctx, arg, time.Duration(num)*time.Millisecond)
				switch {
				case errors.Is(err, redlead.ErrNotAcquired):
					reply("not-acquired")
				case err != nil:
					reply("error %v", err)
				default:
					if words[0] == "try" {
						_ = l.Release(ctx) // a winning try fails the driver's check
						_ = l.Close()
					} else {
						held = l
					}
					reply("acquired")
				}
			case "unlock":
				if held == nil {
					reply("error no lock held")
					continue
				}
				err := held.Release(ctx)
				_ = held.Close()
				held = nil
				if err != nil {
					reply("error %v", err)
				} else {
					reply("released")
				}
			case "quit":
				break loop
			default:
				reply("error unknown command %s", words[0])
			}
		case <-tick.C:
		}
		// Term, IsLeader, Term: true belongs to term1 only if the term did
		// not change around it (terms never repeat).
		t0 := nowNs()
		term1 := election.Term()
		leading := election.IsLeader()
		term2 := election.Term()
		t1 := nowNs()
		if term1 != 0 && leading && term1 == term2 {
			seq++
			rec := fmt.Sprintf("%d %s %d %d %d\n", term1, id, seq, t0, t1)
			if _, err := f.WriteString(rec); err != nil {
				fmt.Fprintln(os.Stderr, "candidate-go: append:", err)
				os.Exit(3)
			}
		}
	}
	if err := election.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "candidate-go: close:", err)
		os.Exit(3)
	}
	_ = client.Close()
	_ = f.Close()
	reply("bye")
}
