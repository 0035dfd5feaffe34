package planner

import (
	"slices"

	"github.com/labbroker/broker/manifest"
)

// OrderDestroys makes each destroy wait for the destroys of the hosts that
// depend on it: a host whose setup, teardown or connection refers to
// another (host.satellite[0] in a client's setup) is torn down and checked
// in before the host it refers to, the reverse of the order they were made
// in. A host's dependencies are its block's depends-on in blocks (the
// manifest, when there is one) and those its record kept
// (state.Host.DependsOn), so that a check-in without the manifest keeps
// the order. It fills DependsOn of destroy changes with addresses; should
// the records and the manifest disagree into a cycle, it orders nothing
// rather than leave hosts that could never be checked in.
func OrderDestroys(cs []Change, blocks map[string]*manifest.Host) {
	type dest struct {
		i    int
		name string
		deps []string
	}
	var ds []dest
	for i, c := range cs {
		if c.Action != Destroy || c.Before == nil || c.Address == "" {
			continue
		}
		in, ok := ParseInstance(c.Address)
		if !ok {
			continue
		}
		name := in.Block
		deps := slices.Clone(c.Before.DependsOn)
		if b := blocks[name]; b != nil {
			deps = append(deps, b.DependsOn...)
		}
		ds = append(ds, dest{i: i, name: name, deps: deps})
	}
	after := map[int][]string{} // change index -> addresses to wait for
	for _, c := range ds {
		for _, d := range ds {
			if d.name != c.name && slices.Contains(d.deps, c.name) {
				after[c.i] = append(after[c.i], cs[d.i].Address)
			}
		}
	}
	if len(after) == 0 || destroyCycle(cs, after) {
		return
	}
	for i, addrs := range after {
		slices.SortFunc(addrs, CompareAddress)
		cs[i].DependsOn = slices.Compact(append(cs[i].DependsOn, addrs...))
	}
}

// destroyCycle reports whether the waits in after form a cycle.
func destroyCycle(cs []Change, after map[int][]string) bool {
	edges := map[string][]string{}
	for i, addrs := range after {
		edges[cs[i].Address] = append(edges[cs[i].Address], addrs...)
	}
	const (
		unseen = iota
		open
		closed
	)
	mark := map[string]int{}
	var visit func(a string) bool
	visit = func(a string) bool {
		switch mark[a] {
		case open:
			return true
		case closed:
			return false
		}
		mark[a] = open
		for _, b := range edges[a] {
			if visit(b) {
				return true
			}
		}
		mark[a] = closed
		return false
	}
	for a := range edges {
		if visit(a) {
			return true
		}
	}
	return false
}
