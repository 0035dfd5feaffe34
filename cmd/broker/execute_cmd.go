package main

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
)

// ExecuteCmd runs a provider action that makes no host (a workflow, a
// one-off container).
type ExecuteCmd struct {
	providerArgFlags
	Background     bool     `short:"b" help:"Run in the background: start a detached broker, print its pid and log file, and return at once (use -o log)."`
	OutputFormat   string   `short:"o" name:"output-format" default:"log" placeholder:"log|raw|yaml" help:"How to show the action's result: log (stderr and the log file), raw (stdout), yaml (stdout)."`
	Artifacts      string   `placeholder:"merge|last" help:"AWX: return the job's artifacts, merged over the workflow's jobs or the last job's."`
	ProviderLabels []string `short:"l" name:"provider-labels" placeholder:"K=V,…" help:"Labels put on what the action makes: AWX labels on the job, broker.K labels on a container (-l team=qe,purpose=ci; a bare K is a label without value)."`
	Args           []string `arg:"" optional:"" passthrough:"" name:"provider-args" help:"Provider arguments (--key value, --key=value, key=value), then -- and a command for providers that run one."`
}

// Help is shown by `broker execute --help`.
func (c *ExecuteCmd) Help() string {
	return `Runs a provider action that makes no host: an AWX workflow or job
template, or a one-off container (docker runs the command given after --,
prints its output and removes the container). Arguments are given as for
checkout.

  broker execute --workflow my-awesome-workflow --additional-arg True
  broker execute -o raw --workflow my-awesome-workflow --artifacts last
  broker execute --provider docker --image broker-busybox:latest -- echo hi`
}

func (c *ExecuteCmd) raw() []rawFlag {
	return append(c.providerArgFlags.raw(),
		rawFlag{names: []string{"--background", "-b"}, bool: true, set: setBool(&c.Background)},
		rawFlag{names: []string{"--output-format", "-o"}, set: setString(&c.OutputFormat)},
		rawFlag{names: []string{"--artifacts"}, set: setString(&c.Artifacts), bare: "merge"},
		rawFlag{names: []string{"--provider-labels", "-l", "--labels", "--label"}, set: appendString(&c.ProviderLabels)},
	)
}

// Run executes.
func (c *ExecuteCmd) Run(g *Globals, ctx *interruptContext, kctx *kong.Context) error {
	r, err := parseRaw(c.Args, append(c.raw(), g.globalRaw()...))
	if err != nil {
		return app.Hint(err, "run `broker execute --help` for the accepted forms")
	}
	if r.Help {
		return kctx.PrintUsage(false)
	}
	r.dropTrailingBare(g)
	// --artifacts with no value (the Python README's example) means merge.
	if v, ok := r.Args["artifacts"]; ok && v == "true" {
		delete(r.Args, "artifacts")
		c.Artifacts = "merge"
	}
	switch c.OutputFormat {
	case "log", "raw", "yaml":
	default:
		return fmt.Errorf("-o %q: want log, raw or yaml", c.OutputFormat)
	}
	switch c.Artifacts {
	case "", "merge", "last":
	default:
		return fmt.Errorf("--artifacts %q: want merge or last", c.Artifacts)
	}
	if len(r.Positionals) > 0 {
		r.Command = append(r.Positionals, r.Command...)
	}
	if c.Background && !g.inBackground() {
		return g.background("execute")
	}
	return g.finishBackground("execute", c.run(g, ctx, r))
}

func (c *ExecuteCmd) run(g *Globals, ctx *interruptContext, r *rawResult) error {
	spec, err := c.spec(r)
	if err != nil {
		return err
	}
	if spec.Labels, err = parseLabels(c.ProviderLabels); err != nil {
		return err
	}
	a, err := g.open(ctx, "execute")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	resp, err := a.Execute(ctx, app.ExecuteRequest{
		Spec: spec, Command: r.Command, Artifacts: c.Artifacts, Stdout: g.stdout, Stderr: g.stderr,
		Progress: func(msg string) { fmt.Fprintf(g.stderr, "broker: %s\n", msg) },
	})
	if err != nil {
		return err
	}
	// The Python broker's keys (provider, action, arguments, output), and
	// broker's beside them.
	args := map[string]any{}
	maps.Copy(args, spec.Args)
	if spec.Nick != "" {
		args["nick"] = spec.Nick
	}
	out := map[string]any{"command": "execute", "provider": filter.PythonProvider(resp.Provider), "instance": resp.Instance,
		"action": "execute", "arguments": args, "output": resp.Result, "status": resp.Status}
	if err := writeOutput(g, out); err != nil {
		return err
	}
	if resp.Result != nil {
		switch c.OutputFormat {
		case "raw":
			b, err := json.Marshal(resp.Result)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, string(b))
		case "yaml":
			b, err := yaml.Marshal(resp.Result)
			if err != nil {
				return err
			}
			fmt.Fprint(g.stdout, string(b))
		default:
			b, _ := json.Marshal(resp.Result)
			a.Logger.Info("execute result", "result", string(b))
			fmt.Fprintf(g.stderr, "broker: result: %s\n", b)
		}
	}
	if resp.Status != 0 {
		return withCode(exitError, fmt.Errorf("the action exited with status %d", resp.Status))
	}
	return nil
}
