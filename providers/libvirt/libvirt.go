package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/labbroker/broker/providers"
)

// Labels the provider adds beside broker's own.
const (
	// LabelProvider marks domains made by this provider.
	LabelProvider = "broker.provider"
	// LabelInstance is the provider instance's name.
	LabelInstance = "broker.instance"
)

func init() {
	providers.Register(&providers.Type{
		Name:           "libvirt",
		Summary:        "virtual machines on a libvirt (QEMU/KVM) host",
		SettingsSchema: settingsSchema,
		ArgsSchema:     argsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			return New(ctx, cfg)
		},
	})
}

// Provider is one configured libvirt provider instance.
type Provider struct {
	set      settings
	target   target
	instance string
	user     string
	logger   *slog.Logger

	mu sync.Mutex // guards conn
	// conn is the daemon connection, made on first use and again after a
	// disconnect.
	conn *golibvirt.Libvirt
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Extender  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
)

// New makes a provider instance from cfg. It does not contact the daemon:
// a daemon that is down is reported by the first call that needs it.
func New(_ context.Context, cfg providers.Config) (*Provider, error) {
	s, err := decodeSettings(cfg.Settings)
	if err != nil {
		return nil, err
	}
	t, err := parseURI(s.URI)
	if err != nil {
		return nil, fmt.Errorf("setting uri: %w", err)
	}
	if s.Socket != "" {
		t.Socket = s.Socket
	}
	p := &Provider{set: s, target: t, instance: cfg.Instance, user: cfg.User, logger: cfg.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.set.AuthorizedKeys == "" && cfg.AuthorizedKeys != nil {
		p.set.AuthorizedKeys = strings.TrimSpace(cfg.AuthorizedKeys())
	}
	if p.set.NamePrefix == "" {
		p.set.NamePrefix = sanitizeName(cfg.User)
	}
	if p.set.NamePrefix == "" {
		p.set.NamePrefix = "broker"
	}
	return p, nil
}

// DaemonError is a daemon that cannot be reached.
type DaemonError struct {
	URI string
	Err error
}

func (e *DaemonError) Error() string {
	return fmt.Sprintf("libvirt at %s does not answer: %v\nhint: is libvirtd (or virtqemud) running, and may this user use its socket? (virsh -c %s list)", e.URI, e.Err, e.URI)
}

func (e *DaemonError) Unwrap() error { return e.Err }

// client returns a connected client.
func (p *Provider) client(ctx context.Context) (*golibvirt.Libvirt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && p.conn.IsConnected() {
		return p.conn, nil
	}
	var d interface{ Dial() (net.Conn, error) }
	var sd *sshDialer
	if p.target.Remote {
		sd = &sshDialer{ctx: context.WithoutCancel(ctx), t: p.target}
		d = sd
	} else {
		sock := p.target.Socket
		if sock == "" {
			sock = defaultSocket(p.target.Open)
		}
		d = dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(15*time.Second))
	}
	l := golibvirt.NewWithDialer(d)
	if err := l.ConnectToURI(golibvirt.ConnectURI(p.target.Open)); err != nil {
		if sd != nil && sd.last != nil {
			if msg := strings.TrimSpace(sd.last.stderr.String()); msg != "" {
				err = fmt.Errorf("%w (ssh: %s)", err, msg)
			}
		}
		return nil, &DaemonError{URI: p.set.URI, Err: err}
	}
	p.conn = l
	return l, nil
}

// Close disconnects from the daemon.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return nil
	}
	err := p.conn.Disconnect()
	p.conn = nil
	return err
}

// defaultSocket is the socket of the local daemon that serves open: the
// modular virtqemud's where there is one, else libvirtd's.
func defaultSocket(open string) string {
	dir := "/run/libvirt"
	if strings.HasSuffix(open, "/session") {
		rt := os.Getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			rt = fmt.Sprintf("/run/user/%d", os.Getuid())
		}
		dir = filepath.Join(rt, "libvirt")
	}
	for _, name := range []string{"virtqemud-sock", "libvirt-sock"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return filepath.Join(dir, "libvirt-sock")
}

// sshDialer reaches a remote daemon as libvirt's own client does: through
// the ssh client, running virt-ssh-helper there for the URI's driver and
// path (or, with a socket parameter, nc -U on that socket, or the URI's
// netcat program). The URI's keyfile, known_hosts and no_verify=1
// parameters become ssh options, as with libvirt.
type sshDialer struct {
	ctx  context.Context
	t    target
	last *pipeConn // the last connection made, for its stderr
}

