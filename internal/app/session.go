package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// SessionOptions override how a host is reached.
type SessionOptions struct {
	// Connection is the manifest's connection block for the host, resolved.
	Connection *manifest.Connection
	// InsecureIgnoreHostKey accepts any host key (unsafe).
	InsecureIgnoreHostKey bool
}

// Session opens a remote session to h through its transport: the
// provider's docker exec, or SSH (pooled: one connection per host per
// process, reused by setup, hooks and exec). A host key seen for the first
// time is pinned into h (the caller records h).
func (a *App) Session(ctx context.Context, h *state.Host) (remote.Session, error) {
	return a.SessionWith(ctx, h, SessionOptions{InsecureIgnoreHostKey: a.insecureHostKeys})
}

// SetInsecureHostKeys makes every SSH session accept any host key.
func (a *App) SetInsecureHostKeys(v bool) { a.insecureHostKeys = v }

// SessionWith is Session with overrides.
func (a *App) SessionWith(ctx context.Context, h *state.Host, o SessionOptions) (remote.Session, error) {
	switch h.Transport {
	case state.TransportDockerExec:
		p, err := a.Provider(ctx, nil, h.Provider, h.Instance)
		if err != nil {
			return nil, err
		}
		so, ok := p.(providers.SessionOpener)
		if !ok {
			return nil, fmt.Errorf("host %s: provider %s cannot open docker-exec sessions", h.Label(), h.Provider)
		}
		return so.OpenSession(ctx, HostRef(*h))
	case state.TransportSSH:
		cfg, err := a.SSHConfig(h, o)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.pool == nil {
			a.pool = remote.NewPool()
		}
		pool := a.pool
		a.mu.Unlock()
		sess, err := pool.Get(ctx, h.ID+"@"+cfg.Addr, cfg)
		if err != nil {
			return nil, sshHint(err, h, cfg)
		}
		return sess, nil
	case state.TransportNone, "":
		return nil, fmt.Errorf("host %s (%s) cannot be reached: its provider gives it no transport", h.Label(), h.Provider)
	}
	return nil, fmt.Errorf("host %s: unknown transport %q", h.Label(), h.Transport)
}

// SSHConfig builds the SSH settings for h: the settings' ssh block, then
// the host record, then the manifest's connection block (o.Connection),
// else the one recorded with the host at apply. A recorded block whose
// password is needed is an error saying what to pass.
func (a *App) SSHConfig(h *state.Host, o SessionOptions) (remote.SSHConfig, error) {
	s := a.Settings.SSH
	if s == nil {
		s = &manifest.SSHSettings{}
	}
	c := o.Connection
	if c == nil && h.Connection != nil {
		if h.Connection.PasswordFrom != "" {
			return remote.SSHConfig{}, passwordNeeded(h)
		}
		c = connectionOf(h.Connection)
	}
	host := h.ConnectAddress()
	port := h.Port
	if port == 0 {
		port = s.Port
	}
	if port == 0 {
		port = 22
	}
	user := h.User
	if user == "" {
		user = s.User
	}
	if user == "" {
		user = "root"
	}
	cfg := remote.SSHConfig{
		User:           user,
		ConnectTimeout: s.ConnectTimeout,
		Keepalive:      s.Keepalive,
		ConnectRetries: 3,
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = 30 * time.Second
	}
	key, err := a.SSHKeyFile()
	if err != nil {
		return cfg, err
	}
	cfg.Auth.PrivateKeyFiles = []string{key}
	cfg.Auth.Passphrase = a.passphrase
	if s.Agent != nil {
		cfg.Auth.Agent = *s.Agent
	}
	known := []string{expandHome("~/.ssh/known_hosts")}
	if s.KnownHostsFile != "" {
		known = []string{expandHome(s.KnownHostsFile)}
	}
	if c != nil && c.KnownHostsFile != "" {
		known = []string{expandHome(c.KnownHostsFile)}
	}
	cfg.HostKey = remote.HostKeyPolicy{
		KnownHostsFiles: known,
		Pinned:          h.HostKey,
		InsecureIgnore:  o.InsecureIgnoreHostKey,
		OnFirstUse: func(k string) error {
			h.HostKey = k // trust on first use: the caller records h
			return nil
		},
	}
	bastion := s.Bastion
	if c != nil {
		if c.User != "" {
			cfg.User = c.User
		}
		if c.Port != 0 {
			port = c.Port
		}
		if c.Password != "" {
			cfg.Auth.Password = c.Password
		}
		if c.PrivateKeyFile != "" {
			cfg.Auth.PrivateKeyFiles = []string{expandHome(c.PrivateKeyFile)}
		}
		if c.Agent != nil {
			cfg.Auth.Agent = *c.Agent
		}
		if c.Timeout != 0 {
			cfg.ConnectTimeout = c.Timeout
		}
		if c.Bastion != "" {
			bastion = c.Bastion
		}
	}
	cfg.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	if bastion != "" {
		b, err := parseBastion(bastion)
		if err != nil {
			return cfg, err
		}
		b.Auth = cfg.Auth
		b.Auth.Password = ""
		b.HostKey = remote.HostKeyPolicy{KnownHostsFiles: known, InsecureIgnore: o.InsecureIgnoreHostKey}
		b.ConnectTimeout = cfg.ConnectTimeout
		cfg.Bastion = &b
	}
	return cfg, nil
}

