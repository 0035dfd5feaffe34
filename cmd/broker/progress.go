package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/planner"
)

// progress shows executor events: on a terminal, finished hosts scroll
// above a live block of the hosts in flight; elsewhere (CI, a log), one
// timestamped plain line per event.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	live   bool
	color  bool
	active map[string]*liveHost
	drawn  int // lines of the live block on screen
	// quiet marks, per host, a phase that has printed nothing yet (plain
	// output leaves out phases that did nothing).
	quiet map[string]bool
}

type liveHost struct {
	key     string
	action  planner.Action
	phase   executor.Phase
	message string
	since   time.Time
}

func newProgress(w io.Writer, tty, color bool) *progress {
	return &progress{w: w, live: tty, color: color, active: map[string]*liveHost{}, quiet: map[string]bool{}}
}

const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiReset  = "\x1b[0m"
)

func (p *progress) paint(code, s string) string {
	if !p.color {
		return s
	}
	return code + s + ansiReset
}

func eventKey(e executor.Event) string {
	if e.Address != "" {
		return e.Address
	}
	return e.HostID
}

// Event implements executor.Observer.
func (p *progress) Event(e executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		p.plain(e)
		return
	}
	key := eventKey(e)
	h := p.active[key]
	switch e.Kind {
	case executor.EventStart:
		p.active[key] = &liveHost{key: key, action: e.Action, since: e.Time, message: "starting"}
	case executor.EventPhaseStart:
		if h != nil {
			h.phase, h.message = e.Phase, string(e.Phase)
		}
	case executor.EventProgress:
		if h != nil {
			h.message = e.Message
		}
	case executor.EventDone, executor.EventFailed, executor.EventSkipped, executor.EventNote:
		if e.Kind != executor.EventNote {
			delete(p.active, key)
		}
		p.clear()
		fmt.Fprintln(p.w, p.finalLine(e))
	}
	p.redraw()
}

func (p *progress) finalLine(e executor.Event) string {
	key := eventKey(e)
	switch e.Kind {
	case executor.EventDone:
		return fmt.Sprintf("%s %s: %s in %s", p.paint(ansiGreen, "✓"), key, pastTense(e.Action), e.Duration.Round(time.Millisecond))
	case executor.EventFailed:
		return fmt.Sprintf("%s %s: %s failed: %s", p.paint(ansiRed, "✗"), key, verb(e.Action), e.Err)
	case executor.EventSkipped:
		return fmt.Sprintf("%s %s: skipped: %s", p.paint(ansiYellow, "-"), key, firstNonEmpty(e.Message, e.Err))
	default:
		return fmt.Sprintf("%s %s: %s", p.paint(ansiDim, "·"), key, e.Message)
	}
}

// clear erases the live block.
func (p *progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

const maxLive = 15

func (p *progress) redraw() {
	p.clear()
	keys := make([]string, 0, len(p.active))
	for k := range p.active {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		if n == maxLive {
			fmt.Fprintf(p.w, "  … and %d more in flight\n", len(keys)-maxLive)
			n++
			break
		}
		h := p.active[k]
		msg := h.message
		if len(msg) > 70 {
			msg = msg[:67] + "..."
		}
		fmt.Fprintf(p.w, "  %s %s: %s\n", p.paint(ansiDim, "…"), k, msg)
		n++
	}
	p.drawn = n
}

// plain writes one line per event for logs and CI.
func (p *progress) plain(e executor.Event) {
	ts := e.Time.UTC().Format(time.RFC3339)
	key := eventKey(e)
	var msg string
	switch e.Kind {
	case executor.EventStart:
		msg = gerund(e.Action)
	case executor.EventPhaseStart:
		// Said when the phase says something or ends.
		p.quiet[key] = true
		return
	case executor.EventPhaseDone:
		quiet := p.quiet[key]
		delete(p.quiet, key)
		if mainPhase(e.Action, e.Phase) || (quiet && e.Duration < time.Second) {
			// The change's own line gives its time; a phase that did
			// nothing is not worth a line.
			return
		}
		msg = fmt.Sprintf("%s done in %s", e.Phase, e.Duration.Round(time.Millisecond))
	case executor.EventProgress:
		msg = e.Message
		if e.Phase != "" {
			msg = string(e.Phase) + ": " + msg
		}
	case executor.EventDone:
		msg = fmt.Sprintf("%s in %s", pastTense(e.Action), e.Duration.Round(time.Millisecond))
	case executor.EventFailed:
		msg = fmt.Sprintf("%s failed: %s", verb(e.Action), e.Err)
	case executor.EventSkipped:
		msg = "skipped: " + firstNonEmpty(e.Message, e.Err)
	case executor.EventNote:
		msg = "note: " + e.Message
	default:
		msg = string(e.Kind) + " " + e.Message
	}
	if e.Kind != executor.EventPhaseDone {
		p.quiet[key] = false
	}
	fmt.Fprintf(p.w, "%s %s: %s\n", ts, key, strings.TrimSpace(msg))
}

// mainPhase reports whether phase is what action is mostly about, whose
// time the change's own done line already gives.
func mainPhase(a planner.Action, phase executor.Phase) bool {
	switch a {
	case planner.Create:
		return phase == executor.PhaseCheckout
	case planner.Destroy:
		return phase == executor.PhaseCheckin
	case planner.Extend:
		return phase == executor.PhaseExtend
	}
	return false
}

// finish erases the live block at the end of a run.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func verb(a planner.Action) string {
	switch a {
	case planner.Create:
		return "checkout"
	case planner.Destroy:
		return "checkin"
	case planner.Extend:
		return "extend"
	case planner.Replace:
		return "replace"
	}
	return a.String()
}

func gerund(a planner.Action) string {
	switch a {
	case planner.Create:
		return "checking out"
	case planner.Destroy:
		return "checking in"
	case planner.Extend:
		return "extending the lease"
	case planner.Replace:
		return "replacing"
	}
	return a.String()
}

func pastTense(a planner.Action) string {
	switch a {
	case planner.Create:
		return "ready"
	case planner.Destroy:
		return "checked in"
	case planner.Extend:
		return "lease extended"
	case planner.Replace:
		return "replaced, ready"
	}
	return a.String() + " done"
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
