package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SSHConfig says how to reach and trust one host over SSH.
type SSHConfig struct {
	// Addr is host:port; a bare host means port 22. A name that resolves
	// to IPv6 and IPv4 addresses is dialled happy-eyeballs style.
	Addr string
	// User is the login name; empty: the local user.
	User    string
	Auth    Auth
	HostKey HostKeyPolicy
	// Bastion, if set, is a jump host: broker connects to it and reaches
	// Addr through a direct-tcpip channel (ssh -J).
	Bastion *SSHConfig
	// ConnectTimeout bounds each connection attempt, TCP connect and SSH
	// handshake together; zero: 30s.
	ConnectTimeout time.Duration
	// Keepalive is the interval of keepalive@openssh.com requests; a
	// connection that leaves three intervals without a reply is closed.
	// Zero: no keepalives.
	Keepalive time.Duration
	// ConnectRetries is how many more connection attempts follow a failed
	// one (capped exponential backoff with jitter). Only connection
	// failures are retried, never authentication or host-key refusals, and
	// never commands.
	ConnectRetries int
}

// Auth are the credentials offered, in this order: public keys (Signers,
// PrivateKeyFiles, then the agent's), then the password.
type Auth struct {
	Password        string
	PrivateKeyFiles []string
	// Passphrase returns the passphrase of an encrypted key file (from an
	// environment variable or a TTY prompt: the caller decides); nil: an
	// encrypted key is an error.
	Passphrase func(file string) ([]byte, error)
	// Agent offers the keys of the agent at $SSH_AUTH_SOCK.
	Agent   bool
	Signers []ssh.Signer
}

// HostKeyPolicy says which host keys to accept.
//
// A Pinned key, when set, decides alone. Otherwise the known_hosts files
// decide; a host they do not know is accepted only through OnFirstUse.
// A key that differs from the pin or from known_hosts is refused with a
// *HostKeyError.
type HostKeyPolicy struct {
	// KnownHostsFiles are OpenSSH known_hosts files; missing ones are
	// ignored.
	KnownHostsFiles []string
	// Pinned is the key recorded for this host, authorized_keys format
	// ("ssh-ed25519 AAAA…").
	Pinned string
	// OnFirstUse is asked about a host neither pinned nor known (trust on
	// first use) with its key in authorized_keys format; it records the
	// key and returns nil to accept it. It is called at most once per
	// DialSSH.
	OnFirstUse func(key string) error
	// InsecureIgnore accepts any host key. It makes the connection open to
	// interception; meant for throwaway containers on loopback.
	InsecureIgnore bool
}

const defaultConnectTimeout = 30 * time.Second

