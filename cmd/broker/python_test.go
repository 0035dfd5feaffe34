package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The Python package (python/) is tested with Debian's pytest, run by
// these tests against this binary (re-executed as broker rpc).

// python is Debian's python3 with pytest; the test skips without it, or
// fails in CI.
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pytest").Run(); err != nil {
		msg := fmt.Sprintf("%s with pytest is needed (apt-get install python3-pytest, or make deps): %v", py, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// pyLab is a broker directory with a settings file, and the environment
// a pytest run gets.
type pyLab struct {
	t   *testing.T
	dir string
	env []string
	// installed: the package comes from pip install, whose entry point
	// registers the plugin (no -p broker.pytest).
	installed bool
}

func newPyLab(t *testing.T, settings string, env ...string) *pyLab {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".broker"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, ".broker", "broker.hcl"), settings)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return &pyLab{t: t, dir: dir, env: append([]string{
		"PYTHONPATH=" + filepath.Join(root, "python"),
		"PYTHONDONTWRITEBYTECODE=1",
		"BROKER_BINARY=" + os.Args[0],
		asBroker + "=1",
		"BROKER_DIRECTORY=" + filepath.Join(dir, ".broker"),
		"NO_COLOR=1",
	}, env...)}
}

// pytest starts pytest on files (relative to python/tests) in its own
// process group.
func (l *pyLab) pytest(extra []string, args ...string) *exec.Cmd {
	root, _ := filepath.Abs("../..")
	argv := []string{"-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--rootdir", filepath.Join(root, "python")}
	if !l.installed {
		argv = append(argv, "-p", "broker.pytest")
	}
	argv = append(argv, args...)
	cmd := exec.Command(python(l.t), argv...)
	cmd.Dir = l.dir
	cmd.Env = append(append(os.Environ(), l.env...), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func testsDir(name string) string {
	root, _ := filepath.Abs("../..")
	return filepath.Join(root, "python", "tests", name)
}

// run runs pytest and fails the test unless it passes.
func (l *pyLab) mustPass(args ...string) string {
	l.t.Helper()
	out, err := l.pytest(nil, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("pytest %v: %v\n%s", args, err, out)
	}
	return string(out)
}

const simSettings = `
nick "rhel7" {
  provider = "sim"
}
`

// TestPythonSim runs python/tests/test_sim.py against the sim provider.
func TestPythonSim(t *testing.T) {
	l := newPyLab(t, simSettings, "BROKER_TEST_TARGET=sim")
	out := l.mustPass(testsDir("test_sim.py"), "--broker-nick", "rhel7")
	if !strings.Contains(out, "passed") || strings.Contains(out, "skipped") {
		t.Errorf("pytest:\n%s", out)
	}
	if left := inventory(t, l.dir); len(left) != 0 {
		t.Errorf("%d hosts left checked out after the suite", len(left))
	}
}

const dockerSettings = `
nick "rhel7" {
  provider = "docker"
  args     = { image = "broker-sshd:bookworm", ports = ["22"] }
}
`

// TestPythonContainers runs the seed README's examples
// (python/tests/test_seed_style.py) against sshd and docker-exec containers.
func TestPythonContainers(t *testing.T) {
	env := dockerEnv(t)
	l := newPyLab(t, dockerSettings, "BROKER_TEST_TARGET=docker", "BROKER_ENVIRONMENT="+env, "BROKER_TEST_IMAGE=broker-sshd:bookworm")
	out := l.mustPass(testsDir("test_seed_style.py"))
	if !strings.Contains(out, "8 passed") {
		t.Errorf("pytest:\n%s", out)
	}
	if left := inventory(t, l.dir); len(left) != 0 {
		t.Errorf("%d hosts left checked out after the suite", len(left))
	}
	if n := len(dockerList(t, env, "ps", "-aq")); n != 0 {
		t.Errorf("%d containers left after the suite", n)
	}
}

// TestPythonFixtureFailingTests: a failing and an erroring test's hosts
// are checked in.
func TestPythonFixtureFailingTests(t *testing.T) {
	l := newPyLab(t, simSettings)
	seen := filepath.Join(l.dir, "seen")
	out, err := l.pytest([]string{"BROKER_TEST_SEEN=" + seen}, testsDir("scenarios/scenario_fail.py"), "--broker-nick", "rhel7").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "2 failed") {
		t.Fatalf("pytest: %v, want exit 1 with 2 failed\n%s", err, out)
	}
	b, _ := os.ReadFile(seen)
	if n := len(strings.Fields(string(b))); n != 2 {
		t.Fatalf("the tests saw %d hosts, want 2", n)
	}
	if left := inventory(t, l.dir); len(left) != 0 {
		t.Errorf("%d hosts left checked out after failing tests", len(left))
	}
}

// blocked starts scenario_block.py and returns pytest, where its end is
// told, the host it holds and the pid of its broker rpc, once the test is
// blocked.
func (l *pyLab) blocked() (*exec.Cmd, chan error, string, int) {
	return l.blockedIn("scenarios/scenario_block.py")
}

// blockedIn is blocked with another scenario.
func (l *pyLab) blockedIn(scenario string) (*exec.Cmd, chan error, string, int) {
	t := l.t
	t.Helper()
	ready, release := filepath.Join(l.dir, "ready"), filepath.Join(l.dir, "release")
	for _, f := range []string{ready, release} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := l.pytest([]string{"BROKER_TEST_READY=" + ready, "BROKER_TEST_RELEASE=" + release}, testsDir(scenario), "--broker-nick", "rhel7")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		f, err := os.Open(ready) // until the test opens it to write
		if err != nil {
			lines <- ""
			return
		}
		defer f.Close()
		line, _ := bufio.NewReader(f).ReadString('\n')
		lines <- line
	}()
	go func() { exited <- cmd.Wait() }()
	var line string
	select {
	case line = <-lines:
	case err := <-exited:
		t.Fatalf("pytest ended before the test was blocked: %v\n%s", err, out.String())
	}
	var id string
	var pid int
	if _, err := fmt.Sscan(line, &id, &pid); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return cmd, exited, id, pid
}

