package main

import (
	"fmt"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// DuplicateCmd checks out more hosts with the same recipe as recorded ones.
type DuplicateCmd struct {
	hostSelection
	imperativeFlags
	Count int `short:"c" default:"1" help:"How many copies of each selected host."`
}

// Help is shown by `broker duplicate --help`.
func (c *DuplicateCmd) Help() string {
	return `Checks out new hosts made the same way as recorded ones: same provider
instance, arguments, nick, labels and lease. Select hosts as for checkin.
The copies go to the environment "default" (or --environment).

  broker duplicate my.awesome.vm.com
  broker duplicate 0
  broker duplicate 1 3
  broker duplicate 0 --count 2`
}

// Run duplicates.
func (c *DuplicateCmd) Run(g *Globals, ctx *interruptContext) error {
	if c.Background && !g.inBackground() {
		return g.background("duplicate")
	}
	return g.finishBackground("duplicate", c.run(g, ctx))
}

func (c *DuplicateCmd) run(g *Globals, ctx *interruptContext) error {
	if c.Count > manifest.MaxCount {
		return fmt.Errorf("--count %d: at most %d copies of each host per duplicate", c.Count, manifest.MaxCount)
	}
	a, err := g.open(ctx, "duplicate")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	hosts, err := c.pick(ctx, g, a)
	if err != nil {
		return err
	}
	var changes []planner.Change
	for _, h := range hosts {
		if len(h.Recipe) == 0 && h.Nick == "" {
			g.warn("cannot duplicate %s: its record has no recipe", hostLabel(h))
			continue
		}
		r := app.Recipe(h)
		r.Count = max(c.Count, 1)
		changes = append(changes, app.CheckoutChanges(r, "duplicate of "+hostLabel(h))...)
	}
	if len(changes) == 0 {
		g.note("nothing to duplicate")
		return writeOutput(g, []state.Host{})
	}
	res, err := runChanges(ctx, g, a, imperativeEnvironment(g), changes, "duplicate", c.imperativeFlags)
	if err != nil {
		return err
	}
	made := madeHosts(res)
	printHosts(g, made, a.Now())
	if err := writeOutput(g, made); err != nil {
		return err
	}
	return resultError(res, "duplicate")
}
