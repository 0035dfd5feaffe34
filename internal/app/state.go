package app

import (
	"time"

	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/etcd"
)

// The state operations look at and repair the state itself (`broker state
// …`); they never contact a provider. Confirmations stay with the caller:
// StateRm takes records already resolved (StateFind) and confirmed, and
// StateUnlock asks through a callback before it breaks a lock.

// StateListRequest says which environments to list.
type StateListRequest struct {
	// Environment lists only this environment, also when the state holds
	// nothing of it; "": every environment that holds records or intents.
	Environment string
}

// EnvironmentSummary is one environment of StateList.
type EnvironmentSummary struct {
	Environment    string
	Hosts, Intents int
	// Serial is the environment's write counter.
	Serial uint64
	// LockedBy is who holds the environment's lock, when someone does and
	// the backend can tell without taking it (state.LockHolder).
	LockedBy *state.LockInfo
}

// StateList counts each environment's records and intents, with its serial
// and lock holder.
func (a *App) StateList(ctx context.Context, req StateListRequest) ([]EnvironmentSummary, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	envs, err := st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	if req.Environment != "" {
		envs = []string{req.Environment}
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: req.Environment})
	if err != nil {
		return nil, err
	}
	intents, err := st.Intents(ctx, req.Environment)
	if err != nil {
		return nil, err
	}
	lh, _ := st.(state.LockHolder)
	out := []EnvironmentSummary{}
	for _, env := range envs {
		sum := EnvironmentSummary{Environment: env}
		for _, h := range hosts {
			if h.Environment == env {
				sum.Hosts++
			}
		}
		for _, in := range intents {
			if in.Environment == env {
				sum.Intents++
			}
		}
		if sum.Serial, err = st.Serial(ctx, env); err != nil {
			return nil, err
		}
		if lh != nil {
			info, held, err := lh.LockHolder(ctx, env)
			if err != nil {
				return nil, err
			}
			if held {
				sum.LockedBy = &info
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

// StateFindRequest names records by id or address.
type StateFindRequest struct {
	// Environment limits addresses to one environment, and is checked
	// against records named by id; "": every environment.
	Environment string
	// Targets are ids or addresses (host.web[0]).
	Targets []string
}

// StateFind resolves ids and addresses to records: each record once,
// grouped by environment (environments in name order, records in the order
// found). An address matches once per environment.
func (a *App) StateFind(ctx context.Context, req StateFindRequest) ([]state.Host, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	var out []state.Host
	seen := map[string]bool{}
	for _, target := range req.Targets {
		found, err := findRecords(ctx, st, req.Environment, target)
		if err != nil {
			return nil, err
		}
		for _, h := range found {
			if !seen[h.ID] {
				seen[h.ID] = true
				out = append(out, h)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y state.Host) int { return strings.Compare(x.Environment, y.Environment) })
	return out, nil
}

// findRecords resolves an id or an address.
func findRecords(ctx context.Context, st state.Store, env, target string) ([]state.Host, error) {
	h, err := st.Host(ctx, target)
	if err == nil {
		if env != "" && h.Environment != env {
			return nil, fmt.Errorf("record %s is in environment %q, not %q", target, h.Environment, env)
		}
		return []state.Host{h}, nil
	}
	if !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, err
	}
	var found []state.Host
	for _, h := range hosts {
		if h.Address == target {
			found = append(found, h)
		}
	}
	if len(found) == 0 {
		where := "the state"
		if env != "" {
			where = fmt.Sprintf("environment %q", env)
		}
		return nil, Hint(fmt.Errorf("no record with id or address %q in %s", target, where),
			"`broker inventory --details` lists ids and addresses")
	}
	return found, nil
}

func recordIDs(hs []state.Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// StateShowRequest names one record.
type StateShowRequest struct {
	// Environment narrows an address; see StateFindRequest.
	Environment string
	// Target is an id or an address.
	Target string
}

// StateRecord is a record as stored, with the intents that refer to it.
type StateRecord struct {
	Host    state.Host
	Intents []state.Intent
}

// StateShow returns one record; an address that matches in several
// environments is an error naming their ids.
func (a *App) StateShow(ctx context.Context, req StateShowRequest) (StateRecord, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return StateRecord{}, err
	}
	found, err := findRecords(ctx, st, req.Environment, req.Target)
	if err != nil {
		return StateRecord{}, err
	}
	if len(found) > 1 {
		return StateRecord{}, Hint(fmt.Errorf("%d records have address %s", len(found), req.Target),
			"pass --environment, or use the id: "+strings.Join(recordIDs(found), ", "))
	}
	rec := StateRecord{Host: found[0]}
	intents, err := st.Intents(ctx, rec.Host.Environment)
	if err != nil {
		return StateRecord{}, err
	}
	for _, in := range intents {
		if in.HostID == rec.Host.ID {
			rec.Intents = append(rec.Intents, in)
		}
	}
	return rec, nil
}

// StateRmRequest lists the records to forget, as StateFind returned them.
type StateRmRequest struct {
	Hosts []state.Host
	// LockTimeout bounds the wait for an environment's lock; 0 does not
	// wait. OnLockWait is told who holds it when the wait begins.
	LockTimeout time.Duration
	OnLockWait  func(holder state.LockInfo)
}

// StateRmResult says what StateRm did.
type StateRmResult struct {
	// Removed counts the records forgotten.
	Removed int
}

// StateRm forgets records without checking their hosts in: they stay with
// their provider. It takes each environment's lock in turn (environments in
// name order), so it never races an apply.
func (a *App) StateRm(ctx context.Context, req StateRmRequest) (StateRmResult, error) {
	var res StateRmResult
	st, err := a.Store(ctx)
	if err != nil {
		return res, err
	}
	byEnv := map[string][]string{}
	for _, h := range req.Hosts {
		byEnv[h.Environment] = append(byEnv[h.Environment], h.ID)
	}
	envs := make([]string, 0, len(byEnv))
	for env := range byEnv {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	for _, env := range envs {
		lock, err := st.Lock(ctx, env, a.LockInfo("state rm"), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
		if err != nil {
			return res, err
		}
		err = st.Delete(ctx, byEnv[env]...)
		_ = lock.Unlock()
		if err != nil {
			return res, err
		}
		res.Removed += len(byEnv[env])
	}
	return res, nil
}

// StateUnlockRequest names the lock to break.
type StateUnlockRequest struct {
	Environment string
	// Confirm is called with the holder before a held lock is broken; the
	// lock is broken only when it returns true, and its error is returned
	// as it is. nil: break without asking.
	Confirm func(holder state.LockInfo) (bool, error)
	// LockTimeout, on a backend whose locks end only with their process,
	// is how long to wait for the holder to end before reporting it;
	// OnLockWait is told who it is when the wait begins.
	LockTimeout time.Duration
	OnLockWait  func(holder state.LockInfo)
}

// StateUnlockResult says what StateUnlock found and did.
type StateUnlockResult struct {
	// Held says whether the lock was held, and Holder by whom.
	Held   bool
	Holder state.LockInfo
	// Broken is true when the lock was broken.
	Broken bool
}

// StateUnlock breaks an environment's lock on a backend whose locks can
// outlive their holder (state.ForceUnlocker). On other backends (bolt) a
// lock ends only with its process: a held lock is an error naming the
// process to stop, and a free one is reported free.
func (a *App) StateUnlock(ctx context.Context, req StateUnlockRequest) (StateUnlockResult, error) {
	var res StateUnlockResult
	st, err := a.Store(ctx)
	if err != nil {
		return res, err
	}
	env := req.Environment
	fu, ok := st.(state.ForceUnlocker)
	if !ok {
		// Find out by trying: a free lock is taken and given back at once.
		u, err := st.Lock(ctx, env, a.LockInfo("state unlock"), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
		var le *state.LockedError
		switch {
		case errors.As(err, &le):
			return res, Hint(fmt.Errorf("environment %q is locked by %s; this backend's locks end only with their process", env, le.Holder),
				fmt.Sprintf("stop that process (pid %d on %s) and the lock is free", le.Holder.PID, le.Holder.Machine))
		case err != nil:
			return res, err
		}
		return res, u.Unlock()
	}
	res.Holder, res.Held, err = fu.LockHolder(ctx, env)
	if err != nil || !res.Held {
		return res, err
	}
	if req.Confirm != nil {
		ok, err := req.Confirm(res.Holder)
		if err != nil || !ok {
			return res, err
		}
	}
	if _, _, err := fu.ForceUnlock(ctx, env); err != nil {
		return res, err
	}
	res.Broken = true
	return res, nil
}

// StateMigrateRequest says where to copy the state from and to. A backend
// is "bolt" (the broker directory's state.db), "bolt:PATH" (~ is the home
// directory) or "etcd" (the state block of the settings).
type StateMigrateRequest struct {
	From, To string
	// Force copies into a target that already holds records.
	Force bool
	// Pools names pools whose reservations to copy besides those the
	// source lists.
	Pools []string
}

// StateMigrateResult is what StateMigrate did.
type StateMigrateResult struct {
	// Source and Target name the two states (bolt:PATH, etcd:URLS/PREFIX).
	Source, Target string
	state.CopyResult
}

// StateMigrate copies the whole state from one backend to another with
// state.Copy; the source is not changed.
func (a *App) StateMigrate(ctx context.Context, req StateMigrateRequest) (StateMigrateResult, error) {
	var res StateMigrateResult
	if req.From == req.To {
		return res, fmt.Errorf("--from and --to are the same backend (%s)", req.From)
	}
	src, srcName, err := a.openBackend(ctx, req.From)
	if err != nil {
		return res, fmt.Errorf("open --from %s: %w", req.From, err)
	}
	defer src.Close()
	dst, dstName, err := a.openBackend(ctx, req.To)
	if err != nil {
		return res, fmt.Errorf("open --to %s: %w", req.To, err)
	}
	defer dst.Close()
	if srcName == dstName {
		return res, fmt.Errorf("--from and --to are the same state (%s)", srcName)
	}
	res.Source, res.Target = srcName, dstName
	res.CopyResult, err = state.Copy(ctx, dst, src, state.CopyOptions{Force: req.Force, Pools: req.Pools})
	var ne *state.NotEmptyError
	if errors.As(err, &ne) {
		ne.Target = dstName
		return res, Hint(ne, "check with `broker state list`; pass --force to copy over them")
	}
	return res, err
}

// openBackend opens "bolt", "bolt:PATH" or "etcd" (the settings' state
// block) and names what it opened.
func (a *App) openBackend(ctx context.Context, spec string) (state.Store, string, error) {
	kind, path, _ := strings.Cut(spec, ":")
	switch kind {
	case "bolt", "bbolt":
		if path == "" {
			path = filepath.Join(a.Dir, "state.db")
		}
		path = expandHome(path)
		st, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			return nil, "", err
		}
		return st, "bolt:" + path, nil
	case "etcd":
		if path != "" {
			return nil, "", Hint(errors.New("etcd takes no address here"),
				"put endpoints, prefix, tls and credentials in the state block of broker.hcl and write just --to etcd")
		}
		if s := a.Settings.State; s == nil || s.Backend != "etcd" {
			return nil, "", Hint(errors.New(`broker.hcl has no state block with backend = "etcd"`),
				`add state { backend = "etcd"  endpoints = ["https://etcd1:2379"]  prefix = "/broker/lab" } to broker.hcl`)
		}
		st, err := a.Store(ctx)
		if err != nil {
			return nil, "", err
		}
		e, ok := st.(*etcd.Store)
		if !ok {
			return nil, "", errors.New("the configured state is not etcd")
		}
		// The App owns this store and closes it; hand out a view whose
		// Close does nothing.
		return noClose{e}, "etcd:" + strings.Join(e.Endpoints(), ",") + e.Prefix(), nil
	}
	return nil, "", Hint(fmt.Errorf("unknown backend %q", spec), "use bolt, bolt:PATH or etcd")
}

type noClose struct{ *etcd.Store }

func (noClose) Close() error { return nil }
