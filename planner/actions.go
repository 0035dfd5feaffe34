package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// ActionAddress is the address of an action block: action.NAME.
func ActionAddress(name string) string { return "action." + name }

// ParseActionAddress splits action.NAME.
func ParseActionAddress(addr string) (string, bool) {
	name, ok := strings.CutPrefix(addr, "action.")
	if !ok || name == "" || strings.ContainsAny(name, ".[]\" ") {
		return "", false
	}
	return name, true
}

// ActionDigest identifies what an action runs: its provider and resolved
// step. A plan runs an action again when the digest of its inputs differs
// from the recorded one.
func ActionDigest(provider, instance string, step manifest.ResolvedStep) string {
	raw, _ := json.Marshal(struct {
		P, I string
		S    manifest.ResolvedStep
	}{provider, instance, step})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// ActionValuesOf is what expressions read of a recorded action result.
func ActionValuesOf(v state.Value) manifest.ActionValues {
	m, _ := v.Value.(map[string]any)
	out := manifest.ActionValues{}
	for k, x := range m {
		out[k] = x
	}
	return out
}

// recordedActions are the action results of in.Values by name.
func (m *maker) recordedActions() map[string]*state.Value {
	out := map[string]*state.Value{}
	for i := range m.in.Values {
		v := &m.in.Values[i]
		if v.Kind == state.KindAction {
			out[v.Name] = v
		}
	}
	return out
}

// actionsInOrder lists the action blocks with each after those it refers to.
func actionsInOrder(actions []*manifest.Action) []*manifest.Action {
	byName := map[string]*manifest.Action{}
	for _, a := range actions {
		byName[a.Name] = a
	}
	var out []*manifest.Action
	done := map[string]bool{}
	var visit func(a *manifest.Action, depth int)
	visit = func(a *manifest.Action, depth int) {
		if done[a.Name] || depth > len(actions) {
			return
		}
		done[a.Name] = true
		for _, d := range a.DependsOn {
			if n, ok := strings.CutPrefix(d, "action."); ok && byName[n] != nil {
				visit(byName[n], depth+1)
			}
		}
		out = append(out, a)
	}
	for _, a := range actions {
		visit(a, 0)
	}
	return out
}

// planActions decides, after the hosts' changes, which actions run.
// kept holds the records of host instances that stay as they are.
func (m *maker) planActions(hostChanges []Change, kept map[string]*state.Host) ([]Change, error) {
	cfg := m.in.Config
	if cfg == nil {
		return nil, nil
	}
	recorded := m.recordedActions()
	forced := map[string]bool{}
	for _, a := range m.in.Replace {
		forced[a] = true
	}
	changing := changingByBlock(hostChanges)
	running := map[string]bool{}
	var out []Change
	for _, a := range actionsInOrder(cfg.Actions) {
		hosts, actions := m.actionInputs(a, kept, recorded, running)
		step, run, unknown, diags := cfg.ResolveAction(a, false, hosts, actions)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %w", ActionAddress(a.Name), diags)
		}
		if !run {
			continue
		}
		addr := ActionAddress(a.Name)
		c := Change{Action: Run, Address: addr, Act: &ActionRun{
			Name: a.Name, Provider: a.ProviderType, Instance: a.Instance, Step: step, Unknown: unknown,
			Before: recorded[a.Name],
		}}
		rec := recorded[a.Name]
		switch {
		case forced[addr]:
			c.Reason = Because(ReasonReplaceRequested, "")
		case rec == nil:
			c.Reason = Because(ReasonNeverRan, "")
		case rec.Status == "tainted":
			c.Reason = Because(ReasonTainted, rec.Error)
		case rec.Status != "done":
			c.Reason = Because(ReasonActionFailed, rec.Error)
		case len(unknown) > 0:
			c.Reason = Reason{Kind: ReasonInputsChanged, Fields: []string{"inputs"}}
		case rec.Digest != ActionDigest(a.ProviderType, a.Instance, step):
			c.Reason = Reason{Kind: ReasonInputsChanged, Fields: stepFields(step)}
		default:
			c.Action = NoOp
		}
		if c.Action == Run {
			running[a.Name] = true
			c.DependsOn = actionDeps(a, changing, running)
		}
		out = append(out, c)
	}
	return out, nil
}

