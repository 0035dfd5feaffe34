package main

import (
	"fmt"

	"github.com/labbroker/broker/manifest"
)

// ValidateCmd checks a manifest.
type ValidateCmd struct {
	manifestFlags
}

// Help is shown by `broker validate --help`.
func (c *ValidateCmd) Help() string {
	return `Decodes the manifest with every provider's schema and reports each error
with its file, line and column. Nothing is contacted and nothing changes,
so it is safe to run in CI before plan.`
}

// Run validates.
func (c *ValidateCmd) Run(g *Globals, ctx *interruptContext) error {
	a, cfg, err := c.openManifest(ctx, g, "validate")
	if err != nil {
		return err
	}
	defer a.Close()
	// The settings' instances that lack an environment variable: they fail
	// when used, so validate says where they read it.
	if w := a.UnsetWarnings(nil); len(w) > 0 {
		_ = manifest.WriteDiagnostics(g.stderr, w, a.Settings.Files, g.color(g.stderr), 100)
	}
	hosts := 0
	for _, h := range cfg.Hosts {
		hosts += h.Count
	}
	fmt.Fprintf(g.stdout, "The manifest is valid: environment %q, %d host block(s), %d host(s).\n", a.Environment(cfg), len(cfg.Hosts), hosts)
	return writeOutput(g, map[string]any{"command": "validate", "valid": true, "environment": a.Environment(cfg), "hosts": hosts})
}
