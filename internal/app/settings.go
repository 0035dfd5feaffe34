package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/labbroker/broker/manifest"
)

// SettingsFile is the settings file's name inside the broker directory.
const SettingsFile = "broker.hcl"

func (a *App) loadSettings() error {
	path := filepath.Join(a.Dir, SettingsFile)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		a.Settings = &manifest.Config{}
		return nil
	}
	cfg, diags := manifest.Load(path, manifest.Options{
		Mode:      manifest.ModeSettings,
		LookupEnv: a.opts.LookupEnv,
		Schemas:   SchemaSource,
	})
	if diags.HasErrors() {
		return &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	a.Settings = cfg
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
