package broker

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// Environment is a manifest applied by Apply: its environment's name and
// the hosts the apply left, in address order.
type Environment struct {
	// Name is the environment's name (InEnvironment, else the manifest's
	// environment attribute, else the Client's environment).
	Name string
	// Path is the manifest's path.
	Path string

	client *Client
	cfg    *manifest.Config

	mu    sync.Mutex
	hosts []*Host
}

// Apply makes the environment match the manifest at path (a file, or a
// directory of *.hcl), as `broker apply -f path --auto-approve` does:
// setup blocks, hooks and leases included. The manifest's providers and
// nicks come with the Client's settings.
//
// When the apply fails part way, Apply returns the Environment with the
// error, so that the caller can Destroy what was made; Cleanup destroys it
// too.
func (c *Client) Apply(ctx context.Context, path string, opts ...ApplyOption) (*Environment, error) {
	var ac applyConfig
	for _, o := range opts {
		o.applyApply(&ac)
	}
	if path == "" {
		return nil, fmt.Errorf("apply: no manifest path")
	}
	cfg, err := c.app.LoadManifest(app.ManifestInput{Path: path, Vars: ac.vars, VarFiles: ac.varFiles})
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, describe(err))
	}
	env := ac.env
	if env == "" {
		env = cfg.Environment
	}
	if env == "" {
		env = c.env
	}
	e := &Environment{Name: env, Path: path, client: c, cfg: cfg}
	c.mu.Lock()
	c.envs[env] = e
	c.mu.Unlock()
	ar, err := c.app.Apply(ctx, app.ApplyRequest{
		Config: cfg, PlanRequest: app.PlanRequest{Environment: env},
		LockTimeout: lockWait, Operation: "apply",
	})
	if err == nil && ar != nil && ar.Result != nil {
		err = ar.Result.Err()
	}
	if rerr := e.refresh(context.WithoutCancel(ctx)); err == nil {
		err = rerr
	}
	if err != nil {
		return e, fmt.Errorf("apply %s (environment %s): %w", path, env, describe(err))
	}
	return e, nil
}

// refresh reads the environment's hosts from the state.
func (e *Environment) refresh(ctx context.Context) error {
	st, err := e.client.app.Store(ctx)
	if err != nil {
		return err
	}
	recs, err := st.Hosts(ctx, state.Query{Environment: e.Name})
	if err != nil {
		return err
	}
	recs = slices.DeleteFunc(recs, func(r state.Host) bool { return r.Address == "" })
	slices.SortFunc(recs, func(a, b state.Host) int { return planner.CompareAddress(a.Address, b.Address) })
	hosts := make([]*Host, 0, len(recs))
	for _, r := range recs {
		hosts = append(hosts, e.client.newHost(r, e.cfg, nil))
	}
	e.mu.Lock()
	old := e.hosts
	e.hosts = hosts
	e.mu.Unlock()
	for _, h := range old {
		_ = h.Close()
	}
	return nil
}

// Hosts returns the environment's hosts that pass filter (the filter
// language of --filter: `labels.role == "client"`, `address ==
// "host.web[0]"`; "" passes all). A filter that does not compile panics,
// as regexp.MustCompile does: filters in tests are constants. Select
// returns the error instead.
func (e *Environment) Hosts(filterExpr string) []*Host {
	hs, err := e.Select(filterExpr)
	if err != nil {
		panic(fmt.Sprintf("broker: Environment.Hosts: %v", err))
	}
	return hs
}

// Select is Hosts with the filter's error returned.
func (e *Environment) Select(filterExpr string) ([]*Host, error) {
	e.mu.Lock()
	hosts := slices.Clone(e.hosts)
	e.mu.Unlock()
	if filterExpr == "" {
		return hosts, nil
	}
	f, _, err := filter.Parse(filterExpr)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", filterExpr, err)
	}
	recs := make([]state.Host, len(hosts))
	byID := make(map[string]*Host, len(hosts))
	for i, h := range hosts {
		recs[i] = h.Record()
		byID[h.ID] = h
	}
	sel, err := filter.Select(f, recs, e.client.app.Now())
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", filterExpr, err)
	}
	out := make([]*Host, len(sel))
	for i, r := range sel {
		out[i] = byID[r.ID]
	}
	return out, nil
}

// Host returns the host at address (host.web[0]), or nil.
func (e *Environment) Host(address string) *Host {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.hosts {
		if h.Address == address {
			return h
		}
	}
	return nil
}

// Destroy checks in every host of the environment (running the
// manifest's teardowns), as `broker destroy` does. Destroying twice is
// harmless.
func (e *Environment) Destroy(ctx context.Context) error { return e.client.Destroy(ctx, e) }

// Destroy checks in every host of env's environment, as `broker destroy -f
// MANIFEST` does.
func (c *Client) Destroy(ctx context.Context, env *Environment) error {
	env.mu.Lock()
	hosts := env.hosts
	env.mu.Unlock()
	for _, h := range hosts {
		_ = h.Close()
	}
	ar, err := c.app.Apply(ctx, app.ApplyRequest{
		Config: env.cfg, PlanRequest: app.PlanRequest{Environment: env.Name, Destroy: true},
		LockTimeout: lockWait, Operation: "destroy",
	})
	if err == nil && ar != nil && ar.Result != nil {
		err = ar.Result.Err()
	}
	if err != nil {
		return fmt.Errorf("destroy environment %s: %w", env.Name, describe(err))
	}
	env.mu.Lock()
	env.hosts = nil
	env.mu.Unlock()
	for _, h := range hosts {
		h.retire()
	}
	c.mu.Lock()
	if c.envs[env.Name] == env {
		delete(c.envs, env.Name)
	}
	c.mu.Unlock()
	return nil
}
