package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/planner"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// run is the events of an apply: web[0] checked out and set up (with a
// hook), web[1] failed at checkout, web[2] skipped, db[0] checked in with
// a note.
func run() []executor.Event {
	ev := func(kind executor.EventKind, addr string, a planner.Action, p executor.Phase, msg, err string, d time.Duration) executor.Event {
		return executor.Event{Time: t0, Kind: kind, Address: addr, HostID: "id-" + addr, Action: a, Phase: p, Message: msg, Err: err, Duration: d}
	}
	c, x := planner.Create, planner.Destroy
	return []executor.Event{
		ev(executor.EventStart, "host.web[0]", c, "", "not checked out yet", "", 0),
		ev(executor.EventPhaseStart, "host.web[0]", c, executor.PhaseCheckout, "", "", 0),
		ev(executor.EventPhaseDone, "host.web[0]", c, executor.PhaseCheckout, "", "", 2*time.Second),
		ev(executor.EventPhaseStart, "host.web[0]", c, executor.PhaseSetup, "", "", 0),
		ev(executor.EventProgress, "host.web[0]", c, executor.PhaseHooks, `hook "announce" (after_setup)`, "", 0),
		ev(executor.EventPhaseDone, "host.web[0]", c, executor.PhaseSetup, "", "", 1500*time.Millisecond),
		ev(executor.EventDone, "host.web[0]", c, "", "", "", 4*time.Second),
		ev(executor.EventStart, "host.web[1]", c, "", "", "", 0),
		ev(executor.EventPhaseStart, "host.web[1]", c, executor.PhaseCheckout, "", "", 0),
		ev(executor.EventPhaseDone, "host.web[1]", c, executor.PhaseCheckout, "", "image <none> not found", time.Second),
		ev(executor.EventFailed, "host.web[1]", c, "", "", "checkout: image <none> not found", time.Second),
		ev(executor.EventSkipped, "host.web[2]", c, "", "", "depends on host.web[1], which failed", 0),
		ev(executor.EventStart, "host.db[0]", x, "", "", "", 0),
		ev(executor.EventPhaseStart, "host.db[0]", x, executor.PhaseCheckin, "", "", 0),
		ev(executor.EventPhaseDone, "host.db[0]", x, executor.PhaseCheckin, "", "", 250*time.Millisecond),
		ev(executor.EventNote, "host.db[0]", x, "", "already gone, removed from state", "", 0),
		ev(executor.EventDone, "host.db[0]", x, "", "", "", 300*time.Millisecond),
	}
}

func writeReport(t *testing.T, name string) string {
	t.Helper()
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), name)
	w, err := Create(path, Meta{Command: "apply", Environment: "ui", Hostname: "runner1", Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	obs := Tee(nil, w, executor.ObserverFunc(func(executor.Event) {}))
	for _, e := range run() {
		obs.Event(e)
	}
	clk.t = t0.Add(5 * time.Second)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The JUnit schema as CI tools read it, declared independently of the
// package's own types so that a renamed field shows up here.
type xSuites struct {
	XMLName xml.Name   `xml:"testsuites"`
	Attrs   []xml.Attr `xml:",any,attr"`
	Suites  []xSuite   `xml:"testsuite"`
	Stray   []xml.Name `xml:",any"`
}

type xSuite struct {
	Attrs []xml.Attr `xml:",any,attr"`
	Cases []xCase    `xml:"testcase"`
	Props []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	SystemOut string `xml:"system-out"`
}

type xCase struct {
	Attrs   []xml.Attr `xml:",any,attr"`
	Failure []struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Skipped []struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
}

func attrs(as []xml.Attr) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[a.Name.Local] = a.Value
	}
	return m
}

