package executor

import (
	"time"

	"github.com/labbroker/broker/planner"
)

// Phase is a stage of a host's life that the executor reports on. Reports
// (JUnit) make one test case per host and phase.
type Phase string

const (
	PhaseCheckout Phase = "checkout"
	PhaseReady    Phase = "ready"
	PhaseSetup    Phase = "setup"
	PhaseHooks    Phase = "hooks"
	PhaseTeardown Phase = "teardown"
	PhaseCheckin  Phase = "checkin"
	PhaseExtend   Phase = "extend"
	// PhaseAction is an action block's run.
	PhaseAction Phase = "action"
	// PhaseExec is `broker exec`'s command on one host.
	PhaseExec Phase = "exec"
)

// EventKind says what happened.
type EventKind string

const (
	// EventStart: a change began.
	EventStart EventKind = "start"
	// EventPhaseStart / EventPhaseDone bracket a phase.
	EventPhaseStart EventKind = "phase_start"
	EventPhaseDone  EventKind = "phase_done"
	// EventProgress: a progress line from a provider, or a line of output
	// of a setup, teardown or hook command (Phase and Hook say whose).
	EventProgress EventKind = "progress"
	// EventDone: the change succeeded.
	EventDone EventKind = "done"
	// EventFailed: the change failed (Err says why).
	EventFailed EventKind = "failed"
	// EventSkipped: not attempted, because something it depends on failed
	// or the run was interrupted.
	EventSkipped EventKind = "skipped"
	// EventNote: something worth telling that is not a failure ("already
	// gone", "resumed an interrupted checkout").
	EventNote EventKind = "note"
)

// Event is one report from the executor. The same events drive the
// progress display, the log file and the NDJSON report, so the JSON names
// are stable.
//
// A change's events come in order from one goroutine: start; then per
// phase, phase_start, its progress and notes, phase_done (with Err when
// the phase failed: a failed phase is never reported as done without it);
// last, done or failed. skipped stands alone.
type Event struct {
	Time    time.Time      `json:"time"`
	Kind    EventKind      `json:"kind"`
	Address string         `json:"address,omitempty"`
	HostID  string         `json:"host_id,omitempty"`
	Action  planner.Action `json:"action"`
	Phase   Phase          `json:"phase,omitempty"`
	// Hook names the hook whose output or start a progress event is (the
	// hook's own label); empty for setup, teardown and provider progress.
	Hook    string `json:"hook,omitempty"`
	Message string `json:"message,omitempty"`
	// Reason is the change's reason, on start.
	Reason *planner.Reason `json:"reason,omitempty"`
	Err    string          `json:"error,omitempty"`
	// Duration is the phase's or change's duration on *_done, failed.
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// Observer receives events. Implementations must be safe for concurrent
// use: the executor calls from many goroutines.
type Observer interface {
	Event(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Event calls f.
func (f ObserverFunc) Event(e Event) { f(e) }
