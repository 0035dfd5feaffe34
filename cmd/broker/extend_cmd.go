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
	Lease          string   `placeholder:"DURATION" help:"New lease from now (e.g. 4h, 1d); default: the host's own lease, or 48h."`
	NewExpireTime  string   `name:"new-expire-time" placeholder:"TIME" help:"The Python broker's form of --lease: seconds from now, e.g. +172800."`
	ProviderLabels []string `short:"l" name:"provider-labels" placeholder:"K=V,…" help:"Accepted for the Python broker's command lines (-l k=v,k2); extend does not label anything (see README, Coming from the Python broker)."`
	// ExtendDuration is the Python broker's Beaker option.
	ExtendDuration int `name:"extend-duration" placeholder:"HOURS" help:"The Python broker's Beaker form of --lease: hours from now (1 to 99), given to extendtesttime.sh on the host."`
}

// Help is shown by `broker extend --help`.
func (c *ExtendCmd) Help() string {
	return `Renews the leases of hosts, at the provider where it can (AWX's extend
workflow; on Beaker, extendtesttime.sh run on the host over SSH), else in
broker's state. Select hosts as for checkin: index,
hostname, name, id or address, or --all, narrowed by --filter. Extends run
concurrently unless --sequential.

  broker extend 0
  broker extend my.host.fqdn.com --lease 4h
  broker extend --all --new-expire-time +172800
  broker extend lab-01.beaker.example.com --extend-duration 24   # Beaker: extendtesttime.sh 24`
}

// Run extends.
func (c *ExtendCmd) Run(g *Globals, ctx *interruptContext) error {
	if c.Background && !g.inBackground() {
		return g.background("extend")
	}
	return g.finishBackground("extend", c.run(g, ctx))
}

func (c *ExtendCmd) lease() (time.Duration, error) {
	given := 0
	for _, set := range []bool{c.Lease != "", c.NewExpireTime != "", c.ExtendDuration != 0} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return 0, fmt.Errorf("give one of --lease, --new-expire-time and --extend-duration")
	case c.ExtendDuration != 0:
		if c.ExtendDuration < 1 || c.ExtendDuration > 99 {
			return 0, fmt.Errorf("--extend-duration %d: want hours from 1 to 99", c.ExtendDuration)
		}
		return time.Duration(c.ExtendDuration) * time.Hour, nil
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
	if labels, err := parseLabels(c.ProviderLabels); err != nil {
		return err
	} else if len(labels) > 0 {
		g.note("extend does not put labels on the extend job; -l %s is ignored (labels are given at checkout)", strings.Join(c.ProviderLabels, ","))
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
