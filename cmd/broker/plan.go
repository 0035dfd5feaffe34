package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
)

// selectionFlags choose which changes a plan holds.
type selectionFlags struct {
	Target  []string `placeholder:"EXPR" sep:"none" help:"Only plan changes for these (repeatable): an address (host.web[1], host.web, 'host.web[\"eu\"]', action.NAME) or a filter expression, e.g. 'labels.role == \"db\"'."`
	Exclude []string `placeholder:"EXPR" sep:"none" help:"Leave out changes for these (repeatable): an address or a filter expression, as --target."`
	Replace []string `placeholder:"ADDRESS" sep:"none" help:"Replace this host, or run this action, even if nothing changed (repeatable), e.g. 'host.web[1]', 'host.web[\"eu\"]', action.integrate."`
	Refresh bool     `default:"true" negatable:"" help:"Ask providers whether recorded hosts still exist (--no-refresh or --refresh=false to skip)."`
}

func (s *selectionFlags) request(cfg *manifest.Config, env string) app.PlanRequest {
	return app.PlanRequest{Config: cfg, Environment: env, Targets: s.Target, Excludes: s.Exclude, Replace: s.Replace, Refresh: s.Refresh}
}

// PlanCmd shows what apply would do.
type PlanCmd struct {
	manifestFlags
	selectionFlags
	Destroy          bool   `help:"Plan to check in everything the environment holds."`
	Out              string `placeholder:"FILE" help:"Save the plan to FILE; 'broker apply FILE' applies exactly it, if the state has not changed since."`
	JSON             bool   `name:"json" help:"Print the plan as JSON on stdout."`
	DetailedExitcode bool   `name:"detailed-exitcode" help:"Exit 0 when there is nothing to change, 2 when there are changes, 1 on error."`
}

// Help is shown by `broker plan --help`.
func (c *PlanCmd) Help() string {
	return `Compares the manifest with the hosts the environment holds and shows
each change with its reason:

  check out a new host                                         +
  extend a host's lease                                        ~
  check a host in                                              -
  replace a host (recipe changed, tainted, failed, or gone)    -/+
  run an action block (never ran, inputs changed, failed)      + run

Nothing is changed. Save the plan with --out and apply exactly it later.`
}

// Run plans.
func (c *PlanCmd) Run(g *Globals, ctx *interruptContext) error {
	a, cfg, err := c.openManifest(ctx, g, "plan")
	if err != nil {
		return err
	}
	defer a.Close()
	req := c.request(cfg, a.Environment(cfg))
	req.Destroy = c.Destroy
	p, err := a.Plan(ctx, req)
	if err != nil {
		return err
	}
	if c.JSON {
		err = views.NewPlanJSON(g.stdout).Plan(p)
	} else {
		err = views.NewPlanHuman(g.stdout, g.color(g.stdout)).Plan(p)
	}
	if err != nil {
		return err
	}
	if c.Out != "" {
		in, _ := c.input()
		// Sources are named as they were read, relative to here: the
		// manifest's files, not the var files (their values are saved,
		// the sensitive ones never).
		sources := map[string][]byte{}
		for name, src := range cfg.Sources {
			if !slices.Contains(in.VarFiles, name) {
				sources[name] = src
			}
		}
		abs, _ := filepath.Abs(".")
		f := &planner.File{
			FormatVersion: planner.FormatVersion,
			Plan:          p,
			Sources:       sources,
			BaseDir:       abs,
			BrokerVersion: version,
		}
		if err := f.SaveVariables(cfg); err != nil {
			return err
		}
		if err := planner.WriteFile(c.Out, f); err != nil {
			return err
		}
		if !c.JSON {
			fmt.Fprintf(g.stdout, "\nSaved the plan to %s. Apply exactly it with:\n  broker apply %s\n", c.Out, c.Out)
		}
	}
	if err := writeOutput(g, map[string]any{"command": "plan", "plan": p}); err != nil {
		return err
	}
	if c.DetailedExitcode && p.HasChanges() {
		return withCode(exitChanges, nil)
	}
	return nil
}
