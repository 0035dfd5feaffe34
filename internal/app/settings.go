package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/labbroker/broker/manifest"
)

// SettingsFile is the settings file's name inside the broker directory.
const SettingsFile = "broker.hcl"

func (a *App) loadSettings() error {
	cfg, err := LoadSettings(a.Dir, a.opts.LookupEnv)
	if err != nil {
		return err
	}
	a.Settings = cfg
	return nil
}

// LoadSettings reads <dir>/broker.hcl with the BROKER_<BLOCK>__<KEY>
// environment overrides applied (see settings_env.go): the file, then the
// environment; command-line flags win over both where they exist. A
// missing file is empty settings.
func LoadSettings(dir string, lookupEnv func(string) (string, bool)) (*manifest.Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	path := filepath.Join(dir, SettingsFile)
	src, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		src = nil
	case err != nil:
		return nil, fmt.Errorf("read settings: %w", err)
	}
	ovs := SettingsOverrides(environ(lookupEnv, nil))
	if src == nil && len(ovs) == 0 {
		return &manifest.Config{}, nil
	}
	if src, err = ApplyOverrides(src, path, ovs); err != nil {
		return nil, err
	}
	cfg, diags := manifest.LoadSources(map[string][]byte{path: src}, dir, manifest.Options{
		Mode:      manifest.ModeSettings,
		LookupEnv: lookupEnv,
		Schemas:   SchemaSource,
	})
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	return cfg, CheckDefaults(cfg)
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
		return nil, nil, fmt.Errorf("unknown log level %q (want debug, info, warning, error or silent)", opts.LogLevel)
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
