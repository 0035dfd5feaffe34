package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/providers/sim"
	"github.com/labbroker/broker/state"
)

// brokerProc is the test binary re-executed as broker.
type brokerProc struct {
	cmd    *exec.Cmd
	lines  chan string // stderr, line by line
	stdout strings.Builder
	done   chan error
}

func startBroker(t *testing.T, dir string, args ...string) *brokerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+filepath.Join(dir, ".broker"), "NO_COLOR=1")
	cmd.Dir = dir
	// Its own process group, so that cleanup also ends what it started
	// (local hook commands) when a test kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &brokerProc{cmd: cmd, lines: make(chan string, 1024), done: make(chan error, 1)}
	cmd.Stdout = &p.stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return p
}

// waitLine reads stderr until a line contains want; it fails if the process
// ends first.
func (p *brokerProc) waitLine(t *testing.T, want string) string {
	t.Helper()
	var seen []string
	for line := range p.lines {
		seen = append(seen, line)
		if strings.Contains(line, want) {
			return line
		}
	}
	t.Fatalf("broker ended without printing %q; stderr:\n%s", want, strings.Join(seen, "\n"))
	return ""
}

// wait drains stderr and returns the exit code and what stderr said.
func (p *brokerProc) wait() (int, string) {
	var b strings.Builder
	for line := range p.lines {
		b.WriteString(line + "\n")
	}
	err := <-p.done
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, b.String()
}

func runBroker(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	p := startBroker(t, dir, args...)
	code, stderr := p.wait()
	return code, p.stdout.String(), stderr
}

func inventory(t *testing.T, dir string) []state.Host {
	t.Helper()
	code, out, errs := runBroker(t, dir, "inventory", "--json")
	if code != 0 {
		t.Fatalf("inventory: exit %d: %s", code, errs)
	}
	var hosts []state.Host
	if err := json.Unmarshal([]byte(out), &hosts); err != nil {
		t.Fatalf("inventory --json: %v\n%s", err, out)
	}
	return hosts
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const killManifest = `
environment = "kill"
provider "sim" "lab" {
  latency = "%s"
}
host "web" {
  provider = "sim.lab"
  count    = 12
  lease    = "1h"
}
`

// TestKilledApplyLeaksNothing SIGKILLs an apply half-way and checks that
// the next apply leaves exactly the desired hosts, each once, and that the
// sim provider holds nothing the state does not record.
func TestKilledApplyLeaksNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(killManifest, "400ms"))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--parallelism", "4")
	// Some hosts are ready, others in flight: kill it there.
	p.waitLine(t, "ready in")
	p.waitLine(t, "checking out")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()

	hosts := inventory(t, dir)
	if len(hosts) == 0 || len(hosts) >= 12 {
		t.Fatalf("after the kill the state holds %d hosts; the kill should have landed half-way", len(hosts))
	}

	// The next plan checks out exactly what is missing, resuming what the
	// kill interrupted (whether the kill landed before or after an
	// intent was written is up to the scheduler; both must end right).
	code, out, errs := runBroker(t, dir, "plan", "-f", "lab.hcl")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errs)
	}
	ready, pending := 0, 0
	for _, h := range hosts {
		switch h.Status {
		case state.StatusReady:
			ready++
		case state.StatusPending:
			pending++ // recorded, killed before it was ready: replaced
		}
	}
	if want := fmt.Sprintf("Plan: %d to check out, 0 to extend, 0 to check in, %d to replace.", 12-len(hosts), pending); !strings.Contains(out, want) {
		t.Errorf("plan after a kill (%d ready, %d pending): want %q in:\n%s", ready, pending, want, out)
	}

	code, _, errs = runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("second apply: exit %d: %s", code, errs)
	}

	hosts = inventory(t, dir)
	var addrs, recorded []string
	for _, h := range hosts {
		addrs = append(addrs, h.Address)
		recorded = append(recorded, h.ProviderID)
		if h.Status != state.StatusReady {
			t.Errorf("%s is %s, want ready", h.Address, h.Status)
		}
	}
	var want []string
	for i := 0; i < 12; i++ {
		want = append(want, fmt.Sprintf("host.web[%d]", i))
	}
	sort.Strings(addrs)
	sort.Strings(want)
	if diff := cmp.Diff(want, addrs); diff != "" {
		t.Errorf("addresses after the second apply (-want +got):\n%s", diff)
	}

	simHosts, err := sim.Hosts(filepath.Join(dir, ".broker", "sim", "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, h := range simHosts {
		held = append(held, h.ProviderID)
	}
	sort.Strings(held)
	sort.Strings(recorded)
	if diff := cmp.Diff(recorded, held); diff != "" {
		t.Errorf("sim holds hosts the state does not record, or the reverse (-recorded +held):\n%s", diff)
	}

	code, _, errs = runBroker(t, dir, "destroy", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("destroy: exit %d: %s", code, errs)
	}
	if simHosts, _ := sim.Hosts(filepath.Join(dir, ".broker", "sim", "lab.db")); len(simHosts) != 0 {
		t.Errorf("sim still holds %d hosts after destroy", len(simHosts))
	}
}

