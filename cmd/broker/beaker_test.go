package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/labbroker/broker/providers/beaker/beakertest"
	"github.com/labbroker/broker/test/sshdtest"
)

// TestBeakerExtendOverSSH checks a Beaker system out of the hub emulator
// whose system's FQDN is a real sshd on loopback, then extends it the
// Python broker's way: broker logs in with its ssh settings and runs
// extendtesttime.sh (here a script recording its argument) on the host.
func TestBeakerExtendOverSSH(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	hub := beakertest.New(beakertest.Options{Systems: []string{"127.0.0.1"}})
	defer hub.Close()
	l := newRemoteLab(t, srv)
	got := filepath.Join(l.dir, "extended")
	script := l.write("extendtesttime.sh", "#!/bin/sh\necho \"$@\" >> "+got+"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	l.write(".broker/broker.hcl", fmt.Sprintf(`ssh {
  private_key_file = %q
  known_hosts_file = %q
  port             = %d
  user             = %q
}

provider "Beaker" "lab" {
  hub_url        = %q
  username       = "admin"
  password       = "password"
  poll_interval  = "10ms"
  extend_command = %q
}
`, srv.KeyFile, filepath.Join(l.dir, "known_hosts"), srv.Port, srv.User, hub.URL(), script))
	l.write("job.xml", `<job><whiteboard>extend me</whiteboard><recipeSet><recipe>
  <task name="/distribution/check-install"/><task name="/distribution/reservesys"/>
</recipe></recipeSet></job>`)

	r := l.must(0, "checkout", "--job_xml", "job.xml")
	wantIn(t, "checkout stdout", r.stdout, `127\.0\.0\.1 +127\.0\.0\.1 +beaker\.lab`)
	l.must(0, "extend", "127.0.0.1", "--extend-duration", "24")
	l.must(0, "extend", "0", "--lease", "90m")
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "24\n2\n" {
		t.Fatalf("extendtesttime.sh was given %q, want 24 then 2 hours", b)
	}
	inv := l.must(0, "inventory", "--json")
	wantIn(t, "inventory", inv.stdout, `"expires":"`)

	// A failing script fails the extend with what to run by hand.
	l.write("extendtesttime.sh", "#!/bin/sh\necho 'reservation is over' >&2\nexit 1\n")
	r = l.must(1, "extend", "0", "--extend-duration", "5")
	if !strings.Contains(r.stderr, "reservation is over") || !strings.Contains(r.stderr, "ssh root@127.0.0.1 "+script+" 5") {
		t.Fatalf("failing extend stderr:\n%s", r.stderr)
	}
	l.must(0, "checkin", "0")
	if st := hub.Jobs()[0].Status; st != "Cancelled" {
		t.Errorf("job after checkin: %s, want Cancelled", st)
	}
}

// TestKilledBeakerApplyResumesTheSameJob SIGKILLs an apply while its job
// waits for a system; the next apply waits on the same job (recorded in
// the intent) rather than submitting another.
func TestKilledBeakerApplyResumesTheSameJob(t *testing.T) {
	hub := beakertest.New(beakertest.Options{})
	defer hub.Close()
	hub.SetOutcome(beakertest.StayQueued)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".broker"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(`environment = "beaker-kill"
provider "beaker" "hub" {
  hub_url       = %q
  username      = "admin"
  password      = "password"
  poll_interval = "10ms"
}
host "system" {
  provider = "beaker.hub"
  args     = { job_xml = file("job.xml") }
}
`, hub.URL()))
	writeFile(t, filepath.Join(dir, "job.xml"), `<job><whiteboard>kill me</whiteboard><recipeSet><recipe>
  <task name="/distribution/reservesys"/></recipe></recipeSet></job>`)

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	p.waitLine(t, "submitted J:101")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()

	if err := hub.SetJobOutcome(101, beakertest.Reserve); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBroker(t, dir, "plan", "-f", "lab.hcl")
	if code != 0 || !strings.Contains(out, "resume") {
		t.Fatalf("plan after the kill: exit %d, want a resumed checkout:\n%s\n%s", code, out, errs)
	}
	code, _, errs = runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	if code != 0 || !strings.Contains(errs, "resuming J:101") {
		t.Fatalf("second apply: exit %d:\n%s", code, errs)
	}
	if n := hub.Submits(); n != 1 {
		t.Fatalf("%d jobs submitted, want 1", n)
	}
	hosts := inventory(t, dir)
	if len(hosts) != 1 || hosts[0].ProviderID != "J:101" {
		t.Fatalf("inventory %+v, want the one host of J:101", hosts)
	}
}