func (c SSHConfig) withDefaults() (SSHConfig, error) {
	if c.Addr == "" {
		return c, errors.New("ssh config has no address")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		c.Addr = net.JoinHostPort(strings.Trim(c.Addr, "[]"), "22")
	}
	if c.User == "" {
		u, err := user.Current()
		if err != nil {
			return c, fmt.Errorf("ssh config for %s has no user and the local user is unknown: %w", c.Addr, err)
		}
		c.User = u.Username
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	return c, nil
}

// SSHSession is an SSH connection to one host; it implements Session.
// Every Run opens its own SSH session (channel) on the connection, so
// one SSHSession serves concurrent Runs, Uploads and Downloads.
type SSHSession struct {
	addr    string
	client  *ssh.Client
	hop     *SSHSession // bastion, closed after client
	hostKey string

	sftpMu sync.Mutex
	sftp   *sftp.Client

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

var _ Session = (*SSHSession)(nil)

// DialSSH connects and authenticates to cfg.Addr, through cfg.Bastion if
// set, retrying connection failures cfg.ConnectRetries times. Its errors
// are a *ConnectError (with the stage that failed), wrapping a
// *HostKeyError for a refused host key.
func DialSSH(ctx context.Context, cfg SSHConfig) (*SSHSession, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var hop *SSHSession
	if cfg.Bastion != nil {
		hop, err = DialSSH(ctx, *cfg.Bastion)
		if err != nil {
			return nil, fmt.Errorf("bastion for %s: %w", cfg.Addr, err)
		}
	}
	cc, hk, cleanup, err := clientConfig(cfg)
	if err != nil {
		if hop != nil {
			hop.Close()
		}
		return nil, err
	}
	defer cleanup()

	var client *ssh.Client
	for attempt := 0; ; attempt++ {
		client, err = handshake(ctx, cfg, cc, hop)
		if err == nil {
			break
		}
		if attempt >= cfg.ConnectRetries || !retryable(err) {
			break
		}
		if sleepCtx(ctx, backoff(attempt)) != nil {
			break
		}
	}
	if err != nil {
		if hop != nil {
			hop.Close()
		}
		return nil, err
	}
	s := &SSHSession{addr: cfg.Addr, client: client, hop: hop, hostKey: hk.presented(), done: make(chan struct{})}
	go func() {
		_ = client.Wait()
		close(s.done)
		s.Close()
	}()
	if hop != nil {
		// The target's connection runs inside the bastion's.
		go func() {
			select {
			case <-hop.done:
				s.Close()
			case <-s.done:
			}
		}()
	}
	if cfg.Keepalive > 0 {
		go s.keepalive(cfg.Keepalive)
	}
	return s, nil
}

// clientConfig builds the x/crypto config: credentials are read once per
// DialSSH, not per attempt.
func clientConfig(cfg SSHConfig) (*ssh.ClientConfig, *hostKeyChecker, func(), error) {
	methods, cleanup, err := cfg.Auth.methods()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("credentials for %s: %w", cfg.Addr, err)
	}
	hk, err := newHostKeyChecker(cfg.HostKey)
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("host keys for %s: %w", cfg.Addr, err)
	}
	cc := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              methods,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(cfg.Addr),
		Timeout:           cfg.ConnectTimeout,
		ClientVersion:     "SSH-2.0-broker",
	}
	return cc, hk, cleanup, nil
}

// handshake makes one connection attempt: TCP (or a channel through hop),
// then the SSH handshake and authentication, bounded by ConnectTimeout.
func handshake(ctx context.Context, cfg SSHConfig, cc *ssh.ClientConfig, hop *SSHSession) (*ssh.Client, error) {
	actx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var (
		conn net.Conn
		err  error
	)
	if hop != nil {
		conn, err = hop.client.DialContext(actx, "tcp", cfg.Addr)
	} else {
		// "tcp", not "tcp4": a name with IPv6 and IPv4 addresses gets
		// both tried (RFC 6555 fallback).
		d := net.Dialer{KeepAlive: 15 * time.Second}
		conn, err = d.DialContext(actx, "tcp", cfg.Addr)
	}
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("no connection within %s: %w", cfg.ConnectTimeout, err)
		}
		return nil, &ConnectError{Addr: cfg.Addr, Stage: StageTCP, Err: err}
	}
	// A server that accepts and never speaks must not hang us: closing
	// the connection ends the handshake.
	stop := context.AfterFunc(actx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, cfg.Addr, cc)
	if !stop() {
		if err == nil {
			c.Close()
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("no ssh handshake within %s: %w", cfg.ConnectTimeout, context.DeadlineExceeded)
		}
		return nil, &ConnectError{Addr: cfg.Addr, Stage: StageHandshake, Err: err}
	}
	if err != nil {
		conn.Close()
		if len(cc.HostKeyAlgorithms) > 0 && strings.Contains(err.Error(), "no common algorithm for host key") {
			// The host has no key of the type we know it by: ask for any,
			// so that the refusal names the key it has now.
			anyKey := *cc
			anyKey.HostKeyAlgorithms = nil
			return handshake(ctx, cfg, &anyKey, hop)
		}
		stage := StageHandshake
		var hke *HostKeyError
		if !errors.As(err, &hke) && isAuthFailure(err) {
			stage = StageAuth
		}
		return nil, &ConnectError{Addr: cfg.Addr, Stage: stage, Err: err}
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// retryable: connection trouble is, refusals are not.
func retryable(err error) bool {
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Stage == StageAuth {
		return false
	}
	var hke *HostKeyError
	var rej *hostKeyRejectedError
	if errors.As(err, &hke) || errors.As(err, &rej) {
		return false
	}
	return !errors.Is(err, context.Canceled)
}

func (s *SSHSession) keepalive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		dead := time.NewTimer(3 * interval)
		select {
		case err := <-reply:
			dead.Stop()
			if err != nil {
				s.Close()
				return
			}
		case <-dead.C:
			// No answer: the peer or the path is gone.
			s.Close()
			return
		case <-s.done:
			dead.Stop()
			return
		}
	}
}

