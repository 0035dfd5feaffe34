package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// Reap defaults.
const (
	// DefaultIntentGrace is how old a leftover intent must be before reap
	// cleans it up: younger ones may belong to a run that is still
	// starting.
	DefaultIntentGrace = 10 * time.Minute
	// DefaultTeardownTimeout bounds an expired host's teardown.
	DefaultTeardownTimeout = 2 * time.Minute
)

// ReapRequest says what to look for and what to do.
type ReapRequest struct {
	// Config, if set, adds its provider declarations and teardowns.
	Config *manifest.Config
	// Environment limits the reap to one environment; "": every one.
	Environment string
	// DryRun only lists.
	DryRun bool
	// Orphans removes orphans (they are always listed).
	Orphans bool
	// Foreign removes foreign resources too: another state's (label
	// broker.state) and those without the label (made by a broker that
	// gave states no identity). They are always listed, apart.
	Foreign bool
	// AllUsers includes other users' resources among orphans.
	AllUsers bool
	// Labels, if set, limits orphans to resources carrying all of them.
	Labels map[string]string
	// IntentGrace: leftover intents younger than this are left alone; 0:
	// DefaultIntentGrace.
	IntentGrace time.Duration
	// TeardownTimeout bounds each expired host's teardown; 0: default.
	TeardownTimeout time.Duration
	Observer        executor.Observer
	Stop            <-chan struct{}
	Parallelism     int
	// LockTimeout bounds the wait for an environment's lock; 0 does not
	// wait. OnLockWait is told who holds it when the wait begins.
	LockTimeout time.Duration
	OnLockWait  func(holder state.LockInfo)
}

// Orphan is a resource carrying broker's labels that no record or intent
// of this state knows (planner.Orphans), and what became of it. A foreign
// one (Foreign()) belongs to another state, or to no known state.
type Orphan struct {
	planner.Orphan
	// Removed and Err tell what became of it (with ReapRequest.Orphans).
	Removed bool
	Err     error
}

// ReapResult is what a round found and did.
type ReapResult struct {
	// Expired are the expired records found; Intents the stale intents.
	Expired []state.Host
	Intents []state.Intent
	// Orphans are this state's orphans; Foreign the resources that no
	// record knows but that are another state's or of unknown state.
	Orphans []Orphan
	Foreign []Orphan
	// State is this state's identity ("" when the backend has none).
	State string
	// Locked are environments skipped because another broker holds them.
	Locked []string
	// Result is the executor's, one per environment reaped.
	Results []*executor.Result
	// Counts of what was done; Removed counts orphans and foreign
	// resources removed.
	Reaped, Removed, Cleaned, Failed int
	// Warnings are provider instances that could not be listed.
	Warnings []string
}

