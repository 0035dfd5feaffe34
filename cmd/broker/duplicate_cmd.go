package main

import (
	"fmt"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
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
	o, finish, err := runOptions(ctx, g, c.imperativeFlags, nil, "duplicate", imperativeEnvironment(g))
	if err != nil {
		return err
	}
	res, err := a.Duplicate(ctx, app.DuplicateRequest{Hosts: hosts, Count: c.Count, Environment: imperativeEnvironment(g), RunOptions: o})
	if ferr := finish(); ferr != nil && err == nil {
		err = ferr
	}
	if res == nil {
		return err
	}
	for _, h := range res.NoRecipe {
		g.warn("cannot duplicate %s: its record has no recipe", h.Label())
	}
	if len(res.Runs) == 0 && err == nil {
		g.note("nothing to duplicate")
	}
	made := res.Hosts()
	printHosts(g, made, a.Now())
	if werr := writeOutput(g, withCommand("duplicate", hostsOutput(made))); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return opError(&res.OpResult, "duplicate")
}