// HostKey is the key the host presented, in authorized_keys format: what a
// caller pins in its record.
func (s *SSHSession) HostKey() string { return s.hostKey }

// Addr is the address the session is connected to.
func (s *SSHSession) Addr() string { return s.addr }

// Client is the underlying SSH client, for port forwards and other uses
// this package does not cover. Closing it closes the session.
func (s *SSHSession) Client() *ssh.Client { return s.client }

// Done is closed when the connection has ended (closed, lost, or a
// keepalive went unanswered).
func (s *SSHSession) Done() <-chan struct{} { return s.done }

func (s *SSHSession) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Close closes the SFTP client, the connection and the bastion's.
func (s *SSHSession) Close() error {
	s.closeOnce.Do(func() {
		s.sftpMu.Lock()
		if s.sftp != nil {
			s.sftp.Close()
		}
		s.sftpMu.Unlock()
		err := s.client.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			s.closeErr = err
		}
		if s.hop != nil {
			s.hop.Close()
		}
	})
	return s.closeErr
}

// newSession opens an SSH session (channel) without outliving ctx.
func (s *SSHSession) newSession(ctx context.Context) (*ssh.Session, error) {
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		ss, err := s.client.NewSession()
		ch <- opened{ss, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, fmt.Errorf("open ssh session on %s: %w", s.addr, o.err)
		}
		return o.s, nil
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				o.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Run runs cmd with the user's login shell, as ssh does.
func (s *SSHSession) Run(ctx context.Context, cmd string, opts RunOptions) (Result, error) {
	start := time.Now()
	parent := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	res := Result{Status: -1}
	full, err := commandWithEnv(cmd, opts.Env)
	if err != nil {
		return res, err
	}
	sess, err := s.newSession(ctx)
	if err != nil {
		res.Duration = time.Since(start)
		if ctx.Err() != nil {
			return res, runCtxErr(parent, cmd, opts.Timeout)
		}
		return res, err
	}
	defer sess.Close()

	// Setenv works where sshd's AcceptEnv allows; the env prefix of the
	// command makes it work everywhere. Each Setenv is a round trip, so
	// only a few are sent.
	if len(opts.Env) <= 4 {
		for _, k := range slices.Sorted(maps.Keys(opts.Env)) {
			_ = sess.Setenv(k, opts.Env[k])
		}
	}

	var gate gate
	defer gate.close()
	var outBuf, errBuf lockedBuffer
	if opts.Stdout != nil {
		sess.Stdout = gate.writer(opts.Stdout)
	} else {
		sess.Stdout = gate.writer(&outBuf)
	}
	if opts.Stderr != nil {
		sess.Stderr = gate.writer(opts.Stderr)
	} else {
		sess.Stderr = gate.writer(&errBuf)
	}
	if opts.Stdin != nil {
		// Our own copy, so that a Stdin that never ends (a terminal)
		// cannot keep Run from returning once the command has exited.
		w, err := sess.StdinPipe()
		if err != nil {
			return res, fmt.Errorf("run %q on %s: %w", cmd, s.addr, err)
		}
		go func() {
			_, _ = io.Copy(w, gate.reader(opts.Stdin))
			w.Close()
		}()
	}
	if err := sess.Start(full); err != nil {
		return res, fmt.Errorf("run %q on %s: %w", cmd, s.addr, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()

	select {
	case err = <-waited:
	case <-ctx.Done():
		// Kill what runs (OpenSSH 7.9+ honours it), then drop the
		// channel; the connection stays usable.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		gate.close()
		res.Stdout, res.Stderr = outBuf.String(), errBuf.String()
		res.Duration = time.Since(start)
		return res, runCtxErr(parent, cmd, opts.Timeout)
	}
	res.Stdout, res.Stderr = outBuf.String(), errBuf.String()
	res.Duration = time.Since(start)
	status, err := exitStatus(err)
	if err != nil {
		return res, fmt.Errorf("run %q on %s: %w", cmd, s.addr, err)
	}
	res.Status = status
	return res, nil
}

// runCtxErr is the error of a command its context ended.
func runCtxErr(parent context.Context, cmd string, timeout time.Duration) error {
	switch {
	case parent.Err() == nil:
		return &TimeoutError{Cmd: cmd, Timeout: timeout}
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		return &TimeoutError{Cmd: cmd}
	default:
		return fmt.Errorf("command %q: %w", cmd, parent.Err())
	}
}

// exitStatus turns Wait's error into a status, or an error when the end
// of the command was not seen.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.Signal() != "" {
			return -1, nil
		}
		return ee.ExitStatus(), nil
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return -1, fmt.Errorf("connection closed before the command's exit status arrived: %w", err)
	}
	return -1, err
}

