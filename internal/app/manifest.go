package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/manifest"
)

// ManifestInput says which manifest to load and with which variables.
type ManifestInput struct {
	// Path is a file or a directory of *.hcl; empty: lab.hcl, or the
	// current directory's *.hcl files.
	Path     string
	Vars     map[string]string
	VarFiles []string
	// Sources and BaseDir load from memory instead (saved plans).
	Sources map[string][]byte
	BaseDir string
	// Values are a saved plan's variable values (manifest.Options.Values).
	Values map[string]cty.Value
}

// ResolvePath applies the default manifest location.
func ResolvePath(p string) (string, error) {
	if p != "" {
		return p, nil
	}
	if _, err := os.Stat("lab.hcl"); err == nil {
		return "lab.hcl", nil
	}
	matches, _ := filepath.Glob("*.hcl")
	if len(matches) > 0 {
		return ".", nil
	}
	return "", &hintError{
		err:  fmt.Errorf("no manifest given and none found here (lab.hcl or *.hcl)"),
		hint: "pass the manifest with -f FILE, e.g. broker plan -f examples/sim.hcl",
	}
}

// LoadManifest decodes a manifest with the registered providers' schemas and
// the settings' provider instances and nicks, then checks what the decoder
// cannot: hook conditions compile in the filter language.
func (a *App) LoadManifest(in ManifestInput) (*manifest.Config, error) {
	opts := manifest.Options{
		Mode:           manifest.ModeManifest,
		Vars:           in.Vars,
		VarFiles:       in.VarFiles,
		Values:         in.Values,
		LookupEnv:      a.opts.LookupEnv,
		Schemas:        SchemaSource,
		SchemaNames:    schemaNames,
		KnownProviders: a.Settings.Providers,
		KnownNicks:     a.Settings.Nicks,
	}
	var cfg *manifest.Config
	var diags hcl.Diagnostics
	if in.Sources != nil {
		cfg, diags = manifest.LoadSources(in.Sources, in.BaseDir, opts)
	} else {
		path, err := ResolvePath(in.Path)
		if err != nil {
			return nil, err
		}
		cfg, diags = manifest.Load(path, opts)
	}
	a.noteSecrets(cfg)
	for _, hk := range cfg.Hooks {
		if hk.When == "" {
			continue
		}
		if f, err := filter.Compile(hk.When); err == nil {
			a.keepHookFilter(hk, f)
		} else {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid hook condition",
				Detail:   fmt.Sprintf("The when expression of hook %q does not compile: %s.", hk.Name, err),
				Subject:  hk.WhenRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return cfg, &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	// The manifest's own instances that lack a variable: said on every
	// command that reads it (the settings' are said by validate).
	for _, p := range cfg.Providers {
		diags = append(diags, p.UnsetWarnings()...)
	}
	if len(diags) > 0 {
		a.warnings = append(a.warnings, diags...)
	}
	return cfg, nil
}

// Warnings returns and clears the warnings gathered so far.
func (a *App) Warnings() hcl.Diagnostics {
	w := a.warnings
	a.warnings = nil
	return w
}

func schemaNames() []string {
	var names []string
	names = append(names, providerNames()...)
	sort.Strings(names)
	return names
}

// Environment is the environment a manifest works in: --environment, then
// the manifest's attribute, then "default".
func (a *App) Environment(cfg *manifest.Config) string {
	if a.opts.Environment != "" {
		return a.opts.Environment
	}
	if cfg != nil && cfg.Environment != "" {
		return cfg.Environment
	}
	return DefaultEnvironment
}

// hintError is an error with a suggestion.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

// Hint wraps err with a suggestion the CLI prints as a hint: line.
func Hint(err error, hint string) error { return &hintError{err: err, hint: hint} }
