package remote

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labbroker/broker/test/sshdtest"
	"golang.org/x/crypto/ssh"
)

// config is a client config for srv that trusts its pinned key.
func config(srv *sshdtest.Server) SSHConfig {
	return SSHConfig{
		Addr:           srv.Addr,
		User:           srv.User,
		Auth:           Auth{PrivateKeyFiles: []string{srv.KeyFile}},
		HostKey:        HostKeyPolicy{Pinned: srv.HostPublicKey},
		ConnectTimeout: 10 * time.Second,
	}
}

func dial(t testing.TB, cfg SSHConfig) *SSHSession {
	t.Helper()
	s, err := DialSSH(context.Background(), cfg)
	if err != nil {
		t.Fatalf("DialSSH: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRun(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	tests := []struct {
		name string
		cmd  string
		opts RunOptions
		want Result
	}{
		{name: "exit 0", cmd: "echo hello", want: Result{Status: 0, Stdout: "hello\n"}},
		{name: "exit 1", cmd: "false", want: Result{Status: 1}},
		{name: "exit 127", cmd: "no-such-command-broker-test 2>/dev/null", want: Result{Status: 127}},
		{name: "stderr apart", cmd: "echo out; echo err >&2; exit 4", want: Result{Status: 4, Stdout: "out\n", Stderr: "err\n"}},
		{
			name: "env accepted and not",
			cmd:  `printf '%s|%s' "$BROKER_X" "$OTHER_VAR"`,
			opts: RunOptions{Env: map[string]string{"BROKER_X": `it's "quoted" $HOME`, "OTHER_VAR": "a b;c"}},
			want: Result{Stdout: `it's "quoted" $HOME|a b;c`},
		},
		{
			name: "env with a compound command",
			cmd:  `A=1; echo "$A$X" && echo "$X" | tr a-z A-Z`,
			opts: RunOptions{Env: map[string]string{"X": "x"}},
			want: Result{Stdout: "1x\nX\n"},
		},
		{name: "stdin", cmd: "tr a-z A-Z", opts: RunOptions{Stdin: strings.NewReader("hello\n")}, want: Result{Stdout: "HELLO\n"}},
		{name: "no stdin is EOF", cmd: "cat; echo done", want: Result{Stdout: "done\n"}},
		{name: "killed by a signal", cmd: "kill -9 $$", want: Result{Status: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Run(context.Background(), tt.cmd, tt.opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got.Duration = 0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Run(%q) (-want +got):\n%s", tt.cmd, diff)
			}
		})
	}
}

func TestRunStreamsToWriters(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	var out, errb bytes.Buffer
	res, err := s.Run(context.Background(), "seq 3; echo e >&2", RunOptions{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "" || res.Stderr != "" {
		t.Errorf("captured %q %q although writers were given", res.Stdout, res.Stderr)
	}
	if out.String() != "1\n2\n3\n" || errb.String() != "e\n" {
		t.Errorf("writers got %q and %q", out.String(), errb.String())
	}
}

func TestRunConcurrentOnOneConnection(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			res, err := s.Run(context.Background(), "echo $((40+2))", RunOptions{})
			if err == nil && res.Stdout != "42\n" {
				err = errors.New("bad output " + res.Stdout)
			}
			if err != nil {
				errs <- err
			}
			_ = i
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunTimeout(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	res, err := s.Run(context.Background(), "echo started; sleep 60", RunOptions{Timeout: 300 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Run error = %v, want *TimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if te.Cmd != "echo started; sleep 60" || te.Timeout != 300*time.Millisecond {
		t.Errorf("TimeoutError = %+v", te)
	}
	if res.Status != -1 {
		t.Errorf("status %d, want -1", res.Status)
	}
	// The connection survives the timeout.
	res, err = s.Run(context.Background(), "echo still here", RunOptions{})
	if err != nil || res.Stdout != "still here\n" {
		t.Fatalf("Run after timeout = %+v, %v", res, err)
	}

	// A context deadline is a timeout too; a cancellation is not.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Run(ctx, "sleep 60", RunOptions{}); !errors.As(err, &te) {
		t.Errorf("Run with ctx deadline: %v, want *TimeoutError", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, "sleep 60", RunOptions{}); !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Errorf("Run with cancelled ctx: %v, want context.Canceled", err)
	}
}

// peakHeap samples the heap while output streams through it.
type peakHeap struct {
	writes int
	peak   uint64
	n      int64
}

func (p *peakHeap) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	p.writes++
	if p.writes%64 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.peak = max(p.peak, ms.HeapAlloc)
	}
	return len(b), nil
}

func TestRunLargeOutputBoundedMemory(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	const size = 100 << 20
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &peakHeap{}
	res, err := s.Run(context.Background(), "head -c 104857600 /dev/zero", RunOptions{Stdout: w, Stderr: io.Discard})
	if err != nil || res.Status != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if w.n != size {
		t.Fatalf("streamed %d bytes, want %d", w.n, size)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	w.peak = max(w.peak, after.HeapAlloc)
	const limit = 16 << 20
	if grew := int64(w.peak) - int64(before.HeapAlloc); grew > limit {
		t.Errorf("heap grew by %d MiB while streaming 100 MiB, want < %d MiB", grew>>20, limit>>20)
	}
}

func TestShellPTY(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	in, script := io.Pipe()
	var out lockedBuffer
	go func() {
		_, _ = io.WriteString(script, "echo \"term=$TERM\"; stty size; exit 3\n")
	}()
	err := s.Shell(context.Background(), ShellOptions{
		Stdin: in, Stdout: &out,
		Term: "vt100", Size: WindowSize{Width: 100, Height: 40},
	})
	script.Close()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 3 {
		t.Fatalf("Shell = %v, want *ExitError with status 3\noutput: %q", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"term=vt100\r\n", "40 100\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("shell output lacks %q:\n%q", want, got)
		}
	}
}

func TestShellResize(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	in, script := io.Pipe()
	outR, outW := io.Pipe()
	resize := make(chan WindowSize)
	errc := make(chan error, 1)
	go func() {
		errc <- s.Shell(context.Background(), ShellOptions{Stdin: in, Stdout: outW, Term: "vt100", Size: WindowSize{Width: 80, Height: 24}, Resize: resize})
		outW.Close()
	}()
	resize <- WindowSize{Width: 132, Height: 50}
	// The window change and the typed line travel on different paths;
	// ask until the shell has seen it.
	var seen bytes.Buffer
	found := false
	for i := 0; i < 50 && !found; i++ {
		if _, err := io.WriteString(script, "stty size; echo @@\"mark\"\n"); err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 4096)
		for !strings.Contains(seen.String(), "@@mark\r\n") {
			n, err := outR.Read(chunk)
			seen.Write(chunk[:n])
			if err != nil {
				t.Fatalf("shell output ended: %v\n%q", err, seen.String())
			}
		}
		found = strings.Contains(seen.String(), "50 132\r\n")
		seen.Reset()
	}
	if !found {
		t.Errorf("stty never reported the new size 50 132")
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	_, _ = io.WriteString(script, "exit\n")
	if err := <-errc; err != nil {
		t.Errorf("Shell = %v", err)
	}
}

func TestUploadDownloadTree(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	s := dial(t, config(srv))
	src := t.TempDir()
	files := map[string]os.FileMode{
		"run.sh":              0o755,
		"secret":              0o600,
		"readme.txt":          0o644,
		"a/b/c/deep.txt":      0o644,
		"a/b/tool":            0o755,
		"a/private/key.pem":   0o600,
		"empty/.keep":         0o644,
		"a/b/c/big-ish.bin":   0o644,
		"with space/and'q.tx": 0o644,
	}
	for name, mode := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte("content of " + name)
		if strings.HasSuffix(name, ".bin") {
			data = bytes.Repeat([]byte("0123456789abcdef"), 200_000) // > one packet
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "a/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run.sh", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}

	remoteDir := filepath.Join(t.TempDir(), "up") // the sshd runs on this machine
	ctx := context.Background()
	if err := s.Upload(ctx, src, remoteDir); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	back := filepath.Join(t.TempDir(), "down")
	if err := s.Download(ctx, remoteDir, back); err != nil {
		t.Fatalf("Download: %v", err)
	}
	for _, dir := range []string{remoteDir, back} {
		if diff := cmp.Diff(describeTree(t, src), describeTree(t, dir)); diff != "" {
			t.Errorf("%s differs from the source (-want +got):\n%s", dir, diff)
		}
	}

	// A single file onto an existing directory lands inside it.
	if err := s.Upload(ctx, filepath.Join(src, "secret"), remoteDir+"/a"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(remoteDir, "a", "secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("uploaded file: %v, %v", fi, err)
	}
	// And a missing source is an error that names it.
	if err := s.Upload(ctx, filepath.Join(src, "nope"), remoteDir); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Upload of a missing file: %v", err)
	}
}

// describeTree lists a tree's entries with their modes and contents.
func describeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case fi.IsDir():
			if rel != "." {
				out[rel] = fi.Mode().String()
			}
		default:
			data, _ := os.ReadFile(p)
			out[rel] = fi.Mode().String() + " " + string(data[:min(len(data), 40)]) + " " + fi.ModTime().UTC().Format(time.RFC3339)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHostKeyChangedKnownHosts(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	cfg := config(srv)
	cfg.HostKey = HostKeyPolicy{KnownHostsFiles: []string{srv.KnownHosts(t), filepath.Join(t.TempDir(), "missing")}}
	s := dial(t, cfg)
	if s.HostKey() != srv.HostPublicKey {
		t.Errorf("HostKey() = %q, want %q", s.HostKey(), srv.HostPublicKey)
	}
	old := srv.HostKeyFingerprint
	srv.Restart(true)

	cfg.ConnectRetries = 3 // a refusal is never retried
	_, err := DialSSH(context.Background(), cfg)
	var hke *HostKeyError
	if !errors.As(err, &hke) {
		t.Fatalf("DialSSH after the host key changed = %v, want *HostKeyError", err)
	}
	if hke.Host != srv.Addr || hke.Want != old || hke.Got != srv.HostKeyFingerprint {
		t.Errorf("HostKeyError = %+v, want host %s, want %s, got %s", hke, srv.Addr, old, srv.HostKeyFingerprint)
	}
	for _, part := range []string{srv.Addr, old, srv.HostKeyFingerprint, "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestHostKeyPinned(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	other := sshdtest.Start(t, sshdtest.Options{})
	cfg := config(srv)
	cfg.HostKey.Pinned = other.HostPublicKey
	_, err := DialSSH(context.Background(), cfg)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Want != other.HostKeyFingerprint || hke.Got != srv.HostKeyFingerprint {
		t.Fatalf("DialSSH with a wrong pin = %v, want *HostKeyError", err)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != StageHandshake {
		t.Errorf("stage: %v", err)
	}
}

func TestHostKeyTrustOnFirstUse(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	cfg := config(srv)
	var calls []string
	cfg.HostKey = HostKeyPolicy{
		KnownHostsFiles: []string{filepath.Join(t.TempDir(), "empty")},
		OnFirstUse:      func(key string) error { calls = append(calls, key); return nil },
	}
	dial(t, cfg)
	if diff := cmp.Diff([]string{srv.HostPublicKey}, calls); diff != "" {
		t.Errorf("OnFirstUse calls (-want +got):\n%s", diff)
	}

	// Refused on first use: no retry, the caller's reason kept.
	no := errors.New("operator said no")
	cfg.HostKey.OnFirstUse = func(string) error { return no }
	cfg.ConnectRetries = 3
	if _, err := DialSSH(context.Background(), cfg); !errors.Is(err, no) {
		t.Errorf("DialSSH with a refusing OnFirstUse = %v", err)
	}

	// No pin, not known, no TOFU: refused as unknown.
	cfg.HostKey.OnFirstUse = nil
	_, err := DialSSH(context.Background(), cfg)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Want != "" || hke.Got != srv.HostKeyFingerprint {
		t.Errorf("DialSSH to an unknown host = %v, want *HostKeyError without Want", err)
	}
}

func TestHostKeyInsecureIgnoreAndHostName(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	cfg := config(srv)
	cfg.HostKey = HostKeyPolicy{InsecureIgnore: true}
	// A name, not an address: the dialer resolves it (both families where
	// it has both).
	cfg.Addr = "localhost:" + strings.TrimPrefix(srv.Addr, "127.0.0.1:")
	s := dial(t, cfg)
	if res, err := s.Run(context.Background(), "echo ok", RunOptions{}); err != nil || res.Stdout != "ok\n" {
		t.Errorf("Run = %+v, %v", res, err)
	}
}

func TestBastion(t *testing.T) {
	jump := sshdtest.Start(t, sshdtest.Options{AllowTCPForwarding: true})
	target := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, jump.Addr)
	jcfg := config(jump)
	jcfg.Addr = proxy.Addr
	jcfg.HostKey = HostKeyPolicy{InsecureIgnore: true}
	cfg := config(target)
	cfg.Bastion = &jcfg
	s := dial(t, cfg)
	res, err := s.Run(context.Background(), "echo through", RunOptions{})
	if err != nil || res.Stdout != "through\n" {
		t.Fatalf("Run through the bastion = %+v, %v", res, err)
	}
	// The target's connection lives inside the bastion's: cutting the
	// bastion's ends it.
	proxy.CloseAll()
	<-s.Done()
	if _, err := s.Run(context.Background(), "true", RunOptions{}); err == nil {
		t.Errorf("Run after the bastion went away succeeded")
	}

	// A bastion that refuses forwarding fails the dial.
	closed := sshdtest.Start(t, sshdtest.Options{})
	ccfg := config(closed)
	cfg.Bastion = &ccfg
	if _, err := DialSSH(context.Background(), cfg); err == nil {
		t.Errorf("DialSSH through a bastion without forwarding succeeded")
	}
}

func TestPasswordAuth(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{Password: "broker-Pa55 word"})
	cfg := config(srv)
	cfg.Auth = Auth{Password: srv.Password}
	s := dial(t, cfg)
	res, err := s.Run(context.Background(), "id -un", RunOptions{})
	if err != nil || strings.TrimSpace(res.Stdout) != srv.User {
		t.Errorf("Run = %+v, %v; want user %s", res, err, srv.User)
	}
	cfg.Auth.Password = "wrong"
	_, err = DialSSH(context.Background(), cfg)
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != StageAuth {
		t.Errorf("DialSSH with a wrong password = %v, want stage auth", err)
	}
}

func TestAuthFailureNotRetried(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	other := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, srv.Addr)
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	cfg.HostKey = HostKeyPolicy{InsecureIgnore: true}
	cfg.Auth = Auth{PrivateKeyFiles: []string{other.KeyFile}}
	cfg.ConnectRetries = 3
	_, err := DialSSH(context.Background(), cfg)
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != StageAuth {
		t.Fatalf("DialSSH with an unknown key = %v, want stage auth", err)
	}
	if n := proxy.Connections(); n != 1 {
		t.Errorf("%d connection attempts, want 1", n)
	}
}

func TestConnectRetries(t *testing.T) {
	// Something that accepts and hangs up: a handshake failure, retried.
	srv := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, "127.0.0.1:1") // its dial fails, so it hangs up
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	cfg.ConnectRetries = 2
	_, err := DialSSH(context.Background(), cfg)
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage != StageHandshake {
		t.Fatalf("DialSSH = %v, want stage ssh handshake", err)
	}
	if n := proxy.Connections(); n != 3 {
		t.Errorf("%d connection attempts, want 3", n)
	}
}

func TestKeyFiles(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	cfg := config(srv)
	cfg.Auth = Auth{Signers: nil, PrivateKeyFiles: []string{filepath.Join(t.TempDir(), "absent")}}
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("DialSSH with a missing key file = %v", err)
	}
	cfg.Auth = Auth{}
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("DialSSH without credentials = %v", err)
	}
	cfg.Auth = Auth{Signers: []ssh.Signer{srv.Signer()}}
	dial(t, cfg)
}

