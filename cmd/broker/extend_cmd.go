package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// defaultExtension is the lease given by extend to a host that has none
// and no --lease: the Python broker's AnsibleTower default (+172800 s).
const defaultExtension = 48 * time.Hour

// ExtendCmd extends hosts' leases.
type ExtendCmd struct {
	hostSelection
	imperativeFlags
	Lease         string `placeholder:"DURATION" help:"New lease from now (e.g. 4h, 1d); default: the host's own lease, or 48h."`
	NewExpireTime string `name:"new-expire-time" placeholder:"TIME" help:"The Python broker's form of --lease: seconds from now, e.g. +172800."`
}

// Help is shown by `broker extend --help`.
func (c *ExtendCmd) Help() string {
	return `Renews the leases of hosts, at the provider where it can (AWX's extend
workflow), else in broker's state. Select hosts as for checkin: index,
hostname, name, id or address, or --all, narrowed by --filter. Extends run
concurrently unless --sequential.

  broker extend 0
  broker extend my.host.fqdn.com --lease 4h
  broker extend --all --new-expire-time +172800`
}

// Run extends.
func (c *ExtendCmd) Run(g *Globals, ctx *interruptContext) error {
	if c.Background && !g.inBackground() {
		return g.background("extend")
	}
	return g.finishBackground("extend", c.run(g, ctx))
}

func (c *ExtendCmd) lease() (time.Duration, error) {
	switch {
	case c.Lease != "" && c.NewExpireTime != "":
		return 0, fmt.Errorf("give --lease or --new-expire-time, not both")
	case c.Lease != "":
		return parseLease(c.Lease)
	case c.NewExpireTime != "":
		s := strings.TrimPrefix(c.NewExpireTime, "+")
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second, nil
		}
		return parseLease(s)
	}
	return 0, nil
}

func (c *ExtendCmd) run(g *Globals, ctx *interruptContext) error {
	lease, err := c.lease()
	if err != nil {
		return err
	}
	a, err := g.open(ctx, "extend")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	hosts, err := c.pick(ctx, g, a)
	if err != nil {
		return err
	}
	if len(hosts) == 0 {
		g.note("no host to extend")
		return writeOutput(g, []state.Host{})
	}
	var out []state.Host
	var errs []error
	envs, groups := byEnvironment(hosts)
	for _, env := range envs {
		var changes []planner.Change
		for _, h := range groups[env] {
			h := h
			l := lease
			if l == 0 && h.Lease.Duration <= 0 {
				l = defaultExtension
			}
			ch := planner.Change{Action: planner.Extend, Before: &h, Reason: "extend"}
			if l > 0 {
				ch.After = &planner.Desired{Provider: h.Provider, Instance: h.Instance, Lease: l}
			}
			changes = append(changes, ch)
		}
		res, err := runChanges(ctx, g, a, env, changes, "extend", c.imperativeFlags)
		if err != nil {
			return err
		}
		out = append(out, madeHosts(res)...)
		if e := resultError(res, "extend"); e != nil {
			errs = append(errs, e)
		}
	}
	printHosts(g, out, a.Now())
	if err := writeOutput(g, out); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
