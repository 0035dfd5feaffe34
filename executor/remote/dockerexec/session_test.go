package dockerexec_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/executor/remote/dockerexec"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

// startBusybox runs a broker-busybox container for t (on Docker, or on
// Podman under TestPodman) and returns a session on it.
func startBusybox(t *testing.T) (*dockerexec.Session, *dockertest.Run, string) {
	t.Helper()
	e := dockertest.EngineOf(t)
	image := e.Image(t, "busybox")
	run := e.NewRun(t)
	ctx := t.Context()
	c, err := run.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   run.Prefix + "-exec",
		Config: &container.Config{Image: image, Labels: run.Labels()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.API.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	s := dockerexec.New(run.API, c.ID, dockerexec.Options{})
	t.Cleanup(func() { _ = s.Close() })
	return s, run, c.ID
}

func TestRun(t *testing.T) {
	s, _, _ := startBusybox(t)
	ctx := t.Context()

	tests := []struct {
		name       string
		cmd        string
		opts       remote.RunOptions
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{name: "separated", cmd: "echo out; echo err >&2; exit 3", wantOut: "out\n", wantErr: "err\n", wantStatus: 3},
		{name: "env", cmd: `echo "$A-$B"`, opts: remote.RunOptions{Env: map[string]string{"A": "x", "B": "y z"}}, wantOut: "x-y z\n"},
		{name: "stdin", cmd: "tr a-z A-Z", opts: remote.RunOptions{Stdin: strings.NewReader("hello\n")}, wantOut: "HELLO\n"},
		{name: "not found", cmd: "no-such-command", wantErr: "no-such-command", wantStatus: 127},
		{name: "big output", cmd: "seq 1 20000 | tail -n 1", wantOut: "20000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Run(ctx, tt.cmd, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d (stderr %q)", res.Status, tt.wantStatus, res.Stderr)
			}
			if res.Stdout != tt.wantOut {
				t.Errorf("stdout = %q, want %q", res.Stdout, tt.wantOut)
			}
			if !strings.Contains(res.Stderr, tt.wantErr) || (tt.wantErr == "" && res.Stderr != "") {
				t.Errorf("stderr = %q, want %q", res.Stderr, tt.wantErr)
			}
		})
	}
}