func TestKeepaliveClosesDeadConnection(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, srv.Addr)
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	cfg.HostKey = HostKeyPolicy{InsecureIgnore: true}
	cfg.Keepalive = 50 * time.Millisecond
	s := dial(t, cfg)
	if _, err := s.Run(context.Background(), "true", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy.Freeze()
	<-s.Done() // the test times out if the keepalive never notices
	if _, err := s.Run(context.Background(), "true", RunOptions{}); err == nil {
		t.Errorf("Run on a dead connection succeeded")
	}
}

func TestWaitReady(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	ctx := context.Background()
	if err := WaitReady(ctx, config(srv), 10*time.Second); err != nil {
		t.Errorf("WaitReady on a running sshd: %v", err)
	}

	stage := func(err error) string {
		var ce *ConnectError
		if errors.As(err, &ce) {
			return ce.Stage
		}
		return "none: " + err.Error()
	}

	silent := config(srv)
	silent.Addr = sshdtest.StartSilent(t)
	silent.ConnectTimeout = 200 * time.Millisecond
	err := WaitReady(ctx, silent, time.Second)
	if err == nil || stage(err) != StageHandshake || !strings.Contains(err.Error(), "ssh handshake") {
		t.Errorf("WaitReady on a silent server = %v, want stage ssh handshake", err)
	}

	closed := config(srv)
	closed.Addr = "127.0.0.1:1"
	if err := WaitReady(ctx, closed, 500*time.Millisecond); err == nil || stage(err) != StageTCP {
		t.Errorf("WaitReady on a closed port = %v, want stage tcp", err)
	}

	// A refused login or host key ends the wait at once: ready_test.go.
}

