package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
	_ "github.com/labbroker/broker/providers/all" // every provider, as the command line has them
	"github.com/labbroker/broker/state"
)

// DefaultEnvironment is where Checkout records hosts when neither
// Options.Environment nor InEnvironment names an environment; the command
// line's imperative checkouts go there too.
const DefaultEnvironment = app.DefaultEnvironment

// lockWait bounds the wait for an environment an apply, destroy or reap
// holds; the caller's context usually ends it first. Checkouts, check-ins
// and extends of one environment share its lock, so the library's and the
// command line's run side by side.
const lockWait = 24 * time.Hour

// Options configure a Client.
type Options struct {
	// Directory is the broker directory (settings, state, logs, broker's
	// SSH key); empty: $BROKER_DIRECTORY, then ~/.broker.
	Directory string
	// Settings, if set, is the text of a settings file (HCL, as
	// broker.hcl: provider, nick, ssh, state blocks), used instead of
	// <Directory>/broker.hcl. The BROKER_<BLOCK>__<KEY> environment
	// overrides apply only to the file, not to these.
	Settings string
	// Environment is where Checkout records hosts; empty: "default".
	Environment string
	// Logger receives broker's log; nil: <Directory>/logs/broker.log at
	// level info, as the command line logs.
	Logger *slog.Logger
	// Command names the program in records and locks (who made a host,
	// who holds a lock); empty: the program's file name.
	Command string
}

// Client is a connection to broker's state and providers, configured by
// one broker directory and its settings. Clients share nothing: several
// of them, with different directories and settings, can live in one
// process. A Client is safe for concurrent use.
type Client struct {
	app *app.App
	env string

	mu   sync.Mutex
	held map[string]*Host        // checked out here and not checked in, by id
	envs map[string]*Environment // applied here and not destroyed, by name
}

// Open reads the settings, and prepares the state and the log. Nothing is
// contacted until a host is checked out.
func Open(ctx context.Context, opts Options) (*Client, error) {
	ao := app.Options{Directory: opts.Directory, Command: opts.Command}
	if ao.Command == "" {
		ao.Command = filepath.Base(os.Args[0])
	}
	if opts.Logger != nil {
		ao.LogLevel = "silent"
	}
	if opts.Settings != "" {
		// The directory is needed to resolve the settings' relative paths.
		dir, err := app.Directory(opts.Directory, nil)
		if err != nil {
			return nil, err
		}
		cfg, err := app.ParseSettings([]byte(opts.Settings), "Options.Settings", dir, nil)
		if err != nil {
			return nil, describe(err)
		}
		ao.Directory, ao.Settings = dir, cfg
	}
	a, err := app.New(ctx, ao)
	if err != nil {
		return nil, describe(err)
	}
	if opts.Logger != nil {
		a.Logger = opts.Logger
	}
	env := opts.Environment
	if env == "" {
		env = DefaultEnvironment
	}
	return &Client{app: a, env: env, held: map[string]*Host{}, envs: map[string]*Environment{}}, nil
}

func init() {
	app.LibraryApp = func(c any) *app.App { return c.(*Client).app }
}

// Directory is the client's broker directory.
func (c *Client) Directory() string { return c.app.Dir }

// Environment is where the client's checkouts are recorded.
func (c *Client) Environment() string { return c.env }

// Close releases the state, the providers' resources and the hosts'
// connections. It checks nothing in (see Cleanup): hosts stay checked out
// until checked in, destroyed, or reaped when their lease ends.
func (c *Client) Close() error {
	c.mu.Lock()
	hosts := slices.Collect(maps.Values(c.held))
	for _, e := range c.envs {
		hosts = append(hosts, e.hosts...)
	}
	c.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Close())
	}
	errs = append(errs, c.app.Close())
	return errors.Join(errs...)
}

// Cleanup checks in every host this client checked out and has not
// checked in (running their teardowns), and destroys every environment it
// applied and has not destroyed. A program that wants nothing left behind
// defers it before Close.
func (c *Client) Cleanup(ctx context.Context) error {
	c.mu.Lock()
	hosts := slices.Collect(maps.Values(c.held))
	envs := slices.Collect(maps.Values(c.envs))
	c.mu.Unlock()
	var errs []error
	if len(hosts) > 0 {
		errs = append(errs, c.Checkin(ctx, hosts...))
	}
	for _, e := range envs {
		errs = append(errs, c.Destroy(ctx, e))
	}
	return errors.Join(errs...)
}

