package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/planner"
)

// ShowCmd shows a plan file or a host.
type ShowCmd struct {
	JSON   bool   `name:"json" help:"Print JSON."`
	Target string `arg:"" placeholder:"PLAN|HOST|ACTION" help:"A saved plan file; a host: its address (host.web[0], host.web[\"eu\"]), id, name, hostname or inventory index; or an action's last result (action.NAME)."`
}

// Run shows.
func (c *ShowCmd) Run(g *Globals, ctx *interruptContext) error {
	if fi, err := os.Stat(c.Target); err == nil && !fi.IsDir() {
		f, err := planner.ReadFile(c.Target)
		if err != nil {
			return err
		}
		if c.JSON {
			return views.NewPlanJSON(g.stdout).Plan(f.Plan)
		}
		return views.NewPlanHuman(g.stdout, g.color(g.stdout)).Plan(f.Plan)
	}
	a, err := g.open(ctx, "show")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	if name, ok := planner.ParseActionAddress(c.Target); ok {
		v, err := a.ActionResult(ctx, g.Environment, name)
		if err != nil {
			return err
		}
		if c.JSON {
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		return views.ActionResult(g.stdout, v)
	}
	sel, err := a.Select(ctx, app.SelectRequest{Environment: g.Environment, Refs: []string{c.Target}, Blocks: true})
	if err != nil {
		return err
	}
	found := sel.Hosts
	switch len(found) {
	case 0:
		return fmt.Errorf("no plan file and no host named %q", c.Target)
	case 1:
	default:
		if envs, _ := app.ByEnvironment(found); len(envs) > 1 && !c.JSON {
			g.warn("%d hosts of %d environments match %q: showing all; narrow with --environment", len(found), len(envs), c.Target)
		}
	}
	if c.JSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if len(found) == 1 {
			return enc.Encode(found[0])
		}
		return enc.Encode(found)
	}
	return views.InventoryTable(g.stdout, found, views.InventoryOptions{Details: true, Color: g.color(g.stdout), Now: a.Now()})
}