// sshHint adds what to do about an SSH refusal that waiting does not
// heal: a changed host key or a refused login.
func sshHint(err error, h *state.Host, cfg remote.SSHConfig) error {
	var hke *remote.HostKeyError
	var ce *remote.ConnectError
	switch {
	case errors.As(err, &hke) && hke.Source == "pinned key":
		ref := h.ID
		if h.Address != "" {
			ref = h.Address
		}
		return Hint(err, fmt.Sprintf("broker pinned %s's key when it first reached it (`broker state show %s` shows it as host_key); "+
			"if the host was rebuilt on purpose, replace it (`broker apply -f MANIFEST --replace ADDRESS`, or check it in and out again); "+
			"--insecure-ignore-host-key skips the check for a throwaway host", h.Label(), ref))
	case errors.As(err, &ce) && ce.Stage == remote.StageAuth:
		keys := make([]string, 0, len(cfg.Auth.PrivateKeyFiles))
		for _, k := range cfg.Auth.PrivateKeyFiles {
			keys = append(keys, filepath.Base(k))
		}
		return Hint(err, fmt.Sprintf("%s refused user %q with key %s: check user and private_key_file in the host's connection block or in the ssh block of %s",
			cfg.Addr, cfg.User, strings.Join(keys, ", "), SettingsFile))
	}
	return err
}

// parseBastion reads "user@host:port".
func parseBastion(s string) (remote.SSHConfig, error) {
	var cfg remote.SSHConfig
	user, hostport := "", s
	if i := lastIndex(s, '@'); i >= 0 {
		user, hostport = s[:i], s[i+1:]
	}
	if hostport == "" {
		return cfg, fmt.Errorf("bastion %q: want user@host:port", s)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "22")
	}
	cfg.User, cfg.Addr = user, hostport
	return cfg, nil
}

func lastIndex(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// passphrase reads an encrypted key's passphrase from the environment
// variable the ssh settings name (passphrase_env), else BROKER_SSH_PASSPHRASE,
// else asks through Options.Prompt. It is kept in memory only.
func (a *App) passphrase(file string) ([]byte, error) {
	names := []string{"BROKER_SSH_PASSPHRASE"}
	if s := a.Settings.SSH; s != nil && s.PassphraseEnv != "" {
		names = append([]string{s.PassphraseEnv}, names...)
	}
	for _, n := range names {
		if v, ok := a.opts.LookupEnv(n); ok {
			a.secrets.Add(v)
			return []byte(v), nil
		}
	}
	// Ask the caller (the command line asks on its terminal), once per
	// key file and App.
	if a.opts.Prompt != nil {
		a.keyMu.Lock()
		defer a.keyMu.Unlock()
		if p, ok := a.passphrases[file]; ok {
			return p, nil
		}
		p, err := a.opts.Prompt("passphrase for "+file+": ", true)
		if err != nil && !errors.Is(err, ErrNoPrompt) {
			return nil, fmt.Errorf("read the passphrase of %s: %w", file, err)
		}
		if err == nil {
			if a.passphrases == nil {
				a.passphrases = map[string][]byte{}
			}
			a.passphrases[file] = []byte(p)
			a.secrets.Add(p)
			return []byte(p), nil
		}
	}
	return nil, Hint(fmt.Errorf("ssh key %s is encrypted and no passphrase is set", filepath.Base(file)),
		"set BROKER_SSH_PASSPHRASE, or name a variable with ssh { passphrase_env = \"…\" } in broker.hcl")
}
