package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/labbroker/broker/executor"
	reports "github.com/labbroker/broker/internal/report"
)

// TestReapWatchStopsOnSIGTERM runs the janitor as a process, waits for its
// first round, sends SIGTERM and expects a clean exit with the closing line.
func TestReapWatchStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), `
environment = "janitor"
provider "sim" "lab" {}
host "web" {
  provider = "sim.lab"
  count    = 2
  lease    = "1h"
}
`)
	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	p := startBroker(t, dir, "reap", "--watch", "--interval", "1h")
	// With an electing store, leadership lines come first.
	p.waitLine(t, "broker: reap: round 1")
	summary := p.waitLine(t, "broker: reap: reaped ")
	if !strings.Contains(summary, "reaped 0 expired hosts, removed 0 orphans, 0 failed") {
		t.Errorf("first round: %q", summary)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, rest := p.wait()
	if code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, rest)
	}
	if !strings.Contains(rest, "broker: reap: stopped after 1 round") {
		t.Errorf("no closing line; stderr:\n%s", rest)
	}
	if hosts := inventory(t, dir); len(hosts) != 2 {
		t.Errorf("fresh hosts reaped: %d left", len(hosts))
	}
}

// TestApplyReports applies with a failing host and reads both reports
// back: the JUnit document with encoding/xml, the NDJSON lines as
// executor.Events and a summary.
func TestApplyReports(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), `
environment = "reports"
provider "sim" "lab" { fail_addresses = ["host.web[1]"] }
host "web" {
  provider = "sim.lab"
  count    = 2
  lease    = "1h"
}
`)
	code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--report", "junit.xml", "--report", "events.jsonl")
	if code != 1 {
		t.Fatalf("apply: exit %d, want 1: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc reports.Suites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "broker apply reports" || doc.Failures == 0 {
		t.Fatalf("junit.xml:\n%s", b)
	}
	var failed []string
	for _, c := range doc.Suites[0].Cases {
		if c.Classname == "" || c.Name == "" || c.Time == "" {
			t.Errorf("test case without classname, name or time: %+v", c)
		}
		if c.Failure != nil {
			if !strings.Contains(c.Failure.Message, "injected checkout failure") || c.Failure.Type == "" {
				t.Errorf("failure %+v", c.Failure)
			}
			failed = append(failed, c.Classname+" "+c.Name)
		}
	}
	if strings.Join(failed, ", ") != "host.web[1] checkout, host.web[1] ready" {
		t.Errorf("failed cases %v\n%s", failed, b)
	}

	f, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(f)), "\n")
	for _, l := range lines[:len(lines)-1] {
		var e executor.Event
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Kind == "" || e.Time.IsZero() {
			t.Errorf("line %q: %v", l, err)
		}
	}
	var sum reports.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Kind != "summary" || sum.Done != 1 || sum.Failed != 1 || sum.Events != len(lines)-1 {
		t.Errorf("summary %+v (%v)", sum, err)
	}
}
