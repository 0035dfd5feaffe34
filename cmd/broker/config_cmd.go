package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

// ConfigCmd views, validates, creates or imports broker's settings.
type ConfigCmd struct {
	View     ConfigViewCmd     `cmd:"" help:"Print the settings (or one CHUNK of them) with the BROKER_<BLOCK>__<KEY> environment overrides applied, sensitive values masked."`
	Set      ConfigSetCmd      `cmd:"" help:"Set a CHUNK of broker.hcl to a VALUE, or to a YAML/JSON FILE's contents (a backup is kept for config restore)."`
	Edit     ConfigEditCmd     `cmd:"" help:"Edit broker.hcl (or one CHUNK of it) in $VISUAL/$EDITOR; the result is checked before it is saved."`
	Restore  ConfigRestoreCmd  `cmd:"" help:"Put back broker.hcl as it was before the last config set, edit or init CHUNK."`
	Nicks    ConfigNicksCmd    `cmd:"" help:"List the nicks."`
	Nick     ConfigNickCmd     `cmd:"" help:"Show one nick."`
	Validate ConfigValidateCmd `cmd:"" help:"Check the settings file (and the environment overrides), or one CHUNK of it."`
	Init     ConfigInitCmd     `cmd:"" help:"Write a commented starter broker.hcl (refuses to overwrite one), or one CHUNK of it from a FILE."`
	Import   ConfigImportCmd   `cmd:"" help:"Convert a Python broker_settings.yaml to broker.hcl."`
	Migrate  ConfigMigrateCmd  `cmd:"" hidden:"" help:"The Python broker's settings migration: nothing to do here."`
}

// ConfigMigrateCmd is the Python broker's `config migrate`, kept so that
// scripts calling it do not fail.
type ConfigMigrateCmd struct {
	ForceVersion string `name:"force-version" short:"f" hidden:"" help:"Ignored."`
}

// Run says there is nothing to migrate.
func (c *ConfigMigrateCmd) Run(g *Globals) error {
	g.note("nothing to migrate: broker.hcl has a single format; a Python broker_settings.yaml is converted by broker config import")
	return nil
}

// Help is shown by `broker config --help`.
func (c *ConfigCmd) Help() string {
	return `broker's settings live in <broker-directory>/broker.hcl: provider
instances, nicks, and ssh, logging, inventory and state blocks. Without a
broker.hcl, a Python broker's broker_settings.yaml there is read in place
(converted in memory; broker config import converts it for good).
Environment variables override them, as the Python broker's did:

  BROKER_SSH__USER=root                  ssh { user = "root" }
  BROKER_SSH__HOST_USERNAME=root         the same, in the Python broker's words
  BROKER_INVENTORY__FIELDS='["Host:hostname|name"]'
  BROKER_AnsibleTower__testing__url=…    provider "awx" "testing" { url = … }
  BROKER_AnsibleTower__INSTANCES__testing__base_url=…   the same
  BROKER_AWX__TOKEN=…                    every awx instance

An instance with override_envars = true keeps its own settings over the
environment's. Precedence: the file, then the environment, then
command-line flags.

A CHUNK names a part of the settings, levels separated by dots; the
Python broker's names work too:

  ssh  ssh.user  logging.level  inventory_fields  nicks  nicks.rhel9
  awx (AnsibleTower)  awx.testing (AnsibleTower.instances.testing)
  awx.testing.url  awx.url (every instance)  docker.engine (Container.runtime)`
}

// settingsApp opens the App (printing the notes of a Python file read in
// place and of translated variables, once) and returns its settings
// source.
func settingsApp(g *Globals, ctx *interruptContext) (*app.App, *app.SettingsSource, error) {
	a, err := g.open(ctx, "config")
	if err != nil {
		return nil, nil, printDiagnostics(g, err)
	}
	ss := a.SettingsSource
	if ss == nil {
		ss = &app.SettingsSource{Path: filepath.Join(a.Dir, app.SettingsFile), Name: filepath.Join(a.Dir, app.SettingsFile)}
	}
	return a, ss, nil
}

// ConfigViewCmd prints the effective settings source.
type ConfigViewCmd struct {
	Chunk    string `arg:"" optional:"" help:"Part of the settings to show: ssh, nicks.rhel9, AnsibleTower, awx.testing.url, … (default: all)."`
	NoSyntax bool   `name:"no-syntax" hidden:"" help:"Accepted for the Python broker's command line; output is never highlighted."`
}

