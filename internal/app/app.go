package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/redact"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/etcd"
)

// DefaultEnvironment is where imperative checkouts go, and manifests without
// an environment attribute.
const DefaultEnvironment = "default"

// Options configure an App.
type Options struct {
	// Directory is the broker directory; empty: $BROKER_DIRECTORY, then ~/.broker.
	Directory string
	// Environment overrides the manifest's environment.
	Environment string
	// LogLevel is debug, info, warning, error or silent; LogFile the log file
	// (default <Directory>/logs/broker.log).
	LogLevel, LogFile string
	// Command names the running command (recorded in locks and origins).
	Command string
	// Stderr receives warnings (settings problems); nil: discarded.
	Stderr io.Writer
	// LookupEnv reads the environment; nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Settings, if set, is used instead of reading <Directory>/broker.hcl.
	Settings *manifest.Config
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Prompt asks the user for a value (an SSH key's passphrase); secret
	// values are not echoed. It returns ErrNoPrompt when nobody can be
	// asked (no terminal). Nil: nobody is asked. App never reads stdin
	// itself: the command line passes a terminal prompt, the Go library
	// none.
	Prompt func(question string, secret bool) (string, error)
	// Secrets collects the sensitive values the App sees (settings,
	// manifests), for the caller to mask in what it renders; nil: the App
	// keeps its own (App.Secrets).
	Secrets *redact.Secrets
}

// ErrNoPrompt is returned by an Options.Prompt that cannot ask anyone.
var ErrNoPrompt = errors.New("no terminal to ask on")

// App is one process's view of broker: settings, state and providers.
type App struct {
	Dir      string
	Settings *manifest.Config
	// SettingsSource is where Settings came from (nil when handed in
	// through Options.Settings).
	SettingsSource *SettingsSource
	Logger         *slog.Logger
	opts           Options
	origin         state.Origin

	mu        sync.Mutex
	store     state.Store
	instances map[string]providers.Provider
	logClose  io.Closer
	warnings  hcl.Diagnostics
	pool      *remote.Pool

	insecureHostKeys bool
	keyMu            sync.Mutex
	hookFilters      map[*manifest.Hook]*filter.Filter
	passphrases      map[string][]byte // by key file, asked on the terminal
	secrets          *redact.Secrets
}

// New finds the broker directory, reads its settings and sets up logging.
func New(ctx context.Context, opts Options) (*App, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Environment != "" {
		if err := manifest.CheckEnvironmentName(opts.Environment); err != nil {
			return nil, err
		}
	}
	dir, err := Directory(opts.Directory, opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	a := &App{Dir: dir, opts: opts, instances: map[string]providers.Provider{}, secrets: opts.Secrets}
	if a.secrets == nil {
		a.secrets = redact.New()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create broker directory: %w", err)
	}
	a.origin = makeOrigin(opts)
	if opts.Settings != nil {
		a.Settings = opts.Settings
	} else if err := a.loadSettings(); err != nil {
		return nil, err
	}
	a.noteSecrets(a.Settings)
	// The log follows the settings' logging block unless a flag said
	// otherwise: flag > settings (with BROKER_LOGGING__* overrides) > info.
	if l := a.Settings.Logging; l != nil {
		if opts.LogLevel == "" {
			opts.LogLevel = l.Level
		}
		if opts.LogFile == "" {
			opts.LogFile = expandHome(l.File)
		}
	}
	a.Logger, a.logClose, err = openLog(dir, opts)
	if err != nil {
		return nil, err
	}
	a.Logger = slog.New(redact.Handler(a.Logger.Handler(), a.secrets))
	return a, nil
}

// Directory is the broker directory dir names: dir, else
// $BROKER_DIRECTORY, else ~/.broker; a leading ~ is the home directory,
// and the result is absolute. lookupEnv nil: os.LookupEnv. The one rule
// for the command line and the library.
func Directory(dir string, lookupEnv func(string) (string, bool)) (string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if dir == "" {
		if d, ok := lookupEnv("BROKER_DIRECTORY"); ok {
			dir = d
		}
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the broker directory: %w (set BROKER_DIRECTORY)", err)
		}
		return filepath.Join(home, ".broker"), nil
	}
	return filepath.Abs(expandHome(dir))
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

func makeOrigin(opts Options) state.Origin {
	o := state.Origin{Command: opts.Command}
	if u, err := user.Current(); err == nil {
		o.User = u.Username
	}
	if v, ok := opts.LookupEnv("USER"); ok && o.User == "" {
		o.User = v
	}
	o.Machine, _ = os.Hostname()
	for _, k := range []string{"BUILD_URL", "CI_JOB_URL", "GITHUB_SERVER_URL"} {
		if v, ok := opts.LookupEnv(k); ok && v != "" {
			o.CI = v
			if k == "GITHUB_SERVER_URL" {
				repo, _ := opts.LookupEnv("GITHUB_REPOSITORY")
				run, _ := opts.LookupEnv("GITHUB_RUN_ID")
				o.CI = v + "/" + repo + "/actions/runs/" + run
			}
			break
		}
	}
	return o
}

// Origin is who and where this process is.
func (a *App) Origin() state.Origin { return a.origin }

// Now is the app's clock.
func (a *App) Now() time.Time { return a.opts.Now() }

// LockInfo describes this process for a lock.
func (a *App) LockInfo(operation string) state.LockInfo {
	return state.LockInfo{PID: os.Getpid(), User: a.origin.User, Machine: a.origin.Machine, Operation: operation, Since: a.opts.Now()}
}

// Store opens the state backend on first use.
func (a *App) Store(ctx context.Context) (state.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store != nil {
		return a.store, nil
	}
	var path string
	if s := a.Settings.State; s != nil {
		switch s.Backend {
		case "", "bolt", "bbolt":
			path = s.Path
		case "etcd":
			cfg := etcd.Config{
				Endpoints: s.Endpoints, Prefix: s.Prefix, LockTTL: s.LockTTL,
				Username: s.Username, Password: s.Password, DialTimeout: s.DialTimeout,
			}
			if s.TLS != nil {
				cfg.CAFile, cfg.CertFile, cfg.KeyFile = expandHome(s.TLS.CA), expandHome(s.TLS.Cert), expandHome(s.TLS.Key)
			}
			if len(cfg.Endpoints) == 0 {
				return nil, Hint(errors.New("state backend \"etcd\" needs endpoints"),
					"add endpoints = [\"https://etcd1:2379\", …] to the state block of broker.hcl")
			}
			st, err := etcd.Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			a.store = st
			a.adoptPythonInventory(ctx, st)
			return st, nil
		default:
			return nil, fmt.Errorf("state backend %q is not available in this build", s.Backend)
		}
	}
	if path == "" {
		path = filepath.Join(a.Dir, "state.db")
	}
	st, err := bolt.Open(expandHome(path), bolt.Options{Holder: a.LockInfo(a.opts.Command)})
	if err != nil {
		return nil, err
	}
	a.store = st
	a.adoptPythonInventory(ctx, st)
	return st, nil
}

// Close closes providers that hold resources (temporary tokens), the state
// and the log file.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, p := range a.instances {
		if c, ok := p.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	a.instances = map[string]providers.Provider{}
	if a.pool != nil {
		errs = append(errs, a.pool.Close())
		a.pool = nil
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
		a.store = nil
	}
	if a.logClose != nil {
		errs = append(errs, a.logClose.Close())
		a.logClose = nil
	}
	return errors.Join(errs...)
}

// SchemaSource gives the manifest decoder the registered providers' schemas.
func SchemaSource(name string) (manifest.ProviderSchema, bool) {
	t, ok := providers.Lookup(name)
	if !ok {
		return manifest.ProviderSchema{}, false
	}
	return manifest.ProviderSchema{Type: t.Name, Settings: t.Settings, Args: t.Args, Sensitive: t.Sensitive, CheckArgs: t.CheckArgs, InPlace: t.InPlace}, true
}

// DiagnosticsError is returned when a manifest or settings file has errors;
// the caller prints Diags with the files' snippets.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
}

func (e *DiagnosticsError) Error() string {
	n := 0
	for _, d := range e.Diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	if n == 1 {
		return "the configuration has an error"
	}
	return fmt.Sprintf("the configuration has %d errors", n)
}
