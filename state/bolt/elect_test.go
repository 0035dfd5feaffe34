package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
)

// Two stores on one directory stand for two processes of one machine
// (flocks of separate open files exclude each other as processes do).
func TestElection(t *testing.T) {
	dir := t.TempDir()
	open := func() *bolt.Store {
		s, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	ctx := context.Background()

	if _, ok, err := a.Leader(ctx, "reap"); err != nil || ok {
		t.Fatalf("Leader before any campaign = %v, %v", ok, err)
	}
	la, err := a.Campaign(ctx, "reap", state.LockInfo{PID: 1, Operation: "reap a"})
	if err != nil {
		t.Fatal(err)
	}
	info, ok, err := b.Leader(ctx, "reap")
	if err != nil || !ok || info.Operation != "reap a" {
		t.Fatalf("Leader = %+v, %v, %v; want reap a", info, ok, err)
	}
	// Another election is independent.
	lo, err := b.Campaign(ctx, "other", state.LockInfo{Operation: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Resign(ctx)

	won := make(chan state.Leadership, 1)
	go func() {
		l, err := b.Campaign(ctx, "reap", state.LockInfo{PID: 2, Operation: "reap b"})
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	select {
	case <-won:
		t.Fatal("second campaign won while the first leads")
	default:
	}
	if err := la.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Done():
	default:
		t.Error("Done not closed after Resign")
	}
	lb := <-won
	if info, ok, _ := a.Leader(ctx, "reap"); !ok || info.Operation != "reap b" {
		t.Errorf("Leader after hand-over = %+v, %v", info, ok)
	}
	if err := lb.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Leader(ctx, "reap"); ok {
		t.Error("a leader after both resigned")
	}

	cctx, cancel := context.WithCancel(ctx)
	lc, err := a.Campaign(ctx, "reap", state.LockInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Resign(ctx)
	cancel()
	if _, err := b.Campaign(cctx, "reap", state.LockInfo{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Campaign with a cancelled context = %v", err)
	}
}