const lockManifest = `
environment = "%s"
provider "sim" "lab" {
  latency = "%s"
}
host "web" {
  provider = "sim.lab"
}
`

// TestSameEnvironmentTakesTurns: a second apply of an environment being
// applied waits for it, saying for whom; with --lock-timeout 0s it fails
// at once naming the holder.
func TestSameEnvironmentTakesTurns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow.hcl"), fmt.Sprintf(lockManifest, "shared", "1h"))
	writeFile(t, filepath.Join(dir, "fast.hcl"), fmt.Sprintf(lockManifest, "shared", "0s"))

	first := startBroker(t, dir, "apply", "-f", "slow.hcl", "--auto-approve")
	first.waitLine(t, "checking out") // it holds the lock now

	code, _, errs := runBroker(t, dir, "apply", "-f", "fast.hcl", "--auto-approve", "--lock-timeout", "0s")
	if code != exitLocked {
		t.Fatalf("second apply: exit %d, want %d (locked); stderr:\n%s", code, exitLocked, errs)
	}
	wantHolder := fmt.Sprintf("apply (pid %d", first.cmd.Process.Pid)
	if !strings.Contains(errs, `environment "shared" is locked by `+wantHolder) {
		t.Errorf("the error does not name the holder %q:\n%s", wantHolder, errs)
	}

	// By default the second waits; it proceeds once the first is gone.
	second := startBroker(t, dir, "apply", "-f", "fast.hcl", "--auto-approve")
	second.waitLine(t, "waiting up to 5m0s for the lock held by "+wantHolder)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	if code, errs := second.wait(); code != 0 {
		t.Fatalf("waiting apply: exit %d: %s", code, errs)
	}
	if got := inventory(t, dir); len(got) != 1 {
		t.Errorf("inventory holds %d hosts, want 1", len(got))
	}
}

// TestDifferentEnvironmentsProceed: an apply of one environment does not
// wait for a running apply of another.
func TestDifferentEnvironmentsProceed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), fmt.Sprintf(lockManifest, "env-a", "1h"))
	writeFile(t, filepath.Join(dir, "b.hcl"), fmt.Sprintf(lockManifest, "env-b", "0s"))

	first := startBroker(t, dir, "apply", "-f", "a.hcl", "--auto-approve")
	first.waitLine(t, "checking out")

	// env-a's apply is blocked in its checkout for an hour; env-b must not wait.
	code, _, errs := runBroker(t, dir, "apply", "-f", "b.hcl", "--auto-approve", "--lock-timeout", "0s")
	if code != 0 {
		t.Fatalf("apply of env-b while env-a is applied: exit %d: %s", code, errs)
	}
	select {
	case err := <-first.done:
		t.Fatalf("the env-a apply ended early (%v): the test proves nothing", err)
	default:
	}
	_ = first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait()
}

const pendingManifest = `
environment = "pending"
provider "sim" "lab" {}
host "web" {
  provider = "sim.lab"
  count    = 2
}
hook "slow" {
  on    = ["after_checkout"]
  when  = "address == \"host.web[1]\""
  local = ["echo waiting; sleep 600"]
}
`

// TestKilledDuringSetupThenDestroy: a run killed while a host's setup runs
// leaves a pending record and its create intent for one resource. Destroy
// checks that resource in once (not once for the record and again for the
// intent), and leaves nothing behind.
func TestKilledDuringSetupThenDestroy(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), pendingManifest)
	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	p.waitLine(t, "local: waiting")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()

	code, out, _ := runBroker(t, dir, "plan", "-f", "lab.hcl", "--destroy")
	if code != 0 || strings.Count(out, "- host.web[1]") != 1 || !strings.Contains(out, "Plan: 0 to check out, 0 to extend, 2 to check in") {
		t.Fatalf("destroy plan after a kill during setup (exit %d):\n%s", code, out)
	}
	code, _, errs := runBroker(t, dir, "destroy", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("destroy: exit %d\n%s", code, errs)
	}
	if hosts := inventory(t, dir); len(hosts) != 0 {
		t.Errorf("%d records left", len(hosts))
	}
	simHosts, err := sim.Hosts(filepath.Join(dir, ".broker", "sim", "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(simHosts) != 0 {
		t.Errorf("sim still holds %d hosts", len(simHosts))
	}
	code, out, _ = runBroker(t, dir, "plan", "-f", "lab.hcl", "--destroy")
	if code != 0 || !strings.Contains(out, "No changes") {
		t.Errorf("a second destroy plan still has work (intents left?):\n%s", out)
	}
}
