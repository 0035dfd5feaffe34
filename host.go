package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// Host is a host broker checked out: its address details, and a session
// to run commands and move files, opened on first use through the host's
// transport (SSH with broker's own key, or the Docker engine's exec API
// for containers without an SSH server) and kept until Close or Checkin.
//
// The fields are a copy of the record made at checkout and do not change
// (Record has the whole record, kept up to date by Extend). A Host is safe for concurrent use: commands run
// concurrently over one connection.
type Host struct {
	// ID is broker's id of the host (`broker checkin ID` takes it).
	ID string
	// Name is the provider's name for it (container name, VM name).
	Name string
	// Hostname is the host's own name (a container's hostname) and IP
	// its own address, where known.
	Hostname, IP string
	// ConnectHost and Port are where it is reached over SSH: the address
	// dialled (a container's published port on 127.0.0.1) and its SSH port
	// (0: none, or 22 where the provider does not say).
	ConnectHost string
	Port        int
	// User is the login user.
	User string
	// Address is the host's address in its manifest (host.web[0]); empty
	// for Checkout's hosts.
	Address string
	// Environment is the environment the host is recorded in.
	Environment string
	// Provider is "TYPE.INSTANCE" (docker.local, sim.default).
	Provider string
	// Labels are the user's labels; Facts what the provider reported.
	Labels map[string]string
	Facts  map[string]any

	client *Client
	cfg    *manifest.Config // the manifest of an Environment's host

	mu       sync.Mutex
	rec      state.Host
	teardown []HostFunc

	sessMu    sync.Mutex
	sess      remote.Session
	checkedIn bool // no session is opened again
}

func (c *Client) newHost(rec state.Host, cfg *manifest.Config, teardown []HostFunc) *Host {
	return &Host{
		ID: rec.ID, Name: rec.Name, Hostname: rec.Hostname, IP: rec.IP, ConnectHost: rec.ConnectAddress(), Port: rec.Port, User: rec.User,
		Address: rec.Address, Environment: rec.Environment, Provider: rec.Provider + "." + rec.Instance,
		Labels: maps.Clone(rec.Labels), Facts: maps.Clone(rec.Facts),
		client: c, cfg: cfg, rec: rec, teardown: teardown,
	}
}

// update keeps a newer record (a renewed lease). The fields, which do not
// change after checkout, are left alone so that reading them needs no lock.
func (h *Host) update(rec state.Host) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rec = rec
}

// Record is broker's record of the host, as of checkout (or the last
// Extend or Inventory that returned this Host).
func (h *Host) Record() state.Host {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rec
	r.Labels, r.Facts, r.Recipe = maps.Clone(r.Labels), maps.Clone(r.Facts), maps.Clone(r.Recipe)
	return r
}

// Lease is when the host's lease ends; zero without a lease.
func (h *Host) Lease() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Lease.Expires
}

// String names the host: its address, hostname, name or id.
func (h *Host) String() string {
	return state.Host{Address: h.Address, Hostname: h.Hostname, Name: h.Name, ID: h.ID}.Label()
}

// Result is a finished command.
//
// A command that ran and failed is a Result with its non-zero Status and
// a nil Err. Err is set when the command could not be run or its end was
// not seen: the host has no transport (sim hosts), the connection could
// not be made or was lost, ctx ended. Status is then -1 and the output is
// whatever arrived. So `res.Status != 0` catches both, and `res.Err`
// tells them apart.
type Result struct {
	Status   int
	Stdout   string
	Stderr   string
	Duration time.Duration
	Err      error
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.Status == 0 }

// String describes the result for a test log: t.Fatal(res).
func (r Result) String() string {
	var b strings.Builder
	if r.Err != nil {
		fmt.Fprintf(&b, "error: %v", r.Err)
	} else {
		fmt.Fprintf(&b, "status %d", r.Status)
	}
	for _, o := range []struct{ name, text string }{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		if o.text != "" {
			fmt.Fprintf(&b, "\n%s:\n%s", o.name, strings.TrimRight(o.text, "\n"))
		}
	}
	return b.String()
}

