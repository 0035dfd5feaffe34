package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/manifest"
)

// ConfigCmd views, validates, creates or imports broker's settings.
type ConfigCmd struct {
	View     ConfigViewCmd     `cmd:"" help:"Print the settings file with the BROKER_<BLOCK>__<KEY> environment overrides applied, sensitive values masked."`
	Validate ConfigValidateCmd `cmd:"" help:"Check the settings file (and the environment overrides)."`
	Init     ConfigInitCmd     `cmd:"" help:"Write a commented starter broker.hcl (refuses to overwrite one)."`
	Import   ConfigImportCmd   `cmd:"" help:"Convert a Python broker_settings.yaml to broker.hcl."`
}

// Help is shown by `broker config --help`.
func (c *ConfigCmd) Help() string {
	return `broker's settings live in <broker-directory>/broker.hcl: provider
instances, nicks, and ssh, logging, inventory and state blocks. Environment
variables override them, as the Python broker's did:

  BROKER_SSH__USER=root                  ssh { user = "root" }
  BROKER_INVENTORY__FIELDS='["Host:hostname|name"]'
  BROKER_AnsibleTower__testing__url=…    provider "awx" "testing" { url = … }
  BROKER_AWX__TOKEN=…                    every awx instance

Precedence: the file, then the environment, then command-line flags.`
}

func settingsPath(g *Globals, ctx *interruptContext) (string, *app.App, error) {
	a, err := g.open(ctx, "config")
	if err != nil {
		return "", nil, printDiagnostics(g, err)
	}
	return filepath.Join(a.Dir, app.SettingsFile), a, nil
}

// ConfigViewCmd prints the effective settings source.
type ConfigViewCmd struct{}

// Run views.
func (c *ConfigViewCmd) Run(g *Globals, ctx *interruptContext) error {
	path, a, err := settingsPath(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	src, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	ovs := app.SettingsOverrides(os.Environ())
	out, err := app.ApplyOverrides(src, path, ovs)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "# %s", path)
	if len(src) == 0 {
		fmt.Fprint(g.stderr, " (absent)")
	}
	for _, o := range ovs {
		fmt.Fprintf(g.stderr, "\n# overridden by %s", o.Var)
	}
	fmt.Fprintln(g.stderr, "\n# sensitive values are shown as \"(sensitive)\"")
	_, err = g.stdout.Write(app.MaskSettings(out, path))
	return err
}

// ConfigValidateCmd checks the settings.
type ConfigValidateCmd struct{}

// Run validates.
func (c *ConfigValidateCmd) Run(g *Globals, ctx *interruptContext) error {
	path, a, err := settingsPath(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if inv := a.Settings.Inventory; inv != nil {
		var diags hcl.Diagnostics
		for _, f := range inv.Fields {
			if err := views.CheckInventoryColumn(f); err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid inventory field",
					Detail: err.Error() + ".", Subject: inv.FieldsRange.Ptr()})
			}
		}
		if diags.HasErrors() {
			return printDiagnostics(g, &app.DiagnosticsError{Diags: diags, Files: a.Settings.Files})
		}
	}
	if w := a.UnsetWarnings(nil); len(w) > 0 {
		_ = manifest.WriteDiagnostics(g.stderr, w, a.Settings.Files, g.color(g.stderr), 100)
	}
	n := len(a.Settings.Providers)
	fmt.Fprintf(g.stdout, "%s is valid: %d provider instance(s), %d nick(s).\n", path, n, len(a.Settings.Nicks))
	return nil
}

// ConfigInitCmd writes a starter settings file.
type ConfigInitCmd struct {
	Force bool `help:"Overwrite an existing settings file."`
}

const starterSettings = `# broker settings. Environment variables override any attribute:
# BROKER_<BLOCK>__<KEY>, e.g. BROKER_SSH__USER=root or
# BROKER_AWX__SATLAB__URL=https://awx.example.com.

# A provider instance: provider "TYPE" "INSTANCE" { settings }. With several
# instances of a type, mark exactly one default = true.
provider "sim" "lab" {
  default = true
}

# provider "docker" "local" {
#   default = true
#   # host = "ssh://me@builder.example.com"
# }

# provider "awx" "satlab" {
#   url   = "https://awx.example.com"
#   token = env("AWX_SATLAB_TOKEN")   # secrets come from the environment
# }

# A nick: a named recipe for broker checkout --nick rhel9.
nick "rhel9" {
  provider = "sim"
  args     = { template = "deploy-rhel", rhel_version = "9.4" }
}

ssh {
  user = "root"
  # private_key_file = "~/.ssh/id_ed25519"
}

# Columns of broker inventory: "Title:field|fallback".
inventory {
  fields = ["Id:index", "Host:hostname|name", "Provider:provider_ref", "Status:status", "Lease:lease"]
}

logging {
  level = "info"
}
`

// Run writes the starter file.
func (c *ConfigInitCmd) Run(g *Globals, ctx *interruptContext) error {
	return writeSettings(g, ctx, []byte(starterSettings), c.Force)
}

func writeSettings(g *Globals, ctx *interruptContext, b []byte, force bool) error {
	dir := g.BrokerDirectory
	if dir == "" {
		if d, ok := g.lookupEnv("BROKER_DIRECTORY"); ok && d != "" {
			dir = d
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			dir = filepath.Join(home, ".broker")
		}
	}
	path := filepath.Join(dir, app.SettingsFile)
	if _, err := os.Stat(path); err == nil && !force {
		return app.Hint(fmt.Errorf("%s exists; refusing to overwrite it", path), "pass --force to replace it, or edit it")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s\n", path)
	return nil
}

// ConfigImportCmd converts a Python broker_settings.yaml.
type ConfigImportCmd struct {
	File   string `arg:"" type:"existingfile" placeholder:"broker_settings.yaml" help:"The Python broker's settings file."`
	Force  bool   `help:"Overwrite an existing broker.hcl."`
	Stdout bool   `help:"Print the converted settings instead of writing broker.hcl."`
}

// Help is shown by `broker config import --help`.
func (c *ConfigImportCmd) Help() string {
	return `Converts the Python broker's settings (AnsibleTower, Container, ssh,
logging, inventory_fields, nicks, instances) to broker.hcl. Tokens and
passwords are never written: they become env("…") references and the
variables to set are listed. Settings with no counterpart are listed too.`
}

// Run imports.
func (c *ConfigImportCmd) Run(g *Globals, ctx *interruptContext) error {
	src, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	res, err := pyconfig.ConvertSettings(src)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	for _, n := range res.Notes {
		g.note("%s", n)
	}
	if c.Stdout {
		_, err = g.stdout.Write(res.HCL)
	} else {
		err = writeSettings(g, ctx, res.HCL, c.Force)
	}
	if err != nil {
		return err
	}
	if len(res.EnvVars) > 0 {
		var lines []string
		for _, v := range res.EnvVars {
			lines = append(lines, fmt.Sprintf("  export %s=…   # %s", v.Name, v.Holds))
		}
		g.note("secrets were not copied; set these variables before running broker:\n%s", strings.Join(lines, "\n"))
	}
	return nil
}
