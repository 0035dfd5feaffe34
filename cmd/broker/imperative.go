package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
)

// imperativeFlags are shared by checkout, checkin, extend and duplicate.
type imperativeFlags struct {
	Background bool `short:"b" help:"Run in the background: start a detached broker doing the work, print its pid and log file, and return at once."`
	Sequential bool `help:"One host at a time (default: concurrently)."`
	lockFlags
}

func (f *imperativeFlags) parallelism() int {
	if f.Sequential {
		return 1
	}
	return 0
}

// runOptions are the flags' and the terminal's part of an operation's
// run: progress, --report files, the first Ctrl-C, parallelism, the lock
// wait. finish ends the progress display and closes the reports; call it
// once, after the run.
func runOptions(ctx *interruptContext, g *Globals, f imperativeFlags, rep *reportFlags, command, env string) (o app.RunOptions, finish func() error, err error) {
	p := g.progress()
	obs, closeReports, err := rep.observer(p, g.secrets, command, env)
	if err != nil {
		p.finish()
		return o, nil, err
	}
	return app.RunOptions{
			Observer:    obs,
			Stop:        ctx.Stop,
			Parallelism: f.parallelism(),
			LockTimeout: f.LockTimeout,
			OnLockWait:  lockWaiter(g, f.LockTimeout),
		}, func() error {
			p.finish()
			return closeReports()
		}, nil
}

// opError turns an operation's failed changes into the command's error.
func opError(res *app.OpResult, verb string) error {
	if res == nil {
		return nil
	}
	for _, r := range res.Runs {
		if r.Result != nil && r.Result.Interrupted {
			return withCode(exitInterrupted, fmt.Errorf("interrupted: %s", r.Result.Summary()))
		}
	}
	return res.Err(verb)
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

// imperativeEnvironment is --environment, or "default".
func imperativeEnvironment(g *Globals) string {
	if g.Environment != "" {
		return g.Environment
	}
	return app.DefaultEnvironment
}
