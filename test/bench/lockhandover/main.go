// Command lockhandover measures how long an environment lock takes to pass
// from one holder to a waiting one: the time from the holder's Unlock to
// the waiter's Lock returning, over many hand-overs between goroutines
// that each have their own store (on etcd: their own client and session).
// Only changes of holder count. It prints p50, p99 and the number of hand-overs as one Markdown row.
//
//	lockhandover -backend etcd -endpoints http://127.0.0.1:2379
//	lockhandover -backend bolt -path /tmp/x/state.db
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/etcd"
)

func main() {
	backend := flag.String("backend", "etcd", "etcd or bolt")
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	path := flag.String("path", "", "bolt state file")
	waiters := flag.Int("waiters", 4, "goroutines contending, each with its own store")
	rounds := flag.Int("n", 200, "hand-overs to measure")
	flag.Parse()

	ctx := context.Background()
	open := func() (state.Store, error) {
		if *backend == "bolt" {
			return bolt.Open(*path, bolt.Options{})
		}
		return etcd.Open(ctx, etcd.Config{Endpoints: strings.Split(*endpoints, ","), Prefix: fmt.Sprintf("/bench/handover/%d", os.Getpid())})
	}

	var mu sync.Mutex
	var released time.Time // when the last holder called Unlock
	last := -1             // which goroutine held the lock last
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, *waiters)
	for w := range *waiters {
		st, err := open()
		if err != nil {
			fmt.Fprintln(os.Stderr, "lockhandover:", err)
			os.Exit(1)
		}
		defer st.Close()
		wg.Go(func() {
			for {
				u, err := st.Lock(ctx, "bench", state.LockInfo{PID: os.Getpid(), Operation: "bench"}, state.LockOptions{Timeout: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				got := time.Now()
				mu.Lock()
				// A holder that takes the lock straight back is no
				// hand-over; only a change of holder is measured.
				if !released.IsZero() && last != w {
					lat = append(lat, got.Sub(released))
				}
				last = w
				done := len(lat) >= *rounds
				released = time.Now()
				mu.Unlock()
				if err := u.Unlock(); err != nil {
					errs <- err
					return
				}
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "lockhandover:", err)
		os.Exit(1)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	fmt.Printf("| %s | %d | %d | %s | %s |\n", *backend, *waiters, len(lat),
		p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))
}