func (d *sshDialer) Dial() (net.Conn, error) {
	remote := "virt-ssh-helper " + shellQuote(d.t.Open)
	if d.t.Socket != "" {
		nc := d.t.Netcat
		if nc == "" {
			nc = "nc"
		}
		remote = shellQuote(nc) + " -U " + shellQuote(d.t.Socket)
	}
	argv := []string{"-T", "-o", "BatchMode=yes", "-e", "none"}
	if d.t.SSHPort != "" {
		argv = append(argv, "-p", d.t.SSHPort)
	}
	if d.t.KeyFile != "" {
		argv = append(argv, "-i", d.t.KeyFile)
	}
	if d.t.KnownHosts != "" {
		argv = append(argv, "-o", "UserKnownHostsFile="+d.t.KnownHosts)
	}
	if d.t.NoVerify {
		argv = append(argv, "-o", "StrictHostKeyChecking=no")
	}
	argv = append(argv, "--", d.t.SSH, remote)
	cmd := exec.CommandContext(d.ctx, "ssh", argv...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ssh %s: %w", d.t.SSH, err)
	}
	d.last = &pipeConn{cmd: cmd, in: in, out: out, stderr: stderr}
	return d.last, nil
}

// shellQuote quotes s for the remote shell ssh runs the command with.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lockedBuffer collects a command's stderr while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pipeConn is a net.Conn over a command's stdin and stdout.
type pipeConn struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    io.ReadCloser
	stderr *lockedBuffer
	once   sync.Once
}

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.out.Read(b)
	if err == io.EOF {
		if msg := strings.TrimSpace(c.stderr.String()); msg != "" {
			return n, fmt.Errorf("ssh: %s", msg)
		}
	}
	return n, err
}
func (c *pipeConn) Write(b []byte) (int, error) { return c.in.Write(b) }
func (c *pipeConn) Close() error {
	c.once.Do(func() {
		c.in.Close()
		c.out.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return nil
}
func (c *pipeConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "ssh" }
func (pipeAddr) String() string  { return "ssh" }

// Describe tells what the provider does; listings "domains" (broker's),
// "images" (the pool's volumes) and "networks".
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	resp := providers.DescribeResponse{
		Summary:  fmt.Sprintf("virtual machines at %s (pool %s, network %s)", p.set.URI, p.set.Pool, p.set.Network),
		Listings: []string{"domains", "images", "networks"},
		Actions: []providers.Action{
			{Name: "checkout", Summary: "define and start a domain per host on an overlay of a base image, wait for its address and SSH", Args: providers.HelpOf(argsSchema)},
		},
		Detail: map[string]any{"uri": p.set.URI, "pool": p.set.Pool, "network": p.set.Network, "name_prefix": p.set.NamePrefix},
	}
	switch req.Listing {
	case "":
		return resp, nil
	case "domains":
		hosts, err := p.Sync(ctx, providers.SyncRequest{AllUsers: true})
		if err != nil {
			return resp, err
		}
		for _, h := range hosts.Hosts {
			resp.Items = append(resp.Items, providers.Item{Name: h.Name, Description: fmt.Sprint(h.Facts["state"]), Detail: h.Facts})
		}
	case "images":
		l, err := p.client(ctx)
		if err != nil {
			return resp, err
		}
		pool, err := l.StoragePoolLookupByName(p.set.Pool)
		if err != nil {
			return resp, fmt.Errorf("storage pool %s: %w", p.set.Pool, err)
		}
		_ = l.StoragePoolRefresh(pool, 0)
		vols, _, err := l.StoragePoolListAllVolumes(pool, 1, 0)
		if err != nil {
			return resp, fmt.Errorf("list volumes of pool %s: %w", p.set.Pool, err)
		}
		for _, v := range vols {
			if req.Item != "" && req.Item != v.Name {
				continue
			}
			_, capacity, _, _ := l.StorageVolGetInfo(v)
			resp.Items = append(resp.Items, providers.Item{Name: v.Name, Detail: map[string]any{"capacity": capacity, "path": v.Key}})
		}
	case "networks":
		l, err := p.client(ctx)
		if err != nil {
			return resp, err
		}
		nets, _, err := l.ConnectListAllNetworks(1, 0)
		if err != nil {
			return resp, fmt.Errorf("list networks: %w", err)
		}
		for _, n := range nets {
			resp.Items = append(resp.Items, providers.Item{Name: n.Name})
		}
		resp.Items = append(resp.Items, providers.Item{Name: NetworkUser, Description: "user-mode networking, SSH forwarded from 127.0.0.1"})
	default:
		return resp, fmt.Errorf("unknown listing %q: %w", req.Listing, providers.ErrNotSupported)
	}
	sort.Slice(resp.Items, func(i, j int) bool { return resp.Items[i].Name < resp.Items[j].Name })
	return resp, nil
}

// sanitizeName keeps what domain names read well with ([a-zA-Z0-9_.-]).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-_.")
}

// isNotFound tells a libvirt "no such domain/volume/pool" error.
func isNotFound(err error) bool {
	var e golibvirt.Error
	if errors.As(err, &e) {
		switch golibvirt.ErrorNumber(e.Code) {
		case golibvirt.ErrNoDomain, golibvirt.ErrNoStorageVol, golibvirt.ErrNoStoragePool, golibvirt.ErrNoNetwork:
			return true
		}
	}
	return golibvirt.IsNotFound(err)
}