func TestShellQuoteAndEnv(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "plain",
		"":          "''",
		"a b":       "'a b'",
		"it's":      `'it'\''s'`,
		"$HOME":     "'$HOME'",
		"K=v/x.y-z": "K=v/x.y-z",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	got, err := commandWithEnv("echo $A", map[string]string{"B": "x y", "A": "1"})
	if want := `env A=1 'B=x y' "$SHELL" -c 'echo $A'`; err != nil || got != want {
		t.Errorf("commandWithEnv = %s, %v; want %s", got, err, want)
	}
	if _, err := commandWithEnv("true", map[string]string{"A;rm": "1"}); err == nil {
		t.Errorf("commandWithEnv accepted a bad name")
	}
}

func TestHostKeyTypeChanged(t *testing.T) {
	// The host comes back with an RSA key only; we know its ed25519 key.
	old := sshdtest.Start(t, sshdtest.Options{})
	rsaKey, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(rsaKey, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "rsa_host_key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sshdtest.Start(t, sshdtest.Options{HostKey: keyFile})
	cfg := config(srv)
	cfg.HostKey.Pinned = old.HostPublicKey
	_, err = DialSSH(context.Background(), cfg)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Want != old.HostKeyFingerprint || hke.Got != srv.HostKeyFingerprint {
		t.Fatalf("DialSSH = %v, want *HostKeyError from %s to %s", err, old.HostKeyFingerprint, srv.HostKeyFingerprint)
	}
}
