package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
)

// ReapCmd checks in expired hosts and removes orphaned resources.
type ReapCmd struct {
	manifestFlags
	reportFlags
	clockFlag
	lockFlags
	DryRun          bool          `name:"dry-run" help:"Only list what has expired, the orphans and the stale intents; change nothing."`
	Orphans         bool          `help:"Also remove orphans: resources labelled with this state's identity that no record knows (otherwise they are listed)."`
	Foreign         bool          `help:"Also remove foreign resources: another state's (label broker.state), or made by a broker too old to label its state. Only when you know their broker is gone."`
	AllUsers        bool          `name:"all-users" help:"Include other users' resources (label broker.user) among orphans."`
	Label           []string      `placeholder:"KEY=VALUE" sep:"none" help:"Only consider orphans carrying this label (repeatable)."`
	IntentGrace     time.Duration `name:"intent-grace" default:"10m" help:"Clean up leftover intents of interrupted runs once they are this old."`
	TeardownTimeout time.Duration `name:"teardown-timeout" default:"2m" help:"How long an expired host's teardown may take (with -f) before it is checked in anyway."`
	Watch           bool          `help:"Keep reaping, one round every --interval, until SIGTERM or Ctrl-C (a janitor); with a shared state, one janitor leads."`
	Interval        time.Duration `default:"5m" help:"Time between rounds with --watch."`
	Parallelism     int           `default:"10" help:"How many check-ins to carry out at once."`
}

// Help is shown by `broker reap --help`.
func (c *ReapCmd) Help() string {
	return `Checks in hosts whose lease has expired, in every environment (or the one
named by --environment), through the same machinery as apply: teardown
first (with -f, bounded by --teardown-timeout), then check-in. Leftover
intents of runs that died (older than --intent-grace) are cleaned up the way
plan would. An environment that another broker holds is skipped.

Orphans are resources that carry broker's labels and this state's identity
(label broker.state) but that no record or intent of this state knows,
found through every provider instance that can list its resources. They are
listed with their age, and removed with --orphans. Resources without
broker's labels are never touched, nor other users' unless --all-users.

Foreign resources carry broker's labels but another state's identity (another
broker directory or etcd prefix on a shared engine), or none at all (made by
a broker older than state identities). They are listed apart, as "foreign",
and removed only with --foreign.

With --watch broker keeps reaping every --interval and logs one summary line
per round; several janitors sharing a state elect one leader. SIGTERM or
Ctrl-C ends it after the round's check-ins in flight.`
}

// clockFlag is the hidden --now of the commands that judge leases, for
// broker's tests: honoured only with BROKER_TESTING=1.
type clockFlag struct {
	Now string `hidden:"" placeholder:"TIME" help:"Judge leases as if it were TIME (RFC 3339, or +DURATION from now); tests only."`
}

// open opens the app, with the fake clock when asked for.
func (c *clockFlag) open(ctx context.Context, g *Globals, command string) (*app.App, error) {
	if c.Now == "" {
		return g.open(ctx, command)
	}
	if v, _ := g.lookupEnv("BROKER_TESTING"); v != "1" {
		return nil, errors.New("--now is for broker's own tests (set BROKER_TESTING=1)")
	}
	var now time.Time
	if d, ok := strings.CutPrefix(c.Now, "+"); ok {
		off, err := manifest.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("--now %q: %w", c.Now, err)
		}
		now = time.Now().Add(off)
	} else {
		t, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return nil, fmt.Errorf("--now %q: %w", c.Now, err)
		}
		now = t
	}
	start, wall := now, time.Now()
	return app.New(ctx, app.Options{
		Directory: g.BrokerDirectory, Environment: g.Environment, LogLevel: g.LogLevel, LogFile: g.LogFile,
		Command: command, Stderr: g.stderr, LookupEnv: g.lookupEnv,
		Now: func() time.Time { return start.Add(time.Since(wall)) },
	})
}

