package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labbroker/broker/internal/app"
)

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
		return writeOutput(g, map[string]any{"command": "extend", "hosts": []any{}})
	}
	o, finish, err := runOptions(ctx, g, c.imperativeFlags, nil, "extend", imperativeEnvironment(g))
	if err != nil {
		return err
	}
	res, err := a.Extend(ctx, app.ExtendRequest{Hosts: hosts, Lease: lease, RunOptions: o})
	if ferr := finish(); ferr != nil && err == nil {
		err = ferr
	}
	if res == nil {
		return err
	}
	out := res.Hosts()
	printHosts(g, out, a.Now())
	if werr := writeOutput(g, withCommand("extend", hostsOutput(out))); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return opError(res, "extend")
}
