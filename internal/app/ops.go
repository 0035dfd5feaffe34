package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// This file holds the imperative operations: Checkout, Checkin, Extend and
// Duplicate. The command line and the Go library are two faces of them;
// neither builds changes of its own.
//
// They hold their environment's lock in its shared form (see package
// state, "Locks"): each writes only its own intents and records, in short
// transactions, so many of them (parallel test workers) run side by side,
// while plan-and-apply, destroy and reap, which judge the whole
// environment, hold it exclusive and run alone.

// DefaultLockTimeout is how long a command waits for an environment's
// lock by default (--lock-timeout).
const DefaultLockTimeout = 5 * time.Minute

// RunOptions steer how an imperative operation runs its changes.
type RunOptions struct {
	// Observer receives the executor's events (progress); may be nil.
	Observer executor.Observer
	// Stop, when closed, stops scheduling (the first Ctrl-C).
	Stop <-chan struct{}
	// Parallelism bounds the changes run at once; 0: the default.
	Parallelism int
	// LockTimeout is how long to wait for the environment's lock (held
	// exclusive by an apply, destroy or reap); 0 does not wait.
	LockTimeout time.Duration
	// OnLockWait is told who holds the lock when the wait begins.
	OnLockWait func(holder state.LockInfo)
}

// RunResult is what one environment's run of an operation did.
type RunResult struct {
	Environment string
	// Changes are the changes run, in order; Result.Changes[i] is the
	// outcome of Changes[i] (for a run that was not interrupted).
	Changes []planner.Change
	Result  *executor.Result
}

// OpResult is what an imperative operation did, per environment.
type OpResult struct {
	Runs []RunResult
}

// Hosts lists the records the operation made or left (checked out,
// extended), in order.
func (r *OpResult) Hosts() []state.Host {
	out := []state.Host{}
	for _, run := range r.Runs {
		if run.Result == nil {
			continue
		}
		for _, c := range run.Result.Changes {
			if c.Host != nil && c.Outcome == executor.OutcomeDone {
				out = append(out, *c.Host)
			}
		}
	}
	return out
}

// Released lists the records of the hosts a check-in returned.
func (r *OpResult) Released() []state.Host {
	out := []state.Host{}
	for _, run := range r.Runs {
		if run.Result == nil {
			continue
		}
		for i, c := range run.Result.Changes {
			if c.Outcome == executor.OutcomeDone && i < len(run.Changes) && run.Changes[i].Before != nil {
				out = append(out, *run.Changes[i].Before)
			}
		}
	}
	return out
}

