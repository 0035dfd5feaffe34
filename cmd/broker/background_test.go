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

// background runs a `broker … -b` command, waits for the detached process
// to exit (through a pidfd, no sleeping) and returns its log.
func background(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	m := regexp.MustCompile(`with pid (\d+)\nlog: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%v: no pid and log in:\n%s", args, out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
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
	log, err := os.ReadFile(string(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	want := "(pid " + string(m[1]) + ", exit status 0)"
	if !strings.Contains(string(log), want) {
		t.Fatalf("%v: log %s lacks %q:\n%s", args, m[2], want, log)
	}
	return string(log)
}

// TestBackground runs the seed README's background command lines and
// checks what each left in the state.
func TestBackground(t *testing.T) {
	dir := t.TempDir()
	bdir := filepath.Join(dir, ".broker")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "broker.hcl"), []byte("nick \"rhel7\" {\n  provider = \"sim\"\n  args = { os = \"rhel7\" }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+bdir, "NO_COLOR=1")
	count := func() int {
		t.Helper()
		inv := exec.Command(os.Args[0], "inventory", "--list")
		inv.Env, inv.Dir = env, dir
		list, err := inv.Output()
		if err != nil {
			t.Fatalf("inventory: %v", err)
		}
		return len(strings.Fields(string(list)))
	}

	background(t, dir, env, "checkout", "--background", "--nick", "rhel7")
	if n := count(); n != 1 {
		t.Fatalf("%d hosts after checkout --background, want 1", n)
	}
	background(t, dir, env, "duplicate", "-b", "0")
	if n := count(); n != 2 {
		t.Fatalf("%d hosts after duplicate -b 0, want 2", n)
	}
	log := background(t, dir, env, "execute", "-b", "--provider", "sim", "--workflow", "my-awesome-workflow", "--artifacts")
	if !strings.Contains(log, "my-awesome-workflow") {
		t.Errorf("execute -b: the log does not show the result:\n%s", log)
	}
	background(t, dir, env, "checkin", "-b", "--all")
	if n := count(); n != 0 {
		t.Fatalf("%d hosts after checkin -b --all, want 0", n)
	}
}
