package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/planner"
)

// progress shows executor events. On a terminal, a live block at the
// bottom shows each host in flight with the last lines of its output
// (setup, teardown, hooks, provider progress); what is finished scrolls
// above it, and when the run ends the whole output of every host that
// failed is printed. Elsewhere (CI, a pipe, a log), one timestamped plain
// line per event.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	live    bool
	color   bool
	size    func() (width, height int)
	console *console // where other messages meet the live block; nil: none
	active  map[string]*liveHost
	drawn   int // lines of the live block on screen
	// quiet marks, per host, a phase that has printed nothing yet (plain
	// output leaves out phases that did nothing).
	quiet map[string]bool
	// failed are the hosts whose output is printed in full at the end, in
	// the order they failed.
	failed []*liveHost
	footer string // the latest notice, shown under the live block
	dirty  bool   // output arrived since the last redraw
	second int64  // the elapsed-time second last drawn
	ticker *time.Ticker
	stop   chan struct{}
	done   bool
}

type liveHost struct {
	key     string
	action  planner.Action
	phase   executor.Phase
	since   time.Time
	out     []string // labelled output lines, the last maxKept of them
	dropped int      // earlier lines not kept
	// failure says why the whole output is shown at the end ("checkout
	// failed", "teardown failed"); empty while nothing failed.
	failure string
}

// Live view limits.
const (
	// recentLines are the lines of output shown under a host in flight.
	recentLines = 3
	// maxKept are the lines of output kept per host in flight, for
	// printing in full if it fails; earlier ones are counted, not kept
	// (the log file has them all at --log-level debug).
	maxKept = 2000
	// redrawEvery bounds the redraws that output lines cause.
	redrawEvery = 100 * time.Millisecond
)

func newProgress(w io.Writer, tty, color bool) *progress {
	p := &progress{w: w, live: tty, color: color, active: map[string]*liveHost{}, quiet: map[string]bool{}}
	p.size = func() (int, int) { return 80, 24 }
	if f, ok := w.(*os.File); ok && tty {
		p.size = func() (int, int) {
			wd, ht, err := term.GetSize(int(f.Fd()))
			if err != nil || wd <= 0 || ht <= 0 {
				return 80, 24
			}
			return wd, ht
		}
	}
	return p
}

// progress is the command's progress display on stderr, attached to the
// console so that interrupt notices go above its live block.
func (g *Globals) progress() *progress {
	p := newProgress(g.stderr, isTerminal(g.stderr), g.color(g.stderr))
	if p.live && g.console != nil {
		p.console = g.console
		g.console.attach(p)
	}
	return p
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

// outputLabel says whose a progress line is: the hook's name, else the
// phase (setup, teardown, checkout).
func outputLabel(e executor.Event) string {
	if e.Hook != "" {
		return "hook " + e.Hook
	}
	return string(e.Phase)
}

// Event implements executor.Observer.
func (p *progress) Event(e executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		p.plain(e)
		return
	}
	if p.done {
		return
	}
	key := eventKey(e)
	h := p.active[key]
	switch e.Kind {
	case executor.EventStart:
		if h == nil {
			p.active[key] = &liveHost{key: key, action: e.Action, since: e.Time}
		}
		p.startTicker()
	case executor.EventPhaseStart:
		if h != nil {
			h.phase = e.Phase
		}
	case executor.EventPhaseDone:
		if h != nil && e.Err != "" && h.failure == "" {
			h.failure = string(e.Phase) + " failed"
		}
	case executor.EventProgress:
		if h != nil {
			h.add(outputLabel(e) + ": " + e.Message)
			p.dirty = true
			return // drawn by the ticker, so that a flood of output is not a flood of redraws
		}
	case executor.EventDone, executor.EventFailed, executor.EventSkipped, executor.EventNote:
		if e.Kind != executor.EventNote {
			delete(p.active, key)
			if h != nil && e.Kind == executor.EventFailed {
				h.failure = verb(e.Action) + " failed"
			}
			if h != nil && h.failure != "" && len(h.out) > 0 {
				p.failed = append(p.failed, h)
			}
		}
		p.clear()
		fmt.Fprintln(p.w, p.finalLine(e))
	}
	p.redraw()
}

// add keeps one line of output.
func (h *liveHost) add(line string) {
	if len(h.out) == maxKept {
		h.out = append(h.out[:0], h.out[maxKept/2:]...)
		h.dropped += maxKept / 2
	}
	h.out = append(h.out, line)
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

// say prints msg above the live block, and keeps it under the block while
// hosts are in flight. It reports false once the run has ended (the
// caller prints msg itself).
func (p *progress) say(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return false
	}
	p.clear()
	fmt.Fprintln(p.w, msg)
	p.footer = msg
	p.redraw()
	return true
}

