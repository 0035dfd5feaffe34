package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// FindHosts resolves references to records: a record id (in any
// environment), or an address (host.web[1]) in env, or, when env is "", in
// whichever environment holds it. Every reference must name exactly one
// record.
func (a *App) FindHosts(ctx context.Context, env string, refs []string) ([]state.Host, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	all, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	var out []state.Host
	seen := map[string]bool{}
	for _, ref := range refs {
		var hits []state.Host
		block := isBlockRef(ref) // host.web: every instance of the block
		for _, h := range all {
			inEnv := env == "" || h.Environment == env
			if h.ID == ref || (h.Address == ref && inEnv) {
				hits = append(hits, h)
			}
		}
		if block && len(hits) == 0 {
			var envs []string
			for _, h := range all {
				if strings.HasPrefix(h.Address, ref+"[") && (env == "" || h.Environment == env) {
					hits = append(hits, h)
					if !slices.Contains(envs, h.Environment) {
						envs = append(envs, h.Environment)
					}
				}
			}
			if len(envs) > 1 {
				return nil, Hint(fmt.Errorf("%s names hosts in %d environments (%s)", ref, len(envs), strings.Join(envs, ", ")),
					"name the environment with --environment")
			}
			for _, h := range hits {
				if !seen[h.ID] {
					seen[h.ID] = true
					out = append(out, h)
				}
			}
			if len(hits) > 0 {
				continue
			}
		}
		switch {
		case len(hits) == 0:
			_, isAddr := planner.ParseInstance(ref)
			switch {
			case block && env != "":
				return nil, fmt.Errorf("environment %q holds no host of %s", env, ref)
			case block:
				return nil, fmt.Errorf("no environment holds a host of %s", ref)
			case isAddr && env != "":
				return nil, Hint(fmt.Errorf("no host %s in environment %q", ref, env),
					"give the host's id (broker inventory), or the environment that holds it with --environment")
			case isAddr:
				return nil, fmt.Errorf("no environment holds a host %s", ref)
			}
			return nil, fmt.Errorf("no host with id %q", ref)
		case len(hits) > 1:
			var envs []string
			for _, h := range hits {
				envs = append(envs, h.Environment)
			}
			return nil, Hint(fmt.Errorf("%s names %d hosts (environments %s)", ref, len(hits), strings.Join(envs, ", ")),
				"name the environment with --environment, or give the host's id")
		}
		if !seen[hits[0].ID] {
			seen[hits[0].ID] = true
			out = append(out, hits[0])
		}
	}
	return out, nil
}

// TaintRequest marks hosts for replacement, or (Untaint) takes the mark
// off.
type TaintRequest struct {
	Environment string
	// Refs are addresses in Environment or record ids.
	Refs    []string
	Untaint bool
	// LockTimeout is how long to wait for an environment's lock.
	LockTimeout time.Duration
	OnLockWait  func(state.LockInfo)
}

// Taint sets the status of the named hosts to tainted, with who did it
// as the reason, so the next plan replaces them; Untaint sets them back to
// ready. Each environment touched is locked while its records change. It
// returns the records as written.
func (a *App) Taint(ctx context.Context, req TaintRequest) ([]state.Host, error) {
	hosts, err := a.FindHosts(ctx, req.Environment, req.Refs)
	if err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	byEnv := map[string][]string{}
	for _, h := range hosts {
		byEnv[h.Environment] = append(byEnv[h.Environment], h.ID)
	}
	envs := make([]string, 0, len(byEnv))
	for e := range byEnv {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	op := "taint"
	if req.Untaint {
		op = "untaint"
	}
	var out []state.Host
	for _, env := range envs {
		written, err := a.taintEnv(ctx, st, env, byEnv[env], op, req)
		out = append(out, written...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (a *App) taintEnv(ctx context.Context, st state.Store, env string, ids []string, op string, req TaintRequest) ([]state.Host, error) {
	lock, err := st.Lock(ctx, env, a.LockInfo(op), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	now := a.opts.Now()
	var put []state.Host
	for _, id := range ids {
		h, err := st.Host(ctx, id)
		if errors.Is(err, state.ErrNotFound) {
			return nil, fmt.Errorf("host %s was checked in meanwhile", id)
		}
		if err != nil {
			return nil, err
		}
		name := h.Address
		if name == "" {
			name = h.ID
		}
		switch {
		case h.Status == state.StatusReleasing:
			return nil, fmt.Errorf("%s is being checked in", name)
		case req.Untaint && h.Status != state.StatusTainted:
			return nil, fmt.Errorf("%s is not tainted (it is %s)", name, h.Status)
		case req.Untaint:
			h.Status, h.Reason = state.StatusReady, ""
		default:
			h.Status = state.StatusTainted
			h.Reason = fmt.Sprintf("by %s at %s", a.who(), now.UTC().Format(time.RFC3339))
		}
		put = append(put, h)
	}
	if err := st.Put(ctx, put...); err != nil {
		return nil, err
	}
	return put, nil
}

// who is user@machine, or the CI job's URL.
func (a *App) who() string {
	o := a.origin
	switch {
	case o.CI != "":
		return o.CI
	case o.User != "" && o.Machine != "":
		return o.User + "@" + o.Machine
	case o.User != "":
		return o.User
	}
	return o.Machine
}