// Run views.
func (c *ConfigViewCmd) Run(g *Globals, ctx *interruptContext) error {
	a, ss, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	ovs := app.SettingsOverrides(os.Environ())
	out, notes, err := app.ApplyOverrides(ss.Src, ss.Name, ovs)
	if err != nil {
		return err
	}
	ignored := map[string]bool{}
	for _, n := range notes {
		if v, rest, ok := strings.Cut(n, ": "); ok && strings.HasPrefix(rest, "ignored") {
			ignored[v] = true
		}
	}
	masked := app.MaskSettings(out, ss.Name)
	if c.Chunk != "" {
		b, err := app.ViewChunk(masked, ss.Name, c.Chunk)
		if err != nil {
			return err
		}
		_, err = g.stdout.Write(b)
		return err
	}
	fmt.Fprintf(g.stderr, "# %s", ss.Path)
	switch {
	case ss.Python:
		fmt.Fprint(g.stderr, " (the Python broker's, converted in memory)")
	case len(ss.Src) == 0:
		fmt.Fprint(g.stderr, " (absent)")
	}
	for _, o := range ovs {
		if ignored[o.Var] {
			fmt.Fprintf(g.stderr, "\n# ignored: %s", o.Var)
		} else {
			fmt.Fprintf(g.stderr, "\n# overridden by %s", o.Var)
		}
	}
	fmt.Fprintln(g.stderr, "\n# sensitive values are shown as \"(sensitive)\"")
	_, err = g.stdout.Write(masked)
	return err
}

// editableSettings is broker.hcl's text, for the commands that change
// it; a Python file read in place must be imported first.
func editableSettings(ss *app.SettingsSource) ([]byte, error) {
	if ss.Python {
		return nil, app.Hint(fmt.Errorf("the settings are the Python broker's %s, read in place; broker changes only %s", ss.Path, app.SettingsFile),
			"convert it first: broker config import "+ss.Path)
	}
	return ss.Src, nil
}

// saveSettings checks src as broker.hcl and writes it, keeping a backup.
func saveSettings(g *Globals, a *app.App, src []byte) error {
	path := filepath.Join(a.Dir, app.SettingsFile)
	if _, err := app.CheckSettings(a.Dir, path, src, g.lookupEnv); err != nil {
		fmt.Fprintf(g.stderr, "broker: the new settings are not valid; %s is unchanged\n", path)
		return printDiagnostics(g, err)
	}
	backed, err := app.WriteSettings(a.Dir, src)
	if err != nil {
		return err
	}
	if backed {
		fmt.Fprintf(g.stdout, "wrote %s (the previous version is in %s; broker config restore puts it back)\n", path, path+app.BackupSuffix)
	} else {
		fmt.Fprintf(g.stdout, "wrote %s\n", path)
	}
	return nil
}

// ConfigSetCmd sets one chunk.
type ConfigSetCmd struct {
	Chunk string `arg:"" help:"What to set: ssh.user, awx.testing.url, AnsibleTower.base_url, nicks.rhel9, docker.local, …"`
	Value string `arg:"" name:"value" help:"The value (number, true/false, [list] or text), or a YAML/JSON file with the chunk's new contents (a map for a block)."`
}

// Help is shown by `broker config set --help`.
func (c *ConfigSetCmd) Help() string {
	return `Examples:

  broker config set ssh.user root
  broker config set AnsibleTower.instances.testing.base_url https://awx.example.com
  broker config set logging.level debug
  broker config set nicks.rhel9 rhel9.yaml        # the nick's args
  broker config set Container.instances.local local.json

The rest of broker.hcl is kept as it is (comments too). The new file is
checked before it is written; the previous one is kept as broker.hcl.bak
(broker config restore). A secret is better read from the environment:
write token = env("AWX_TOKEN") with broker config edit.`
}

// Run sets.
func (c *ConfigSetCmd) Run(g *Globals, ctx *interruptContext) error {
	a, ss, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	src, err := editableSettings(ss)
	if err != nil {
		return err
	}
	var data any
	if st, err := os.Stat(c.Value); err == nil && !st.IsDir() {
		if data, err = app.ReadDataFile(c.Value); err != nil {
			return err
		}
	}
	out, chunk, err := app.SetChunk(src, filepath.Join(a.Dir, app.SettingsFile), c.Chunk, c.Value, data)
	if err != nil {
		return err
	}
	if chunk.Kind == "provider" && chunk.Attr != "" {
		if t, ok := providers.Lookup(chunk.Type); ok && t.IsSensitive(chunk.Attr) {
			if !strings.HasPrefix(strings.TrimSpace(c.Value), "env(") {
				g.note("%s is a secret: it is now in %s in clear; broker config set %s 'env(\"VARIABLE\")' reads it from the environment instead", chunk.Name, app.SettingsFile, chunk.Name)
			}
		}
	}
	if err := saveSettings(g, a, out); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "set %s\n", chunk.Name)
	return nil
}

