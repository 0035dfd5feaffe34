package remote

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
)

func TestLinkStaysInside(t *testing.T) {
	tests := []struct {
		rel, target string
		want        bool
	}{
		{"a", "b", true},
		{"a", "./b/c", true},
		{"d/a", "../b", true},
		{"d/e/a", "../../b", true},
		{"a", "../b", false},
		{"d/a", "../../b", false},
		{"a", "/etc/passwd", false},
		{"a", "", false},
		{"a", "..", false},
		{"d/a", "..", true},
		// After a name, ".." climbs from wherever that name points:
		// y may be a link to the top of the tree.
		{"d/e/a", "y/../../..", false},
		{"d/e/a", "y/..", false},
		{"a", "b/../c", false},
	}
	for _, tt := range tests {
		if got := LinkStaysInside(tt.rel, tt.target); got != tt.want {
			t.Errorf("LinkStaysInside(%q, %q) = %v, want %v", tt.rel, tt.target, got, tt.want)
		}
	}
}

// skips collects what a copy reports as skipped.
type skips struct {
	mu   sync.Mutex
	list []Skip
}

func (s *skips) ctx(ctx context.Context) context.Context {
	return WithSkipReport(ctx, func(k Skip) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.list = append(s.list, k)
	})
}

// want checks that exactly the entries named by base were skipped, each
// with a reason matching its word.
func (s *skips) want(t *testing.T, reasons map[string]string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	got := map[string]string{}
	for _, k := range s.list {
		got[filepath.Base(k.Path)] = k.Reason
	}
	for name, word := range reasons {
		if !strings.Contains(got[name], word) {
			t.Errorf("skip of %s: reason %q, want one with %q", name, got[name], word)
		}
	}
	for name := range got {
		if _, ok := reasons[name]; !ok {
			t.Errorf("%s skipped (%s), should not be", name, got[name])
		}
	}
	s.list = nil
}

func mustEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("written outside the destination: %s holds %v", dir, names)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, body string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), 0o644))
}

// TestDownloadNeverWritesOutside is the attack of issue 13: a host plants
// /logs/evil -> a directory of the runner outside the destination; once
// the link is downloaded, the host replaces it by a directory holding
// authorized_keys, and a second download wrote it through the link.
func TestDownloadNeverWritesOutside(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	var sk skips
	ctx := sk.ctx(t.Context())

	hostLogs := filepath.Join(t.TempDir(), "logs") // the sshd runs on this machine
	outside := t.TempDir()                         // the runner's ~/.ssh
	dest := filepath.Join(t.TempDir(), "dl")
	write(t, filepath.Join(hostLogs, "app.log"), "log\n")
	must(t, os.Symlink(outside, filepath.Join(hostLogs, "evil")))
	must(t, os.Symlink("../../..", filepath.Join(hostLogs, "up")))
	must(t, os.Symlink("app.log", filepath.Join(hostLogs, "current")))
	must(t, os.MkdirAll(filepath.Join(hostLogs, "old"), 0o755))
	must(t, os.Symlink("../app.log", filepath.Join(hostLogs, "old", "back")))
	must(t, syscall.Mkfifo(filepath.Join(hostLogs, "pipe"), 0o644))
	// What an earlier, unsafe copy may have left in the destination.
	must(t, os.MkdirAll(dest, 0o755))
	must(t, os.Symlink(outside, filepath.Join(dest, "stale")))
	must(t, os.Symlink(filepath.Join(outside, "authorized_keys"), filepath.Join(dest, "app.log")))
	write(t, filepath.Join(hostLogs, "stale", "authorized_keys"), "ssh-ed25519 AAAA stale\n")

	must(t, s.Download(ctx, hostLogs, dest))
	mustEmpty(t, outside)
	sk.want(t, map[string]string{"evil": "absolute", "up": "leaves the destination", "pipe": "named pipe"})
	if _, err := os.Lstat(filepath.Join(dest, "evil")); !os.IsNotExist(err) {
		t.Errorf("the link leaving the destination was recreated: %v", err)
	}
	for name, want := range map[string]string{"current": "app.log", "old/back": "../app.log"} {
		if got, err := os.Readlink(filepath.Join(dest, name)); err != nil || got != want {
			t.Errorf("link %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dest, "app.log")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("app.log: %v, %v; want a regular file in place of the link", fi, err)
	}

	// The host turns evil into a directory holding authorized_keys.
	must(t, os.Remove(filepath.Join(hostLogs, "evil")))
	write(t, filepath.Join(hostLogs, "evil", "authorized_keys"), "ssh-ed25519 AAAA attacker\n")
	// And the runner's destination has a link there (an older copy).
	must(t, os.Symlink(outside, filepath.Join(dest, "evil")))
	must(t, s.Download(ctx, hostLogs, dest))
	mustEmpty(t, outside)
	for _, d := range []string{"evil", "stale"} {
		if fi, err := os.Lstat(filepath.Join(dest, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v, %v; want a real directory", d, fi, err)
		}
		if _, err := os.Stat(filepath.Join(dest, d, "authorized_keys")); err != nil {
			t.Errorf("%s/authorized_keys not inside the destination: %v", d, err)
		}
	}
	sk.want(t, map[string]string{"up": "leaves", "pipe": "named pipe"})
}

func TestCopyRefusesSpecialFiles(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	dir := t.TempDir()
	if err := s.Upload(t.Context(), "/dev/zero", filepath.Join(dir, "zero")); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("upload of /dev/zero: %v, want a refusal naming a character device", err)
	}
	if err := s.Download(t.Context(), "/dev/zero", filepath.Join(dir, "zero")); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("download of /dev/zero: %v, want a refusal naming a character device", err)
	}
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o644))
	if err := s.Upload(t.Context(), fifo, filepath.Join(dir, "copy")); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("upload of a fifo: %v, want a refusal", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries in %s, want only the fifo", len(ents), dir)
	}
}

