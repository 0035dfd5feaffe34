package main

import "github.com/labbroker/broker/internal/app"

// DestroyCmd checks in everything an environment holds.
type DestroyCmd struct {
	manifestFlags
	runFlags
	reportFlags
	Target  []string `placeholder:"EXPR" sep:"none" help:"Only check in hosts matching this filter expression (repeatable)."`
	Exclude []string `placeholder:"EXPR" sep:"none" help:"Keep hosts matching this filter expression (repeatable)."`
}

// Help is shown by `broker destroy --help`.
func (c *DestroyCmd) Help() string {
	return `Checks in every host that the manifest's environment holds (teardown
first), and cleans up whatever an interrupted run left. A host its provider
no longer knows is removed from the state with a note, not an error.
Hosts checked out imperatively (broker checkout) are not touched.`
}

// Run destroys.
func (c *DestroyCmd) Run(g *Globals, ctx *interruptContext) error {
	a, cfg, err := c.openManifest(ctx, g, "destroy")
	if err != nil {
		return err
	}
	defer a.Close()
	req := app.ApplyRequest{
		Config:      cfg,
		PlanRequest: app.PlanRequest{Config: cfg, Environment: a.Environment(cfg), Targets: c.Target, Excludes: c.Exclude, Destroy: true},
		Approve:     approver(g, c.Yes, "Destroy"),
		Observer:    g.progress(),
		Stop:        ctx.Stop,
		Parallelism: c.Parallelism,
		LockTimeout: c.LockTimeout,
		OnLockWait:  lockWaiter(g, c.LockTimeout),
		Operation:   "destroy",
	}
	return finishApply(ctx, g, a, req, "destroy", &c.reportFlags)
}
