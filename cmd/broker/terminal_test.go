package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labbroker/broker/providers/docker/dockertest"
)

// tmuxTerm is a real terminal (a tmux pane of 120x40) running a shell in
// which `broker` is this test binary.
type tmuxTerm struct {
	t    *testing.T
	sock string
	n    int // commands run, for wait-for channel names
	// changed receives a value whenever the pane gets output (pipe-pane
	// into a FIFO), so waits look at the screen again only then.
	changed chan struct{}
}

// waitDeadline bounds every wait on the terminal: generous, as it only
// ends a test that would otherwise hang (a container may take a while).
const waitDeadline = 3 * time.Minute

func newTmux(t *testing.T, dir string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tmux is not installed (test/deps.sh installs it), and CI=true forbids skipping")
		}
		t.Skip("tmux is not installed (test/deps.sh installs it)")
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bin, "broker"), fmt.Sprintf("#!/bin/sh\n%s=1 exec %s \"$@\"\n", asBroker, shQuote(self)))
	if err := os.Chmod(filepath.Join(bin, "broker"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A short socket path: Unix sockets have a length limit.
	sockDir, err := os.MkdirTemp("", "bt")
	if err != nil {
		t.Fatal(err)
	}
	tm := &tmuxTerm{t: t, sock: filepath.Join(sockDir, "s")}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", tm.sock, "kill-server").Run()
		os.RemoveAll(sockDir)
	})
	shell := []string{"env", "PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + dir, "PS1=$ ",
		"BROKER_DIRECTORY=" + filepath.Join(dir, ".broker"), "TERM=screen", "sh"}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		shell = append(shell[:1], append([]string{"DOCKER_HOST=" + h}, shell[1:]...)...)
	}
	tm.tmux(append([]string{"-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-c", dir}, shell...)...)
	tm.watch(filepath.Join(sockDir, "out"))
	return tm
}

// watch has tmux copy everything the pane receives into a FIFO and turns
// each read of it into a wake-up on tm.changed. tmux parses the output
// into the screen before it copies it out, so after a wake-up the screen
// shows at least that output.
func (tm *tmuxTerm) watch(fifo string) {
	tm.t.Helper()
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		tm.t.Fatal(err)
	}
	tm.changed = make(chan struct{}, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until tmux's cat opens it
		if err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case tm.changed <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}()
	tm.tmux("pipe-pane", "-t", "0", "cat > "+shQuote(fifo))
}

func (tm *tmuxTerm) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys types keys (tmux key names: Enter, C-c) into the pane.
func (tm *tmuxTerm) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys", "-t", "0"}, keys...)...)
}

// screen is what the pane shows, with its scrollback, wrapped lines joined.
func (tm *tmuxTerm) screen() string {
	tm.t.Helper()
	return tm.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "0")
}

// waitScreen waits until the pane matches re, looking again each time
// the pane gets output.
func (tm *tmuxTerm) waitScreen(re string) string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	for {
		s := tm.screen()
		if rx.MatchString(s) {
			return s
		}
		select {
		case <-tm.changed:
		case <-deadline.C:
			tm.t.Fatalf("the terminal never showed %q:\n%s", re, tm.screen())
		}
	}
}