// Held lists the hosts this client checked out and has not checked in,
// oldest first.
func (c *Client) Held() []*Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Collect(maps.Values(c.held))
	slices.SortFunc(out, func(a, b *Host) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Checkout checks one host out and runs the Setup steps on it. See
// CheckoutN.
func (c *Client) Checkout(ctx context.Context, opts ...Option) (*Host, error) {
	hs, err := c.CheckoutN(ctx, 1, opts...)
	if err != nil {
		return nil, err
	}
	return hs[0], nil
}

// CheckoutN checks n hosts out at once (concurrently, as `broker checkout
// --count n` does) and runs the Setup steps on each. It is all or
// nothing: if any checkout or setup fails, the hosts that were made are
// checked in and the error is returned.
//
// Every provider call is preceded by an intent in the state and the
// resources it makes carry broker's labels, so a program killed during
// CheckoutN leaks nothing that `broker reap` (stale intents) and
// `broker reap --orphans` (labelled resources nobody records) do not find.
func (c *Client) CheckoutN(ctx context.Context, n int, opts ...Option) ([]*Host, error) {
	if n < 1 {
		return nil, fmt.Errorf("checkout of %d hosts: want 1 or more", n)
	}
	var co checkout
	for _, o := range opts {
		o.applyCheckout(&co)
	}
	env := co.env
	if env == "" {
		env = c.env
	}
	args, err := jsonShape(co.args)
	if err != nil {
		return nil, err
	}
	res, err := c.app.Checkout(ctx, app.CheckoutRequest{
		Spec:        app.CheckoutSpec{Provider: co.provider, Nick: co.nick, Args: args, Labels: co.labels, Lease: co.lease, Count: n},
		Environment: env,
		RunOptions:  app.RunOptions{LockTimeout: lockWait},
	})
	var hosts []*Host
	if res != nil {
		for _, rec := range res.Hosts() {
			hosts = append(hosts, c.newHost(rec, nil, co.teardown))
		}
		if err == nil {
			err = res.Err("checkout")
		}
	}
	if err == nil && len(hosts) != n {
		err = fmt.Errorf("checkout: %d of %d hosts made", len(hosts), n)
	}
	if err != nil {
		return nil, c.undo(ctx, fmt.Errorf("checkout: %w", describe(err)), hosts)
	}
	if err := runSetup(ctx, hosts, co.setup); err != nil {
		return nil, c.undo(ctx, err, hosts)
	}
	c.mu.Lock()
	for _, h := range hosts {
		c.held[h.ID] = h
	}
	c.mu.Unlock()
	return hosts, nil
}

// jsonShape turns Go values into the JSON-shaped ones providers and
// records take (4096 → float64, []string → []any), as the command line's
// arguments are.
func jsonShape(args map[string]any) (map[string]any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("checkout arguments: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("checkout arguments: %w", err)
	}
	return out, nil
}

// undo checks in the hosts of a failed checkout, without teardown.
func (c *Client) undo(ctx context.Context, err error, hosts []*Host) error {
	if len(hosts) == 0 {
		return err
	}
	for _, h := range hosts {
		h.mu.Lock()
		h.teardown = nil
		h.mu.Unlock()
	}
	if cerr := c.Checkin(context.WithoutCancel(ctx), hosts...); cerr != nil {
		return errors.Join(err, fmt.Errorf("checking the hosts back in: %w", cerr))
	}
	return err
}

// runSetup runs the steps on every host, hosts concurrently, steps in order.
func runSetup(ctx context.Context, hosts []*Host, steps []HostFunc) error {
	if len(steps) == 0 {
		return nil
	}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			for _, f := range steps {
				if err := f(ctx, h); err != nil {
					errs[i] = fmt.Errorf("setup of %s: %w", h, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Checkin runs the hosts' Teardown steps, then returns the hosts to their
// providers and forgets them. Checking in a host twice is harmless. A
// teardown error does not stop the check-in; it is returned with the
// check-in's own errors. Hosts of an Environment are checked in like any
// other (the next Apply of its manifest makes them again).
func (c *Client) Checkin(ctx context.Context, hosts ...*Host) error {
	var errs []error
	var wg sync.WaitGroup
	terrs := make([]error, len(hosts))
	for i, h := range hosts {
		wg.Go(func() { terrs[i] = h.runTeardown(ctx) })
	}
	wg.Wait()
	errs = append(errs, terrs...)

	st, err := c.app.Store(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var recs []state.Host
	var gone []*Host
	for _, h := range hosts {
		_ = h.Close()
		rec, err := st.Host(ctx, h.ID)
		if errors.Is(err, state.ErrNotFound) {
			gone = append(gone, h)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
		gone = append(gone, h)
	}
	if len(recs) > 0 {
		res, err := c.app.Checkin(ctx, app.CheckinRequest{Hosts: recs, RunOptions: app.RunOptions{LockTimeout: lockWait}})
		if err == nil {
			err = res.Err("checkin")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("checkin: %w", describe(err)))
		}
	}
	if ids := c.recorded(ctx, gone); ids != nil {
		gone = slices.DeleteFunc(gone, func(h *Host) bool { return ids[h.ID] })
	}
	c.mu.Lock()
	for _, h := range gone {
		delete(c.held, h.ID)
	}
	c.mu.Unlock()
	for _, h := range gone {
		h.retire()
	}
	return errors.Join(errs...)
}

// recorded returns which of hosts the state still holds (a check-in that
// failed); nil when none does or the state cannot tell.
func (c *Client) recorded(ctx context.Context, hosts []*Host) map[string]bool {
	st, err := c.app.Store(ctx)
	if err != nil {
		return nil
	}
	var out map[string]bool
	for _, h := range hosts {
		if _, err := st.Host(ctx, h.ID); err == nil {
			if out == nil {
				out = map[string]bool{}
			}
			out[h.ID] = true
		}
	}
	return out
}

// Extend renews the hosts' leases to d from now, at the provider where it
// can (AWX's extend workflow), else in broker's state; d = 0 renews each
// host's own lease, and a host without one gets 48 hours, as `broker
// extend` gives.
func (c *Client) Extend(ctx context.Context, d time.Duration, hosts ...*Host) error {
	st, err := c.app.Store(ctx)
	if err != nil {
		return err
	}
	var recs []state.Host
	var errs []error
	for _, h := range hosts {
		rec, err := st.Host(ctx, h.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("extend %s: %w", h, err))
			continue
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return errors.Join(errs...)
	}
	res, err := c.app.Extend(ctx, app.ExtendRequest{Hosts: recs, Lease: d, RunOptions: app.RunOptions{LockTimeout: lockWait}})
	if res != nil {
		byID := map[string]*Host{}
		for _, h := range hosts {
			byID[h.ID] = h
		}
		for _, rec := range res.Hosts() {
			if h := byID[rec.ID]; h != nil {
				h.update(rec)
			}
		}
		if err == nil {
			err = res.Err("extend")
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("extend: %w", describe(err)))
	}
	return errors.Join(errs...)
}

// Inventory lists the hosts broker's state holds, in every environment,
// that pass filter (the filter language of `broker inventory --filter`:
// `environment == "ui" && labels.role == "db"`; "" passes every host).
// Hosts this client holds are returned as the same *Host values, with
// their teardowns; others can be run on and checked in all the same.
func (c *Client) Inventory(ctx context.Context, filterExpr string) ([]*Host, error) {
	st, err := c.app.Store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	if filterExpr != "" {
		f, _, err := filter.Parse(filterExpr)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", filterExpr, err)
		}
		if recs, err = filter.Select(f, recs, c.app.Now()); err != nil {
			return nil, fmt.Errorf("filter %q: %w", filterExpr, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Host, 0, len(recs))
	for _, r := range recs {
		if h := c.held[r.ID]; h != nil {
			h.update(r)
			out = append(out, h)
			continue
		}
		out = append(out, c.newHost(r, nil, nil))
	}
	return out, nil
}

// describe turns the app's configuration errors into errors whose text
// says what is wrong (the command line prints them with snippets), and
// keeps hints.
func describe(err error) error {
	var de *app.DiagnosticsError
	if errors.As(err, &de) {
		var lines []string
		for _, d := range de.Diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			msg := d.Summary
			if d.Detail != "" {
				msg += ": " + d.Detail
			}
			if d.Subject != nil {
				msg = fmt.Sprintf("%s:%d,%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
			}
			lines = append(lines, msg)
		}
		return fmt.Errorf("%w:\n  %s", err, strings.Join(lines, "\n  "))
	}
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" && !strings.Contains(err.Error(), "hint:") {
		return &hinted{err: err, hint: h.Hint()}
	}
	return err
}

// hinted adds the hint to the text of an error that carries one.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() + " (hint: " + e.hint + ")" }
func (e *hinted) Unwrap() error { return e.err }

var _ io.Closer = (*Client)(nil)
