package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// PlanRequest asks for a plan of a manifest's environment.
type PlanRequest struct {
	Config      *manifest.Config
	Environment string
	// Targets and Excludes are filter expressions selecting changes.
	Targets, Excludes []string
	// Replace forces these addresses to be replaced.
	Replace []string
	// Refresh asks providers whether recorded hosts still exist.
	Refresh bool
	// Destroy plans to check in everything the environment holds.
	Destroy bool
}

// Plan compares the manifest with the state. It changes nothing.
func (a *App) Plan(ctx context.Context, req PlanRequest) (*planner.Plan, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	env := req.Environment
	serial, err := st.Serial(ctx, env)
	if err != nil {
		return nil, err
	}
	records, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, err
	}
	intents, err := st.Intents(ctx, env)
	if err != nil {
		return nil, err
	}
	values, err := a.recordedValues(ctx, env, state.KindAction)
	if err != nil {
		return nil, err
	}
	in := planner.Input{
		Values:      values,
		Environment: env,
		Config:      req.Config,
		Records:     records,
		Intents:     intents,
		Serial:      serial,
		Replace:     req.Replace,
		Now:         a.opts.Now(),
		Destroy:     req.Destroy,
	}
	if in.Targets, err = compileAll("--target", req.Targets); err != nil {
		return nil, err
	}
	if in.Excludes, err = compileAll("--exclude", req.Excludes); err != nil {
		return nil, err
	}
	if req.Refresh && !req.Destroy {
		in.Refresh = func(ctx context.Context, recs []state.Host) (map[string]providers.Presence, error) {
			return a.refresh(ctx, req.Config, recs)
		}
	}
	return planner.Make(ctx, in)
}

