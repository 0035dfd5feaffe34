package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/labbroker/broker/planner"
)

// node states in the walk.
const (
	waiting = iota
	running
	finished
)

type node struct {
	idx    int
	change planner.Change
	// keys name the provider instances the change uses (for
	// MaxConcurrency); usually one.
	keys       []instanceKey
	deps       int   // unfinished dependencies
	dependants []int // nodes waiting on this one
	state      int
}

type instanceKey struct{ typ, inst string }

// walk runs the changes in dependency order and returns their results in
// plan order. One goroutine (this one) schedules; workers only do changes
// and send their results back, so the limits need no locks.
func (a *applier) walk(ctx context.Context, changes []planner.Change) *Result {
	var nodes []*node
	results := map[int]*ChangeResult{}
	byAddr := map[string]*node{}
	for i, c := range changes {
		if c.Action == planner.NoOp {
			continue
		}
		n := &node{idx: i, change: c, keys: instanceKeys(c)}
		nodes = append(nodes, n)
		if c.Address != "" {
			if _, dup := byAddr[c.Address]; !dup {
				byAddr[c.Address] = n
			}
		}
	}
	// Dependencies on addresses with no change (or a no-op) are met.
	for _, n := range nodes {
		if n.change.Address == "" {
			continue
		}
		seen := map[*node]bool{}
		for _, d := range n.change.DependsOn {
			dn, ok := byAddr[d]
			if !ok || dn == n || seen[dn] {
				continue
			}
			seen[dn] = true
			n.deps++
			dn.dependants = append(dn.dependants, n.idx)
		}
	}
	byIdx := map[int]*node{}
	for _, n := range nodes {
		byIdx[n.idx] = n
	}

	limits := map[instanceKey]int{}
	limit := func(k instanceKey) int {
		l, ok := limits[k]
		if !ok {
			if a.opts.MaxConcurrency != nil {
				l = a.opts.MaxConcurrency(k.typ, k.inst)
			}
			limits[k] = l
		}
		return l
	}
	busy := map[instanceKey]int{}
	inFlight := 0
	left := len(nodes)
	ready := []*node{} // in plan order
	for _, n := range nodes {
		if n.deps == 0 {
			ready = append(ready, n)
		}
	}
	type doneMsg struct {
		n *node
		r *ChangeResult
	}
	done := make(chan doneMsg)
	res := &Result{}
	stop := a.opts.Stop
	ctxDone := ctx.Done()

	finish := func(n *node, r *ChangeResult) {
		n.state = finished
		left--
		results[n.idx] = r
	}
	var skip func(n *node, err error)
	skip = func(n *node, err error) {
		if n.state != waiting {
			return
		}
		finish(n, &ChangeResult{
			Address: n.change.Address, HostID: hostIDOf(n.change), Action: n.change.Action,
			Outcome: OutcomeSkipped, Err: err,
		})
		a.emit(Event{Kind: EventSkipped, Address: n.change.Address, HostID: hostIDOf(n.change),
			Action: n.change.Action, Message: err.Error()})
		for _, d := range n.dependants {
			skip(byIdx[d], err)
		}
	}
	stopped := false
	stopAll := func() {
		if stopped {
			return
		}
		stopped = true
		stop, ctxDone = nil, nil
		res.Interrupted = true
		for _, n := range nodes {
			skip(n, ErrInterrupted)
		}
		ready = nil
	}
	if left > 0 {
		// A cycle leaves nodes that can never start; fail them now.
		a.failCycles(nodes, byIdx, finish, skip)
	}

	for left > 0 {
		if !stopped {
			select {
			case <-stop:
				stopAll()
			case <-ctxDone:
				stopAll()
			default:
			}
		}
		// Start what the limits allow, in plan order.
		if !stopped {
			kept := ready[:0]
			for _, n := range ready {
				if n.state != waiting {
					continue
				}
				if inFlight >= a.opts.Parallelism || !fits(n, busy, limit) {
					kept = append(kept, n)
					continue
				}
				n.state = running
				inFlight++
				for _, k := range n.keys {
					busy[k]++
				}
				go func(n *node) { done <- doneMsg{n, a.apply(ctx, n.change)} }(n)
			}
			ready = kept
		}
		if left == 0 {
			break
		}
		select {
		case m := <-done:
			n, r := m.n, m.r
			inFlight--
			for _, k := range n.keys {
				busy[k]--
			}
			finish(n, r)
			if r.Outcome == OutcomeDone {
				for _, d := range n.dependants {
					dn := byIdx[d]
					dn.deps--
					if dn.deps == 0 && dn.state == waiting {
						ready = insertOrdered(ready, dn)
					}
				}
			} else {
				cause := &DependencyError{Address: changeName(n.change.Address, r.HostID)}
				for _, d := range n.dependants {
					skip(byIdx[d], cause)
				}
			}
		case <-stop:
			stopAll()
		case <-ctxDone:
			stopAll()
		}
	}
	for _, n := range nodes {
		res.Changes = append(res.Changes, *results[n.idx])
	}
	return res
}

