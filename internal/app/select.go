package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/state"
)

// SelectRequest says which recorded hosts an operation acts on: the one
// selection rule behind exec, ssh, cp, checkin, extend, duplicate and the
// inventory's indexes.
type SelectRequest struct {
	// Environment scopes the bulk selection (All, or a filter alone): a
	// command acts on one environment. "" is every environment, which
	// callers ask for only on an explicit flag (--all-environments).
	Environment string
	// RefEnvironment scopes Refs: they are looked up in the listing
	// `broker inventory` shows, every environment's unless -e narrows it.
	// A name that matches hosts of several environments is an error.
	RefEnvironment string
	// Refs name hosts: an inventory index (as `broker inventory` numbers
	// the listing), a hostname, name, record id, provider id or address
	// (host.web[0]); with Blocks, host.NAME for every instance of a block.
	Refs []string
	// All takes every host of the listing.
	All bool
	// Filter narrows the listing first: an expression, or the Python
	// broker's filter string.
	Filter string
	// Blocks lets host.NAME stand for every instance of the block.
	Blocks bool
}

// Selection is what a SelectRequest picked.
type Selection struct {
	// Hosts in inventory order.
	Hosts []state.Host
	// Unmatched are the refs that named no host.
	Unmatched []string
	// FilterNote, when the filter was the Python broker's form, is the
	// expression it was read as.
	FilterNote string
}

// ErrNoHostsGiven is returned by Select when neither refs nor All say
// what to select.
var ErrNoHostsGiven = errors.New("no hosts given")

// Inventory lists env's hosts ("" every environment) in the state's
// order, narrowed by filterSrc. It is the only maker of that list: its
// positions are the inventory indexes the other commands accept. note is
// the expression a Python-style filter was read as.
func (a *App) Inventory(ctx context.Context, env, filterSrc string) (hosts []state.Host, note string, err error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, "", err
	}
	hosts, err = st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, "", err
	}
	if filterSrc == "" {
		return hosts, "", nil
	}
	f, note, err := filter.Parse(filterSrc)
	if err != nil {
		return nil, "", Hint(fmt.Errorf("--filter %q: %w", filterSrc, err), `write an expression such as 'hostname contains "test"', or the Python broker's 'hostname<test'`)
	}
	hosts, err = filter.Select(f, hosts, a.Now())
	return hosts, note, err
}

// Select resolves a SelectRequest against the inventory.
func (a *App) Select(ctx context.Context, req SelectRequest) (*Selection, error) {
	if len(req.Refs) == 0 && !req.All {
		return nil, Hint(ErrNoHostsGiven, "name hosts by inventory index, hostname or name (see `broker inventory`), or pass --all")
	}
	if req.All {
		hosts, note, err := a.Inventory(ctx, req.Environment, req.Filter)
		if err != nil {
			return nil, err
		}
		if len(hosts) == 0 && req.Environment != "" {
			if err := a.elsewhere(ctx, req.Environment, req.Filter); err != nil {
				return nil, err
			}
		}
		return &Selection{Hosts: hosts, FilterNote: note}, nil
	}
	hosts, note, err := a.Inventory(ctx, req.RefEnvironment, req.Filter)
	if err != nil {
		return nil, err
	}
	sel := &Selection{FilterNote: note}
	picked := make([]bool, len(hosts))
	for _, ref := range req.Refs {
		found := false
		n, nerr := strconv.Atoi(ref)
		if nerr == nil && n >= 0 && n < len(hosts) {
			picked[n], found = true, true
		}
		block := ""
		if req.Blocks && isBlockRef(ref) {
			block = ref + "["
		}
		envs := map[string]bool{}
		var named []int
		for i, h := range hosts {
			if RefMatches(ref, h) || block != "" && strings.HasPrefix(h.Address, block) {
				picked[i], found = true, true
				envs[h.Environment] = true
				named = append(named, i)
			}
		}
		if len(envs) > 1 {
			names := slices.Sorted(maps.Keys(envs))
			return nil, Hint(fmt.Errorf("%q names hosts in %d environments (%s)", ref, len(names), strings.Join(names, ", ")),
				"pass -e ENVIRONMENT to say which, or name the host by its id")
		}
		if len(named) > 1 && block == "" && nerr != nil {
			return nil, ambiguousRef(ref, hosts, named)
		}
		if !found {
			sel.Unmatched = append(sel.Unmatched, ref)
		}
	}
	for i, h := range hosts {
		if picked[i] {
			sel.Hosts = append(sel.Hosts, h)
		}
	}
	return sel, nil
}

// ambiguousRef is the error of a reference (a hostname two pool members
// on one machine share) that names several hosts of one environment: one
// reference names one host.
func ambiguousRef(ref string, hosts []state.Host, named []int) error {
	var which []string
	for _, i := range named {
		which = append(which, fmt.Sprintf("%d: %s", i, hosts[i].Label()))
	}
	return Hint(fmt.Errorf("%q names %d hosts (%s)", ref, len(named), strings.Join(which, ", ")),
		"name one by inventory index, address, name or id (see `broker inventory`)")
}

// elsewhere is the error of a bulk selection that found nothing in env
// while other environments hold matching hosts: it names them.
func (a *App) elsewhere(ctx context.Context, env, filterSrc string) error {
	all, _, err := a.Inventory(ctx, "", filterSrc)
	if err != nil || len(all) == 0 {
		return err
	}
	envs, groups := ByEnvironment(all)
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = fmt.Sprintf("%s (%d)", e, len(groups[e]))
	}
	return Hint(fmt.Errorf("environment %q holds no such hosts; %s do", env, strings.Join(parts, ", ")),
		"pass -e ENVIRONMENT for one of them, or --all-environments for all")
}

// RefMatches reports whether ref names h by hostname, name, record id,
// address or provider id (indexes are positions, not properties: Select
// resolves them).
func RefMatches(ref string, h state.Host) bool {
	return ref != "" && (ref == h.Hostname || ref == h.Name || ref == h.ID || ref == h.Address || ref == h.ProviderID)
}

// isBlockRef reports whether ref is host.NAME, every instance of a block.
func isBlockRef(ref string) bool {
	name, ok := strings.CutPrefix(ref, "host.")
	return ok && hclsyntax.ValidIdentifier(name)
}

// IsHostRef reports whether word names a host of hosts (the unfiltered
// listing): an index into it, a property RefMatches accepts, or host.NAME
// of one of its blocks. Commands that take either a host or a filter
// expression in one word (`broker ssh`, `broker cp`) ask it first.
func IsHostRef(word string, hosts []state.Host) bool {
	if n, err := strconv.Atoi(word); err == nil && n >= 0 && n < len(hosts) {
		return true
	}
	block := isBlockRef(word)
	for _, h := range hosts {
		if RefMatches(word, h) || block && strings.HasPrefix(h.Address, word+"[") {
			return true
		}
	}
	return false
}

// ByEnvironment groups hosts by environment, environments in order of
// first appearance and hosts in their order.
func ByEnvironment(hosts []state.Host) ([]string, map[string][]state.Host) {
	var envs []string
	m := map[string][]state.Host{}
	for _, h := range hosts {
		if _, ok := m[h.Environment]; !ok {
			envs = append(envs, h.Environment)
		}
		m[h.Environment] = append(m[h.Environment], h)
	}
	return envs, m
}
