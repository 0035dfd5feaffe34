package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// ExecuteRequest runs a provider action that makes no host (`broker
// execute`: an AWX job template, a container command).
type ExecuteRequest struct {
	Spec      CheckoutSpec
	Command   []string
	Artifacts string
	// Stdout and Stderr receive the action's own output; Progress its
	// progress lines. Any may be nil.
	Stdout, Stderr io.Writer
	Progress       func(msg string)
}

// ExecuteResult is the action's result and the instance that ran it.
type ExecuteResult struct {
	Provider, Instance string
	providers.ExecuteResponse
}

// Execute resolves the provider instance as a checkout would and runs the
// action.
func (a *App) Execute(ctx context.Context, req ExecuteRequest) (*ExecuteResult, error) {
	rc, err := a.ResolveCheckout(req.Spec)
	if err != nil {
		return nil, err
	}
	p, err := a.Provider(ctx, nil, rc.Provider, rc.Instance)
	if err != nil {
		return nil, err
	}
	ex, ok := p.(providers.Executor)
	if !ok {
		return nil, fmt.Errorf("provider %s cannot execute actions", rc.Provider)
	}
	a.Logger.Info("execute", "provider", rc.Provider+"."+rc.Instance, "args", slices.Sorted(maps.Keys(rc.Args)))
	stdout, stderr := req.Stdout, req.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	resp, err := ex.Execute(ctx, providers.ExecuteRequest{
		Args: rc.Args, Command: req.Command, Artifacts: req.Artifacts, Labels: rc.Labels,
		Stdout: stdout, Stderr: stderr, Progress: req.Progress,
	})
	if err != nil {
		return nil, fmt.Errorf("execute on %s.%s: %w", rc.Provider, rc.Instance, err)
	}
	return &ExecuteResult{Provider: rc.Provider, Instance: rc.Instance, ExecuteResponse: resp}, nil
}

// UnrecordedHost is a record for a host broker has no record of, at
// provider ("TYPE" or "TYPE.INSTANCE") under the provider's name or id,
// so that it can be checked in like any other (the Python broker's
// check-in of hosts not in its inventory). It is not written.
func (a *App) UnrecordedHost(provider, name, env string) (state.Host, error) {
	typ, inst, _ := strings.Cut(provider, ".")
	t, ok := providers.Lookup(typ)
	if !ok {
		return state.Host{}, Hint(fmt.Errorf("unknown provider %q", typ), "known providers: "+strings.Join(providers.Names(), ", "))
	}
	if inst == "" {
		var err error
		if inst, err = a.DefaultInstance(nil, t.Name); err != nil {
			return state.Host{}, err
		}
	}
	now := a.Now()
	return state.Host{
		ID: state.NewID(), Environment: orDefault(env), Provider: t.Name, Instance: inst,
		ProviderID: name, Name: name, Hostname: name, Status: state.StatusReady,
		Origin: a.Origin(), Created: now, Updated: now,
	}, nil
}
