package sshdtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options shape a server. The zero value is a plain sshd accepting the
// generated client key for the current user.
type Options struct {
	// Password, if set, enables password authentication and makes the
	// server's User a throwaway local account with this password (see the
	// package documentation; needs root, the test is skipped otherwise).
	Password string
	// HostKey is the path of an OpenSSH private key file to use as the
	// host key, so that a key survives across servers (Server.HostKeyFile
	// of another server works); empty: a new ed25519 key.
	HostKey string
	// AllowTCPForwarding lets clients open direct-tcpip channels, which a
	// bastion (jump host) needs.
	AllowTCPForwarding bool
	// ExtraConfig are sshd_config lines. Lines before the first "Match"
	// line go ahead of the defaults and so override them (sshd keeps the
	// first value it reads); a Match line and everything after it go last.
	ExtraConfig []string
}

// Server is one running sshd (or, for StartN, a few sshd processes sharing
// one configuration) listening on loopback.
type Server struct {
	// Addr and Port are the first (for Start, the only) listening address.
	Addr string
	Port int
	// Addrs and Ports are all listening addresses, len n for StartN.
	Addrs []string
	Ports []int
	// User is the account clients log in as.
	User string
	// Password is Options.Password.
	Password string
	// KeyFile is an unencrypted OpenSSH private key the server authorises.
	KeyFile string
	// HostKeyFile is the host's private key file; HostKeyFingerprint its
	// SHA256 fingerprint ("SHA256:…") and HostPublicKey the public key in
	// authorized_keys format ("ssh-ed25519 AAAA…", no newline).
	HostKeyFile        string
	HostKeyFingerprint string
	HostPublicKey      string

	t       testing.TB
	dir     string
	opts    Options
	sshd    string
	mu      sync.Mutex
	procs   []*proc
	restart int
}

// maxListen is how many ListenAddress lines one sshd accepts (OpenSSH's
// MAX_LISTEN_SOCKS); StartN runs one process per this many ports.
const maxListen = 16

// readyTimeout bounds how long Start waits for sshd to report that it
// listens; it only turns a hang into a failure, it does not synchronise.
const readyTimeout = 30 * time.Second

// Require skips the test, or fails it when CI=true, unless an sshd that
// this package can run is installed; it returns sshd's absolute path.
func Require(t testing.TB) string {
	t.Helper()
	path, reason := findSSHD()
	if reason != "" {
		skip(t, reason)
	}
	return path
}

// skip skips the test for a missing component, or fails it in CI.
func skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("sshdtest: %s (CI=true: not skipping)", reason)
	}
	t.Skipf("sshdtest: %s", reason)
}

var (
	findOnce   sync.Once
	findPath   string
	findReason string
)

func findSSHD() (string, string) {
	findOnce.Do(func() {
		path, err := exec.LookPath("sshd")
		if err != nil {
			for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"} {
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					path = p
					break
				}
			}
		}
		if path == "" {
			findReason = "sshd not found (install openssh-server)"
			return
		}
		// sshd refuses to re-exec itself from a relative path.
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		// sshd needs its privilege separation directory even when it
		// runs unprivileged.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			if _, serr := os.Stat("/run/sshd"); serr != nil {
				findReason = fmt.Sprintf("sshd needs /run/sshd: %v", err)
				return
			}
		}
		findPath = path
	})
	return findPath, findReason
}

// Start starts one sshd on a free 127.0.0.1 port and stops it when the
// test ends. It skips the test (fails it with CI=true) when sshd is
// missing.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	return StartN(t, 1, opts)
}

// StartN starts sshd listening on n free 127.0.0.1 ports (one process per
// 16 ports), all with the same keys and configuration: the cheap way to
// have n "hosts". Only the first opts is used.
func StartN(t testing.TB, n int, opts ...Options) *Server {
	t.Helper()
	if n < 1 {
		t.Fatalf("sshdtest: StartN needs n >= 1, got %d", n)
	}
	sshd := Require(t)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s := &Server{t: t, dir: t.TempDir(), opts: o, sshd: sshd, Password: o.Password}
	t.Cleanup(s.Stop)

	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshdtest: current user: %v", err)
	}
	s.User = u.Username
	if o.Password != "" {
		s.User = passwordUser(t, o.Password)
		// sshd reads authorized_keys as the logging-in user.
		for _, d := range []string{s.dir, filepath.Dir(s.dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatalf("sshdtest: %v", err)
			}
		}
	}

	clientPub := s.writeClientKey()
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	if o.HostKey != "" {
		s.HostKeyFile = o.HostKey
		s.loadHostKey()
	} else {
		s.newHostKey()
	}

	for attempt := 0; ; attempt++ {
		ports := freePorts(t, n)
		err := s.startAll(ports)
		if err == nil {
			break
		}
		s.killAll()
		if !errors.Is(err, errPortTaken) || attempt == 4 {
			t.Fatalf("sshdtest: %v", err)
		}
	}
	return s
}

