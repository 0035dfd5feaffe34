package main

import (
	"fmt"

	"github.com/labbroker/broker/internal/views"
)

// OutputCmd prints the outputs an apply saved.
type OutputCmd struct {
	manifestFlags
	Name string `arg:"" optional:"" placeholder:"NAME" help:"One output to print: its value alone, sensitive or not."`
	JSON bool   `name:"json" help:"Print JSON: every output as {\"NAME\": {\"value\": …, \"sensitive\": bool}}, or the one NAME's value."`
}

// Help is shown by `broker output --help`.
func (c *OutputCmd) Help() string {
	return `Prints the values of the manifest's output blocks as the last apply saved
them in the state of the environment (-e, else the manifest's):

  broker output                   # every output, NAME = value
  broker output satellite         # one value alone (a string unquoted)
  broker output --json | jq .satellite.value

Outputs marked sensitive = true show as (sensitive) unless asked for by
name. Outputs are saved by apply and removed by destroy.`
}

// Run prints outputs.
func (c *OutputCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "output")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	env := g.Environment
	if env == "" {
		cfg, err := c.load(g, a)
		if err != nil {
			return err
		}
		env = a.Environment(cfg)
	}
	var names []string
	if c.Name != "" {
		names = []string{c.Name}
	}
	vals, err := a.Outputs(ctx, env, names...)
	if err != nil {
		return err
	}
	if c.Name != "" {
		return views.OutputValue(g.stdout, vals[0], c.JSON)
	}
	if c.JSON {
		return views.OutputsJSON(g.stdout, vals)
	}
	if len(vals) == 0 {
		fmt.Fprintf(g.stderr, "broker: environment %q has no outputs (apply saves the manifest's output blocks)\n", env)
		return nil
	}
	return views.Outputs(g.stdout, vals)
}
