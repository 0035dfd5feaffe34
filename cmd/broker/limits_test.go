package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Input that once exhausted memory or hung broker is run here by a child
// broker (this test binary re-executed) under two bounds, so that a
// regression fails the test instead of taking the machine or the suite
// down with it:
//
//   - a memory limit: `ulimit -v` (the address space) of limitedMemoryKiB,
//     with GOMEMLIMIT below it so that the collector works hard before the
//     limit is reached. A run that tries to build gigabytes dies at once
//     with "out of memory" and a non-1 exit code;
//   - a deadline, limitedDeadline, after which the child is killed. It
//     measures nothing (a passing case ends in well under a second even on
//     a loaded machine); it turns a hang (a FIFO read, an ignored signal)
//     into a failure.
const (
	limitedMemoryKiB = 2 << 20 // 2 GiB of address space
	limitedDeadline  = 2 * time.Minute
)

// limitedBroker starts broker in dir under the bounds above.
func limitedBroker(t *testing.T, dir string, args ...string) (*exec.Cmd, *strings.Builder, *strings.Builder, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitedDeadline)
	t.Cleanup(cancel)
	script := fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, limitedMemoryKiB)
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+filepath.Join(dir, ".broker"),
		"NO_COLOR=1", "GOMEMLIMIT=512MiB")
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr, ctx
}

// waitLimited waits for a limitedBroker and returns its exit code; it fails
// the test if the deadline killed it.
func waitLimited(t *testing.T, cmd *exec.Cmd, stderr *strings.Builder, ctx context.Context) int {
	t.Helper()
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("broker %s did not end within %s (killed); stderr:\n%s", strings.Join(cmd.Args[4:], " "), limitedDeadline, stderr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// yamlBomb is nine levels of nine aliases: 9^9 values once expanded.
func yamlBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [x,x,x,x,x,x,x,x,x]\n")
	for c := 'b'; c <= 'i'; c++ {
		p := "*" + string(c-1)
		fmt.Fprintf(&b, "%c: &%c [%s]\n", c, c, strings.Repeat(p+",", 8)+p)
	}
	return b.String()
}

// TestUnboundedInputEndsWithTheLimit: each input ends within the bounds,
// exit 1, with an error naming the limit (and, for manifests, where).
func TestUnboundedInputEndsWithTheLimit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "count.hcl"), "host \"a\" {\n  provider = \"sim\"\n  count    = 1e9\n}\n")
	bomb := "locals {\n  y = yamldecode(<<EOT\n" + yamlBomb() + "EOT\n  )\n}\n"
	if len(bomb) > 500 {
		t.Fatalf("the bomb manifest has %d bytes; the point is that it is small", len(bomb))
	}
	writeFile(t, filepath.Join(dir, "bomb.hcl"), bomb)
	writeFile(t, filepath.Join(dir, "deep.hcl"), "locals {\n  a = "+strings.Repeat("[", 8000)+strings.Repeat("]", 8000)+"\n}\n")
	writeFile(t, filepath.Join(dir, "deepjson.hcl"), "locals {\n  a = jsondecode(\""+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+"\")\n}\n")
	writeFile(t, filepath.Join(dir, "zero.hcl"), "locals {\n  a = file(\"/dev/zero\")\n}\n")
	writeFile(t, filepath.Join(dir, "vars.hcl"), "variable \"v\" { default = 1 }\n")
	big, err := os.Create(filepath.Join(dir, "big.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(5 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	big.Close()
	for _, name := range []string{"fifo.hcl", "fifo.tfvars"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"count at validate", []string{"validate", "-f", "count.hcl"}, []string{"count.hcl:3:14", "at most 1000 instances"}},
		{"count at plan", []string{"plan", "-f", "count.hcl"}, []string{"count.hcl:3:14", "at most 1000 instances"}},
		{"checkout count", []string{"checkout", "--provider", "sim", "--count", "100000000"}, []string{"at most 1000 hosts per checkout"}},
		{"duplicate count", []string{"duplicate", "0", "--count", "100000000"}, []string{"at most 1000 copies"}},
		{"yaml alias bomb", []string{"validate", "-f", "bomb.hcl"}, []string{"bomb.hcl:3:1", "more than 100000 values"}},
		{"8000 levels of nesting", []string{"validate", "-f", "deep.hcl"}, []string{"deep.hcl:2:", "more than 100 levels"}},
		{"deep jsondecode", []string{"validate", "-f", "deepjson.hcl"}, []string{"deepjson.hcl:2:", "more than 100 levels"}},
		{"validate /dev/zero", []string{"validate", "-f", "/dev/zero"}, []string{"/dev/zero: it is a device; broker reads only regular files"}},
		{"file(/dev/zero)", []string{"validate", "-f", "zero.hcl"}, []string{"zero.hcl:2:", "it is a device; broker reads only regular"}},
		{"manifest too large", []string{"validate", "-f", "big.hcl"}, []string{"big.hcl: it is too large; a file may have at most 4194304 bytes"}},
		{"manifest on a FIFO", []string{"validate", "-f", "fifo.hcl"}, []string{"fifo.hcl: it is a named pipe; broker reads only regular files"}},
		{"var file on a FIFO", []string{"validate", "-f", "vars.hcl", "--var-file", "fifo.tfvars"}, []string{"fifo.tfvars: it is a named pipe"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, _, stderr, ctx := limitedBroker(t, dir, tc.args...)
			code := waitLimited(t, cmd, stderr, ctx)
			if code != exitError {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitError, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestReadOnlyCommandsStopAtFirstSignal: validate and plan end at the first
// SIGTERM, wherever they are. Here they are blocked reading the settings
// (a FIFO the test opened for writing and never writes): the test's open
// returns once broker has opened it, so the signal handler is in place.
func TestReadOnlyCommandsStopAtFirstSignal(t *testing.T) {
	for _, command := range []string{"validate", "plan"} {
		t.Run(command, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "lab.hcl"), "host \"a\" { provider = \"sim\" }\n")
			if err := os.Mkdir(filepath.Join(dir, ".broker"), 0o700); err != nil {
				t.Fatal(err)
			}
			fifo := filepath.Join(dir, ".broker", "broker.hcl")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd, _, stderr, ctx := limitedBroker(t, dir, command, "-f", "lab.hcl")
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once broker reads it
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			code := waitLimited(t, cmd, stderr, ctx)
			if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("exit %d after one SIGTERM, want %d and \"interrupted\"; stderr:\n%s", code, exitInterrupted, stderr)
			}
		})
	}
}