func TestJUnit(t *testing.T) {
	path := writeReport(t, "junit.xml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("<?xml")) {
		t.Errorf("no XML declaration:\n%s", b)
	}
	var doc xSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 || len(doc.Stray) != 0 {
		t.Fatalf("want exactly one testsuite, got %d (and %v)", len(doc.Suites), doc.Stray)
	}
	root := attrs(doc.Attrs)
	for _, k := range []string{"tests", "failures", "errors", "time"} {
		if _, ok := root[k]; !ok {
			t.Errorf("testsuites lacks %s", k)
		}
	}
	s := doc.Suites[0]
	sa := attrs(s.Attrs)
	for _, k := range []string{"name", "tests", "failures", "errors", "skipped", "time", "timestamp"} {
		if _, ok := sa[k]; !ok {
			t.Errorf("testsuite lacks required attribute %s", k)
		}
	}
	if sa["name"] != "broker apply ui" || sa["time"] != "5.000" || sa["timestamp"] != "2025-03-01T12:00:00" || sa["hostname"] != "runner1" {
		t.Errorf("testsuite attributes %v", sa)
	}
	type row struct{ Class, Name, Time, Failure, Type, Skipped string }
	var got []row
	for _, c := range s.Cases {
		a := attrs(c.Attrs)
		for _, k := range []string{"name", "classname", "time"} {
			if _, ok := a[k]; !ok {
				t.Errorf("testcase %v lacks %s", a, k)
			}
		}
		r := row{Class: a["classname"], Name: a["name"], Time: a["time"]}
		if len(c.Failure) > 1 || len(c.Skipped) > 1 || len(c.Failure)+len(c.Skipped) > 1 {
			t.Errorf("testcase %v: at most one failure or skipped", a)
		}
		if len(c.Failure) == 1 {
			r.Failure, r.Type = c.Failure[0].Message, c.Failure[0].Type
			if c.Failure[0].Text == "" {
				t.Errorf("failure without text")
			}
		}
		if len(c.Skipped) == 1 {
			r.Skipped = "skipped: " + c.Skipped[0].Message
		}
		got = append(got, r)
	}
	want := []row{
		{Class: "host.web[0]", Name: "checkout", Time: "2.000"},
		{Class: "host.web[0]", Name: "setup", Time: "1.500"},
		{Class: "host.web[0]", Name: "hooks", Time: "0.000"},
		{Class: "host.web[0]", Name: "ready", Time: "4.000"},
		{Class: "host.web[1]", Name: "checkout", Time: "1.000", Failure: "image <none> not found", Type: "checkout"},
		{Class: "host.web[1]", Name: "ready", Time: "1.000", Failure: "checkout: image <none> not found", Type: "ready"},
		{Class: "host.web[2]", Name: "ready", Time: "0.000", Skipped: "skipped: depends on host.web[1], which failed"},
		{Class: "host.db[0]", Name: "checkin", Time: "0.250"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("test cases (-want +got):\n%s", diff)
	}
	if sa["tests"] != "8" || sa["failures"] != "2" || sa["skipped"] != "1" || sa["errors"] != "0" {
		t.Errorf("counts %v", sa)
	}
	if !strings.Contains(s.SystemOut, "host.db[0]: already gone, removed from state") {
		t.Errorf("notes missing from system-out: %q", s.SystemOut)
	}
}

func TestNDJSON(t *testing.T) {
	path := writeReport(t, "events.ndjson")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []executor.Event
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) == 0 {
		t.Fatal("empty report")
	}
	for _, l := range lines[:len(lines)-1] {
		var e executor.Event
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %q does not decode to executor.Event: %v", l, err)
		}
		events = append(events, e)
	}
	if diff := cmp.Diff(run(), events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	var sum Summary
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sum); err != nil {
		t.Fatal(err)
	}
	want := Summary{Kind: "summary", Command: "apply", Environment: "ui", Started: t0, Finished: t0.Add(5 * time.Second),
		Counts: Counts{Done: 2, Failed: 1, Skipped: 1}, Events: len(run())}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"a.xml": FormatJUnit, "b.NDJSON": FormatNDJSON, "c.jsonl": FormatNDJSON} {
		if got, err := FormatOf(path); err != nil || got != want {
			t.Errorf("FormatOf(%s) = %s, %v", path, got, err)
		}
	}
	if _, err := FormatOf("report.txt"); err == nil || !strings.Contains(err.Error(), "*.xml") {
		t.Errorf("FormatOf(report.txt) = %v", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir.xml"), Meta{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create in a missing directory: %v", err)
	}
}