// Err joins the failures of every run, each naming its host and verb.
func (r *OpResult) Err(verb string) error {
	var errs []error
	total := 0
	for _, run := range r.Runs {
		if run.Result == nil {
			continue
		}
		total += len(run.Result.Changes)
		for _, c := range run.Result.Changes {
			if c.Outcome == executor.OutcomeFailed && c.Err != nil {
				name := c.HostID
				if c.Host != nil {
					name = c.Host.Label()
				}
				errs = append(errs, fmt.Errorf("%s %s: %w", verb, name, c.Err))
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%d of %d %ss failed: %w", len(errs), total, verb, errors.Join(errs...))
}

// CheckoutRequest is an imperative checkout.
type CheckoutRequest struct {
	Spec CheckoutSpec
	// Environment records the hosts; "": DefaultEnvironment.
	Environment string
	RunOptions
}

// Checkout resolves the spec's provider instance and nick and checks
// Spec.Count hosts out.
func (a *App) Checkout(ctx context.Context, req CheckoutRequest) (*OpResult, error) {
	rc, err := a.ResolveCheckout(req.Spec)
	if err != nil {
		return nil, err
	}
	reason := planner.Because(planner.ReasonCheckout, rc.Nick)
	return a.run(ctx, "checkout", req.RunOptions, orDefault(req.Environment), planner.CheckoutChanges(rc.desired(), rc.Count, reason))
}

// desired is what one host of the checkout asks for.
func (r *ResolvedCheckout) desired() planner.Desired {
	return planner.Desired{Provider: r.Provider, Instance: r.Instance, Nick: r.Nick,
		Args: maps.Clone(r.Args), Lease: r.Lease, Labels: maps.Clone(r.Labels)}
}

// DuplicateRequest checks out again what made each of Hosts.
type DuplicateRequest struct {
	Hosts []state.Host
	// Count copies of each; at least 1.
	Count int
	// Environment records the copies; "": DefaultEnvironment.
	Environment string
	RunOptions
}

// DuplicateResult adds to OpResult the hosts that could not be copied.
type DuplicateResult struct {
	OpResult
	// NoRecipe lists hosts whose records hold nothing to check out again.
	NoRecipe []state.Host
}

// Duplicate checks out copies of hosts from their recorded recipes.
func (a *App) Duplicate(ctx context.Context, req DuplicateRequest) (*DuplicateResult, error) {
	out := &DuplicateResult{}
	var changes []planner.Change
	for _, h := range req.Hosts {
		if len(h.Recipe) == 0 && h.Nick == "" {
			out.NoRecipe = append(out.NoRecipe, h)
			continue
		}
		d := planner.Desired{Provider: h.Provider, Instance: h.Instance, Nick: h.Nick,
			Args: h.Recipe, Labels: h.Labels, Lease: h.Lease.Duration}
		changes = append(changes, planner.CheckoutChanges(d, max(req.Count, 1), planner.Because(planner.ReasonDuplicate, h.Label()))...)
	}
	if len(changes) == 0 {
		return out, nil
	}
	r, err := a.run(ctx, "duplicate", req.RunOptions, orDefault(req.Environment), changes)
	if r != nil {
		out.OpResult = *r
	}
	return out, err
}

// CheckinRequest returns hosts to their providers.
type CheckinRequest struct {
	Hosts []state.Host
	RunOptions
}

// Checkin checks hosts in, each environment's under its lock, running
// their teardowns as apply does.
func (a *App) Checkin(ctx context.Context, req CheckinRequest) (*OpResult, error) {
	return a.perEnvironment(ctx, "checkin", req.RunOptions, req.Hosts, planner.CheckinChanges)
}

// ExtendRequest renews hosts' leases.
type ExtendRequest struct {
	Hosts []state.Host
	// Lease is the new lease from now; 0: each host's own, else
	// planner.DefaultExtension.
	Lease time.Duration
	RunOptions
}

// Extend renews leases, at the provider where it can, else in the state.
func (a *App) Extend(ctx context.Context, req ExtendRequest) (*OpResult, error) {
	return a.perEnvironment(ctx, "extend", req.RunOptions, req.Hosts, func(hs []state.Host) []planner.Change {
		return planner.ExtendChanges(hs, req.Lease)
	})
}

// perEnvironment runs the changes made for hosts, one environment at a
// time. It stops at the first run that could not start (a lock not had).
func (a *App) perEnvironment(ctx context.Context, op string, o RunOptions, hosts []state.Host, changes func([]state.Host) []planner.Change) (*OpResult, error) {
	out := &OpResult{}
	envs, groups := ByEnvironment(hosts)
	for _, env := range envs {
		r, err := a.run(ctx, op, o, env, changes(groups[env]))
		if r != nil {
			out.Runs = append(out.Runs, r.Runs...)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// run applies changes to env under the shared form of its lock with the
// executor, so that intents, resume and events are those of apply.
// Changes on recorded hosts (check-in, extend) are made from the records
// as they are once the lock is held: a host another run has checked in
// meanwhile is not touched again (its record would come back).
func (a *App) run(ctx context.Context, op string, o RunOptions, env string, changes []planner.Change) (*OpResult, error) {
	if err := manifest.CheckEnvironmentName(env); err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	lock, err := st.Lock(ctx, env, a.LockInfo(op), state.LockOptions{Timeout: o.LockTimeout, OnWait: o.OnLockWait, Shared: true})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if changes, err = current(ctx, st, changes); err != nil {
		return nil, err
	}
	serial, err := st.Serial(ctx, env)
	if err != nil {
		return nil, err
	}
	p := &planner.Plan{FormatVersion: planner.FormatVersion, Environment: env, StateSerial: serial, Created: a.Now(), Changes: changes}
	res, err := executor.Apply(ctx, p, a.executorOptions(ApplyRequest{Observer: o.Observer, Stop: o.Stop, Parallelism: o.Parallelism}))
	return &OpResult{Runs: []RunResult{{Environment: env, Changes: changes, Result: res}}}, err
}

// current refreshes the records changes start from, as they are now that
// the lock is held. An extend whose host is gone, or being checked in by
// another run, is dropped: writing the extended record would bring it
// back. A check-in whose record is gone stays (it may be the check-in of a
// host broker has no record of); the provider reports the host gone.
func current(ctx context.Context, st state.Store, changes []planner.Change) ([]planner.Change, error) {
	out := changes[:0:0]
	for _, c := range changes {
		if c.Before == nil {
			out = append(out, c)
			continue
		}
		h, err := st.Host(ctx, c.Before.ID)
		switch {
		case errors.Is(err, state.ErrNotFound):
			if c.Action != planner.Extend {
				out = append(out, c)
			}
			continue
		case err != nil:
			return nil, err
		}
		if c.Action == planner.Extend && h.Status == state.StatusReleasing {
			continue
		}
		c.Before = &h
		out = append(out, c)
	}
	return out, nil
}

func orDefault(env string) string {
	if env == "" {
		return DefaultEnvironment
	}
	return env
}
