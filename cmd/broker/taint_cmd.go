package main

import (
	"context"
	"fmt"
	"time"

	"github.com/labbroker/broker/internal/app"
)

// TaintCmd marks hosts for replacement by the next apply.
type TaintCmd struct {
	Hosts []string `arg:"" name:"host" placeholder:"ADDRESS|ID" help:"Hosts to taint: addresses (host.web[1]) in the environment, or record ids."`
	lockFlags
}

// Help is shown by `broker taint --help`.
func (c *TaintCmd) Help() string {
	return `Marks hosts as tainted: the next plan proposes to replace them (-/+),
and apply checks them in and out again. The record says who tainted it and
when. 'broker untaint' takes the mark off. An address is looked up in the
environment named by --environment, or in the one that holds it; use 'broker plan --replace' to
replace a host once without marking it.`
}

// Run taints.
func (c *TaintCmd) Run(g *Globals, ctx *interruptContext) error {
	return taint(ctx, g, c.Hosts, false, c.LockTimeout)
}

func taint(ctx context.Context, g *Globals, refs []string, untaint bool, timeout time.Duration) error {
	verb := "taint"
	if untaint {
		verb = "untaint"
	}
	a, err := g.open(ctx, verb)
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	hosts, err := a.Taint(ctx, app.TaintRequest{
		Environment: g.Environment, Refs: refs, Untaint: untaint,
		LockTimeout: timeout, OnLockWait: lockWaiter(g, timeout),
	})
	for _, h := range hosts {
		name := h.Address
		if name == "" {
			name = h.ID
		}
		if untaint {
			fmt.Fprintf(g.stdout, "%s (environment %s) is no longer tainted.\n", name, h.Environment)
		} else {
			fmt.Fprintf(g.stdout, "%s (environment %s) is tainted: the next apply replaces it.\n", name, h.Environment)
		}
	}
	if werr := writeOutput(g, map[string]any{"command": verb, "hosts": hosts}); werr != nil && err == nil {
		err = werr
	}
	return err
}
