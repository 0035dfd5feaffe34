package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