// run types command line into the shell and returns the screen once it
// has finished (tmux wait-for, signalled by the shell) and its exit code.
func (tm *tmuxTerm) run(line string, answer func()) (string, int) {
	tm.t.Helper()
	tm.n++
	ch := fmt.Sprintf("done-%d", tm.n)
	// Each command on a clean screen, without the scrollback of the last.
	tm.keys(fmt.Sprintf(`printf '\033[H\033[2J'; tmux -S %s clear-history; %s; echo "exit=$?"; tmux -S %s wait-for -S %s`, tm.sock, line, tm.sock, ch), "Enter")
	if answer != nil {
		answer()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "tmux", "-S", tm.sock, "wait-for", ch).CombinedOutput(); err != nil {
		tm.t.Fatalf("%s did not finish: %v %s\n%s", line, err, out, tm.screen())
	}
	s := tm.screen()
	m := regexp.MustCompile(`(?m)^exit=(\d+)$`).FindAllStringSubmatch(s, -1)
	if m == nil {
		tm.t.Fatalf("no exit status on the screen:\n%s", s)
	}
	code, _ := strconv.Atoi(m[len(m)-1][1])
	return s, code
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

const terminalLab = `
environment = "%s"
provider "docker" "local" {
  name_prefix = "%s"
}
host "good" {
  provider = "docker.local"
  lease    = "1h"
  args     = { image = "broker-busybox:latest" }
  setup { run = ["echo good-setup-1; echo good-setup-2"] }
  teardown { run = ["echo good-teardown"] }
}
host "bad" {
  provider = "docker.local"
  lease    = "1h"
  args     = { image = "broker-busybox:latest" }
  setup { run = ["for i in 1 2 3 4 5 6; do echo bad-setup-$i; done", "exit 3"] }
  teardown { run = ["echo bad-teardown-1; echo bad-teardown-2", "exit 4"] }
}
`

// section is the part of screen from the line that contains from.
func section(t *testing.T, screen, from string) string {
	t.Helper()
	i := strings.Index(screen, from)
	if i < 0 {
		t.Fatalf("%q is not on the screen:\n%s", from, screen)
	}
	return screen[i:]
}

// TestTerminalShowsFailedOutput: on a terminal, apply asks, shows its live
// view, and once it is over prints the whole output of the host whose
// setup failed (and no "setup done" for it); destroy labels teardown output
// teardown and prints all of it for the host whose teardown failed.
func TestTerminalShowsFailedOutput(t *testing.T) {
	env := dockerEnv(t)
	dockertest.Image(t, "busybox")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "m.hcl"), fmt.Sprintf(terminalLab, env, env))
	tm := newTmux(t, dir)

	s, code := tm.run("broker apply -f m.hcl", func() {
		tm.waitScreen(`Only 'yes' is accepted:`)
		tm.keys("yes", "Enter")
	})
	if code != 1 {
		t.Fatalf("apply: exit %d, want 1:\n%s", code, s)
	}
	out := section(t, s, "Output of host.bad[0] (checkout failed):")
	for i := 1; i <= 6; i++ {
		if !strings.Contains(out, fmt.Sprintf("  setup: bad-setup-%d\n", i)) {
			t.Errorf("line %d of the failed setup's output is not shown:\n%s", i, s)
		}
	}
	if !strings.Contains(out, "setup: $ exit 3") {
		t.Errorf("the failed command is not shown:\n%s", s)
	}
	if strings.Contains(out, "good-setup") {
		t.Errorf("the output of the host that succeeded is shown with the failed one's:\n%s", s)
	}
	if strings.Contains(s, "setup done") {
		t.Errorf("'setup done' on the screen of a failed setup:\n%s", s)
	}
	if !strings.Contains(s, "✓ host.good[0]: ready") || !strings.Contains(s, "✗ host.bad[0]: checkout failed: setup:") {
		t.Errorf("the outcomes are not on the screen:\n%s", s)
	}
	if i, j := strings.Index(s, "Output of host.bad[0]"), strings.Index(s, "Apply complete"); j < i {
		t.Errorf("the failed output comes after the summary:\n%s", s)
	}

	s, code = tm.run("broker destroy -f m.hcl --yes", nil)
	if code != 0 {
		t.Fatalf("destroy: exit %d:\n%s", code, s)
	}
	out = section(t, s, "Output of host.bad[0] (teardown failed):")
	for _, want := range []string{"  teardown: bad-teardown-1\n", "  teardown: bad-teardown-2\n", "  teardown: $ exit 4\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q is not in the failed teardown's output:\n%s", want, s)
		}
	}
	if strings.Contains(s, "setup: bad-teardown") || strings.Contains(s, "good-teardown") {
		t.Errorf("teardown output labelled setup, or a good teardown's output printed in full:\n%s", s)
	}
}

