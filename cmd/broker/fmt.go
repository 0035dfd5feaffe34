package main

import (
	"fmt"

	"github.com/labbroker/broker/manifest"
)

// FmtCmd rewrites manifests canonically.
type FmtCmd struct {
	Check bool     `help:"Do not write; list the files that need formatting and exit 1 if any (for CI)."`
	Paths []string `arg:"" optional:"" placeholder:"PATH" help:"Files or directories (default: the current directory)."`
}

// Help is shown by `broker fmt --help`.
func (c *FmtCmd) Help() string {
	return `Rewrites HCL files in the canonical layout (aligned equals signs,
two-space indentation). A file that does not parse is reported and left as
it is.`
}

// Run formats.
func (c *FmtCmd) Run(g *Globals) error {
	paths := c.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var all []string
	for _, p := range paths {
		changed, diags := manifest.FormatPath(p, c.Check, g.stdout)
		if diags.HasErrors() {
			_ = manifest.WriteDiagnostics(g.stderr, diags, nil, g.color(g.stderr), 100)
			return silentError{code: exitError}
		}
		all = append(all, changed...)
	}
	if c.Check && len(all) > 0 {
		return withCode(exitError, fmt.Errorf("%d file(s) need formatting: run `broker fmt`", len(all)))
	}
	return nil
}
