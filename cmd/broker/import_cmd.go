package main

import (
	"fmt"
	"strings"

	"github.com/labbroker/broker/internal/app"
)

// ImportCmd adopts an existing resource into an environment.
type ImportCmd struct {
	manifestFlags
	lockFlags
	Address  string `arg:"" placeholder:"ADDRESS" help:"The manifest's address the resource becomes (host.db[0])."`
	Resource string `arg:"" placeholder:"TYPE.INSTANCE:ID" help:"The resource: provider instance and the provider's id (docker.local:3f2a9c…; an id prefix or the name also do)."`
}

// Help is shown by `broker import --help`.
func (c *ImportCmd) Help() string {
	return `Records an existing resource at an address of the manifest, as if apply
had checked it out: status ready, the host block's lease and labels. The
provider finds the resource by its id; providers that cannot look up
arbitrary resources find only those carrying broker's labels.

The next plan is a no-op for the host, or replaces it (with the reason) when
it was made with other arguments than the manifest's.`
}

// Run imports.
func (c *ImportCmd) Run(g *Globals, ctx *interruptContext) error {
	prov, id, ok := strings.Cut(c.Resource, ":")
	if !ok || id == "" {
		return fmt.Errorf("give the resource as TYPE.INSTANCE:ID (docker.local:3f2a…), not %q", c.Resource)
	}
	a, cfg, err := c.openManifest(ctx, g, "import")
	if err != nil {
		return err
	}
	defer a.Close()
	env := a.Environment(cfg)
	res, err := a.Import(ctx, app.ImportRequest{Config: cfg, Environment: env, Address: c.Address, Provider: prov, ProviderID: id,
		LockTimeout: c.LockTimeout, OnLockWait: lockWaiter(g, c.LockTimeout)})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		g.note("%s", n)
	}
	h := res.Host
	fmt.Fprintf(g.stdout, "Imported %s %s into environment %q as %s (host %s).\n", prov, shortID(h.ProviderID), env, c.Address, h.ID)
	return writeOutput(g, map[string]any{"command": "import", "host": h})
}