var errPortTaken = errors.New("port taken")

func (s *Server) setPorts(ports []int) {
	s.Ports = ports
	s.Addrs = make([]string, len(ports))
	for i, p := range ports {
		s.Addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	s.Port = ports[0]
	s.Addr = s.Addrs[0]
}

func (s *Server) startAll(ports []int) error {
	s.setPorts(ports)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < len(ports); i += maxListen {
		end := min(i+maxListen, len(ports))
		p, err := s.startProc(i/maxListen, ports[i:end])
		if p != nil {
			s.procs = append(s.procs, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// proc is one sshd process.
type proc struct {
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{}
}

func (s *Server) startProc(idx int, ports []int) (*proc, error) {
	cfgPath := filepath.Join(s.dir, fmt.Sprintf("sshd_config.%d", idx))
	if err := os.WriteFile(cfgPath, []byte(s.config(idx, ports)), 0o644); err != nil {
		return nil, err
	}
	lb := newLogBuffer()
	// An os.Pipe rather than an io.Writer: sshd's per-connection children
	// inherit stderr, and cmd.Wait must not wait for them to exit.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.sshd, "-D", "-e", "-f", cfgPath)
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	go func() {
		_, _ = io.Copy(lb, r)
		r.Close()
		close(lb.eof)
	}()
	p := &proc{cmd: cmd, log: lb, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()

	// Ready when sshd has logged that it listens on every port.
	want := make(map[int]bool, len(ports))
	for _, port := range ports {
		want[port] = true
	}
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for {
		text, changed := lb.snapshot()
		for port := range want {
			if strings.Contains(text, fmt.Sprintf("Server listening on 127.0.0.1 port %d.", port)) {
				delete(want, port)
			}
			if strings.Contains(text, fmt.Sprintf("Bind to port %d on 127.0.0.1 failed", port)) {
				return p, fmt.Errorf("%w: %d: %s", errPortTaken, port, text)
			}
		}
		if len(want) == 0 {
			return p, nil
		}
		select {
		case <-changed:
		case <-p.done:
			<-lb.eof // no connection yet, so no child holds the pipe open
			text, _ := lb.snapshot()
			if strings.Contains(text, "Bind to port") || strings.Contains(text, "Cannot bind any address") {
				return p, fmt.Errorf("%w: %s", errPortTaken, text)
			}
			return p, fmt.Errorf("sshd exited before listening: %s", text)
		case <-timeout.C:
			text, _ := lb.snapshot()
			return p, fmt.Errorf("sshd did not report listening within %s: %s", readyTimeout, text)
		}
	}
}

func (s *Server) config(idx int, ports []int) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	var head, tail []string
	for i, l := range s.opts.ExtraConfig {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "match") {
			tail = s.opts.ExtraConfig[i:]
			break
		}
		head = append(head, l)
	}
	for _, l := range head {
		line("%s", l)
	}
	for _, p := range ports {
		line("ListenAddress 127.0.0.1:%d", p)
	}
	yesNo := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	line("HostKey %s", s.HostKeyFile)
	line("PidFile %s", filepath.Join(s.dir, fmt.Sprintf("sshd.%d.pid", idx)))
	line("AuthorizedKeysFile %s", filepath.Join(s.dir, "authorized_keys"))
	line("StrictModes no")
	line("UsePAM no")
	line("PubkeyAuthentication yes")
	line("PasswordAuthentication %s", yesNo(s.opts.Password != ""))
	line("KbdInteractiveAuthentication no")
	line("PermitRootLogin prohibit-password")
	line("AllowTcpForwarding %s", yesNo(s.opts.AllowTCPForwarding))
	line("AllowAgentForwarding no")
	line("X11Forwarding no")
	line("PrintMotd no")
	line("PrintLastLog no")
	line("UseDNS no")
	line("AcceptEnv LANG LC_* BROKER_*")
	line("Subsystem sftp internal-sftp")
	// Fan-out tests open many connections at once from one address.
	line("MaxStartups 1000")
	line("MaxSessions 100")
	if supportsPenalties(s.sshd, s.dir) {
		line("PerSourcePenalties no")
	}
	line("LogLevel VERBOSE")
	for _, l := range tail {
		line("%s", l)
	}
	return b.String()
}

var (
	penaltiesOnce sync.Once
	penaltiesOK   bool
)

// supportsPenalties reports whether this sshd knows PerSourcePenalties
// (OpenSSH 9.8+), which would otherwise lock loopback out after a few
// deliberately failed handshakes.
func supportsPenalties(sshd, dir string) bool {
	penaltiesOnce.Do(func() {
		cfg := filepath.Join(dir, "probe_config")
		key := filepath.Join(dir, "probe_key")
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		blk, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			return
		}
		if os.WriteFile(key, pem.EncodeToMemory(blk), 0o600) != nil {
			return
		}
		if os.WriteFile(cfg, fmt.Appendf(nil, "HostKey %s\nPerSourcePenalties no\n", key), 0o644) != nil {
			return
		}
		penaltiesOK = exec.Command(sshd, "-t", "-f", cfg).Run() == nil
	})
	return penaltiesOK
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("sshdtest: free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func (s *Server) writeClientKey() ssh.PublicKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "sshdtest client")
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	s.KeyFile = filepath.Join(s.dir, "client_key")
	if err := os.WriteFile(s.KeyFile, pem.EncodeToMemory(blk), 0o600); err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	return sp
}

func (s *Server) newHostKey() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "sshdtest host")
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	s.HostKeyFile = filepath.Join(s.dir, fmt.Sprintf("host_key.%d", s.restart))
	if err := os.WriteFile(s.HostKeyFile, pem.EncodeToMemory(blk), 0o600); err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	s.loadHostKey()
}

func (s *Server) loadHostKey() {
	data, err := os.ReadFile(s.HostKeyFile)
	if err != nil {
		s.t.Fatalf("sshdtest: host key: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		s.t.Fatalf("sshdtest: host key %s: %v", s.HostKeyFile, err)
	}
	s.HostKeyFingerprint = ssh.FingerprintSHA256(signer.PublicKey())
	s.HostPublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.HostPublicKey))
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	return k
}

// Signer is the authorised client key, for callers that take signers
// rather than files.
func (s *Server) Signer() ssh.Signer {
	data, err := os.ReadFile(s.KeyFile)
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		s.t.Fatalf("sshdtest: %v", err)
	}
	return signer
}