// stepFields names the parts of a step that are set.
func stepFields(s manifest.ResolvedStep) []string {
	var out []string
	if s.Args != nil {
		out = append(out, "args")
	}
	if s.Command != nil {
		out = append(out, "command")
	}
	if s.Local != nil {
		out = append(out, "local")
	}
	return out
}

// changingByBlock lists the addresses with a change (not a no-op) by
// host block name.
func changingByBlock(cs []Change) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		if c.Action == NoOp || c.Address == "" {
			continue
		}
		if in, ok := ParseInstance(c.Address); ok {
			out[in.Block] = append(out[in.Block], c.Address)
		}
	}
	return out
}

// actionDeps are the addresses an action's run waits for: the changing
// instances of the hosts it refers to, and the actions it refers to that
// run too.
func actionDeps(a *manifest.Action, changing map[string][]string, running map[string]bool) []string {
	var deps []string
	for _, d := range a.DependsOn {
		if n, ok := strings.CutPrefix(d, "host."); ok {
			deps = append(deps, changing[n]...)
		} else if n, ok := strings.CutPrefix(d, "action."); ok && running[n] {
			deps = append(deps, d)
		}
	}
	slices.SortFunc(deps, CompareAddress)
	return slices.Compact(deps)
}

// actionInputs are the hosts and action results an action's expressions
// see: recorded where they stay, unknown where this plan changes them.
func (m *maker) actionInputs(a *manifest.Action, kept map[string]*state.Host, recorded map[string]*state.Value, running map[string]bool) (map[string][]manifest.HostValues, map[string]manifest.ActionValues) {
	hosts := map[string][]manifest.HostValues{}
	actions := map[string]manifest.ActionValues{}
	for _, d := range a.DependsOn {
		if name, ok := strings.CutPrefix(d, "host."); ok {
			b := m.hostBlocks[name]
			if b == nil {
				continue
			}
			for _, bi := range b.Instances {
				in := Instance{Block: name, Index: bi.Index}
				if b.ForEach {
					in = Instance{Block: name, Key: bi.Key, Keyed: true}
				}
				v := manifest.UnknownHost()
				if r, ok := kept[in.String()]; ok {
					v = HostValues(*r)
				}
				put(hosts, in, v)
			}
			continue
		}
		name := strings.TrimPrefix(d, "action.")
		switch rec := recorded[name]; {
		case running[name] || rec == nil:
			actions[name] = manifest.UnknownAction()
		default:
			actions[name] = ActionValuesOf(*rec)
		}
	}
	return hosts, actions
}

// destroyActions plans the on_destroy steps of actions that ran, each
// before the hosts it refers to are checked in.
func (m *maker) destroyActions(hostChanges []Change) ([]Change, error) {
	cfg := m.in.Config
	if cfg == nil {
		return nil, nil
	}
	recorded := m.recordedActions()
	kept := map[string]*state.Host{}
	for _, r := range m.records {
		kept[r.Address] = r
	}
	var out []Change
	for _, a := range actionsInOrder(cfg.Actions) {
		rec := recorded[a.Name]
		if a.OnDestroy == nil || rec == nil || rec.Status != "done" {
			continue
		}
		hosts, actions := m.actionInputs(a, kept, recorded, nil)
		step, run, _, diags := cfg.ResolveAction(a, true, hosts, actions)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: on_destroy: %w", ActionAddress(a.Name), diags)
		}
		if !run {
			continue
		}
		out = append(out, Change{Action: Run, Address: ActionAddress(a.Name), Reason: Because(ReasonOnDestroy, ""),
			Act: &ActionRun{Name: a.Name, Provider: a.ProviderType, Instance: a.Instance, Step: step, OnDestroy: true, Before: rec}})
	}
	// Hosts an on_destroy step refers to are checked in after it.
	for i := range hostChanges {
		c := &hostChanges[i]
		in, ok := ParseInstance(c.Address)
		if !ok || c.Action != Destroy {
			continue
		}
		for _, ac := range out {
			if slices.Contains(cfg.Action(ac.Act.Name).DependsOn, "host."+in.Block) {
				c.DependsOn = append(c.DependsOn, ac.Address)
			}
		}
	}
	return out, nil
}

// actionValues is what a filter sees of an action's change.
func actionValues(c Change) filter.Values {
	return filter.Values{Address: c.Address, Name: c.Act.Name, Provider: c.Act.Provider, Instance: c.Act.Instance}
}
