package main

import (
	"fmt"
	"strings"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
)

// CheckinCmd checks hosts in by index, name, hostname or filter.
type CheckinCmd struct {
	hostSelection
	imperativeFlags
	reportFlags
	Provider string `placeholder:"TYPE[.INSTANCE]" help:"With --name: check in a host broker has no record of, at this provider."`
	Name     string `placeholder:"NAME" help:"With --provider: the provider's name (or id) of a host broker has no record of."`
	Yes      bool   `name:"yes" short:"y" help:"Do not ask before checking in hosts of several environments (asked only on a terminal)."`
}

// Help is shown by `broker checkin --help`.
func (c *CheckinCmd) Help() string {
	return `Returns hosts to their providers and forgets them. Name hosts by their
inventory index (the Id column of 'broker inventory'), hostname, name, id
or address, mixed: named hosts are found where 'broker inventory' shows
them. --all and --filter act on one environment: -e, else
BROKER_ENVIRONMENT, else "default"; --all-environments crosses them (on a
terminal, after asking). Check-ins run concurrently unless
--sequential. A name that matches nothing is a warning.

  broker checkin my.host.fqdn.com
  broker checkin 0
  broker checkin 1 3 my.host.fqdn.com
  broker checkin --all --filter 'hostname<test'
  broker checkin --provider docker --name broker-x1y2   # a host not in the inventory`
}

// Run checks in.
func (c *CheckinCmd) Run(g *Globals, ctx *interruptContext) error {
	if c.Background && !g.inBackground() {
		return g.background("checkin")
	}
	return g.finishBackground("checkin", c.run(g, ctx))
}

func (c *CheckinCmd) run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "checkin")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	var hosts []state.Host
	if c.Name != "" || c.Provider != "" {
		h, err := unrecordedHost(g, a, c.Provider, c.Name)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
	}
	if len(c.Hosts) > 0 || c.All || len(hosts) == 0 {
		picked, err := c.pick(ctx, g, a)
		if err != nil {
			return err
		}
		hosts = append(hosts, picked...)
	}
	if len(hosts) == 0 {
		g.note("no host to check in")
		return writeOutput(g, map[string]any{"command": "checkin", "hosts": []any{}})
	}
	if envs, groups := app.ByEnvironment(hosts); len(envs) > 1 && isTerminal(g.stdin) && !c.Yes {
		parts := make([]string, len(envs))
		for i, e := range envs {
			parts[i] = fmt.Sprintf("%s (%d)", e, len(groups[e]))
		}
		fmt.Fprintf(g.stdout, "These hosts belong to %d environments: %s.\n", len(envs), strings.Join(parts, ", "))
		if ok, err := confirm(g, false, fmt.Sprintf("Check in %d hosts?", len(hosts)), "pass --yes"); err != nil || !ok {
			if err == nil {
				fmt.Fprintln(g.stdout, "Nothing was changed.")
			}
			return err
		}
	}
	o, finish, err := runOptions(ctx, g, c.imperativeFlags, &c.reportFlags, "checkin", imperativeEnvironment(g))
	if err != nil {
		return err
	}
	res, err := a.Checkin(ctx, app.CheckinRequest{Hosts: hosts, RunOptions: o})
	if ferr := finish(); ferr != nil && err == nil {
		err = ferr
	}
	if res == nil {
		return err
	}
	done := res.Released()
	for _, h := range done {
		fmt.Fprintf(g.stdout, "checked in %s\n", h.Label())
	}
	if werr := writeOutput(g, withCommand("checkin", hostsOutput(done))); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return opError(res, "checkin")
}

// unrecordedHost is the record of a host the state does not hold, so that
// it can be checked in like any other.
func unrecordedHost(g *Globals, a *app.App, provider, name string) (state.Host, error) {
	if provider == "" || name == "" {
		return state.Host{}, app.Hint(fmt.Errorf("--provider and --name go together"), "e.g. broker checkin --provider docker --name my-container")
	}
	return a.UnrecordedHost(provider, name, imperativeEnvironment(g))
}