// Run reaps.
func (c *ReapCmd) Run(g *Globals, ctx *interruptContext) error {
	if c.Watch && c.DryRun {
		return errors.New("--watch and --dry-run do not go together")
	}
	if c.Watch && c.Interval <= 0 {
		return errors.New("--interval must be positive")
	}
	labels := map[string]string{}
	for _, kv := range c.Label {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		labels[k] = v
	}
	a, err := c.open(ctx, g, "reap")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	var cfg *manifest.Config
	if c.File != "" {
		if cfg, err = c.load(g, a); err != nil {
			return err
		}
	}
	prog := newProgress(g.stderr, false, g.color(g.stderr))
	obs, closeReports, err := c.observer(prog, g.secrets, "reap", g.Environment)
	if err != nil {
		return err
	}
	req := app.JanitorRequest{
		Reap: app.ReapRequest{
			Config: cfg, Environment: g.Environment, DryRun: c.DryRun, Orphans: c.Orphans, Foreign: c.Foreign, AllUsers: c.AllUsers,
			Labels: labels, IntentGrace: c.IntentGrace, TeardownTimeout: c.TeardownTimeout,
			Observer: obs, Stop: ctx.Stop, Parallelism: c.Parallelism,
			LockTimeout: c.LockTimeout, OnLockWait: lockWaiter(g, c.LockTimeout),
		},
		Watch: c.Watch, Interval: c.Interval,
	}
	if c.Watch {
		req.Events = c.janitorView(g, a)
		_, err = a.Janitor(ctx, req)
	} else {
		var res *app.JanitorResult
		res, err = a.Janitor(ctx, req)
		err = c.report(g, a, res.Last, err)
	}
	return errors.Join(err, closeReports())
}

// report shows a round: what it found, its summary, --output-file; the
// error is the round's, else one for its failures.
func (c *ReapCmd) report(g *Globals, a *app.App, res *app.ReapResult, err error) error {
	if res == nil {
		return err
	}
	c.print(g, a, res)
	if werr := writeOutput(g, reapRecord(res)); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return fmt.Errorf("reap: %d failed", res.Failed)
	}
	return nil
}

// print lists what the round found, then its summary line.
func (c *ReapCmd) print(g *Globals, a *app.App, res *app.ReapResult) {
	now := a.Now()
	verb := "checked in"
	if c.DryRun {
		verb = "would check in"
	}
	for _, h := range res.Expired {
		name := h.Address
		if name == "" {
			name = "host " + h.ID
		}
		fmt.Fprintf(g.stdout, "expired  %s %s (environment %s, %s.%s), lease ended %s ago\n", verb, name, h.Environment,
			h.Provider, h.Instance, views.HumanDuration(now.Sub(h.Lease.Expires)))
	}
	for _, it := range res.Intents {
		fmt.Fprintf(g.stdout, "intent   interrupted %s of %s in environment %s (%s.%s), %s ago\n", it.Op, orDash(it.Address, it.HostID),
			it.Environment, it.Provider, it.Instance, views.HumanDuration(now.Sub(it.Updated)))
	}
	for _, o := range res.Orphans {
		c.printOrphan(g, o, "orphan  ", "")
	}
	for _, o := range res.Foreign {
		owner := "state " + o.State()
		if o.Owner == planner.OwnerUnknown {
			owner = "no state label"
		}
		c.printOrphan(g, o, "foreign ", ", "+owner)
	}
	for _, l := range res.Locked {
		g.note("skipped environment %s: it is locked", l)
	}
	for _, w := range res.Warnings {
		g.warn("%s", w)
	}
	if c.DryRun {
		foreign := ""
		if n := len(res.Foreign); n > 0 {
			foreign = fmt.Sprintf(", %d foreign", n)
		}
		fmt.Fprintf(g.stderr, "broker: reap (dry run): %d expired hosts, %d orphans, %d stale intents%s; nothing was changed\n",
			len(res.Expired), len(res.Orphans), len(res.Intents), foreign)
		return
	}
	if n := len(res.Orphans); n > 0 && !c.Orphans {
		g.note("%d orphans listed; remove them with --orphans", n)
	}
	if n := len(res.Foreign); n > 0 && !c.Foreign {
		g.note("%d foreign resources listed (another state's, or unlabelled); left alone", n)
	}
	fmt.Fprintf(g.stderr, "broker: reap: %s\n", res.Summary())
}

