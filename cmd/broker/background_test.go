package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBackgroundCheckout runs `broker checkout -b`, waits for the detached
// process to exit (through a pidfd, no sleeping) and reads what it left in
// the log and the state.
func TestBackgroundCheckout(t *testing.T) {
	dir := t.TempDir()
	bdir := filepath.Join(dir, ".broker")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "broker.hcl"), []byte("nick \"rhel7\" {\n  provider = \"sim\"\n  args = { os = \"rhel7\" }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+bdir, "NO_COLOR=1")
	cmd := exec.Command(os.Args[0], "checkout", "--background", "--nick", "rhel7", "--count", "2")
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("checkout -b: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`with pid (\d+)\nlog: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no pid and log in:\n%s", out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	logPath := string(m[2])
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(fd)
	} else if err != unix.ESRCH {
		t.Skipf("pidfd_open: %v", err)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "broker: background checkout finished (pid " + string(m[1]) + ", exit status 0)"
	if !strings.Contains(string(log), want) {
		t.Fatalf("log %s lacks %q:\n%s", logPath, want, log)
	}
	inv := exec.Command(os.Args[0], "inventory", "--list")
	inv.Env, inv.Dir = env, dir
	list, err := inv.Output()
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	if n := len(strings.Fields(string(list))); n != 2 {
		t.Fatalf("inventory lists %d hosts after the background checkout, want 2:\n%s", n, list)
	}
}