// Shell runs the login shell on a PTY until it exits.
func (s *SSHSession) Shell(ctx context.Context, opts ShellOptions) error {
	sess, err := s.newSession(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	term := opts.Term
	if term == "" {
		term = "xterm-256color"
	}
	size := opts.Size
	if size.Width <= 0 || size.Height <= 0 {
		size = WindowSize{Width: 80, Height: 24}
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty(term, size.Height, size.Width, modes); err != nil {
		return fmt.Errorf("pty on %s: %w", s.addr, err)
	}
	var gate gate
	defer gate.close()
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = stdout
	}
	sess.Stdout, sess.Stderr = gate.writer(stdout), gate.writer(stderr)
	if opts.Stdin != nil {
		w, err := sess.StdinPipe()
		if err != nil {
			return fmt.Errorf("shell on %s: %w", s.addr, err)
		}
		go func() {
			_, _ = io.Copy(w, gate.reader(opts.Stdin))
			w.Close()
		}()
	}
	if err := sess.Shell(); err != nil {
		return fmt.Errorf("shell on %s: %w", s.addr, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	resize := opts.Resize
	for {
		select {
		case ws, ok := <-resize:
			if !ok {
				resize = nil
				continue
			}
			_ = sess.WindowChange(ws.Height, ws.Width)
		case <-ctx.Done():
			_ = sess.Signal(ssh.SIGHUP)
			return fmt.Errorf("shell on %s: %w", s.addr, ctx.Err())
		case err := <-waited:
			status, err := exitStatus(err)
			if err != nil {
				return fmt.Errorf("shell on %s: %w", s.addr, err)
			}
			if status != 0 {
				return &ExitError{Status: status}
			}
			return nil
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a copy goroutine may
// still write (after a timeout).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gate cuts a caller's readers and writers off when Run or Shell returns,
// so that no write reaches them afterwards.
type gate struct {
	mu     sync.Mutex
	closed bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) writer(w io.Writer) io.Writer { return gatedWriter{g, w} }
func (g *gate) reader(r io.Reader) io.Reader { return gatedReader{g, r} }

type gatedWriter struct {
	g *gate
	w io.Writer
}

func (gw gatedWriter) Write(p []byte) (int, error) {
	gw.g.mu.Lock()
	defer gw.g.mu.Unlock()
	if gw.g.closed {
		return 0, io.ErrClosedPipe
	}
	return gw.w.Write(p)
}

type gatedReader struct {
	g *gate
	r io.Reader
}

func (gr gatedReader) Read(p []byte) (int, error) {
	n, err := gr.r.Read(p)
	gr.g.mu.Lock()
	closed := gr.g.closed
	gr.g.mu.Unlock()
	if closed {
		return 0, io.ErrClosedPipe
	}
	return n, err
}