const interruptTerminalLab = `
environment = "ctrl-c"
provider "sim" "lab" {}
host "web" {
  provider = "sim.lab"
  count    = 3
}
# The terminal's Ctrl-C reaches the hook too: it ignores it, as a command
# that finishes its work would, and waits for the test's word.
hook "wait" {
  on    = ["after_checkout"]
  local = ["trap '' INT; echo waiting for the fifo; read x < %s; echo got $x"]
}
`

// TestTerminalInterruptNotice: the first Ctrl-C on a terminal says what it
// does above the live view, and the notice is still there when the run,
// which finished what was in flight, has ended.
func TestTerminalInterruptNotice(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "m.hcl"), fmt.Sprintf(interruptTerminalLab, shQuote(fifo)))
	tm := newTmux(t, dir)
	notice := "broker: interrupted: finishing what is in flight, starting nothing new (press Ctrl-C again to cancel it)"
	s, code := tm.run("broker apply -f m.hcl --yes --parallelism 1", func() {
		tm.waitScreen(`waiting for the fifo`)
		tm.keys("C-c")
		tm.waitScreen(regexp.QuoteMeta(notice))
		// The live view goes on under the notice: the host's line, the
		// hook's output under it, the notice again at the bottom.
		tm.waitScreen(regexp.QuoteMeta(notice) + `\n(?:- .*\n)*  … host\.web\[0\]: checking out: setup \(\d+s\)\n\s+hook wait: starts \(after_checkout\)\n\s+hook wait: local: waiting for the fifo\n` + regexp.QuoteMeta(notice))
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintln(f, "go")
		f.Close()
	})
	if code != exitInterrupted {
		t.Fatalf("exit %d after one Ctrl-C, want %d:\n%s", code, exitInterrupted, s)
	}
	for _, want := range []string{notice, "✓ host.web[0]: ready", "host.web[1]: skipped: interrupted", "Apply complete: 1 checked out, 2 skipped."} {
		if !strings.Contains(s, want) {
			t.Errorf("%q is not on the screen at the end:\n%s", want, s)
		}
	}
}

// TestPipeLabelsOutput: without a terminal (CI, a pipe), every line of
// output is a plain line labelled with its phase; a failed setup or
// teardown says so and is never "done".
func TestPipeLabelsOutput(t *testing.T) {
	env := dockerEnv(t)
	dockertest.Image(t, "busybox")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "m.hcl"), fmt.Sprintf(terminalLab, env, env))

	code, _, errs := runBroker(t, dir, "apply", "-f", "m.hcl", "--yes")
	if code != 1 {
		t.Fatalf("apply: exit %d, want 1:\n%s", code, errs)
	}
	wantIn(t, "apply stderr", errs,
		`(?m)^\S+ host\.bad\[0\]: setup: bad-setup-6$`,
		`(?m)^\S+ host\.bad\[0\]: setup failed after \S+$`,
		`(?m)^\S+ host\.bad\[0\]: checkout failed: setup: "exit 3" exited with status 3$`,
		`(?m)^\S+ host\.good\[0\]: setup: good-setup-2$`)
	if strings.Contains(errs, "host.bad[0]: setup done") || strings.Contains(errs, "Output of") {
		t.Errorf("a failed setup reported done, or the live view's output block in plain output:\n%s", errs)
	}

	code, _, errs = runBroker(t, dir, "destroy", "-f", "m.hcl", "--yes")
	if code != 0 {
		t.Fatalf("destroy: exit %d:\n%s", code, errs)
	}
	wantIn(t, "destroy stderr", errs,
		`(?m)^\S+ host\.bad\[0\]: teardown: bad-teardown-2$`,
		`(?m)^\S+ host\.bad\[0\]: teardown failed after \S+$`,
		`(?m)^\S+ host\.good\[0\]: teardown: good-teardown$`)
	if strings.Contains(errs, "setup: bad-teardown") || strings.Contains(errs, "host.bad[0]: teardown done") {
		t.Errorf("teardown output labelled setup, or a failed teardown reported done:\n%s", errs)
	}
}