// ConfigEditCmd edits the settings in an editor.
type ConfigEditCmd struct {
	Chunk string `arg:"" optional:"" help:"Part of the settings to edit (a block chunk: ssh, awx.testing, nicks.rhel9, …); default the whole file."`
}

// Run edits.
func (c *ConfigEditCmd) Run(g *Globals, ctx *interruptContext) error {
	a, ss, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	src, err := editableSettings(ss)
	if err != nil {
		return err
	}
	path := filepath.Join(a.Dir, app.SettingsFile)
	text := src
	if c.Chunk != "" {
		if text, err = app.ChunkText(src, path, c.Chunk); err != nil {
			return err
		}
	}
	editor := ""
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if e, ok := g.lookupEnv(v); ok && e != "" {
			editor = e
			break
		}
	}
	if editor == "" {
		return app.Hint(errors.New("no editor: neither VISUAL nor EDITOR is set"), "set EDITOR, or change one value with broker config set CHUNK VALUE")
	}
	tmp, err := os.CreateTemp(a.Dir, "broker-edit-*.hcl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "editor", tmp.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = g.stdin, g.stderr, g.stderr
	if in, ok := g.stdin.(*os.File); ok {
		cmd.Stdin = in
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("editor %q: %w; %s is unchanged", editor, err, path)
	}
	edited, err := os.ReadFile(tmp.Name())
	if err != nil {
		return err
	}
	if bytes.Equal(edited, text) {
		fmt.Fprintf(g.stdout, "no change; %s is unchanged\n", path)
		return nil
	}
	out := edited
	if c.Chunk != "" {
		out, err = app.ReplaceChunk(src, path, c.Chunk, edited)
	}
	if err == nil {
		err = saveSettings(g, a, out)
	}
	if err != nil {
		// Keep the user's work: the edited text is saved beside the
		// settings.
		rej := path + ".rejected"
		if werr := os.WriteFile(rej, edited, 0o600); werr == nil {
			fmt.Fprintf(g.stderr, "broker: your edited text is in %s\n", rej)
		}
		return printDiagnostics(g, err)
	}
	return nil
}

// ConfigRestoreCmd puts the backup back.
type ConfigRestoreCmd struct{}

// Run restores.
func (c *ConfigRestoreCmd) Run(g *Globals, ctx *interruptContext) error {
	dir, err := app.Directory(g.BrokerDirectory, g.lookupEnv)
	if err != nil {
		return err
	}
	from, err := app.RestoreSettings(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "restored %s from %s\n", filepath.Join(dir, app.SettingsFile), from)
	return nil
}

// ConfigNicksCmd lists the nicks.
type ConfigNicksCmd struct{}

// Run lists.
func (c *ConfigNicksCmd) Run(g *Globals, ctx *interruptContext) error {
	a, _, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	names := make([]string, 0, len(a.Settings.Nicks))
	for _, n := range a.Settings.Nicks {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(g.stdout, n)
	}
	return nil
}

// ConfigNickCmd shows one nick.
type ConfigNickCmd struct {
	Name     string `arg:"" help:"The nick."`
	NoSyntax bool   `name:"no-syntax" hidden:"" help:"Accepted for the Python broker's command line."`
}

// Run shows.
func (c *ConfigNickCmd) Run(g *Globals, ctx *interruptContext) error {
	v := ConfigViewCmd{Chunk: "nicks." + c.Name}
	return v.Run(g, ctx)
}

// ConfigValidateCmd checks the settings.
type ConfigValidateCmd struct {
	Chunk string `arg:"" optional:"" help:"What to check: base or all (everything, the default), ssh, logging, a provider type (awx, AnsibleTower, …) or TYPE:INSTANCE."`
}