// apply runs one change and times it.
func (a *applier) apply(ctx context.Context, c planner.Change) *ChangeResult {
	start := time.Now()
	r := a.run(ctx, c)
	r.Duration = time.Since(start)
	return r
}

func fits(n *node, busy map[instanceKey]int, limit func(instanceKey) int) bool {
	for _, k := range n.keys {
		if l := limit(k); l > 0 && busy[k] >= l {
			return false
		}
	}
	return true
}

func insertOrdered(ready []*node, n *node) []*node {
	i := len(ready)
	for i > 0 && ready[i-1].idx > n.idx {
		i--
	}
	ready = append(ready, nil)
	copy(ready[i+1:], ready[i:])
	ready[i] = n
	return ready
}

// failCycles fails the nodes on a dependency cycle (and skips what depends
// on them), so that the walk can end.
func (a *applier) failCycles(nodes []*node, byIdx map[int]*node, finish func(*node, *ChangeResult), skip func(*node, error)) {
	deps := map[int]int{}
	var queue []int
	for _, n := range nodes {
		deps[n.idx] = n.deps
		if n.deps == 0 {
			queue = append(queue, n.idx)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, d := range byIdx[i].dependants {
			deps[d]--
			if deps[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	for _, n := range nodes {
		if deps[n.idx] == 0 || n.state != waiting {
			continue
		}
		err := fmt.Errorf("dependency cycle through %s", n.change.Address)
		finish(n, &ChangeResult{Address: n.change.Address, HostID: hostIDOf(n.change),
			Action: n.change.Action, Outcome: OutcomeFailed, Err: err})
		a.emit(Event{Kind: EventFailed, Address: n.change.Address, Action: n.change.Action, Err: err.Error()})
		for _, d := range n.dependants {
			skip(byIdx[d], &DependencyError{Address: n.change.Address})
		}
	}
}

func instanceKeys(c planner.Change) []instanceKey {
	var keys []instanceKey
	add := func(typ, inst string) {
		k := instanceKey{typ, inst}
		for _, o := range keys {
			if o == k {
				return
			}
		}
		keys = append(keys, k)
	}
	if c.Before != nil {
		add(c.Before.Provider, c.Before.Instance)
	}
	if c.After != nil {
		add(c.After.Provider, c.After.Instance)
	}
	if c.Act != nil && c.Act.Provider != "" {
		add(c.Act.Provider, c.Act.Instance)
	}
	if c.Before == nil && c.After == nil && c.Resume != nil {
		add(c.Resume.Provider, c.Resume.Instance)
	}
	return keys
}

// hostIDOf is the id a change is known by before it runs.
func hostIDOf(c planner.Change) string {
	switch {
	case c.Before != nil:
		return c.Before.ID
	case c.Resume != nil:
		return c.Resume.HostID
	}
	return ""
}
