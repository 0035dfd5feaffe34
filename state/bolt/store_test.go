package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/statetest"
)

func openTemp(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return openTemp(t) })
}

func TestSuiteBatched(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return state.NewBatcher(openTemp(t)) })
}

func openTempB(b *testing.B) *bolt.Store { return openTemp(b) }

// Through a Batcher, a caller's bad record fails that caller only, even
// when its write shares a round with others.
func TestBatcherIsolatesBadRecord(t *testing.T) {
	b := state.NewBatcher(openTemp(t))
	ctx := context.Background()
	ids := []string{"01", "", "03", "04", "", "06"}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = b.Put(ctx, state.Host{ID: id, Environment: "e"}) })
	}
	wg.Wait()
	for i, id := range ids {
		var rec *state.RecordError
		if bad := id == ""; bad != errors.As(errs[i], &rec) {
			t.Errorf("Put(%q) = %v", id, errs[i])
		}
	}
	hosts, err := b.Hosts(ctx, state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hosts {
		got = append(got, h.ID)
	}
	if diff := cmp.Diff([]string{"01", "03", "04", "06"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPools(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, pool := range []string{"static.lab", "static.gpu"} {
		if _, err := s.Reserve(ctx, pool, []string{"a"}, "me"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Release(ctx, "static.gpu", "a"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"static.lab"}, got); diff != "" {
		t.Errorf("pools with reservations (-want +got):\n%s", diff)
	}
}

func TestCopy(t *testing.T) {
	statetest.RunCopy(t,
		func(t *testing.T) state.Store { return openTemp(t) },
		func(t *testing.T) state.Store { return openTemp(t) })
}

// A state file keeps its identity across opens; another file has another.
func TestIdentityPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	id := func(path string) string {
		t.Helper()
		s, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		v, err := s.Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := id(path)
	if again := id(path); again != first || first == "" {
		t.Errorf("identity %q, reopened %q", first, again)
	}
	if other := id(filepath.Join(t.TempDir(), "state.db")); other == first {
		t.Errorf("two state files share the identity %q", first)
	}
}
