package executor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// Outcome is how a change ended.
type Outcome int

const (
	// OutcomeDone: the change succeeded (perhaps with notes).
	OutcomeDone Outcome = iota
	// OutcomeFailed: the change was attempted and failed.
	OutcomeFailed
	// OutcomeSkipped: the change was not attempted, because a change it
	// depends on failed or the run was interrupted.
	OutcomeSkipped
)

var outcomeNames = [...]string{"done", "failed", "skipped"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText encodes the outcome by name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// ErrInterrupted is the error of a change skipped because the run was
// stopped or cancelled before it started.
var ErrInterrupted = errors.New("interrupted")

// DependencyError is the error of a change skipped because a change it
// depends on (directly or through others) did not succeed.
type DependencyError struct {
	// Address is the change that failed.
	Address string
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("depends on %s, which failed", e.Address)
}

// ChangeResult is what became of one change of the plan.
type ChangeResult struct {
	Address string
	// HostID is the record the change made or acted on (for a create or
	// replace, the new record's id).
	HostID  string
	Action  planner.Action
	Outcome Outcome
	// Err says why the change failed or was skipped.
	Err error
	// Host is the record as the change left it; nil when there is none
	// (destroyed, or a failed checkout that recorded nothing).
	Host     *state.Host
	Duration time.Duration
	// NotRun is set for an action whose when condition turned out false
	// at apply time (RunAction returned ErrWhenFalse): done, nothing run.
	NotRun bool
}

// ErrWhenFalse is returned by Options.RunAction for an action whose when
// condition is false once its inputs are known.
var ErrWhenFalse = errors.New("its when condition is false")

// Result lists the outcomes of a plan's changes in plan order (no-op
// changes are left out).
type Result struct {
	Changes []ChangeResult
	// Interrupted is true when the run was stopped or cancelled before
	// every change was attempted.
	Interrupted bool
}

// Failed counts the changes that failed.
func (r *Result) Failed() int { return r.count(OutcomeFailed) }

// Skipped counts the changes that were skipped.
func (r *Result) Skipped() int { return r.count(OutcomeSkipped) }

func (r *Result) count(o Outcome) int {
	n := 0
	for _, c := range r.Changes {
		if c.Outcome == o {
			n++
		}
	}
	return n
}

var doneWords = map[planner.Action]string{
	planner.Create:  "checked out",
	planner.Replace: "replaced",
	planner.Extend:  "extended",
	planner.Destroy: "checked in",
	planner.Run:     "action run",
}

// Summary tells in one line what the run did:
// "3 checked out, 1 checked in, 1 failed, 2 skipped".
func (r *Result) Summary() string {
	done := map[planner.Action]int{}
	for _, c := range r.Changes {
		if c.Outcome == OutcomeDone && !c.NotRun {
			done[c.Action]++
		}
	}
	var parts []string
	for _, a := range []planner.Action{planner.Create, planner.Replace, planner.Extend, planner.Destroy, planner.Run} {
		if n := done[a]; n > 0 {
			w := doneWords[a]
			if a == planner.Run && n > 1 {
				w = "actions run"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, w))
		}
	}
	if n := r.Failed(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", n))
	}
	if n := r.Skipped(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", n))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// Err is nil when every change was done; otherwise it joins the failed
// changes' errors, each prefixed with the change, or says that the run
// was interrupted.
func (r *Result) Err() error {
	var errs []error
	for _, c := range r.Changes {
		if c.Outcome == OutcomeFailed {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Action, changeName(c.Address, c.HostID), c.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if n := r.Skipped(); n > 0 {
		if r.Interrupted {
			return fmt.Errorf("%s not attempted: %w", changes(n), ErrInterrupted)
		}
		return fmt.Errorf("%s skipped", changes(n))
	}
	return nil
}

func changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

func changeName(addr, id string) string {
	if addr != "" {
		return addr
	}
	if id != "" {
		return "host " + id
	}
	return "host"
}
