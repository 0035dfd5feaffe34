package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/labbroker/broker/state"
)

const interruptManifest = `
environment = "interrupt"
provider "sim" "lab" {
  latency = "%s"
}
host "web" {
  provider = "sim.lab"
  count    = 8
}
`

// TestFirstInterruptFinishesInFlight: one SIGINT stops scheduling; what is
// in flight finishes and is recorded, the rest is skipped, exit 130. The
// next apply checks out the rest.
func TestFirstInterruptFinishesInFlight(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(interruptManifest, "1s"))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--parallelism", "2")
	p.waitLine(t, "checking out")
	p.waitLine(t, "checking out")
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, stderr := p.wait()
	if code != exitInterrupted {
		t.Fatalf("exit %d after one interrupt, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr, "finishing what is in flight") || !strings.Contains(stderr, "skipped") {
		t.Errorf("stderr does not say what happened:\n%s", stderr)
	}
	hosts := inventory(t, dir)
	if len(hosts) < 2 || len(hosts) >= 8 {
		t.Fatalf("%d hosts recorded after the interrupt; the two in flight should have finished and the rest been skipped", len(hosts))
	}
	for _, h := range hosts {
		if h.Status != state.StatusReady {
			t.Errorf("%s is %s after finishing in flight, want ready", h.Address, h.Status)
		}
	}
	code, out, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--parallelism", "8")
	if code != 0 {
		t.Fatalf("apply after the interrupt: exit %d\n%s", code, errs)
	}
	if want := fmt.Sprintf("Apply complete: %d checked out.", 8-len(hosts)); !strings.Contains(out, want) {
		t.Errorf("second apply: want %q in:\n%s", want, out)
	}
}
