package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// Hook events.
const (
	HookAfterCheckout = "after_checkout"
	HookAfterSetup    = "after_setup"
	HookBeforeCheckin = "before_checkin"
	HookOnFailure     = "on_failure"
)

// Values is what expressions can read of a host record.
func Values(h state.Host) manifest.HostValues { return planner.HostValues(h) }

// neighbours gives the values of the environment's hosts by block name,
// for expressions that refer to host.NAME[i].
func (a *App) neighbours(ctx context.Context, env string) (map[string][]manifest.HostValues, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, err
	}
	return planner.Neighbours(recs), nil
}

// neighboursFor reads the environment's hosts only where an expression
// may refer to them: the block's setup, teardown or connection refer to
// other hosts (DependsOn), or hooks run (their commands may refer to any
// host). Otherwise expressions see self alone, and an apply of many hosts
// does not read every record once per host.
func (a *App) neighboursFor(ctx context.Context, blk *manifest.Host, hooks bool, env string) (map[string][]manifest.HostValues, error) {
	if !hooks && (blk == nil || len(blk.DependsOn) == 0) {
		return map[string][]manifest.HostValues{}, nil
	}
	return a.neighbours(ctx, env)
}

// hostBlock finds the block of an address and the instance's place in
// it (for a for_each instance, its key's; for a key no longer in
// for_each, a block that still has it, each.value unknown).
func hostBlock(cfg *manifest.Config, addr string) (*manifest.Host, int) {
	in, ok := planner.ParseInstance(addr)
	if !ok || cfg == nil {
		return nil, 0
	}
	blk := cfg.HostBlock(in.Block)
	if blk == nil || blk.ForEach != in.Keyed {
		return nil, 0
	}
	if in.Keyed {
		return blk.WithKey(in.Key)
	}
	return blk, in.Index
}

// resolveDesired evaluates the args and labels a plan left unknown,
// now that the hosts they refer to are checked out.
func (a *App) resolveDesired(cfg *manifest.Config) func(ctx context.Context, env string, c planner.Change) (*planner.Desired, error) {
	return func(ctx context.Context, env string, c planner.Change) (*planner.Desired, error) {
		blk, idx := hostBlock(cfg, c.Address)
		if blk == nil {
			return nil, fmt.Errorf("%s is not in the manifest; its args cannot be resolved", c.Address)
		}
		hosts, err := a.neighbours(ctx, env)
		if err != nil {
			return nil, err
		}
		args, labels, unknown, diags := cfg.ResolveInstance(blk, idx, hosts)
		if diags.HasErrors() {
			return nil, diagErr(diags)
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("%s are still not known: a host they refer to is not checked out", strings.Join(unknown, ", "))
		}
		d := *c.After
		d.Args, d.Labels, d.Unknown = args, labels, nil
		return &d, nil
	}
}

// afterCheckout records a new host's connection block (without secrets),
// runs its setup, then its hooks.
func (a *App) afterCheckout(cfg *manifest.Config) func(ctx context.Context, h *state.Host, c planner.Change, emit func(executor.Event)) error {
	return func(ctx context.Context, h *state.Host, c planner.Change, emit func(executor.Event)) error {
		blk, idx := hostBlock(cfg, h.Address)
		if blk == nil {
			return nil
		}
		needHooks := a.hooksFor(cfg, HookAfterCheckout) || a.hooksFor(cfg, HookAfterSetup)
		if blk.Setup == nil && !needHooks && blk.Connection == nil {
			return nil
		}
		hosts, err := a.neighboursFor(ctx, blk, needHooks, h.Environment)
		if err != nil {
			return err
		}
		self := Values(*h)
		conn, err := resolveConnection(cfg, blk, idx, self, hosts)
		if err != nil {
			return err
		}
		h.Connection = recordConnection(conn)
		if blk.Setup == nil && !needHooks {
			return nil
		}
		if err := a.runHooks(ctx, cfg, HookAfterCheckout, *h, self, hosts, conn, emit); err != nil {
			return err
		}
		if blk.Setup != nil {
			rs, diags := cfg.ResolveSetup(blk, idx, self, hosts)
			if diags.HasErrors() {
				return diagErr(diags)
			}
			if err := a.runSetup(ctx, h, rs, conn, emit); err != nil {
				_ = a.runHooks(ctx, cfg, HookOnFailure, *h, self, hosts, conn, emit)
				if rs.OnFailure == "keep" {
					return executor.Keep(err)
				}
				return err
			}
		}
		return a.runHooks(ctx, cfg, HookAfterSetup, *h, self, hosts, conn, emit)
	}
}

