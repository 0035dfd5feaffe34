package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// runFlags control how changes are carried out.
type runFlags struct {
	Yes         bool `name:"yes" short:"y" aliases:"auto-approve" help:"Do not ask for confirmation (needed when stdin is not a terminal). --auto-approve, as Terraform spells it, is the same flag."`
	Parallelism int  `default:"10" help:"How many changes to carry out at once."`
	lockFlags
}

// ApplyCmd makes the environment match the manifest.
type ApplyCmd struct {
	manifestFlags
	selectionFlags
	runFlags
	reportFlags
	PlanFile string `arg:"" optional:"" placeholder:"PLAN" help:"A plan saved by 'broker plan --out'; applied exactly, without asking."`
}

// Help is shown by `broker apply --help`.
func (c *ApplyCmd) Help() string {
	return `Plans (as 'broker plan' would), shows the plan, asks for confirmation and
carries it out: hosts are checked out concurrently, in the order their
setup references require, and recorded as they become ready. A failure
marks that host and skips the hosts that depend on it; the rest go on.

Interrupt once to stop starting new work (what is in flight finishes and is
recorded); twice to cancel what is in flight. A killed run leaks nothing:
the next apply resumes or cleans up what it left.`
}

// Run applies.
func (c *ApplyCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "apply")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	req := app.ApplyRequest{
		Observer:    g.progress(),
		Stop:        ctx.Stop,
		Parallelism: c.Parallelism,
		LockTimeout: c.LockTimeout,
		OnLockWait:  lockWaiter(g, c.LockTimeout),
		Operation:   "apply",
	}
	if c.PlanFile != "" {
		if c.File != "" {
			return fmt.Errorf("give either a plan file or -f, not both")
		}
		f, err := planner.ReadFile(c.PlanFile)
		if err != nil {
			return err
		}
		// The plan's variables, and the sensitive ones given again.
		in, err := c.input()
		if err != nil {
			return err
		}
		cfg, err := a.LoadManifest(app.ManifestInput{Sources: f.Sources, BaseDir: f.BaseDir, Vars: in.Vars, VarFiles: in.VarFiles, Values: f.VariableValues()})
		if err := printDiagnostics(g, err); err != nil {
			return err
		}
		if err := f.CheckVariables(cfg); err != nil {
			return err
		}
		req.Config, req.Saved, req.Environment = cfg, f.Plan, f.Plan.Environment
	} else {
		cfg, err := c.load(g, a)
		if err != nil {
			return err
		}
		req.Config = cfg
		req.PlanRequest = c.request(cfg, a.Environment(cfg))
		req.Approve = approver(g, c.Yes, "Apply")
	}
	return finishApply(ctx, g, a, req, "apply", &c.reportFlags)
}

// finishApply runs an apply or destroy and reports it.
func finishApply(ctx context.Context, g *Globals, a *app.App, req app.ApplyRequest, command string, reports *reportFlags) (err error) {
	p, _ := req.Observer.(*progress)
	if p != nil {
		defer p.finish()
	}
	obs, closeReports, err := reports.observer(req.Observer, g.secrets, command, req.Environment)
	if err != nil {
		return err
	}
	req.Observer = obs
	defer func() {
		if cerr := closeReports(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	res, err := a.Apply(ctx, req)
	if p != nil {
		// The failed hosts' output before the summary.
		p.finish()
	}
	if err != nil && res == nil {
		return err
	}
	out := map[string]any{"command": command, "environment": req.Environment, "plan": res.Plan}
	if res.Result != nil {
		out["result"] = resultRecord(res.Result)
	}
	if werr := writeOutput(g, out); werr != nil && err == nil {
		err = werr
	}
	switch {
	case res.Plan != nil && !res.Plan.HasChanges():
		fmt.Fprintf(g.stdout, "No changes. Environment %q matches the manifest.\n", req.Environment)
	case !res.Approved:
		fmt.Fprintln(g.stdout, "Nothing was changed.")
	case res.Result != nil:
		fmt.Fprintf(g.stdout, "\n%s complete: %s.\n", strings.ToUpper(command[:1])+command[1:], res.Result.Summary())
		if errors.Is(err, app.ErrLockLost) {
			return err
		}
		if res.Result.Interrupted {
			return withCode(exitInterrupted, fmt.Errorf("interrupted: %s", res.Result.Summary()))
		}
		if e := res.Result.Err(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// approver asks on the terminal unless --yes (--auto-approve).
func approver(g *Globals, auto bool, verb string) func(*planner.Plan) (bool, error) {
	return func(p *planner.Plan) (bool, error) {
		_ = views.NewPlanHuman(g.stdout, g.color(g.stdout)).Plan(p)
		if auto {
			return true, nil
		}
		if !isTerminal(g.stdin) {
			return false, app.Hint(errNoConfirm, "pass --yes (or --auto-approve) to "+strings.ToLower(verb)+" without asking")
		}
		fmt.Fprintf(g.stdout, "\n%s these changes to environment %q? Only 'yes' is accepted: ", verb, p.Environment)
		line, err := bufio.NewReader(g.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return false, err
		}
		return strings.TrimSpace(line) == "yes", nil
	}
}

// lockWaiter tells the user whom they are waiting for.
func lockWaiter(g *Globals, timeout time.Duration) func(state.LockInfo) {
	return func(h state.LockInfo) {
		if timeout > 0 {
			fmt.Fprintf(g.stderr, "broker: waiting up to %s for the lock held by %s\n", timeout, h)
		}
	}
}