// session returns the host's session, opening it on first use.
func (h *Host) session(ctx context.Context) (remote.Session, error) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	if h.sess != nil {
		return h.sess, nil
	}
	if h.checkedIn {
		return nil, fmt.Errorf("%s (id %s) was checked in", h, h.ID)
	}
	rec := h.Record()
	pinned := rec.HostKey
	s, err := h.client.app.OpenSession(ctx, h.cfg, &rec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h, describe(err))
	}
	if rec.HostKey != pinned {
		// Trust on first use: later sessions (the command line's too)
		// check the key against the record.
		h.mu.Lock()
		h.rec.HostKey = rec.HostKey
		h.mu.Unlock()
		if err := h.client.app.RecordHostKey(ctx, rec, lockWait); err != nil {
			h.client.app.Logger.Warn("host key not recorded", "host", h.String(), "err", err)
		}
	}
	h.sess = s
	return s, nil
}

// Connect opens the host's session now; otherwise the first command or
// copy opens it. A caller uses it to tell "the host cannot be reached"
// from a failure of what it does next.
func (h *Host) Connect(ctx context.Context) error {
	_, err := h.session(ctx)
	return err
}

// Run runs a shell command line on the host and captures its output.
func (h *Host) Run(ctx context.Context, cmd string) Result {
	return h.run(ctx, cmd, remote.RunOptions{})
}

// RunOptions control one command of RunWith: input, environment,
// timeout, and writers for its output (nil: captured).
type RunOptions = remote.RunOptions

// RunWith runs a shell command line with options. A command stopped by
// opts.Timeout is a Result whose Err is a *remote.TimeoutError.
func (h *Host) RunWith(ctx context.Context, cmd string, opts RunOptions) Result {
	return h.run(ctx, cmd, opts)
}

// RunStream runs a command line with its output copied to stdout and
// stderr as it comes (nil discards), not captured in the Result.
func (h *Host) RunStream(ctx context.Context, cmd string, stdout, stderr io.Writer) Result {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return h.run(ctx, cmd, remote.RunOptions{Stdout: stdout, Stderr: stderr})
}

func (h *Host) run(ctx context.Context, cmd string, o remote.RunOptions) Result {
	start := time.Now()
	s, err := h.session(ctx)
	if err != nil {
		return Result{Status: -1, Err: err, Duration: time.Since(start)}
	}
	r, err := s.Run(ctx, cmd, o)
	out := Result{Status: r.Status, Stdout: r.Stdout, Stderr: r.Stderr, Duration: r.Duration, Err: err}
	if err != nil {
		out.Status = -1
	}
	if out.Duration == 0 {
		out.Duration = time.Since(start)
	}
	return out
}

// Upload copies a local file or directory tree to remote on the host,
// keeping modes.
func (h *Host) Upload(ctx context.Context, local, remote string) error {
	s, err := h.session(ctx)
	if err != nil {
		return err
	}
	return s.Upload(ctx, local, remote)
}

// Download copies a remote file or directory tree to local, keeping modes.
func (h *Host) Download(ctx context.Context, remote, local string) error {
	s, err := h.session(ctx)
	if err != nil {
		return err
	}
	return s.Download(ctx, remote, local)
}

// ShellOptions wire an interactive shell to a terminal.
type ShellOptions = remote.ShellOptions

// Shell runs an interactive shell on the host with a terminal until it
// exits; a non-zero exit is a *remote.ExitError.
func (h *Host) Shell(ctx context.Context, opts ShellOptions) error {
	s, err := h.session(ctx)
	if err != nil {
		return err
	}
	return s.Shell(ctx, opts)
}

// Close closes the host's session (the next command opens another). The
// host stays checked out.
func (h *Host) Close() error {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	if h.sess == nil {
		return nil
	}
	err := h.sess.Close()
	h.sess = nil
	return err
}

// retire closes the session of a host that was checked in, and refuses
// new ones.
func (h *Host) retire() {
	_ = h.Close()
	h.sessMu.Lock()
	h.checkedIn = true
	h.sessMu.Unlock()
}

// runTeardown runs the host's teardown steps once, last added first.
func (h *Host) runTeardown(ctx context.Context) error {
	h.mu.Lock()
	steps := h.teardown
	h.teardown = nil
	h.mu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i](ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("teardown of %s: %w", h, err))
		}
	}
	return errors.Join(errs...)
}
