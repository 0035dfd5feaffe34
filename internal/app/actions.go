package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// errNoValues says the state backend cannot keep outputs and results.
var errNoValues = errors.New("the state backend cannot keep outputs and action results")

// valueStore is the state's ValueStore.
func (a *App) valueStore(ctx context.Context) (state.ValueStore, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	vs, ok := st.(state.ValueStore)
	if !ok {
		return nil, errNoValues
	}
	return vs, nil
}

// recordedValues are env's values of kind; none when the backend keeps
// no values.
func (a *App) recordedValues(ctx context.Context, env, kind string) ([]state.Value, error) {
	vs, err := a.valueStore(ctx)
	if errors.Is(err, errNoValues) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return vs.Values(ctx, env, kind)
}

// actionResults are env's recorded action results by name, as
// expressions read them.
func (a *App) actionResults(ctx context.Context, env string) (map[string]manifest.ActionValues, error) {
	vals, err := a.recordedValues(ctx, env, state.KindAction)
	if err != nil {
		return nil, err
	}
	out := map[string]manifest.ActionValues{}
	for _, v := range vals {
		if v.Status == "done" {
			out[v.Name] = planner.ActionValuesOf(v)
		}
	}
	return out, nil
}

// runAction is the executor's RunAction: it resolves what the plan left
// unknown, runs the step (attempts, delay, timeout) and records the
// result. A when that turns out false skips the action.
func (a *App) runAction(cfg *manifest.Config) func(ctx context.Context, env string, c planner.Change, emit func(executor.Event)) error {
	return func(ctx context.Context, env string, c planner.Change, emit func(executor.Event)) error {
		note := func(msg string) {
			emit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseAction, Message: msg})
		}
		blk := cfg.Action(c.Act.Name)
		if blk == nil {
			return fmt.Errorf("the manifest has no action %q", c.Act.Name)
		}
		step := c.Act.Step
		if len(c.Act.Unknown) > 0 {
			hosts, err := a.neighbours(ctx, env)
			if err != nil {
				return err
			}
			actions, err := a.actionResults(ctx, env)
			if err != nil {
				return err
			}
			s, run, unknown, diags := cfg.ResolveAction(blk, c.Act.OnDestroy, hosts, actions)
			if diags.HasErrors() {
				return diagErr(diags)
			}
			if !run {
				return executor.ErrWhenFalse
			}
			if len(unknown) > 0 {
				return fmt.Errorf("%s still not known: a host or action it refers to is not ready", strings.Join(unknown, ", "))
			}
			step = s
		}
		var (
			result any
			status int
			err    error
		)
		for attempt := 1; attempt <= blk.Attempts; attempt++ {
			if attempt > 1 {
				note(fmt.Sprintf("attempt %d of %d failed: %v; retrying in %s", attempt-1, blk.Attempts, err, blk.Delay))
				if werr := sleepCtx(ctx, blk.Delay); werr != nil {
					break
				}
			}
			result, status, err = a.runStep(ctx, cfg, blk, step, note)
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if c.Act.OnDestroy {
			return err
		}
		v := state.Value{Environment: env, Kind: state.KindAction, Name: blk.Name,
			Value:  map[string]any{"result": result, "status": float64(status)},
			Digest: planner.ActionDigest(blk.ProviderType, blk.Instance, step), Status: "done"}
		if err != nil {
			v.Status, v.Error = "failed", err.Error()
		}
		vs, verr := a.valueStore(ctx)
		if verr == nil {
			verr = vs.PutValues(context.WithoutCancel(ctx), v)
		}
		if verr != nil {
			return errors.Join(err, fmt.Errorf("record the result: %w", verr))
		}
		return err
	}
}

// runStep runs a step once, within the action's timeout.
func (a *App) runStep(ctx context.Context, cfg *manifest.Config, blk *manifest.Action, step manifest.ResolvedStep, note func(string)) (any, int, error) {
	if blk.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, blk.Timeout)
		defer cancel()
	}
	result, status, err := a.runStepOnce(ctx, cfg, blk, step, note)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", blk.Timeout, err)
	}
	return result, status, err
}

func (a *App) runStepOnce(ctx context.Context, cfg *manifest.Config, blk *manifest.Action, step manifest.ResolvedStep, note func(string)) (any, int, error) {
	if len(step.Local) > 0 {
		return runLocalArgv(ctx, step.Local, note)
	}
	p, err := a.Provider(ctx, cfg, blk.ProviderType, blk.Instance)
	if err != nil {
		return nil, 0, err
	}
	ex, ok := p.(providers.Executor)
	if !ok {
		return nil, 0, fmt.Errorf("provider %s runs no actions", blk.Provider)
	}
	resp, err := ex.Execute(ctx, providers.ExecuteRequest{
		Args: step.Args, Command: step.Command, Artifacts: step.Artifacts, Progress: note,
	})
	if err != nil {
		return nil, resp.Status, err
	}
	if resp.Status != 0 {
		return resp.Result, resp.Status, fmt.Errorf("exit status %d", resp.Status)
	}
	return resp.Result, resp.Status, nil
}

