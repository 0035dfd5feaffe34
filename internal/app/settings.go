package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/manifest"
)

// SettingsFile is the settings file's name inside the broker directory.
const SettingsFile = "broker.hcl"

// PythonSettingsFile is the Python broker's settings file, read in place
// (converted in memory) when the directory has no broker.hcl.
const PythonSettingsFile = "broker_settings.yaml"

// SettingsSource is the settings text as read, before the environment.
type SettingsSource struct {
	// Path is the file read: broker.hcl, or broker_settings.yaml read in
	// place; Name is the name diagnostics give (Path, or Path with
	// " (converted)").
	Path, Name string
	// Src is the HCL text (converted in memory from a Python file); nil
	// when there is no file.
	Src []byte
	// Python is set when Path is a Python broker_settings.yaml.
	Python bool
	// Notes say what the conversion of a Python file changed or left out.
	Notes []string
}

// ReadSettingsSource reads <dir>/broker.hcl; without one, a Python
// broker's <dir>/broker_settings.yaml converted in memory (its secrets
// kept as they are: nothing is written).
func ReadSettingsSource(dir string) (*SettingsSource, error) {
	path := filepath.Join(dir, SettingsFile)
	src, err := os.ReadFile(path)
	switch {
	case err == nil:
		return &SettingsSource{Path: path, Name: path, Src: src}, nil
	case !os.IsNotExist(err):
		return nil, fmt.Errorf("read settings: %w", err)
	}
	py := filepath.Join(dir, PythonSettingsFile)
	ysrc, err := os.ReadFile(py)
	switch {
	case os.IsNotExist(err):
		return &SettingsSource{Path: path, Name: path}, nil
	case err != nil:
		return nil, fmt.Errorf("read settings: %w", err)
	}
	res, err := pyconfig.ConvertSettingsWith(ysrc, pyconfig.Options{InlineSecrets: true})
	if err != nil {
		return nil, Hint(fmt.Errorf("%s: %w", py, err),
			fmt.Sprintf("fix it, or write %s yourself (broker config init)", SettingsFile))
	}
	notes := append([]string{fmt.Sprintf("no %s: reading the Python broker's %s in place (converted in memory); to convert it for good run: broker config import %s", SettingsFile, py, py)}, res.Notes...)
	return &SettingsSource{Path: py, Name: py + " (converted)", Src: res.HCL, Python: true, Notes: notes}, nil
}

func (a *App) loadSettings() error {
	cfg, src, notes, err := loadSettings(a.Dir, a.opts.LookupEnv)
	if err != nil {
		return err
	}
	a.Settings, a.SettingsSource = cfg, src
	for _, n := range notes {
		fmt.Fprintf(a.opts.Stderr, "broker: note: %s\n", n)
	}
	return nil
}

// LoadSettings reads <dir>/broker.hcl (or a Python broker_settings.yaml
// in its place, see ReadSettingsSource) with the BROKER_<BLOCK>__<KEY>
// environment overrides applied (see settings_env.go): the file, then the
// environment; command-line flags win over both where they exist. A
// missing file is empty settings.
func LoadSettings(dir string, lookupEnv func(string) (string, bool)) (*manifest.Config, error) {
	cfg, _, _, err := loadSettings(dir, lookupEnv)
	return cfg, err
}

// loadSettings is LoadSettings, also returning the source and the notes
// (conversion of a Python file, environment variables translated or
// ignored).
func loadSettings(dir string, lookupEnv func(string) (string, bool)) (*manifest.Config, *SettingsSource, []string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	ss, err := ReadSettingsSource(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	notes := ss.Notes
	ovs := SettingsOverrides(environ(lookupEnv, nil))
	if ss.Src == nil && len(ovs) == 0 {
		return &manifest.Config{}, ss, notes, nil
	}
	src, envNotes, err := ApplyOverrides(ss.Src, ss.Name, ovs)
	if err != nil {
		return nil, nil, nil, err
	}
	notes = append(notes, envNotes...)
	cfg, diags := manifest.LoadSources(map[string][]byte{ss.Name: src}, dir, manifest.Options{
		Mode:      manifest.ModeSettings,
		LookupEnv: lookupEnv,
		Schemas:   SchemaSource,
	})
	if diags.HasErrors() {
		return nil, nil, nil, &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	return cfg, ss, notes, CheckDefaults(cfg)
}

// CheckDefaults requires, of every provider type with several instances,
// exactly one marked default = true.
func CheckDefaults(cfg *manifest.Config) error {
	byType := map[string][]*manifest.Provider{}
	var types []string
	for _, p := range cfg.Providers {
		if byType[p.Type] == nil {
			types = append(types, p.Type)
		}
		byType[p.Type] = append(byType[p.Type], p)
	}
	for _, t := range types {
		ps := byType[t]
		var defaults, names []string
		for _, p := range ps {
			names = append(names, p.Instance)
			if p.Default {
				defaults = append(defaults, p.Instance)
			}
		}
		switch {
		case len(defaults) > 1:
			return Hint(fmt.Errorf("settings: provider %s has %d instances marked default = true (%s)", t, len(defaults), strings.Join(defaults, ", ")),
				"keep default = true on exactly one of them in "+SettingsFile)
		case len(ps) > 1 && len(defaults) == 0:
			return Hint(fmt.Errorf("settings: provider %s has several instances (%s) and none is the default", t, strings.Join(names, ", ")),
				fmt.Sprintf("add default = true to one of them in %s", SettingsFile))
		}
	}
	return nil
}

// openLog opens the log file; level silent logs nothing.
func openLog(dir string, opts Options) (*slog.Logger, io.Closer, error) {
	var level slog.Level
	switch opts.LogLevel {
	case "trace": // the Python broker's level below debug
		level = slog.LevelDebug - 4
	case "debug":
		level = slog.LevelDebug
	case "", "info":
		level = slog.LevelInfo
	case "warning", "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	case "silent":
		return slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil
	default:
		return nil, nil, fmt.Errorf("unknown log level %q (want trace, debug, info, warning, error or silent)", opts.LogLevel)
	}
	path := opts.LogFile
	if path == "" {
		path = filepath.Join(dir, "logs", "broker.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("pid", os.Getpid()), f, nil
}
