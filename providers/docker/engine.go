package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

const defaultDockerSocket = "unix:///var/run/docker.sock"

// systemPodmanSocket is the rootful podman's API socket (a variable for
// the tests).
var systemPodmanSocket = "/run/podman/podman.sock"

// podmanSockets are podman's usual API sockets: the user's
// ($XDG_RUNTIME_DIR/podman/podman.sock, rootless) first, then the system's.
func podmanSockets() []string {
	var socks []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		socks = append(socks, filepath.Join(d, "podman", "podman.sock"))
	}
	return append(socks, systemPodmanSocket)
}

// engineHost picks the engine address: the host setting, else DOCKER_HOST,
// else the engine's usual socket. For podman (engine = "podman", or the
// provider used under its podman alias) that is the first of podman's
// usual sockets that accepts a connection; when none does, tried says
// which were tried and why each failed, and host is the first. Without a
// setting, when docker's socket does not answer and a podman socket does,
// that one is used.
func engineHost(s settings, typeName string) (host string, tried []string) {
	if s.Host != "" {
		return s.Host, nil
	}
	podman := s.Engine == "podman" || (s.Engine == "" && strings.EqualFold(typeName, "podman"))
	if !podman {
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return h, nil
		}
	}
	socks := podmanSockets()
	if podman {
		for _, p := range socks {
			// A connection, not only the file: a podman killed or
			// stopped leaves its socket file behind.
			err := answers(p)
			if err == nil {
				return "unix://" + p, nil
			}
			tried = append(tried, "unix://"+p+" ("+err.Error()+")")
		}
		return "unix://" + socks[0], tried
	}
	if s.Engine == "" && answers(strings.TrimPrefix(defaultDockerSocket, "unix://")) != nil {
		for _, p := range socks {
			if answers(p) == nil {
				return "unix://" + p, nil
			}
		}
	}
	return defaultDockerSocket, nil
}

// answers tells whether the unix socket at path accepts a connection, and
// why not.
func answers(path string) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err
		}
		return err
	}
	return c.Close()
}

// newClient makes an engine client for host. The client negotiates the
// API version down to the engine's on its first request.
func newClient(host string, s settings) (*client.Client, error) {
	var opts []client.Opt
	if strings.HasPrefix(host, "ssh://") {
		dial, err := sshDialer(host)
		if err != nil {
			return nil, err
		}
		// The host is a placeholder: every connection goes through ssh.
		opts = append(opts,
			client.WithHost("http://docker.invalid"),
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: dial}}),
		)
	} else {
		opts = append(opts, client.WithHost(host))
		if s.TLSCA != "" || s.TLSCert != "" {
			opts = append(opts, client.WithTLSClientConfig(expandHome(s.TLSCA), expandHome(s.TLSCert), expandHome(s.TLSKey)))
		}
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker engine %s: %w", host, err)
	}
	return api, nil
}

// publishHost is the address published ports are reached at: loopback for
// a local engine, the engine's host name for a remote one.
func publishHost(host string) (addr string, local bool) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "unix" || u.Scheme == "npipe" || u.Hostname() == "" {
		return "127.0.0.1", true
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() || h == "localhost" {
		return "127.0.0.1", true
	}
	return h, false
}

// isConnErr tells whether err means the engine did not answer at all.
func isConnErr(err error) bool {
	if err == nil {
		return false
	}
	if client.IsErrConnectionFailed(err) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var ee *exec.ExitError
	return errors.As(err, &ee) || errors.Is(err, os.ErrNotExist)
}

// sshDialer returns a dialer that reaches a remote engine by running
// `docker system dial-stdio` on the host over the ssh client, as the docker
// CLI does for ssh:// hosts.
func sshDialer(host string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	argv, err := sshArgs(host)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		// The connection outlives ctx: the command is not bound to it.
		cmd := exec.Command("ssh", argv...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		var stderr strings.Builder
		cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("run ssh: %w", err)
		}
		return &cmdConn{cmd: cmd, in: stdin, out: stdout, stderr: &stderr}, nil
	}, nil
}

// sshArgs turns ssh://[user@]host[:port] into ssh's arguments.
func sshArgs(host string) ([]string, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "ssh" || u.Hostname() == "" {
		return nil, fmt.Errorf("docker host %q: want ssh://[user@]host[:port]", host)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("docker host %q: an ssh host takes no path", host)
	}
	argv := []string{"-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T"}
	if u.User != nil && u.User.Username() != "" {
		argv = append(argv, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		argv = append(argv, "-p", p)
	}
	return append(argv, "--", u.Hostname(), "docker", "system", "dial-stdio"), nil
}

type limitedWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// cmdConn is a net.Conn over a command's stdin and stdout.
type cmdConn struct {
	cmd       *exec.Cmd
	in        io.WriteCloser
	out       io.ReadCloser
	stderr    *strings.Builder
	closeOnce sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.out.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		if msg := strings.TrimSpace(c.stderr.String()); msg != "" {
			return 0, fmt.Errorf("ssh: %s: %w", msg, io.EOF)
		}
	}
	return n, err
}

func (c *cmdConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// CloseWrite ends the remote side's input (hijacked streams use it).
func (c *cmdConn) CloseWrite() error { return c.in.Close() }

func (c *cmdConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.in.Close()
		_ = c.out.Close()
		if c.cmd.Process != nil {
			_ = c.cmd.Process.Kill()
		}
		_ = c.cmd.Wait()
	})
	return nil
}

type dummyAddr struct{}

func (dummyAddr) Network() string { return "ssh" }
func (dummyAddr) String() string  { return "ssh" }

func (c *cmdConn) LocalAddr() net.Addr                { return dummyAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr               { return dummyAddr{} }
func (c *cmdConn) SetDeadline(t time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return nil }
