package main

import (
	"context"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
)

// inventoryHosts is the listing `broker inventory` shows and the one whose
// positions are the inventory indexes other commands accept (app.Inventory).
func inventoryHosts(ctx context.Context, g *Globals, a *app.App, filterSrc string) ([]state.Host, error) {
	hosts, note, err := a.Inventory(ctx, g.Environment, filterSrc)
	g.filterNote(filterSrc, note)
	return hosts, err
}

// filterNote shows how a Python broker filter string was read.
func (g *Globals) filterNote(src, note string) {
	if note != "" {
		g.note("filter %q read as the expression: %s", src, note)
	}
}

// selectionFlags of the commands that act on recorded hosts.
type hostSelection struct {
	Hosts           []string `arg:"" optional:"" name:"host" help:"Hosts by inventory index (as 'broker inventory' numbers them), hostname, name, id or address; mixed freely."`
	All             bool     `help:"Every host of the environment (-e, else BROKER_ENVIRONMENT, else \"default\"); with --filter: every matching host."`
	AllEnvironments bool     `name:"all-environments" help:"With --all or --filter: every environment's hosts, not one environment's."`
	Filter          string   `placeholder:"EXPR" help:"Only hosts matching this filter, e.g. 'hostname<test' (Python broker form) or 'provider == \"docker\"'. A filter alone selects nothing: add hosts or --all."`
}

// pick returns the selected hosts, in inventory order, and warns about
// references that match nothing.
func (s *hostSelection) pick(ctx context.Context, g *Globals, a *app.App) ([]state.Host, error) {
	return pickHosts(ctx, g, a, app.SelectRequest{Refs: s.Hosts, All: s.All, Filter: s.Filter}, s.AllEnvironments)
}

// pickHosts runs app.Select and shows its notes and warnings. The one
// rule of scope: --all and --filter select in one environment (-e, else
// BROKER_ENVIRONMENT, else "default", or the manifest's with -f) unless
// allEnvs; hosts named explicitly are found where `broker inventory`
// shows them (every environment unless -e).
func pickHosts(ctx context.Context, g *Globals, a *app.App, req app.SelectRequest, allEnvs bool) ([]state.Host, error) {
	req.RefEnvironment = g.Environment
	req.Environment = imperativeEnvironment(g)
	if allEnvs {
		req.Environment = ""
	}
	sel, err := a.Select(ctx, req)
	if err != nil {
		return nil, err
	}
	g.filterNote(req.Filter, sel.FilterNote)
	for _, ref := range sel.Unmatched {
		g.warn("%q matches no host in the inventory (by index, hostname, name, id or address)", ref)
	}
	return sel.Hosts, nil
}