// beforeCheckin runs hooks and the teardown of a host about to be checked in.
func (a *App) beforeCheckin(cfg *manifest.Config) func(ctx context.Context, h state.Host, emit func(executor.Event)) error {
	return func(ctx context.Context, h state.Host, emit func(executor.Event)) error {
		blk, idx := hostBlock(cfg, h.Address)
		needHooks := a.hooksFor(cfg, HookBeforeCheckin)
		if (blk == nil || blk.Teardown == nil) && !needHooks {
			return nil
		}
		hosts, err := a.neighboursFor(ctx, blk, needHooks, h.Environment)
		if err != nil {
			return err
		}
		self := Values(h)
		var conn *manifest.Connection
		if blk != nil {
			c, err := resolveConnection(cfg, blk, idx, self, hosts)
			if err != nil {
				return err
			}
			conn = c
		}
		var errs []error
		errs = append(errs, a.runHooks(ctx, cfg, HookBeforeCheckin, h, self, hosts, conn, emit))
		if blk != nil && blk.Teardown != nil {
			td, diags := cfg.ResolveTeardown(blk, idx, self, hosts)
			if diags.HasErrors() {
				errs = append(errs, diagErr(diags))
			} else {
				errs = append(errs, a.runCommands(ctx, h, td.Run, td.Timeout, conn, executor.PhaseTeardown, emit))
			}
		}
		return errors.Join(errs...)
	}
}

// keepHookFilter remembers a hook's compiled condition: conditions are
// compiled once, when the manifest is loaded, not once per host.
func (a *App) keepHookFilter(hk *manifest.Hook, f *filter.Filter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hookFilters == nil {
		a.hookFilters = map[*manifest.Hook]*filter.Filter{}
	}
	a.hookFilters[hk] = f
}

// hookFilter is the hook's compiled condition (compiled now if the
// manifest came from elsewhere than LoadManifest).
func (a *App) hookFilter(hk *manifest.Hook) (*filter.Filter, error) {
	a.mu.Lock()
	f, ok := a.hookFilters[hk]
	a.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := filter.Compile(hk.When)
	if err != nil {
		return nil, err
	}
	a.keepHookFilter(hk, f)
	return f, nil
}

// hooksFor reports whether any hook runs at event.
func (a *App) hooksFor(cfg *manifest.Config, event string) bool {
	if cfg == nil {
		return false
	}
	for _, hk := range cfg.Hooks {
		if contains(hk.On, event) {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// runHooks runs the hooks for event whose condition matches h: run on the
// host, local on this machine with BROKER_HOST_* set. A failure names the
// hook and where it is declared.
func (a *App) runHooks(ctx context.Context, cfg *manifest.Config, event string, h state.Host, self manifest.HostValues, hosts map[string][]manifest.HostValues, conn *manifest.Connection, emit func(executor.Event)) error {
	if cfg == nil {
		return nil
	}
	for _, hk := range cfg.Hooks {
		if !contains(hk.On, event) {
			continue
		}
		if hk.When != "" {
			f, err := a.hookFilter(hk)
			if err != nil {
				return hookError(hk, err)
			}
			ok, err := f.Match(h, 0, a.opts.Now())
			if err != nil {
				return hookError(hk, err)
			}
			if !ok {
				continue
			}
		}
		run, local, diags := cfg.ResolveHook(hk, self, hosts)
		if diags.HasErrors() {
			return hookError(hk, diagErr(diags))
		}
		// What the hook prints is labelled with its name.
		hemit := func(e executor.Event) {
			e.Hook = hk.Name
			emit(e)
		}
		hemit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseHooks, Message: "starts (" + event + ")"})
		if err := a.runCommands(ctx, h, run, 0, conn, executor.PhaseHooks, hemit); err != nil {
			return hookError(hk, err)
		}
		for _, cmd := range local {
			if err := a.runLocal(ctx, h, cmd, hemit); err != nil {
				return hookError(hk, err)
			}
		}
	}
	return nil
}

func hookError(hk *manifest.Hook, err error) error {
	return fmt.Errorf("hook %q (%s): %w", hk.Name, rangeString(hk.DeclRange), err)
}

func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// runLocal runs a hook's local command on this machine.
func (a *App) runLocal(ctx context.Context, h state.Host, command string, emit func(executor.Event)) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), HostEnv(h)...)
	// Each line as it comes, so a long local command shows its progress.
	out := &lineEmitter{phase: executor.PhaseHooks, emit: func(e executor.Event) {
		e.Message = "local: " + e.Message
		emit(e)
	}}
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	out.flush()
	if err != nil {
		return fmt.Errorf("local command %q: %w", command, err)
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// HostEnv is the BROKER_HOST_* environment describing h for local commands.
func HostEnv(h state.Host) []string {
	env := []string{
		"BROKER_HOST_ID=" + h.ID,
		"BROKER_HOST_ADDRESS=" + h.Address,
		"BROKER_HOST_NAME=" + h.Name,
		"BROKER_HOST_HOSTNAME=" + h.Hostname,
		"BROKER_HOST_IP=" + h.IP,
		"BROKER_HOST_CONNECT_HOST=" + h.ConnectAddress(),
		"BROKER_HOST_PORT=" + strconv.Itoa(h.Port),
		"BROKER_HOST_USER=" + h.User,
		"BROKER_HOST_PROVIDER=" + h.Provider + "." + h.Instance,
		"BROKER_HOST_ENVIRONMENT=" + h.Environment,
	}
	for k, v := range h.Labels {
		env = append(env, "BROKER_HOST_LABEL_"+envName(k)+"="+v)
	}
	return env
}

func envName(k string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, k)
}

func diagErr(diags hcl.Diagnostics) error {
	var errs []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = rangeString(*d.Subject) + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}