// KnownHosts writes a known_hosts file naming the current host key for
// every address of the server and returns its path.
func (s *Server) KnownHosts(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, a := range s.Addrs {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(a)}, s.HostKey()))
		b.WriteByte('\n')
	}
	f, err := os.CreateTemp(t.TempDir(), "known_hosts")
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	return f.Name()
}

// Log is what the server's sshd processes have logged so far (LogLevel
// VERBOSE), for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, p := range s.procs {
		text, _ := p.log.snapshot()
		b.WriteString(text)
	}
	return b.String()
}

// WaitLog waits until the first sshd process has logged a line containing
// substr (an event to wait on rather than a clock), or ctx ends.
func (s *Server) WaitLog(ctx context.Context, substr string) error {
	s.mu.Lock()
	lb := s.procs[0].log
	s.mu.Unlock()
	for {
		text, changed := lb.snapshot()
		if strings.Contains(text, substr) {
			return nil
		}
		select {
		case <-changed:
		case <-lb.eof:
			if text, _ := lb.snapshot(); strings.Contains(text, substr) {
				return nil
			}
			return fmt.Errorf("sshd ended without logging %q", substr)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop stops the sshd processes; it is idempotent and runs at cleanup.
// Like a real sshd, connections already established are served by their
// own processes and end when their clients close them.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killAllLocked()
}

func (s *Server) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killAllLocked()
}

func (s *Server) killAllLocked() {
	for _, p := range s.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range s.procs {
		<-p.done
	}
	s.procs = nil
}

// Restart stops the server and starts it again on the same ports, with a
// new host key when newHostKey is set (HostKeyFile, HostKeyFingerprint and
// HostPublicKey then describe the new key). It must not run concurrently
// with other uses of s.
func (s *Server) Restart(newHostKey bool) {
	s.t.Helper()
	s.Stop()
	if newHostKey {
		s.restart++
		s.newHostKey()
	}
	if err := s.startAll(s.Ports); err != nil {
		s.killAll()
		s.t.Fatalf("sshdtest: restart: %v", err)
	}
}

// StartSilent listens on a free 127.0.0.1 port, accepts connections and
// never writes to them (nor closes them until the test ends); it returns
// the address.
func StartSilent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// passwordUser returns the throwaway account for password, creating it
// when needed. The name derives from the password, so an existing account
// already has it.
func passwordUser(t testing.TB, password string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(password))
	name := "brokerpw" + hex.EncodeToString(sum[:4])
	if _, err := user.Lookup(name); err == nil {
		return name
	}
	if os.Geteuid() != 0 {
		skip(t, fmt.Sprintf("password authentication needs a throwaway account %s, which only root can create", name))
	}
	// Serialise with other test binaries creating the same account.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "sshdtest-useradd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("sshdtest: lock: %v", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := user.Lookup(name); err == nil {
		return name
	}
	if out, err := exec.Command("useradd", "-M", "-d", "/", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("sshdtest: useradd %s: %v: %s", name, err, out)
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sshdtest: chpasswd %s: %v: %s", name, err, out)
	}
	return name
}

// logBuffer collects a process's output and wakes waiters on every write.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
	eof     chan struct{}
}

func newLogBuffer() *logBuffer {
	return &logBuffer{changed: make(chan struct{}), eof: make(chan struct{})}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) snapshot() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String(), l.changed
}