// TestUploadNeverWritesOutside: links of a local tree that leave it are
// not recreated on the host, and a link on the host under the destination
// is replaced, not written through.
func TestUploadNeverWritesOutside(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	var sk skips
	ctx := sk.ctx(t.Context())

	src := filepath.Join(t.TempDir(), "tree")
	outside := t.TempDir() // a directory of the host outside the destination
	hostDest := filepath.Join(t.TempDir(), "up")
	write(t, filepath.Join(src, "conf", "authorized_keys"), "ssh-ed25519 AAAA mine\n")
	write(t, filepath.Join(src, "file"), "f\n")
	must(t, os.Symlink("/etc/passwd", filepath.Join(src, "abs")))
	must(t, os.Symlink("../outside", filepath.Join(src, "esc")))
	must(t, os.Symlink("file", filepath.Join(src, "in")))
	must(t, syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644))
	// The host has links where the tree has a directory and a file.
	must(t, os.MkdirAll(hostDest, 0o755))
	must(t, os.Symlink(outside, filepath.Join(hostDest, "conf")))
	must(t, os.Symlink(filepath.Join(outside, "file"), filepath.Join(hostDest, "file")))

	must(t, s.Upload(ctx, src, hostDest))
	mustEmpty(t, outside)
	sk.want(t, map[string]string{"abs": "absolute", "esc": "leaves", "pipe": "named pipe"})
	got := describeTree(t, hostDest)
	for _, name := range []string{"abs", "esc", "pipe"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s was copied", name)
		}
	}
	if got["in"] != "-> file" {
		t.Errorf("in = %q, want a link to file", got["in"])
	}
	for _, name := range []string{"conf", "conf/authorized_keys", "file"} {
		if v, ok := got[name]; !ok || strings.HasPrefix(v, "->") {
			t.Errorf("%s = %q, want a real entry", name, v)
		}
	}
	if names := slices.Sorted(maps.Keys(got)); len(names) != 4 {
		t.Errorf("host tree %v, want conf, conf/authorized_keys, file, in", names)
	}
}