func compileAll(flag string, srcs []string) ([]*filter.Filter, error) {
	var out []*filter.Filter
	for _, s := range srcs {
		f, _, err := filter.Parse(addressFilter(s))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, s, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// addressFilter lets --target and --exclude take an address as Terraform
// users write it: host.web[2] and host.web["eu"] are one instance,
// host.web every instance of the block, action.NAME an action. Anything
// else is a filter expression.
func addressFilter(s string) string {
	t := strings.TrimSpace(s)
	if _, ok := planner.ParseActionAddress(t); ok {
		return fmt.Sprintf("address == %q", t)
	}
	if _, ok := planner.ParseInstance(t); ok {
		return fmt.Sprintf("address == %q", t)
	}
	if isBlockRef(t) {
		return fmt.Sprintf("address startsWith %q", t+"[")
	}
	return s
}

// refresh asks each provider instance that can tell whether its hosts
// still exist. A provider that fails to answer leaves its hosts unknown.
func (a *App) refresh(ctx context.Context, cfg *manifest.Config, recs []state.Host) (map[string]providers.Presence, error) {
	groups := map[[2]string][]providers.HostRef{}
	for _, r := range recs {
		k := [2]string{r.Provider, r.Instance}
		groups[k] = append(groups[k], HostRef(r))
	}
	out := map[string]providers.Presence{}
	for k, refs := range groups {
		p, err := a.Provider(ctx, cfg, k[0], k[1])
		if err != nil {
			a.Logger.Warn("refresh skipped", "provider", k[0]+"."+k[1], "err", err)
			continue
		}
		r, ok := p.(providers.Refresher)
		if !ok {
			continue
		}
		resp, err := r.Refresh(ctx, providers.RefreshRequest{Hosts: refs})
		if err != nil {
			a.Logger.Warn("refresh failed", "provider", k[0]+"."+k[1], "err", err)
			continue
		}
		for id, pr := range resp.Hosts {
			out[id] = pr
		}
	}
	return out, nil
}

// HostRef is what a provider is told about a recorded host.
func HostRef(h state.Host) providers.HostRef {
	return providers.HostRef{ID: h.ID, ProviderID: h.ProviderID, Name: h.Name, Hostname: h.Hostname, Recipe: h.Recipe, Facts: h.Facts, Labels: h.Labels}
}

// ErrLockLost stops an apply whose environment lock was lost.
var ErrLockLost = errors.New("the environment's lock was lost (the state backend could not be reached for longer than the lock's TTL); stopped, and what was in flight is left for the next apply to reconcile")

// ApplyRequest asks for an environment to be changed.
type ApplyRequest struct {
	Config *manifest.Config
	// Saved is a saved plan; nil: plan under the lock with PlanRequest.
	Saved *planner.Plan
	PlanRequest
	// Approve is called under the lock with the plan about to be applied;
	// false stops without changing anything. Nil approves.
	Approve     func(*planner.Plan) (bool, error)
	Observer    executor.Observer
	Stop        <-chan struct{}
	Parallelism int
	LockTimeout time.Duration
	OnLockWait  func(holder state.LockInfo)
	Operation   string // apply or destroy, for the lock's holder information
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	Plan     *planner.Plan
	Result   *executor.Result
	Approved bool
}

// Apply takes the environment's lock, checks a saved plan against the
// state serial (or plans afresh), asks for approval and applies.
func (a *App) Apply(ctx context.Context, req ApplyRequest) (*ApplyResult, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	env := req.Environment
	op := req.Operation
	if op == "" {
		op = "apply"
	}
	lock, err := st.Lock(ctx, env, a.LockInfo(op), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	// A lock that can be lost (etcd, when this runner loses the cluster
	// for longer than the lock's TTL) cancels the apply: in-flight calls
	// stop, their intents stay for the next run to reconcile, and nothing
	// more is started while another runner may hold the environment.
	if ln, ok := lock.(state.LossNotifier); ok {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-ln.Lost():
				cancel(ErrLockLost)
			case <-ctx.Done():
			}
		}()
	}

	out := &ApplyResult{Plan: req.Saved}
	if req.Saved != nil {
		serial, err := st.Serial(ctx, env)
		if err != nil {
			return nil, err
		}
		if err := planner.CheckSerial(req.Saved, serial); err != nil {
			return nil, err
		}
	} else {
		req.PlanRequest.Config = req.Config
		if out.Plan, err = a.Plan(ctx, req.PlanRequest); err != nil {
			return nil, err
		}
	}
	if !out.Plan.HasChanges() {
		if op == "apply" {
			a.refreshConnections(ctx, req.Config, env)
		}
		if !out.Plan.Destroy {
			if err := a.writeStateOnly(ctx, st, out.Plan); err != nil {
				return out, err
			}
			return out, a.saveOutputs(ctx, req.Config, env)
		}
		return out, a.forgetValues(ctx, env)
	}
	if req.Approve != nil {
		ok, err := req.Approve(out.Plan)
		if err != nil || !ok {
			return out, err
		}
	}
	out.Approved = true
	a.Logger.Info(op+" starts", "environment", env, "changes", len(out.Plan.Changes))
	out.Result, err = executor.Apply(ctx, out.Plan, a.executorOptions(req))
	if op == "apply" && context.Cause(ctx) == nil {
		a.refreshConnections(ctx, req.Config, env)
	}
	if out.Result != nil {
		a.Logger.Info(op+" ends", "environment", env, "summary", out.Result.Summary(), "interrupted", out.Result.Interrupted)
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrLockLost) && err == nil {
		err = cause
	}
	if err == nil && ctx.Err() == nil {
		switch {
		case out.Plan.Destroy && out.Result.Err() == nil:
			err = a.forgetValues(ctx, env)
		case !out.Plan.Destroy:
			if err = a.writeStateOnly(ctx, st, out.Plan); err == nil {
				err = a.saveOutputs(ctx, req.Config, env)
			}
		}
	}
	return out, err
}

// writeStateOnly writes the label and in-place argument updates of the
// plan's no-op changes into their records: nothing is made for them.
func (a *App) writeStateOnly(ctx context.Context, st state.Store, p *planner.Plan) error {
	var put []state.Host
	for _, c := range p.Changes {
		if c.Action != planner.NoOp || c.Before == nil || c.After == nil || !(c.UpdateLabels || c.UpdateRecipe) {
			continue
		}
		h := *c.Before
		if c.UpdateLabels {
			h.Labels = c.After.Labels
		}
		if c.UpdateRecipe {
			h.Recipe = c.After.Args
		}
		put = append(put, h)
	}
	if len(put) == 0 {
		return nil
	}
	return st.Put(ctx, put...)
}

func (a *App) executorOptions(req ApplyRequest) executor.Options {
	cfg := req.Config
	return executor.Options{
		Store: a.store,
		Provider: func(typ, instance string) (providers.Provider, error) {
			return a.Provider(context.Background(), cfg, typ, instance)
		},
		Parallelism: req.Parallelism,
		MaxConcurrency: func(typ, instance string) int {
			return a.MaxConcurrency(cfg, typ, instance)
		},
		Observer:      a.logEvents(req.Observer),
		Stop:          req.Stop,
		AfterCheckout: a.afterCheckout(cfg),
		Resolve:       a.resolveDesired(cfg),
		RunAction:     a.runAction(cfg),
		BeforeCheckin: a.beforeCheckin(cfg),
		Session:       a.Session,
		Origin:        a.origin,
		User:          a.origin.User,
		Now:           a.opts.Now,
	}
}