func TestRunStreams(t *testing.T) {
	s, _, _ := startBusybox(t)
	var out, errb bytes.Buffer
	res, err := s.Run(t.Context(), "seq 1 3; echo oops >&2", remote.RunOptions{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "1\n2\n3\n" || errb.String() != "oops\n" {
		t.Errorf("streamed stdout %q stderr %q", out.String(), errb.String())
	}
	if res.Stdout != "" || res.Stderr != "" {
		t.Errorf("captured output although writers were given: %+v", res)
	}
}

func TestRunTimeoutKills(t *testing.T) {
	s, _, _ := startBusybox(t)
	ctx := t.Context()
	_, err := s.Run(ctx, "sleep 300; echo never", remote.RunOptions{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The same error as SSH sessions give, so that exec's status is 124
	// on every transport.
	var te *remote.TimeoutError
	if !errors.As(err, &te) || te.Timeout != 300*time.Millisecond || te.Cmd != "sleep 300; echo never" {
		t.Errorf("err = %#v, want a *remote.TimeoutError for the command and its timeout", err)
	}
	// The killer exec has finished when Run returns: no sleep is left.
	res, err := s.Run(ctx, "ps -o args | grep -c '^sleep 300' || true", remote.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("sleep still running after timeout: %q", res.Stdout)
	}
}

func writeTree(t *testing.T, root string) {
	t.Helper()
	files := []struct {
		path string
		mode fs.FileMode
		body string
	}{
		{"run.sh", 0o755, "#!/bin/sh\necho ran\n"},
		{"sub/secret.txt", 0o640, "s3cret\n"},
		{"sub/deeper/empty", 0o600, ""},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run.sh", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
}

func TestUploadDownloadTree(t *testing.T) {
	s, _, _ := startBusybox(t)
	ctx := t.Context()
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)

	// Parents /opt/a/b do not exist yet.
	if err := s.Upload(ctx, src, "/opt/a/b/tree"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(ctx, "cd /opt/a/b/tree && stat -c '%a %U %n' run.sh sub sub/secret.txt sub/deeper/empty && ./run.sh && readlink link", remote.RunOptions{})
	if err != nil || res.Status != 0 {
		t.Fatalf("inspect upload: %v %+v", err, res)
	}
	want := "755 root run.sh\n750 root sub\n640 root sub/secret.txt\n600 root sub/deeper/empty\nran\nrun.sh\n"
	if res.Stdout != want {
		t.Errorf("in container:\n%s\nwant:\n%s", res.Stdout, want)
	}

	dst := filepath.Join(t.TempDir(), "back")
	if err := s.Download(ctx, "/opt/a/b/tree", dst); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{".", "run.sh", "sub", "sub/secret.txt", "sub/deeper", "sub/deeper/empty"} {
		a, err := os.Lstat(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if a.Mode() != b.Mode() {
			t.Errorf("%s: mode %v after round trip, want %v", rel, b.Mode(), a.Mode())
		}
		if a.Mode().IsRegular() {
			x, _ := os.ReadFile(filepath.Join(src, rel))
			y, _ := os.ReadFile(filepath.Join(dst, rel))
			if !bytes.Equal(x, y) {
				t.Errorf("%s: content %q, want %q", rel, y, x)
			}
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "run.sh" {
		t.Errorf("link = %q, %v", l, err)
	}
}

func TestUploadFileIntoDirectory(t *testing.T) {
	s, _, _ := startBusybox(t)
	ctx := t.Context()
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte("hi\n"), 0o604); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o604); err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(ctx, f, "/tmp"); err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(ctx, f, "/etc/renamed.conf"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(ctx, "stat -c '%a %n' /tmp/note.txt /etc/renamed.conf && cat /etc/renamed.conf", remote.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "604 /tmp/note.txt\n604 /etc/renamed.conf\nhi\n"; res.Stdout != want {
		t.Errorf("got %q, want %q", res.Stdout, want)
	}
	dir := t.TempDir()
	if err := s.Download(ctx, "/etc/renamed.conf", dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "renamed.conf")); err != nil || string(b) != "hi\n" {
		t.Errorf("downloaded %q, %v", b, err)
	}
	if err := s.Download(ctx, "/no/such/file", dir); err == nil {
		t.Error("download of a missing file succeeded")
	}
}

// signalWriter closes seen once the output holds want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestShell(t *testing.T) {
	s, _, _ := startBusybox(t)
	out := &signalWriter{want: "hello-42 xterm-256color", seen: make(chan struct{})}
	resize := make(chan remote.WindowSize, 1)
	resize <- remote.WindowSize{Width: 100, Height: 30}
	stdin, keys := io.Pipe()
	go func() {
		// Type like a user: a command, then, once its output is seen, exit.
		_, _ = io.WriteString(keys, "echo hello-$((40+2)) $TERM\n")
		select {
		case <-out.seen:
		case <-t.Context().Done():
		}
		_, _ = io.WriteString(keys, "exit 0\n")
	}()
	t.Cleanup(func() { _ = keys.Close() })
	err := s.Shell(t.Context(), remote.ShellOptions{
		Stdin:  stdin,
		Stdout: out,
		Size:   remote.WindowSize{Width: 80, Height: 24},
		Resize: resize,
	})
	if err != nil {
		t.Fatalf("shell: %v (output %q)", err, out.String())
	}
	if !strings.Contains(out.String(), "hello-42 xterm-256color") {
		t.Errorf("shell output %q lacks the command's output", out.String())
	}
}

func TestContainerGone(t *testing.T) {
	s, run, id := startBusybox(t)
	if _, err := run.API.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(t.Context(), "true", remote.RunOptions{}); err == nil {
		t.Error("run in a removed container succeeded")
	}
}
