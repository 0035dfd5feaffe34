package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
)

// inventoryHosts is the listing `broker inventory` shows and the one whose
// positions are the inventory indexes other commands accept: every
// environment's hosts (or --environment's), in the state's order, then
// narrowed by --filter. Keep it the only place that makes that list.
func inventoryHosts(ctx context.Context, g *Globals, a *app.App, filterSrc string) ([]state.Host, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: g.Environment})
	if err != nil {
		return nil, err
	}
	return applyFilter(g, a, hosts, filterSrc)
}

// applyFilter narrows hosts with a --filter: an expression, or the Python
// broker's filter string, translated with a note showing the expression.
func applyFilter(g *Globals, a *app.App, hosts []state.Host, src string) ([]state.Host, error) {
	if src == "" {
		return hosts, nil
	}
	f, note, err := filter.Parse(src)
	if err != nil {
		return nil, app.Hint(fmt.Errorf("--filter %q: %w", src, err), `write an expression such as 'hostname contains "test"', or the Python broker's 'hostname<test'`)
	}
	if note != "" {
		g.note("filter %q read as the expression: %s", src, note)
	}
	return filter.Select(f, hosts, a.Now())
}

// selectionFlags of the commands that act on recorded hosts.
type hostSelection struct {
	Hosts  []string `arg:"" optional:"" name:"host" help:"Hosts by inventory index (as 'broker inventory' numbers them), hostname, name, id or address; mixed freely."`
	All    bool     `help:"Every host in the inventory (with --filter: every matching host)."`
	Filter string   `placeholder:"EXPR" help:"Only hosts matching this filter, e.g. 'hostname<test' (Python broker form) or 'provider == \"docker\"'. A filter alone selects nothing: add hosts or --all."`
}

// pick returns the selected hosts, in inventory order, and warns about
// references that match nothing.
func (s *hostSelection) pick(ctx context.Context, g *Globals, a *app.App) ([]state.Host, error) {
	if len(s.Hosts) == 0 && !s.All {
		return nil, app.Hint(fmt.Errorf("no hosts given"), "name hosts by inventory index, hostname or name (see `broker inventory`), or pass --all")
	}
	hosts, err := inventoryHosts(ctx, g, a, s.Filter)
	if err != nil {
		return nil, err
	}
	return selectHosts(g, hosts, s.Hosts, s.All), nil
}

// selectHosts keeps the hosts named by refs (index, hostname, name, id,
// address), or all of them.
func selectHosts(g *Globals, hosts []state.Host, refs []string, all bool) []state.Host {
	if all {
		return hosts
	}
	picked := make([]bool, len(hosts))
	for _, ref := range refs {
		found := false
		if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < len(hosts) {
			picked[n], found = true, true
		}
		for i, h := range hosts {
			if ref != "" && (ref == h.Hostname || ref == h.Name || ref == h.ID || ref == h.Address || ref == h.ProviderID) {
				picked[i], found = true, true
			}
		}
		if !found {
			g.warn("%q matches no host in the inventory (by index, hostname, name, id or address)", ref)
		}
	}
	var out []state.Host
	for i, h := range hosts {
		if picked[i] {
			out = append(out, h)
		}
	}
	return out
}

// byEnvironment groups hosts by environment, keeping order.
func byEnvironment(hosts []state.Host) ([]string, map[string][]state.Host) {
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

// hostLabel names a host in messages.
func hostLabel(h state.Host) string {
	for _, s := range []string{h.Hostname, h.Name, h.Address, h.ID} {
		if s != "" {
			return s
		}
	}
	return "?"
}
