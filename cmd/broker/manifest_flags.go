package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/redact"
	"github.com/labbroker/broker/manifest"
)

// manifestFlags are the flags of the commands that read a manifest.
type manifestFlags struct {
	File    string   `short:"f" placeholder:"PATH" help:"Manifest file, or a directory of *.hcl files (default: lab.hcl, or the *.hcl files here)."`
	Var     []string `placeholder:"NAME=VALUE" sep:"none" help:"Set a variable (repeatable). Also: BROKER_VAR_NAME in the environment."`
	VarFile []string `name:"var-file" placeholder:"FILE" sep:"none" help:"Read variables from an HCL or JSON file (repeatable)."`
}

func (m *manifestFlags) input() (app.ManifestInput, error) {
	vars := map[string]string{}
	for _, kv := range m.Var {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return app.ManifestInput{}, fmt.Errorf("--var %q: want NAME=VALUE", kv)
		}
		vars[k] = v
	}
	return app.ManifestInput{Path: m.File, Vars: vars, VarFiles: m.VarFile}, nil
}

// openManifest opens the application for command and loads the manifest, printing
// the diagnostics of either; the caller closes the App.
func (m *manifestFlags) openManifest(ctx *interruptContext, g *Globals, command string) (*app.App, *manifest.Config, error) {
	a, err := g.open(ctx, command)
	if err != nil {
		return nil, nil, printDiagnostics(g, err)
	}
	cfg, err := m.load(g, a)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, cfg, nil
}

// load decodes the manifest and prints its diagnostics, if any.
func (m *manifestFlags) load(g *Globals, a *app.App) (*manifest.Config, error) {
	in, err := m.input()
	if err != nil {
		return nil, err
	}
	cfg, err := a.LoadManifest(in)
	if err := printDiagnostics(g, err); err != nil {
		return nil, err
	}
	printWarnings(g, a)
	return cfg, err
}

// printDiagnostics renders configuration errors with their snippets and
// turns them into a silent exit; other errors pass through.
func printDiagnostics(g *Globals, err error) error {
	var de *app.DiagnosticsError
	if !errors.As(err, &de) {
		return err
	}
	// Through the mask: a diagnostic may quote a sensitive value.
	_ = manifest.WriteDiagnostics(maskWriter{g.stderr, g.secrets}, de.Diags, de.Files, g.color(g.stderr), 100)
	return silentError{code: exitError, msg: de.Diags.Error()}
}

func printWarnings(g *Globals, a *app.App) {
	if w := a.Warnings(); len(w) > 0 {
		_ = manifest.WriteDiagnostics(g.stderr, w, nil, g.color(g.stderr), 100)
	}
}

// maskWriter writes through secrets' masking.
type maskWriter struct {
	w       io.Writer
	secrets *redact.Secrets
}

func (m maskWriter) Write(p []byte) (int, error) {
	if _, err := m.w.Write(m.secrets.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