// runLocalArgv runs a command line on the runner; its result is its
// stdout (and, when that is JSON, the decoded value as json).
func runLocalArgv(ctx context.Context, argv []string, note func(string)) (any, int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout bytes.Buffer
	lines := &lineEmitter{phase: executor.PhaseAction, emit: func(e executor.Event) { note(e.Message) }}
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		stdout.Write(p)
		return lines.Write(p)
	})
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return lines.Write(p)
	})
	err := cmd.Run()
	lines.flush()
	result := map[string]any{"stdout": stdout.String()}
	var js any
	if json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &js) == nil {
		result["json"] = js
	}
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	}
	if err != nil {
		return result, status, fmt.Errorf("local command %q: %w", strings.Join(argv, " "), err)
	}
	return result, 0, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// saveOutputs evaluates the manifest's outputs against the state and
// saves them; outputs and action results of blocks no longer in the
// manifest are removed.
func (a *App) saveOutputs(ctx context.Context, cfg *manifest.Config, env string) error {
	if cfg == nil {
		return nil
	}
	vs, err := a.valueStore(ctx)
	if errors.Is(err, errNoValues) && len(cfg.Outputs) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	hosts, err := a.neighbours(ctx, env)
	if err != nil {
		return err
	}
	actions, err := a.actionResults(ctx, env)
	if err != nil {
		return err
	}
	var vals []state.Value
	keep := map[string]bool{}
	for _, o := range cfg.Outputs {
		keep[o.Name] = true
		v, diags := cfg.ResolveOutput(o, hosts, actions)
		if diags.HasErrors() {
			// Not fatal: an apply with --target may leave out what an
			// output refers to. The output keeps its last value.
			a.Logger.Warn("output not saved", "output", o.Name, "error", diagErr(diags))
			continue
		}
		vals = append(vals, state.Value{Environment: env, Kind: state.KindOutput, Name: o.Name, Value: v, Sensitive: o.Sensitive, Status: "done"})
	}
	if err := vs.PutValues(ctx, vals...); err != nil {
		return err
	}
	old, err := vs.Values(ctx, env, "")
	if err != nil {
		return err
	}
	gone := map[string][]string{}
	for _, v := range old {
		switch {
		case v.Kind == state.KindOutput && !keep[v.Name]:
			gone[v.Kind] = append(gone[v.Kind], v.Name)
		case v.Kind == state.KindAction && cfg.Action(v.Name) == nil:
			gone[v.Kind] = append(gone[v.Kind], v.Name)
		}
	}
	for kind, names := range gone {
		if err := vs.DeleteValues(ctx, env, kind, names...); err != nil {
			return err
		}
	}
	return nil
}

// forgetValues removes env's outputs and action results once the
// environment holds no host (a destroy with --target leaves them).
func (a *App) forgetValues(ctx context.Context, env string) error {
	vs, err := a.valueStore(ctx)
	if errors.Is(err, errNoValues) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	if recs, err := st.Hosts(ctx, state.Query{Environment: env}); err != nil || len(recs) > 0 {
		return err
	}
	for _, kind := range []string{state.KindOutput, state.KindAction} {
		if err := vs.DeleteValues(ctx, env, kind); err != nil {
			return err
		}
	}
	return nil
}

// Outputs lists env's saved outputs, by name; with names, only those
// (an unknown name is an error naming the ones there are).
func (a *App) Outputs(ctx context.Context, env string, names ...string) ([]state.Value, error) {
	vals, err := a.recordedValues(ctx, env, state.KindOutput)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return vals, nil
	}
	var out []state.Value
	for _, n := range names {
		i := sort.Search(len(vals), func(i int) bool { return vals[i].Name >= n })
		if i == len(vals) || vals[i].Name != n {
			var have []string
			for _, v := range vals {
				have = append(have, v.Name)
			}
			if len(have) == 0 {
				return nil, Hint(fmt.Errorf("environment %q has no outputs", env), "outputs are saved by broker apply from the manifest's output blocks")
			}
			return nil, fmt.Errorf("environment %q has no output %q (outputs: %s)", env, n, strings.Join(have, ", "))
		}
		out = append(out, vals[i])
	}
	return out, nil
}

// ActionResult is the recorded result of action name in env (env ""
// means "default").
func (a *App) ActionResult(ctx context.Context, env, name string) (state.Value, error) {
	if env == "" {
		env = DefaultEnvironment
	}
	vals, err := a.recordedValues(ctx, env, state.KindAction)
	if err != nil {
		return state.Value{}, err
	}
	for _, v := range vals {
		if v.Name == name {
			return v, nil
		}
	}
	return state.Value{}, Hint(fmt.Errorf("action %s has not run in environment %q", name, env),
		"name the environment with --environment; actions run in broker apply")
}

// TaintActions marks recorded action results so that the next plan runs
// the actions again (Untaint: takes the mark off). env "" is "default".
func (a *App) TaintActions(ctx context.Context, env string, names []string, untaint bool) ([]state.Value, error) {
	vs, err := a.valueStore(ctx)
	if err != nil {
		return nil, err
	}
	var out []state.Value
	for _, n := range names {
		v, err := a.ActionResult(ctx, env, n)
		if err != nil {
			return out, err
		}
		switch {
		case untaint && v.Status != "tainted":
			return out, fmt.Errorf("action.%s is not tainted (it is %s)", n, v.Status)
		case untaint:
			v.Status, v.Error = "done", ""
		default:
			v.Status, v.Error = "tainted", "tainted by "+a.origin.User
		}
		if err := vs.PutValues(ctx, v); err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}
