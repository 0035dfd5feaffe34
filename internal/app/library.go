package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// This file holds what the Go library (the module root) needs beyond the
// command line's workflows.

// ParseSettings decodes settings given as HCL text (the library's
// Options.Settings) as the settings file would be, with the registered
// providers' schemas; name is the file name diagnostics cite and dir the
// directory relative paths resolve against. The BROKER_<BLOCK>__<KEY>
// environment overrides are not applied: settings handed in by a program
// mean exactly what they say.
func ParseSettings(src []byte, name, dir string, lookupEnv func(string) (string, bool)) (*manifest.Config, error) {
	if name == "" {
		name = SettingsFile
	}
	if !filepath.IsAbs(name) && dir != "" {
		name = filepath.Join(dir, name)
	}
	cfg, diags := manifest.LoadSources(map[string][]byte{name: src}, dir, manifest.Options{
		Mode:      manifest.ModeSettings,
		LookupEnv: lookupEnv,
		Schemas:   SchemaSource,
	})
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	return cfg, CheckDefaults(cfg)
}

// OpenSession opens a session to h that belongs to the caller: unlike
// Session, an SSH connection is not pooled, and the session's Close ends
// it. A library host holds one for its life, so checking the host in
// frees the connection rather than leaving it in a pool until the process
// ends. A host key seen for the first time is pinned into h.
//
// cfg, if set, is the manifest h was applied from: its connection block
// for h's address (user, port, key, bastion) is honoured, as setup does.
func (a *App) OpenSession(ctx context.Context, cfg *manifest.Config, h *state.Host) (remote.Session, error) {
	o := SessionOptions{InsecureIgnoreHostKey: a.insecureHostKeys}
	if blk, idx := hostBlock(cfg, h.Address); blk != nil {
		hosts, err := a.neighbours(ctx, h.Environment)
		if err != nil {
			return nil, err
		}
		conn, err := resolveConnection(cfg, blk, idx, Values(*h), hosts)
		if err != nil {
			return nil, err
		}
		o.Connection = conn
	}
	if h.Transport != state.TransportSSH {
		return a.SessionWith(ctx, h, o)
	}
	sc, err := a.SSHConfig(h, o)
	if err != nil {
		return nil, err
	}
	return remote.DialSSH(ctx, sc)
}

// RecordHostKey writes the host key pinned into h to its record, under
// the shared form of the environment's lock (it changes one record, as an
// imperative operation does), if the record still exists (a host checked
// in meanwhile is not brought back).
func (a *App) RecordHostKey(ctx context.Context, h state.Host, lockTimeout time.Duration) error {
	if h.HostKey == "" {
		return nil
	}
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	lock, err := st.Lock(ctx, h.Environment, a.LockInfo("pin host key"), state.LockOptions{Timeout: lockTimeout, Shared: true})
	if err != nil {
		return err
	}
	defer lock.Unlock()
	rec, err := st.Host(ctx, h.ID)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.HostKey == h.HostKey {
		return nil
	}
	if rec.HostKey != "" {
		return fmt.Errorf("host %s: the record pins another host key", rec.Label())
	}
	rec.HostKey = h.HostKey
	return st.Put(ctx, rec)
}

// LibraryApp returns the App of a Go library Client (the module root sets
// it), so that `broker rpc`, which serves the library's hosts and
// sessions, reaches the operations the library does not expose (provider
// actions, the secrets to mask) through the same App. Nil until the
// module root is linked in.
var LibraryApp func(client any) *App
