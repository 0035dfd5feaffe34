package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// imperativeFlags are shared by checkout, checkin, extend and duplicate.
type imperativeFlags struct {
	Background  bool          `short:"b" help:"Run in the background: start a detached broker doing the work, print its pid and log file, and return at once."`
	Sequential  bool          `help:"One host at a time (default: concurrently)."`
	LockTimeout time.Duration `name:"lock-timeout" default:"0s" help:"How long to wait for another broker holding the environment's lock (e.g. 5m); 0 fails at once, naming the holder."`
}

func (f *imperativeFlags) parallelism() int {
	if f.Sequential {
		return 1
	}
	return 0
}

// runChanges applies imperative changes to one environment under its lock,
// showing progress as apply does.
func runChanges(ctx *interruptContext, g *Globals, a *app.App, env string, changes []planner.Change, op string, f imperativeFlags) (*executor.Result, error) {
	p := newProgress(g.stderr, isTerminal(g.stderr), g.color(g.stderr))
	defer p.finish()
	_, res, err := a.RunImperative(ctx, app.ImperativeRequest{
		Environment: env,
		Changes:     changes,
		Observer:    p,
		Stop:        ctx.Stop,
		Parallelism: f.parallelism(),
		LockTimeout: f.LockTimeout,
		OnLockWait:  lockWaiter(g, f.LockTimeout),
		Operation:   op,
	})
	return res, err
}

// resultError turns failed changes into the command's error.
func resultError(res *executor.Result, verb string) error {
	if res == nil {
		return nil
	}
	if res.Interrupted {
		return withCode(exitInterrupted, fmt.Errorf("interrupted: %s", res.Summary()))
	}
	var errs []error
	for _, c := range res.Changes {
		if c.Outcome == executor.OutcomeFailed && c.Err != nil {
			name := c.HostID
			if c.Host != nil {
				name = hostLabel(*c.Host)
			}
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, name, c.Err))
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	if len(errs) > 1 {
		return fmt.Errorf("%d of %d %s failed: %w", len(errs), len(res.Changes), verb+"s", errors.Join(errs...))
	}
	return nil
}

// madeHosts lists the records a run made or left.
func madeHosts(res *executor.Result) []state.Host {
	out := []state.Host{}
	if res == nil {
		return out
	}
	for _, c := range res.Changes {
		if c.Host != nil && c.Outcome == executor.OutcomeDone {
			out = append(out, *c.Host)
		}
	}
	return out
}

// printHosts prints a short table of hosts.
func printHosts(g *Globals, hosts []state.Host, now time.Time) {
	if len(hosts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tNAME\tPROVIDER\tENVIRONMENT\tLEASE")
	for _, h := range hosts {
		lease := "none"
		if !h.Lease.Expires.IsZero() {
			lease = h.Lease.Remaining(now).Round(time.Minute).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s.%s\t%s\t%s\n", dash(h.Hostname), dash(h.Name), h.Provider, h.Instance, h.Environment, lease)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