// waitExit waits for a process that is not our child to end.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// TestPythonKilledLeavesHostsToCheckIn: pytest killed mid-test leaves its
// host recorded (broker rpc ends with its stdin and checks nothing in),
// and `broker checkin` checks it in.
func TestPythonKilledLeavesHostsToCheckIn(t *testing.T) {
	for _, target := range []string{"sim", "docker"} {
		t.Run(target, func(t *testing.T) {
			settings, extra := simSettings, []string(nil)
			var env string
			if target == "docker" {
				env = dockerEnv(t)
				settings, extra = dockerSettings, []string{"BROKER_ENVIRONMENT=" + env}
			}
			l := newPyLab(t, settings, extra...)
			cmd, _, id, rpcPid := l.blocked()
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitExit(t, rpcPid)
			left := inventory(t, l.dir)
			if len(left) != 1 || left[0].ID != id {
				t.Fatalf("after the kill: inventory %v, want the host %s", left, id)
			}
			if code, _, errs := runBroker(t, l.dir, "checkin", id); code != 0 {
				t.Fatalf("checkin %s: exit %d\n%s", id, code, errs)
			}
			if left := inventory(t, l.dir); len(left) != 0 {
				t.Errorf("%d hosts left after checkin", len(left))
			}
			if target == "docker" {
				if n := len(dockerList(t, env, "ps", "-aq")); n != 0 {
					t.Errorf("%d containers left after checkin", n)
				}
			}
		})
	}
}

// TestPythonInterruptChecksIn: Ctrl-C (SIGINT to pytest's process group,
// as a terminal sends it) mid-test still checks the fixture's host in.
func TestPythonInterruptChecksIn(t *testing.T) {
	l := newPyLab(t, simSettings)
	cmd, exited, id, rpcPid := l.blocked()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// pytest tears the fixture down, then ends (2: interrupted); its
	// broker rpc ends with it.
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("pytest after SIGINT: %v, want exit status 2 (interrupted)", err)
	}
	waitExit(t, rpcPid)
	for _, h := range inventory(t, l.dir) {
		if h.ID == id {
			t.Fatalf("host %s still checked out after Ctrl-C", id)
		}
	}
}

// TestPythonPipInstall: pip installs the package offline (no index: its
// build backend is in-tree and needs nothing), and the installed package
// registers the pytest plugin by its entry point.
func TestPythonPipInstall(t *testing.T) {
	py := python(t)
	target := t.TempDir()
	root, _ := filepath.Abs("../..")
	out, err := exec.Command(py, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
		"--target", target, filepath.Join(root, "python")).CombinedOutput()
	if err != nil {
		t.Fatalf("pip install --no-index ./python: %v\n%s", err, out)
	}
	l := newPyLab(t, simSettings, "BROKER_TEST_TARGET=sim")
	l.installed = true
	for i, e := range l.env {
		if strings.HasPrefix(e, "PYTHONPATH=") {
			l.env[i] = "PYTHONPATH=" + target
		}
	}
	// The tests run from a copy, away from python/, so that only the
	// installed package can be imported.
	b, err := os.ReadFile(testsDir("test_sim.py"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(l.dir, "test_installed.py"), string(b))
	out2 := l.mustPass(filepath.Join(l.dir, "test_installed.py"), "--broker-nick", "rhel7", "-k", "fixture or checkout_inventory")
	if !strings.Contains(out2, "5 passed") {
		t.Errorf("pytest with the installed package:\n%s", out2)
	}
}

// TestRPCRefusesLogFlags: broker rpc says it does not take the flags it
// would otherwise ignore.
func TestRPCRefusesLogFlags(t *testing.T) {
	code, _, errs := runBroker(t, t.TempDir(), "rpc", "--log-level", "debug")
	if code != 1 || !strings.Contains(errs, "broker rpc does not take --log-level") || !strings.Contains(errs, "hint:") {
		t.Errorf("rpc --log-level: exit %d\n%s", code, errs)
	}
}

// TestPythonInterruptedCheckout: Ctrl-C while a checkout is under way (a
// sim provider that takes seconds per host): the hosts it makes are
// checked in before Python exits. (If the interrupt came before the
// request left, nothing was checked out: the outcome is the same.)
func TestPythonInterruptedCheckout(t *testing.T) {
	l := newPyLab(t, simSettings+`
provider "sim" "slow" {
  latency = "3s"
}
nick "slow" {
  provider = "sim.slow"
}
`)
	cmd, exited, _, rpcPid := l.blockedIn("scenarios/scenario_interrupt_checkout.py")
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-exited
	waitExit(t, rpcPid)
	if left := inventory(t, l.dir); len(left) != 0 {
		t.Errorf("%d hosts left checked out after Ctrl-C during the checkout", len(left))
	}
}
