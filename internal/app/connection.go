package app

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// A host's connection block is recorded with the host at apply, without
// its secrets, so that exec, ssh and cp reach the host the same way
// without the manifest. With the manifest (-f) its current block wins.

// noConnection is what resolveConnection gives for a host the manifest
// declares without a connection block: not nil, so that the manifest's
// "no block" wins over a block recorded earlier.
var noConnection = &manifest.Connection{}

// resolveConnection resolves blk's connection block for instance idx;
// noConnection when blk has none. Every caller holding the manifest goes
// through it, so that with a manifest its current block (or its absence)
// counts, never the recorded one.
func resolveConnection(cfg *manifest.Config, blk *manifest.Host, idx int, self manifest.HostValues, hosts map[string][]manifest.HostValues) (*manifest.Connection, error) {
	if blk.Connection == nil {
		return noConnection, nil
	}
	c, diags := cfg.ResolveConnection(blk, idx, self, hosts)
	if diags.HasErrors() {
		return nil, diagErr(diags)
	}
	return c, nil
}

// recordConnection is c as a record keeps it: file paths made absolute
// (they were read relative to the working directory of the apply), a
// bastion's password dropped, and the password replaced by where it comes
// from. nil for nil.
func recordConnection(c *manifest.Connection) *state.Connection {
	if c == nil || c == noConnection {
		return nil
	}
	sc := &state.Connection{
		User:           c.User,
		Port:           c.Port,
		PrivateKeyFile: absPath(c.PrivateKeyFile),
		KnownHostsFile: absPath(c.KnownHostsFile),
		Agent:          c.Agent,
		Bastion:        withoutPassword(c.Bastion),
		Timeout:        c.Timeout,
		Manifest:       c.DeclRange.Filename,
	}
	if c.Password != "" {
		sc.PasswordFrom = cmp.Or(c.PasswordSource(), "a literal")
	}
	return sc
}

// connectionOf turns a recorded connection back into the block SSHConfig
// applies (without a password: none is recorded).
func connectionOf(sc *state.Connection) *manifest.Connection {
	return &manifest.Connection{
		User:           sc.User,
		Port:           sc.Port,
		PrivateKeyFile: sc.PrivateKeyFile,
		KnownHostsFile: sc.KnownHostsFile,
		Agent:          sc.Agent,
		Bastion:        sc.Bastion,
		Timeout:        sc.Timeout,
	}
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	p = expandHome(p)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// withoutPassword drops ":password" from the user part of a bastion
// ("user:pw@jump:22" → "user@jump:22").
func withoutPassword(bastion string) string {
	i := strings.LastIndexByte(bastion, '@')
	if i < 0 {
		return bastion
	}
	user, _, _ := strings.Cut(bastion[:i], ":")
	return user + bastion[i:]
}

// passwordNeeded is the error of a host whose recorded connection
// authenticates with a password, reached without its manifest: it names
// where the password comes from and what to pass, in the message itself
// (exec shows one line per host, without hints).
func passwordNeeded(h *state.Host) error {
	sc := h.Connection
	file := sc.Manifest
	if file == "" {
		file = "the manifest"
	}
	from := "a password from " + sc.PasswordFrom
	hint := fmt.Sprintf("pass -f %s", file)
	switch {
	case sc.PasswordFrom == "a literal":
		from = "a password written in " + file
	case strings.HasPrefix(sc.PasswordFrom, "env("):
		hint += fmt.Sprintf(" with %s set", strings.Trim(strings.TrimPrefix(sc.PasswordFrom, "env("), `")`))
	default:
		var envs []string
		for _, v := range strings.Split(sc.PasswordFrom, ", ") {
			if name, ok := strings.CutPrefix(v, "var."); ok {
				envs = append(envs, "BROKER_VAR_"+name)
			}
		}
		hint += " with that variable set"
		if len(envs) > 0 {
			hint += " (" + strings.Join(envs, ", ") + " in the environment)"
		}
	}
	return fmt.Errorf("%s authenticates with %s, which broker does not record: %s", h.Label(), from, hint)
}

// refreshConnections brings the recorded connection of env's hosts up to
// date with cfg's connection blocks after an apply: hosts checked out
// before their block changed (or before broker recorded blocks) get the
// current one. Hosts whose block cannot be resolved keep theirs.
func (a *App) refreshConnections(ctx context.Context, cfg *manifest.Config, env string) {
	if cfg == nil {
		return
	}
	st, err := a.Store(ctx)
	if err != nil {
		return
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return
	}
	conns := a.connections(ctx, cfg, hosts)
	var changed []state.Host
	for i, h := range hosts {
		blk, _ := hostBlock(cfg, h.Address)
		if blk == nil || (blk.Connection != nil && conns[i] == nil) {
			continue // not the manifest's, or its block did not resolve
		}
		rc := recordConnection(conns[i])
		if reflect.DeepEqual(rc, h.Connection) {
			continue
		}
		h.Connection = rc
		h.Updated = a.Now()
		changed = append(changed, h)
	}
	if len(changed) == 0 {
		return
	}
	if err := st.Put(ctx, changed...); err != nil {
		a.Logger.Warn("record connection blocks", "error", err)
	}
}