// printOrphan prints one line of an orphan or foreign resource.
func (c *ReapCmd) printOrphan(g *Globals, o app.Orphan, what, owner string) {
	age := "age unknown"
	if o.Age > 0 {
		age = "made " + views.HumanDuration(o.Age) + " ago"
	}
	switch {
	case o.Removed:
		what = "removed "
	case o.Err != nil:
		what = "failed  "
	}
	l := o.Info.Labels
	fmt.Fprintf(g.stdout, "%s %s.%s %s %s (broker.id %s, environment %s, user %s%s), %s\n", what, o.Provider, o.Instance,
		shortID(o.Info.ProviderID), o.Info.Name, o.ID(), orDash(l["broker.environment"], "?"), orDash(l["broker.user"], "?"), owner, age)
	if o.Err != nil {
		fmt.Fprintf(g.stdout, "         %v\n", o.Err)
	}
}

func orDash(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func shortID(id string) string {
	if len(id) > 12 && !strings.ContainsAny(id, "-.") {
		return id[:12]
	}
	return id
}

// janitorView logs a watching janitor's leadership and rounds on stderr;
// a failed round is logged and the janitor goes on.
func (c *ReapCmd) janitorView(g *Globals, a *app.App) func(app.JanitorEvent) {
	return func(e app.JanitorEvent) {
		switch e.Kind {
		case app.JanitorWaiting:
			fmt.Fprintf(g.stderr, "broker: reap: waiting for leadership; %s leads\n", e.Leader)
		case app.JanitorLeading:
			fmt.Fprintf(g.stderr, "broker: reap: this janitor leads (%s)\n", e.Leader)
		case app.JanitorLost:
			g.warn("leadership lost; campaigning again")
		case app.JanitorRound:
			fmt.Fprintf(g.stderr, "broker: reap: round %d at %s\n", e.Round, e.Time.UTC().Format(time.RFC3339))
		case app.JanitorRoundDone:
			if err := c.report(g, a, e.Result, e.Err); err != nil && !e.Stopping {
				g.warn("round %d: %v", e.Round, err)
			}
		case app.JanitorStopped:
			if e.Campaigning {
				fmt.Fprintln(g.stderr, "broker: reap: stopped")
			} else {
				fmt.Fprintf(g.stderr, "broker: reap: stopped after %s\n", plural(e.Round, "round"))
			}
		}
	}
}

// reapRecord is --output-file's JSON of a round.
func reapRecord(res *app.ReapResult) map[string]any {
	type orphan struct {
		Provider   string            `json:"provider"`
		ProviderID string            `json:"provider_id"`
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels"`
		State      string            `json:"state"`
		AgeSeconds float64           `json:"age_seconds"`
		Removed    bool              `json:"removed"`
		Error      string            `json:"error,omitempty"`
	}
	list := func(os []app.Orphan) []orphan {
		var out []orphan
		for _, o := range os {
			e := ""
			if o.Err != nil {
				e = o.Err.Error()
			}
			out = append(out, orphan{o.Provider + "." + o.Instance, o.Info.ProviderID, o.Info.Name, o.Info.Labels, o.State(), o.Age.Seconds(), o.Removed, e})
		}
		return out
	}
	orphans, foreign := list(res.Orphans), list(res.Foreign)
	var results []any
	for _, r := range res.Results {
		results = append(results, resultRecord(r))
	}
	return map[string]any{
		"command": "reap", "expired": res.Expired, "intents": res.Intents, "orphans": orphans, "foreign": foreign, "state": res.State, "locked": res.Locked,
		"reaped": res.Reaped, "removed": res.Removed, "cleaned": res.Cleaned, "failed": res.Failed,
		"summary": res.Summary(), "results": results,
	}
}

var _ executor.Observer = (*progress)(nil)

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
