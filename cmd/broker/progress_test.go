package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/planner"
)

// liveProgress is a live view drawn into a buffer, as on a terminal of
// width x height.
func liveProgress(width, height int) (*progress, *bytes.Buffer) {
	var b bytes.Buffer
	p := newProgress(&b, true, false)
	p.size = func() (int, int) { return width, height }
	return p, &b
}

// frame is the live block last drawn: what follows the last erase, less
// the finished lines printed above it.
func frame(b *bytes.Buffer) []string {
	s := b.String()
	if i := strings.LastIndex(s, "\x1b[J"); i >= 0 {
		s = s[i+len("\x1b[J"):]
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "· ") {
		lines = lines[1:]
	}
	return lines
}

func ev(kind executor.EventKind, addr string, phase executor.Phase, msg string) executor.Event {
	return executor.Event{Time: time.Now(), Kind: kind, Address: addr, Action: planner.Create, Phase: phase, Message: msg}
}

// TestLiveBlockFitsTheScreen: however many hosts and lines, the live block
// is never taller than the terminal (it could not be erased), nor a line
// wider (it would wrap).
func TestLiveBlockFitsTheScreen(t *testing.T) {
	p, b := liveProgress(40, 12)
	defer p.finish()
	for i := range 8 {
		addr := fmt.Sprintf("host.web[%d]", i)
		p.Event(ev(executor.EventStart, addr, "", ""))
		p.Event(ev(executor.EventPhaseStart, addr, executor.PhaseSetup, ""))
		for j := range 5 {
			p.Event(ev(executor.EventProgress, addr, executor.PhaseSetup, fmt.Sprintf("a rather long line of output number %d of %s", j, addr)))
		}
	}
	p.Event(ev(executor.EventNote, "host.web[0]", "", "redraw"))
	lines := frame(b)
	if len(lines) > 10 {
		t.Errorf("a live block of %d lines on a terminal of 12:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 40 {
			t.Errorf("a line of %d columns on a terminal of 40: %q", n, l)
		}
	}

	// Roomier: each host shows its last three lines.
	p, b = liveProgress(200, 40)
	defer p.finish()
	p.Event(ev(executor.EventStart, "host.db[0]", "", ""))
	for j := range 5 {
		p.Event(ev(executor.EventProgress, "host.db[0]", executor.PhaseSetup, fmt.Sprint("line ", j)))
	}
	p.Event(ev(executor.EventNote, "host.db[0]", "", "redraw"))
	want := []string{"setup: line 2", "setup: line 3", "setup: line 4"}
	lines = frame(b)
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "  … host.db[0]: checking out") {
		t.Fatalf("live block:\n%s", strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if strings.TrimSpace(lines[i+1]) != w {
			t.Errorf("line %d under the host: %q, want %q", i+1, lines[i+1], w)
		}
	}
}

// TestFailedOutputAtFinish: when the view ends, the whole output of each
// host whose change or teardown failed is printed, labelled; a host that
// did well keeps its output to itself.
func TestFailedOutputAtFinish(t *testing.T) {
	p, b := liveProgress(120, 40)
	run := func(addr string, phase executor.Phase, hook string, n int, phaseErr string, end executor.EventKind) {
		p.Event(ev(executor.EventStart, addr, "", ""))
		p.Event(ev(executor.EventPhaseStart, addr, phase, ""))
		for i := range n {
			e := ev(executor.EventProgress, addr, phase, fmt.Sprintf("%s-line-%d", addr, i))
			e.Hook = hook
			p.Event(e)
		}
		done := ev(executor.EventPhaseDone, addr, phase, "")
		done.Err = phaseErr
		p.Event(done)
		e := ev(end, addr, "", "")
		if end == executor.EventFailed {
			e.Err = "setup: boom"
		}
		p.Event(e)
	}
	run("host.ok[0]", executor.PhaseSetup, "", 4, "", executor.EventDone)
	run("host.bad[0]", executor.PhaseSetup, "", 50, "boom", executor.EventFailed)
	run("host.td[0]", executor.PhaseTeardown, "", 2, "exit 4", executor.EventDone)
	run("host.hk[0]", executor.PhaseHooks, "announce", 2, "boom", executor.EventFailed)
	p.finish()
	out := b.String()
	out = out[strings.LastIndex(out, "\x1b[J")+3:]
	for _, want := range []string{
		"Output of host.bad[0] (checkout failed):",
		"  setup: host.bad[0]-line-0\n", "  setup: host.bad[0]-line-49\n",
		"Output of host.td[0] (teardown failed):", "  teardown: host.td[0]-line-1\n",
		"Output of host.hk[0] (checkout failed):", "  hook announce: host.hk[0]-line-1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%q not printed at the end:\n%s", want, out)
		}
	}
	if strings.Contains(out, "host.ok[0]-line") {
		t.Errorf("the output of a host that did well is printed:\n%s", out)
	}
	if strings.Index(out, "host.bad[0]-line-0") > strings.Index(out, "host.bad[0]-line-49") {
		t.Errorf("output out of order:\n%s", out)
	}
	before := b.Len()
	p.finish()
	p.Event(ev(executor.EventNote, "host.ok[0]", "", "late"))
	if b.Len() != before {
		t.Errorf("the view printed after it ended: %q", b.String()[before:])
	}
}

// TestCleanLine: what a remote command prints cannot move the cursor or
// colour the live block: escape sequences and control characters go, and
// of a line rewritten with carriage returns the last state stays.
func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[1;31merror\x1b[0m: a\tb\a":     "error: a  b",
		"fetch 10%\rfetch 50%\rfetch 100%\r": "fetch 100%",
		"plain":                              "plain",
		"\x1b]0;title\x07after":              "after",
		"\x1b]0;title\x1b\\after":            "after",
		"\x1b(Bok":                           "ok",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFitCountsWhatShows: colour codes take no columns, and a line stays
// narrower than the terminal.
func TestFitCountsWhatShows(t *testing.T) {
	painted := ansiDim + strings.Repeat("x", 19) + ansiReset
	if got := fit(painted, 20); got != painted {
		t.Errorf("fit cut a painted line of 19 columns on 20: %q", got)
	}
	if got, want := fit(painted+"y", 20), ansiDim+strings.Repeat("x", 18)+"…"+ansiReset; got != want {
		t.Errorf("fit(20 columns, 20) = %q, want %q", got, want)
	}
	if got, want := fit("héllo wörld, a line of 31 cols", 12), "héllo wörl…"; got != want {
		t.Errorf("fit = %q, want %q", got, want)
	}
}