// Summary is the round's one line: "reaped 3 expired hosts, removed 2
// orphans, 0 failed".
func (r *ReapResult) Summary() string {
	parts := []string{
		fmt.Sprintf("reaped %s", plural(r.Reaped, "expired host")),
		fmt.Sprintf("removed %s", plural(r.Removed, "orphan")),
	}
	if r.Cleaned > 0 {
		parts = append(parts, fmt.Sprintf("cleaned up %s", plural(r.Cleaned, "interrupted run")))
	}
	parts = append(parts, fmt.Sprintf("%d failed", r.Failed))
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Reap checks in expired hosts and cleans up stale intents of every
// environment (each under its lock; an environment being applied is
// skipped), then lists orphans, and removes them with req.Orphans. With
// req.DryRun it only lists. The error is for what stops the round; single
// failures are counted in the result.
func (a *App) Reap(ctx context.Context, req ReapRequest) (*ReapResult, error) {
	if req.IntentGrace <= 0 {
		req.IntentGrace = DefaultIntentGrace
	}
	if req.TeardownTimeout <= 0 {
		req.TeardownTimeout = DefaultTeardownTimeout
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	envs := []string{req.Environment}
	if req.Environment == "" {
		if envs, err = st.Environments(ctx); err != nil {
			return nil, err
		}
	}
	res := &ReapResult{}
	for _, env := range envs {
		if stopped(req.Stop) {
			return res, nil
		}
		if err := a.reapEnv(ctx, st, env, req, res); err != nil {
			return res, err
		}
	}
	if stopped(req.Stop) {
		return res, nil
	}
	if err := a.reapOrphans(ctx, st, req, res); err != nil {
		return res, err
	}
	return res, nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// reapEnv handles one environment under its lock.
func (a *App) reapEnv(ctx context.Context, st state.Store, env string, req ReapRequest, res *ReapResult) error {
	lock, err := st.Lock(ctx, env, a.LockInfo("reap"), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
	var locked *state.LockedError
	if errors.As(err, &locked) {
		res.Locked = append(res.Locked, fmt.Sprintf("%s (%s)", env, locked.Holder))
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	recs, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return err
	}
	intents, err := st.Intents(ctx, env)
	if err != nil {
		return err
	}
	rp := planner.ReapPlan(planner.ReapInput{Environment: env, Records: recs, Intents: intents, Now: a.opts.Now(), IntentGrace: req.IntentGrace})
	res.Expired = append(res.Expired, rp.Expired...)
	res.Intents = append(res.Intents, rp.Stale...)
	p := rp.Plan
	if req.DryRun || len(p.Changes) == 0 {
		return nil
	}
	opts := a.executorOptions(ApplyRequest{Config: req.Config, Observer: req.Observer, Stop: req.Stop, Parallelism: req.Parallelism})
	teardown := opts.BeforeCheckin
	opts.BeforeCheckin = func(ctx context.Context, h state.Host, emit func(executor.Event)) error {
		ctx, cancel := context.WithTimeout(ctx, req.TeardownTimeout)
		defer cancel()
		return teardown(ctx, h, emit)
	}
	r, err := executor.Apply(ctx, p, opts)
	if err != nil {
		return err
	}
	res.Results = append(res.Results, r)
	for _, c := range r.Changes {
		switch {
		case c.Outcome == executor.OutcomeFailed:
			res.Failed++
		case c.Outcome != executor.OutcomeDone:
		case hasBefore(p, c):
			res.Reaped++
		default:
			res.Cleaned++
		}
	}
	return nil
}

// hasBefore reports whether the plan's change for c checked in a record
// (rather than cleaning up after an intent).
func hasBefore(p *planner.Plan, c executor.ChangeResult) bool {
	for _, pc := range p.Changes {
		if pc.Before != nil && pc.Before.ID == c.HostID {
			return true
		}
	}
	return false
}

// reapInstances lists every provider instance reap should ask: those declared
// in the manifest and the settings, and those the state's records and
// intents name.
func (a *App) reapInstances(ctx context.Context, st state.Store, cfg *manifest.Config) ([][2]string, error) {
	seen := map[[2]string]bool{}
	var out [][2]string
	add := func(typ, inst string) {
		k := [2]string{typ, inst}
		if typ != "" && inst != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, src := range []*manifest.Config{cfg, a.Settings} {
		if src == nil {
			continue
		}
		for _, p := range src.Providers {
			add(p.Type, p.Instance)
		}
	}
	recs, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		add(r.Provider, r.Instance)
	}
	intents, err := st.Intents(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, it := range intents {
		add(it.Provider, it.Instance)
	}
	slices.SortFunc(out, func(x, y [2]string) int { return strings.Compare(x[0]+"."+x[1], y[0]+"."+y[1]) })
	return out, nil
}

// reapOrphans lists, through every instance's Syncer, the resources
// carrying broker's labels that no record or intent knows, and removes
// them with req.Orphans. The provider is asked first and the state read
// after, so that a checkout finishing meanwhile is never taken for an
// orphan (its intent is written before the resource exists, and replaced
// by its record in one write).
func (a *App) reapOrphans(ctx context.Context, st state.Store, req ReapRequest, res *ReapResult) error {
	insts, err := a.reapInstances(ctx, st, req.Config)
	if err != nil {
		return err
	}
	if idr, ok := st.(state.Identifier); ok {
		if res.State, err = idr.Identity(ctx); err != nil {
			return err
		}
	}
	var listed []planner.Listed
	prs := map[[2]string]providers.Provider{}
	for _, k := range insts {
		pr, err := a.Provider(ctx, req.Config, k[0], k[1])
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s.%s: %v", k[0], k[1], err))
			continue
		}
		s, ok := pr.(providers.Syncer)
		if !ok {
			continue
		}
		resp, err := s.Sync(ctx, providers.SyncRequest{AllUsers: req.AllUsers, Labels: req.Labels})
		if errors.Is(err, providers.ErrNotSupported) {
			continue
		}
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s.%s: list resources: %v", k[0], k[1], err))
			continue
		}
		prs[k] = pr
		for _, h := range resp.Hosts {
			listed = append(listed, planner.Listed{Provider: k[0], Instance: k[1], Info: h})
		}
	}
	recs, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return err
	}
	intents, err := st.Intents(ctx, "")
	if err != nil {
		return err
	}
	var orphans, foreign []Orphan
	for _, o := range planner.Orphans(planner.OrphanInput{Listed: listed, Records: recs, Intents: intents,
		User: a.origin.User, AllUsers: req.AllUsers, Environment: req.Environment, State: res.State, Now: a.opts.Now()}) {
		if o.Foreign() {
			foreign = append(foreign, Orphan{Orphan: o})
		} else {
			orphans = append(orphans, Orphan{Orphan: o})
		}
	}
	count := func(os []Orphan) {
		for _, o := range os {
			if o.Removed {
				res.Removed++
			} else if o.Err != nil {
				res.Failed++
			}
		}
	}
	if req.Orphans && !req.DryRun {
		a.removeOrphans(ctx, orphans, prs, req)
		count(orphans)
	}
	if req.Foreign && !req.DryRun {
		a.removeOrphans(ctx, foreign, prs, req)
		count(foreign)
	}
	res.Orphans, res.Foreign = orphans, foreign
	return nil
}

// removeOrphans checks each orphan in through the provider instance that
// listed it, reporting as the executor does (action destroy, phase
// checkin, keyed by the broker.id the resource carries).
func (a *App) removeOrphans(ctx context.Context, orphans []Orphan, prs map[[2]string]providers.Provider, req ReapRequest) {
	par := req.Parallelism
	if par <= 0 {
		par = executor.DefaultParallelism
	}
	var mu sync.Mutex
	obs := a.logEvents(req.Observer)
	emit := func(e executor.Event) {
		if obs == nil {
			return
		}
		e.Time = a.opts.Now()
		e.Action = planner.Destroy
		mu.Lock()
		defer mu.Unlock()
		obs.Event(e)
	}
	g := new(errgroup.Group)
	g.SetLimit(par)
	for i := range orphans {
		if stopped(req.Stop) {
			break
		}
		o := &orphans[i]
		pr := prs[[2]string{o.Provider, o.Instance}]
		g.Go(func() error {
			id := o.ID()
			what := "orphan"
			if o.Foreign() {
				what = "foreign resource"
			}
			emit(executor.Event{Kind: executor.EventStart, HostID: id, Message: fmt.Sprintf("%s %s on %s.%s", what, o.Info.Name, o.Provider, o.Instance)})
			emit(executor.Event{Kind: executor.EventPhaseStart, HostID: id, Phase: executor.PhaseCheckin})
			start := time.Now()
			ref := providers.HostRef{ID: id, ProviderID: o.Info.ProviderID, Name: o.Info.Name, Hostname: o.Info.Hostname,
				Recipe: o.Info.Recipe, Facts: o.Info.Facts, Labels: o.Info.Labels}
			_, err := pr.Checkin(context.WithoutCancel(ctx), providers.CheckinRequest{Environment: o.Info.Labels[providers.LabelEnvironment], Host: ref})
			d := time.Since(start)
			done := executor.Event{Kind: executor.EventPhaseDone, HostID: id, Phase: executor.PhaseCheckin, Duration: d}
			end := executor.Event{Kind: executor.EventDone, HostID: id, Duration: d}
			if err != nil {
				o.Err = err
				done.Err = err.Error()
				end.Kind, end.Err = executor.EventFailed, "checkin: "+err.Error()
			} else {
				o.Removed = true
			}
			emit(done)
			emit(end)
			return nil
		})
	}
	_ = g.Wait()
}
