package state

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingStore is a hand-written fake Writer with call records. Its
// first Apply can be held (hold) so that a test can queue writes behind it.
type recordingStore struct {
	Store // nil: only the write path is used

	mu          sync.Mutex
	ApplyCalled [][]string // host ids of each Apply
	hold        chan struct{}
	entered     chan struct{}
}

func (r *recordingStore) Apply(ctx context.Context, b Batch) error {
	r.mu.Lock()
	var ids []string
	for _, h := range b.Put {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	r.ApplyCalled = append(r.ApplyCalled, ids)
	first := len(r.ApplyCalled) == 1
	r.mu.Unlock()
	if first && r.hold != nil {
		r.entered <- struct{}{}
		<-r.hold
	}
	for _, h := range b.Put {
		switch h.ID {
		case "bad":
			return &RecordError{ID: h.ID, Err: errors.New("bad host")}
		case "down":
			return errors.New("backend down")
		}
	}
	return nil
}

func (b *Batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// waitQueued yields until n writes are queued: the writers are goroutines
// of this test, so this only waits for them to be scheduled.
func waitQueued(b *Batcher, n int) {
	for b.queued() < n {
		runtime.Gosched()
	}
}

func TestBatcherCoalesces(t *testing.T) {
	tests := []struct {
		name      string
		ids       []string // queued behind the first write
		wantCalls [][]string
		wantErr   map[string]bool
	}{
		{
			name:      "all good: one round for the queue",
			ids:       []string{"a", "b", "c", "d"},
			wantCalls: [][]string{{"first"}, {"a", "b", "c", "d"}},
			wantErr:   map[string]bool{"first": false, "a": false, "b": false, "c": false, "d": false},
		},
		{
			name: "one bad: retried one by one, only its caller fails",
			ids:  []string{"a", "bad", "c"},
			wantCalls: [][]string{{"first"}, {"a", "bad", "c"},
				{"a"}, {"bad"}, {"c"}},
			wantErr: map[string]bool{"first": false, "a": false, "bad": true, "c": false},
		},
		{
			name:      "backend failure: every caller's result, no retries",
			ids:       []string{"a", "down", "c"},
			wantCalls: [][]string{{"first"}, {"a", "c", "down"}},
			wantErr:   map[string]bool{"first": false, "a": true, "down": true, "c": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingStore{hold: make(chan struct{}), entered: make(chan struct{})}
			b := NewBatcher(rec)
			ctx := context.Background()
			var mu sync.Mutex
			gotErr := map[string]bool{}
			var wg sync.WaitGroup
			put := func(id string) {
				err := b.Put(ctx, Host{ID: id, Environment: "e"})
				mu.Lock()
				gotErr[id] = err != nil
				mu.Unlock()
			}
			wg.Go(func() { put("first") })
			<-rec.entered
			for _, id := range tt.ids {
				wg.Go(func() { put(id) })
			}
			waitQueued(b, len(tt.ids))
			close(rec.hold)
			wg.Wait()

			// The retries run in queue order, which is arrival order;
			// compare them as a set after the combined round.
			calls := rec.ApplyCalled
			if len(calls) > 2 {
				slices.SortFunc(calls[2:], func(x, y []string) int { return slices.Compare(x, y) })
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("Apply calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBatcherCancelledWhileQueued(t *testing.T) {
	rec := &recordingStore{hold: make(chan struct{}), entered: make(chan struct{})}
	b := NewBatcher(rec)
	done := make(chan error, 2)
	go func() { done <- b.Put(context.Background(), Host{ID: "first"}) }()
	<-rec.entered
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- b.Put(ctx, Host{ID: "cancelled"}) }()
	waitQueued(b, 1)
	cancel()
	close(rec.hold)
	errs := []error{<-done, <-done}
	if !errors.Is(errs[0], context.Canceled) && !errors.Is(errs[1], context.Canceled) {
		t.Errorf("errors %v: want one context.Canceled", errs)
	}
	if diff := cmp.Diff([][]string{{"first"}}, rec.ApplyCalled); diff != "" {
		t.Errorf("Apply calls (-want +got):\n%s", diff)
	}
}

func TestBatcherManyWriters(t *testing.T) {
	rec := &recordingStore{}
	b := NewBatcher(rec)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := b.Put(context.Background(), Host{ID: fmt.Sprintf("%03d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var all []string
	for _, c := range rec.ApplyCalled {
		all = append(all, c...)
	}
	slices.Sort(all)
	if len(all) != 200 || slices.Compact(all) == nil || len(slices.Compact(all)) != 200 {
		t.Errorf("%d hosts written, want each of 200 once", len(all))
	}
}