// Run validates.
func (c *ConfigValidateCmd) Run(g *Globals, ctx *interruptContext) error {
	a, ss, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	path := ss.Path
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
	var only []*manifest.Provider
	switch ch := strings.ToLower(c.Chunk); ch {
	case "", "all", "base":
		only = a.Settings.Providers
	case "ssh", "logging", "inventory", "inventory_fields", "inventory_list_vars", "state", "nicks":
		// Decoded with the rest: the file loaded, so they are valid.
		fmt.Fprintf(g.stdout, "%s: %s is valid.\n", path, ch)
		return nil
	default:
		typ, inst, _ := strings.Cut(strings.Replace(c.Chunk, ".", ":", 1), ":")
		t, ok := providers.Lookup(typ)
		if !ok {
			return app.Hint(fmt.Errorf("no way to validate %q: it is not a settings block nor a provider", c.Chunk),
				"give all, base, ssh, logging, a provider type ("+strings.Join(providers.Names(), ", ")+") or TYPE:INSTANCE")
		}
		for _, p := range a.Settings.Providers {
			if p.Type == t.Name && (inst == "" || strings.EqualFold(p.Instance, inst)) {
				only = append(only, p)
			}
		}
		if len(only) == 0 {
			what := t.Name
			if inst != "" {
				what += " instance " + inst
			}
			return app.Hint(fmt.Errorf("%s: no settings for %s", path, what), "broker config view lists the provider instances")
		}
	}
	var w hcl.Diagnostics
	for _, p := range only {
		w = append(w, p.UnsetWarnings()...)
	}
	if len(w) > 0 {
		_ = manifest.WriteDiagnostics(g.stderr, w, a.Settings.Files, g.color(g.stderr), 100)
	}
	if c.Chunk != "" && !strings.EqualFold(c.Chunk, "all") && !strings.EqualFold(c.Chunk, "base") {
		var refs []string
		for _, p := range only {
			refs = append(refs, p.Ref())
		}
		fmt.Fprintf(g.stdout, "%s: %s valid.\n", path, strings.Join(refs, ", "))
		return nil
	}
	n := len(a.Settings.Providers)
	fmt.Fprintf(g.stdout, "%s is valid: %d provider instance(s), %d nick(s).\n", path, n, len(a.Settings.Nicks))
	return nil
}

// ConfigInitCmd writes a starter settings file.
type ConfigInitCmd struct {
	Chunk string `arg:"" optional:"" help:"Initialise only this part (Container, awx.testing, ssh, nicks.rhel9, …), replacing it in broker.hcl and keeping the rest."`
	From  string `name:"from" placeholder:"FILE" type:"existingfile" help:"Take the settings from FILE (a broker.hcl, or a Python broker_settings.yaml, converted) instead of the starter."`
	Force bool   `help:"Overwrite an existing settings file."`
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

// Run writes the starter file, or FILE's settings, or one chunk of either.
func (c *ConfigInitCmd) Run(g *Globals, ctx *interruptContext) error {
	src, name := []byte(starterSettings), "starter settings"
	if c.From != "" {
		b, err := os.ReadFile(c.From)
		if err != nil {
			return err
		}
		src, name = b, c.From
		if !strings.HasSuffix(c.From, ".hcl") {
			res, err := pyconfig.ConvertSettings(b)
			if err != nil {
				return fmt.Errorf("%s: %w", c.From, err)
			}
			src = res.HCL
			for _, n := range res.Notes {
				g.note("%s", n)
			}
			defer printEnvVars(g, res.EnvVars)
		}
	}
	if c.Chunk == "" {
		return writeSettings(g, ctx, src, c.Force)
	}
	text, err := app.ChunkText(src, name, c.Chunk)
	if err != nil {
		return err
	}
	a, ss, err := settingsApp(g, ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	cur, err := editableSettings(ss)
	if err != nil {
		return err
	}
	out, err := app.ReplaceChunk(cur, filepath.Join(a.Dir, app.SettingsFile), c.Chunk, text)
	if err != nil {
		return printDiagnostics(g, err)
	}
	return saveSettings(g, a, out)
}

func printEnvVars(g *Globals, vars []pyconfig.EnvVar) {
	if len(vars) == 0 {
		return
	}
	var lines []string
	for _, v := range vars {
		lines = append(lines, fmt.Sprintf("  export %s=…   # %s", v.Name, v.Holds))
	}
	g.note("secrets were not copied; set these variables before running broker:\n%s", strings.Join(lines, "\n"))
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
	printEnvVars(g, res.EnvVars)
	return nil
}
