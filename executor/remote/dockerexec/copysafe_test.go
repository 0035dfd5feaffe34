package dockerexec_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/executor/remote/dockerexec"
)

// skipLog collects what a copy reports as skipped, by base name.
type skipLog struct {
	mu sync.Mutex
	m  map[string]string
}

func (l *skipLog) ctx(ctx context.Context) context.Context {
	return remote.WithSkipReport(ctx, func(s remote.Skip) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.m == nil {
			l.m = map[string]string{}
		}
		l.m[filepath.Base(s.Path)] = s.Reason
	})
}

func (l *skipLog) want(t *testing.T, reasons map[string]string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, word := range reasons {
		if !strings.Contains(l.m[name], word) {
			t.Errorf("skip of %s: reason %q, want one with %q", name, l.m[name], word)
		}
	}
	for name, r := range l.m {
		if _, ok := reasons[name]; !ok {
			t.Errorf("%s skipped (%s), should not be", name, r)
		}
	}
	l.m = nil
}

func run(t *testing.T, s *dockerexec.Session, cmd string) {
	t.Helper()
	res, err := s.Run(t.Context(), cmd, remote.RunOptions{})
	if err != nil || res.Status != 0 {
		t.Fatalf("%s: %v %+v", cmd, err, res)
	}
}

func mustEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("written outside the destination: %s", filepath.Join(dir, e.Name()))
	}
}

// TestDownloadNeverWritesOutside is issue 13's attack over the archive
// API: the container plants /logs/evil -> a directory of the runner, then
// replaces it by a directory holding authorized_keys; the second download
// must not write through the link the first one made.
func TestDownloadNeverWritesOutside(t *testing.T) {
	s, _, _ := startBusybox(t)
	var sk skipLog
	ctx := sk.ctx(t.Context())
	outside := t.TempDir() // the runner's ~/.ssh
	dest := filepath.Join(t.TempDir(), "dl")

	run(t, s, "mkdir -p /logs/old && echo log > /logs/app.log && ln -s "+outside+" /logs/evil && ln -s ../../../.. /logs/up"+
		" && ln -s app.log /logs/current && ln -s ../app.log /logs/old/back && mkfifo /logs/pipe && mknod /logs/zero c 1 5")
	if err := s.Download(ctx, "/logs", dest); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, outside)
	sk.want(t, map[string]string{"evil": "absolute", "up": "leaves", "pipe": "named pipe", "zero": "character device"})
	if _, err := os.Lstat(filepath.Join(dest, "evil")); !os.IsNotExist(err) {
		t.Errorf("the link leaving the destination was recreated: %v", err)
	}
	for name, want := range map[string]string{"current": "app.log", "old/back": "../app.log"} {
		if got, err := os.Readlink(filepath.Join(dest, name)); err != nil || got != want {
			t.Errorf("link %s = %q, %v; want %q", name, got, err, want)
		}
	}

	run(t, s, "rm /logs/evil && mkdir /logs/evil && echo 'ssh-ed25519 AAAA attacker' > /logs/evil/authorized_keys")
	// Whatever made it, a link in the destination is not written through.
	if err := os.Symlink(outside, filepath.Join(dest, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "app.log"), filepath.Join(dest, "app.log.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dest, "app.log.tmp"), filepath.Join(dest, "app.log")); err != nil {
		t.Fatal(err)
	}
	if err := s.Download(ctx, "/logs", dest); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, outside)
	if fi, err := os.Lstat(filepath.Join(dest, "evil")); err != nil || !fi.IsDir() {
		t.Errorf("evil: %v, %v; want a real directory", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "evil", "authorized_keys")); err != nil || !strings.Contains(string(b), "attacker") {
		t.Errorf("evil/authorized_keys inside the destination: %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(dest, "app.log")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("app.log: %v, %v; want a regular file in place of the link", fi, err)
	}
}

func TestCopyRefusesSpecialFiles(t *testing.T) {
	s, _, _ := startBusybox(t)
	ctx := t.Context()
	if err := s.Upload(ctx, "/dev/zero", "/tmp/zero"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("upload of /dev/zero: %v, want a refusal naming a character device", err)
	}
	res, err := s.Run(ctx, "test -e /tmp/zero && echo exists || echo absent", remote.RunOptions{})
	if err != nil || res.Stdout != "absent\n" {
		t.Errorf("/tmp/zero in the container: %q, %v", res.Stdout, err)
	}
	// /dev is a mount the archive API does not see: a node of its own.
	run(t, s, "mknod /tmp/zero c 1 5")
	dir := t.TempDir()
	if err := s.Download(ctx, "/tmp/zero", filepath.Join(dir, "zero")); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("download of a character device: %v, want a refusal naming it", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("download of a character device left %d entries", len(ents))
	}
}

// TestUploadSkipsLinksLeaving: links of a local tree that leave it, and
// special files, are not sent.
func TestUploadSkipsLinksLeaving(t *testing.T) {
	s, _, _ := startBusybox(t)
	var sk skipLog
	ctx := sk.ctx(t.Context())
	src := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for target, name := range map[string]string{"/etc/shadow": "abs", "../../x": "sub/esc", "../file": "sub/in"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "planted"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The container has a link where the tree has a directory: the
	// engine's extraction refuses to go through it, and the copy fails.
	run(t, s, "mkdir -p /up /elsewhere && ln -s /elsewhere /up/sub")
	if err := s.Upload(ctx, src, "/up"); err == nil || !strings.Contains(err.Error(), "cannot overwrite non-directory") {
		t.Errorf("upload over a link to a directory: %v, want the engine's refusal", err)
	}
	run(t, s, "! test -e /elsewhere/planted && rm /up/sub")
	if err := s.Upload(ctx, src, "/up"); err != nil {
		t.Fatal(err)
	}
	sk.want(t, map[string]string{"abs": "absolute", "esc": "leaves", "pipe": "named pipe"})
	res, err := s.Run(ctx, "cd /up && find . | sort && readlink sub/in", remote.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := ".\n./file\n./sub\n./sub/in\n./sub/planted\n../file\n"; res.Stdout != want {
		t.Errorf("uploaded tree:\n%s\nwant:\n%s", res.Stdout, want)
	}
}
