package main

import (
	"context"
	"fmt"
	"time"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/planner"
)

// TaintCmd marks hosts for replacement by the next apply.
type TaintCmd struct {
	Hosts []string `arg:"" name:"host" placeholder:"ADDRESS|ID" help:"Hosts to taint: addresses (host.web[1], host.web[\"eu\"]) in the environment, or record ids; or actions (action.NAME) to run again."`
	lockFlags
}

// Help is shown by `broker taint --help`.
func (c *TaintCmd) Help() string {
	return `Marks hosts as tainted: the next plan proposes to replace them (-/+),
and apply checks them in and out again. The record says who tainted it and
when. 'broker untaint' takes the mark off. An address is looked up in the
environment named by --environment, or in the one that holds it; use 'broker plan --replace' to
replace a host once without marking it. An action (action.NAME) is marked
in the environment (-e, else "default"): the next apply runs it again.`
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
	var actions []string
	hostRefs := refs[:0:0]
	for _, r := range refs {
		if name, ok := planner.ParseActionAddress(r); ok {
			actions = append(actions, name)
		} else {
			hostRefs = append(hostRefs, r)
		}
	}
	if len(actions) > 0 {
		vals, err := a.TaintActions(ctx, g.Environment, actions, untaint)
		for _, v := range vals {
			if untaint {
				fmt.Fprintf(g.stdout, "action.%s (environment %s) is no longer tainted.\n", v.Name, v.Environment)
			} else {
				fmt.Fprintf(g.stdout, "action.%s (environment %s) is tainted: the next apply runs it again.\n", v.Name, v.Environment)
			}
		}
		if err != nil || len(hostRefs) == 0 {
			return err
		}
	}
	hosts, err := a.Taint(ctx, app.TaintRequest{
		Environment: g.Environment, Refs: hostRefs, Untaint: untaint,
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
