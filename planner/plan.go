package planner

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// Action is what a change does.
type Action int

const (
	// NoOp: the host is as wanted.
	NoOp Action = iota
	// Create: check a host out ('+').
	Create
	// Extend: renew the lease ('~').
	Extend
	// Destroy: check a host in ('-').
	Destroy
	// Replace: check in, then out again ('-/+'): the recipe changed, the
	// host is tainted, failed, or gone behind broker's back.
	Replace
	// Run: run an action block ('+ run'): it never ran, its inputs
	// changed, it failed, or --replace named it; on destroy, its
	// on_destroy step.
	Run
)

var actionNames = [...]string{"no-op", "create", "extend", "destroy", "replace", "run"}
var actionSymbols = [...]string{" ", "+", "~", "-", "-/+", "+"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Symbol is the diff marker a human plan shows.
func (a Action) Symbol() string {
	if a >= 0 && int(a) < len(actionSymbols) {
		return actionSymbols[a]
	}
	return "?"
}

// MarshalText encodes the action by name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Desired is one host instance the manifest asks for.
type Desired struct {
	// Address is host.NAME[INDEX], or host.NAME["KEY"] with for_each.
	Address string `json:"address"`
	// Host is the host block's name; Index the instance's (with for_each,
	// the key's place among the sorted keys); Key the for_each key.
	Host  string `json:"host"`
	Index int    `json:"index"`
	Key   string `json:"key,omitempty"`
	// Provider and Instance name the provider instance.
	Provider string `json:"provider"`
	Instance string `json:"instance"`
	Nick     string `json:"nick,omitempty"`
	// Args are JSON-shaped provider arguments (the recipe).
	Args   map[string]any    `json:"args,omitempty"`
	Lease  time.Duration     `json:"lease,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Unknown names the args and labels known only after the hosts they
	// refer to are checked out ("args.KEY", "labels.KEY"): left out of
	// Args and Labels, filled in by apply before the checkout.
	Unknown []string `json:"unknown,omitempty"`
	// DependsOn names the host blocks the block's setup, teardown or
	// connection refer to; the record keeps it (state.Host.DependsOn).
	DependsOn []string `json:"depends_on,omitempty"`
}

// Change is one step of a plan.
type Change struct {
	Action  Action `json:"action"`
	Address string `json:"address"`
	// Before is the current record (nil for a create).
	Before *state.Host `json:"before,omitempty"`
	// After is the desired host (nil for a destroy).
	After *Desired `json:"after,omitempty"`
	// Resume is an interrupted checkout's intent that a create picks up;
	// for a destroy with no Before, the intent whose leftovers are to be
	// cleaned up.
	Resume *state.Intent `json:"resume,omitempty"`
	// Reason says why (the views put it in words).
	Reason Reason `json:"reason"`
	// DependsOn lists addresses whose changes must finish first.
	DependsOn []string `json:"depends_on,omitempty"`
	// UpdateLabels is set when the record's labels differ from After's.
	// Labels never cause a replacement: apply writes After.Labels into the
	// record (state only) whenever it writes the record, and a plan whose
	// only differences are labels is still "no changes" (HasChanges).
	UpdateLabels bool `json:"update_labels,omitempty"`
	// UpdateRecipe is set when only arguments the provider takes in place
	// (manifest.Host.InPlace) differ: apply writes After.Args into the
	// record's recipe, and nothing is replaced.
	UpdateRecipe bool `json:"update_recipe,omitempty"`
	// Act is an action block's run (Action Run, or NoOp when its result
	// stands); nil for host changes.
	Act *ActionRun `json:"act,omitempty"`
}

// ActionRun is what a plan knows of an action block's run.
type ActionRun struct {
	Name string `json:"name"`
	// Provider and Instance run it; empty for a local command.
	Provider string `json:"provider,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Step is what runs, as far as it is known; Unknown names the parts
	// known only once the hosts or actions it refers to are done
	// ("when", "args", "command", "local").
	Step    manifest.ResolvedStep `json:"step"`
	Unknown []string              `json:"unknown,omitempty"`
	// OnDestroy: the run is the action's on_destroy step.
	OnDestroy bool `json:"on_destroy,omitempty"`
	// Before is the recorded result of its last run, if any.
	Before *state.Value `json:"before,omitempty"`
}

// FormatVersion is the version of the plan file format (2: typed reasons).
const FormatVersion = 2

// Plan is the difference between the manifest and the state.
type Plan struct {
	FormatVersion int    `json:"format_version"`
	Environment   string `json:"environment"`
	// StateSerial is the environment's serial the plan was made against;
	// a saved plan applies only while the serial is unchanged.
	StateSerial uint64    `json:"state_serial"`
	Created     time.Time `json:"created"`
	Destroy     bool      `json:"destroy,omitempty"`
	Changes     []Change  `json:"changes"`
}

// HasChanges reports whether applying the plan would do anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// Counts tallies the changes by action.
func (p *Plan) Counts() map[Action]int {
	m := map[Action]int{}
	for _, c := range p.Changes {
		m[c.Action]++
	}
	return m
}

var _ json.Marshaler = (*Plan)(nil)

// MarshalJSON keeps the field order stable and the changes never null.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	q := *p
	if q.Changes == nil {
		q.Changes = []Change{}
	}
	return json.Marshal((*plain)(&q))
}
