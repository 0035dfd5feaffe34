package main

import (
	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/state"
)

// InventoryCmd lists recorded hosts.
type InventoryCmd struct {
	Details bool   `help:"Show every field of every host."`
	JSON    bool   `name:"json" help:"Print the hosts as JSON (same as --format json)."`
	Format  string `enum:"table,json,yaml" default:"table" help:"Output format: ${enum}."`
	Filter  string `placeholder:"EXPR" help:"Only hosts matching this filter expression, e.g. 'provider == \"docker\"' (the Python broker's 'hostname<test' form is accepted too)."`
}

// Help is shown by `broker inventory --help`.
func (c *InventoryCmd) Help() string {
	return `Lists the hosts broker holds, in every environment unless --environment
is given. The Id column is the inventory index other commands accept
(broker checkin 0).`
}

// Run lists.
func (c *InventoryCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "inventory")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: g.Environment})
	if err != nil {
		return err
	}
	if c.Filter != "" {
		f, note, err := filter.Parse(c.Filter)
		if err != nil {
			return err
		}
		if note != "" {
			g.note("filter %q read as the expression: %s", c.Filter, note)
		}
		if hosts, err = filter.Select(f, hosts, a.Now()); err != nil {
			return err
		}
	}
	if err := writeOutput(g, hosts); err != nil {
		return err
	}
	format := c.Format
	if c.JSON {
		format = "json"
	}
	switch format {
	case "json":
		return views.InventoryJSON(g.stdout, hosts)
	case "yaml":
		return views.InventoryYAML(g.stdout, hosts)
	}
	var fields []string
	if inv := a.Settings.Inventory; inv != nil {
		fields = inv.Fields
	}
	return views.InventoryTable(g.stdout, hosts, views.InventoryOptions{Fields: fields, Details: c.Details, Color: g.color(g.stdout), Now: a.Now()})
}