// clear erases the live block (and whatever was typed under it, ^C).
func (p *progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\r\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

const maxLive = 15

// redraw draws the live block: a line per host in flight, its latest
// output under it, as much as the terminal's height allows.
func (p *progress) redraw() {
	p.clear()
	p.dirty = false
	width, height := p.size()
	keys := make([]string, 0, len(p.active))
	for k := range p.active {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	more := 0
	if len(keys) > maxLive {
		more = len(keys) - maxLive
		keys = keys[:maxLive]
	}
	// The block stays within the screen, or it could not be erased.
	budget := height - 2 - len(keys)
	if more > 0 {
		budget--
	}
	if p.footer != "" {
		budget--
	}
	per := 0
	if len(keys) > 0 && budget > 0 {
		per = min(recentLines, budget/len(keys))
	}
	var b strings.Builder
	n := 0
	line := func(s string) {
		b.WriteString(fit(s, width))
		b.WriteString("\n")
		n++
	}
	now := time.Now()
	for _, k := range keys {
		h := p.active[k]
		status := gerund(h.action)
		if h.phase != "" && !mainPhase(h.action, h.phase) {
			status += ": " + string(h.phase)
		}
		elapsed := ""
		if !h.since.IsZero() {
			elapsed = fmt.Sprintf(" (%s)", now.Sub(h.since).Truncate(time.Second))
		}
		line(fmt.Sprintf("  %s %s: %s%s", p.paint(ansiDim, "…"), k, status, elapsed))
		for _, l := range h.out[max(0, len(h.out)-per):] {
			line(p.paint(ansiDim, "      "+clean(l)))
		}
	}
	if more > 0 {
		line(fmt.Sprintf("  … and %d more in flight", more))
	}
	if p.footer != "" && len(keys) > 0 {
		line(p.paint(ansiYellow, p.footer))
	}
	p.second = now.Unix()
	fmt.Fprint(p.w, b.String())
	p.drawn = n
}

// startTicker redraws the live block now and then: output lines that
// arrived since, and the elapsed times.
func (p *progress) startTicker() {
	if p.ticker != nil {
		return
	}
	p.ticker = time.NewTicker(redrawEvery)
	p.stop = make(chan struct{})
	go func(t *time.Ticker, stop chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				p.mu.Lock()
				if !p.done && len(p.active) > 0 && (p.dirty || now.Unix() != p.second) {
					p.redraw()
				}
				p.mu.Unlock()
			}
		}
	}(p.ticker, p.stop)
}

// fit cuts s (which may hold broker's own colour codes) to less than the
// terminal's width, so that every line of the block takes one row (a line
// of the full width wraps on some terminals).
func fit(s string, width int) string {
	limit := max(width, 10) - 1
	if columns(s, -1) <= limit {
		return s
	}
	cut := s[:columns(s, limit-1)] + "…"
	if strings.Contains(s, "\x1b[") {
		cut += ansiReset
	}
	return cut
}

// columns counts the columns s takes (colour codes take none); with n >=
// 0, it returns instead the byte offset where column n+1 starts.
func columns(s string, n int) int {
	visible, esc := 0, false
	for i, r := range s {
		switch {
		case esc:
			esc = r < '@' || r > '~' || r == '['
			continue
		case r == '\x1b':
			esc = true
			continue
		}
		if visible == n {
			return i
		}
		visible++
	}
	if n >= 0 {
		return len(s)
	}
	return visible
}

// clean makes a line of remote output safe to draw in the live block: no
// escape sequences, carriage returns (the last state of a progress bar
// wins) or other control characters that would move the cursor.
func clean(s string) string {
	if i := strings.LastIndexByte(strings.TrimRight(s, "\r"), '\r'); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	const (
		text = iota
		esc  // after ESC
		csi  // ESC [ …, ends with a byte in @–~
		osc  // ESC ] …, ends with BEL or ESC \
		one  // ESC ( and the like: one more character
	)
	state := text
	for _, r := range s {
		switch state {
		case esc:
			switch r {
			case '[':
				state = csi
			case ']':
				state = osc
			case '(', ')', '*', '+', '#', '%':
				state = one
			default:
				state = text // a two-character sequence
			}
			continue
		case one:
			state = text
			continue
		case csi:
			if r >= '@' && r <= '~' {
				state = text
			}
			continue
		case osc:
			switch r {
			case '\a':
				state = text
			case '\x1b':
				state = esc // ESC \ ends it
			}
			continue
		}
		switch {
		case r == '\x1b':
			state = esc
		case r == '\t':
			b.WriteString("  ")
		case r < ' ' || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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
		switch {
		case mainPhase(e.Action, e.Phase):
			// The change's own line gives its time (and its error).
			return
		case e.Err != "":
			// Its error follows, in the change's failed line or a note.
			msg = fmt.Sprintf("%s failed after %s", e.Phase, e.Duration.Round(time.Millisecond))
		case quiet && e.Duration < time.Second:
			// A phase that did nothing is not worth a line.
			return
		default:
			msg = fmt.Sprintf("%s done in %s", e.Phase, e.Duration.Round(time.Millisecond))
		}
	case executor.EventProgress:
		msg = e.Message
		if l := outputLabel(e); l != "" {
			msg = l + ": " + msg
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

// finish ends the live view: it erases the block, then prints the whole
// output of each host that failed. Call it once the run is over; later
// calls do nothing.
func (p *progress) finish() {
	if p.console != nil {
		p.console.detach(p)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.clear()
	p.done = true
	if p.stop != nil {
		p.ticker.Stop()
		close(p.stop)
	}
	for _, h := range p.failed {
		fmt.Fprintf(p.w, "\n%s\n", p.paint(ansiRed, fmt.Sprintf("Output of %s (%s):", h.key, h.failure)))
		if h.dropped > 0 {
			fmt.Fprintf(p.w, "  … %d earlier lines not kept (the log file has them at --log-level debug)\n", h.dropped)
		}
		for _, l := range h.out {
			fmt.Fprintf(p.w, "  %s\n", clean(l))
		}
	}
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
