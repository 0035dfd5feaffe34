package state

import (
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewIDShape(t *testing.T) {
	id := NewID()
	if len(id) != 20 {
		t.Fatalf("NewID() = %q, %d characters, want 20", id, len(id))
	}
	for _, c := range id {
		if !strings.ContainsRune(crockford, c) {
			t.Errorf("NewID() = %q holds %q, outside Crockford's alphabet", id, c)
		}
	}
}

func TestNewIDSortable(t *testing.T) {
	tests := []struct {
		name string
		n    int
		gap  func() // what happens between two ids
	}{
		{"same millisecond", 5000, func() {}},
		// Waiting for the clock to move on is what is under test here,
		// not synchronisation.
		{"across milliseconds", 20, func() {
			start := time.Now().UnixMilli()
			for time.Now().UnixMilli() <= start+1 {
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := NewID()
			for range tt.n {
				tt.gap()
				next := NewID()
				if next <= prev {
					t.Fatalf("NewID() = %q after %q: not increasing", next, prev)
				}
				prev = next
			}
		})
	}
}

func TestNewIDUniqueConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ids := make([]string, each)
			for i := range ids {
				ids[i] = NewID()
			}
			// Each goroutine's own ids still come out in order.
			if !sort.StringsAreSorted(ids) {
				t.Errorf("ids of one goroutine are not sorted")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if seen[id] {
					t.Errorf("duplicate id %q", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Errorf("%d distinct ids, want %d", len(seen), workers*each)
	}
}
