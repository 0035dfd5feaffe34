package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/labbroker/broker/providers"
)

func init() {
	providers.Register(&providers.Type{
		Name:           "sim",
		Aliases:        []string{"TestProvider"},
		Summary:        "simulated hosts kept in a local file, for trying manifests and testing broker",
		SettingsSchema: SettingsSchema,
		ArgsSchema:     ArgsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			return New(cfg)
		},
	})
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Extender  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Executor  = (*Provider)(nil)
)

// Provider is one sim instance. It is safe for concurrent use.
type Provider struct {
	cfg      providers.Config
	settings Settings
	path     string
	// Now is the clock for leases and creation times (default time.Now).
	Now func() time.Time

	mu  sync.Mutex
	rnd *rand.Rand // failure draws, seeded by Settings.Seed
}

// New makes an instance from its configuration.
func New(cfg providers.Config) (*Provider, error) {
	s, err := ParseSettings(cfg.Settings)
	if err != nil {
		return nil, err
	}
	return NewWithSettings(cfg, s)
}

// NewWithSettings makes an instance from settings already parsed (tests,
// library users).
func NewWithSettings(cfg providers.Config, s Settings) (*Provider, error) {
	path := s.Path
	if path == "" {
		if cfg.Directory == "" {
			return nil, errors.New("sim: no broker directory and no path setting to keep hosts in")
		}
		inst := cfg.Instance
		if inst == "" {
			inst = "default"
		}
		path = filepath.Join(cfg.Directory, "sim", fileName(inst)+".db")
	}
	if s.FailRate > 0 && len(s.FailOn) == 0 {
		s.FailOn = allOps
	}
	seed := uint64(s.Seed)
	return &Provider{
		cfg:      cfg,
		settings: s,
		path:     path,
		Now:      time.Now,
		rnd:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}, nil
}

// Path is the sim file of this instance.
func (p *Provider) Path() string { return p.path }

// fileName keeps an instance name safe as a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// dnsLabel turns a name into something that reads as a host name.
func dnsLabel(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
	return strings.Trim(s, "-")
}

// injected decides whether op fails now. Draws come from one generator
// seeded by Settings.Seed, so that a sequence of calls fails the same way
// on every run.
func (p *Provider) injected(op string) error {
	if p.settings.FailRate <= 0 || !slices.Contains(p.settings.FailOn, op) {
		return nil
	}
	p.mu.Lock()
	f := p.rnd.Float64()
	p.mu.Unlock()
	if f < p.settings.FailRate {
		return fmt.Errorf("sim: injected %s failure (fail_rate %g, seed %d)", op, p.settings.FailRate, p.settings.Seed)
	}
	return nil
}

// wait sleeps for d unless ctx ends first: simulated work, not
// synchronisation.
func wait(ctx context.Context, d time.Duration) error {
	// A context already done wins over a timer that may also be ready.
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lease applies max_lease to a requested lease.
func (p *Provider) lease(d time.Duration) time.Duration {
	if m := p.settings.MaxLease; m > 0 && (d <= 0 || d > m) {
		return m
	}
	return d
}

// Checkout implements providers.Provider.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.CheckoutResponse{}, err
	}
	if r := req.Resume; r != nil {
		found, ok, err := p.find(r)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		if ok {
			return providers.CheckoutResponse{Hosts: []providers.HostInfo{found.info()}, Adopted: true}, nil
		}
	}
	if req.Address != "" && slices.Contains(p.settings.FailAddresses, req.Address) {
		return providers.CheckoutResponse{}, fmt.Errorf("sim: injected checkout failure for %s (fail_addresses)", req.Address)
	}
	if err := p.injected(OpCheckout); err != nil {
		return providers.CheckoutResponse{}, err
	}
	half := p.settings.Latency / 2
	if err := wait(ctx, half); err != nil {
		return providers.CheckoutResponse{}, err
	}

	now := p.Now().UTC()
	rec := record{
		Environment: req.Environment,
		Address:     req.Address,
		Recipe:      req.Args,
		Labels:      req.Labels,
		Created:     now,
	}
	if l := p.lease(req.Lease); l > 0 {
		rec.Lease = l
		rec.Expires = now.Add(l)
	}
	err := withDB(p.path, true, func(b *bbolt.Bucket) error {
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec.Seq = n
		rec.ProviderID = fmt.Sprintf("sim-%06d", n)
		rec.Name = req.Name
		if rec.Name == "" {
			rec.Name = rec.ProviderID
		}
		label := dnsLabel(rec.Name)
		if label == "" {
			label = rec.ProviderID
		}
		rec.Hostname = label + ".sim.test"
		rec.IP = fmt.Sprintf("192.0.2.%d", (n-1)%254+1)
		rec.Facts = facts(p.cfg.Instance, n, req.Args)
		return put(b, rec)
	})
	if err != nil {
		return providers.CheckoutResponse{}, fmt.Errorf("sim: checkout: %w", err)
	}
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: rec.ProviderID}); err != nil {
			// Nothing remembers the host: take it back rather than leak it.
			_ = withDB(p.path, true, func(b *bbolt.Bucket) error { return b.Delete([]byte(rec.ProviderID)) })
			return providers.CheckoutResponse{}, fmt.Errorf("sim: checkpoint %s: %w", rec.ProviderID, err)
		}
	}
	// A cancellation here leaves the host made and checkpointed: a resumed
	// run adopts it.
	if err := wait(ctx, p.settings.Latency-half); err != nil {
		return providers.CheckoutResponse{}, err
	}
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{rec.info()}}, nil
}

// facts are what a simulated host reports about itself; args os and
// memory are honoured so that recipes show through.
func facts(instance string, n uint64, args map[string]any) map[string]any {
	f := map[string]any{
		"simulated": true,
		"instance":  instance,
		"serial":    float64(n),
		"os":        "rhel",
		"cpus":      float64(2),
		"memory_mb": float64(2048),
	}
	for _, k := range []string{"os", "memory"} {
		if v, ok := args[k]; ok {
			if k == "memory" {
				k = "memory_mb"
			}
			f[k] = v
		}
	}
	return f
}

// find looks for what an interrupted checkout made: by provider id, or by
// the broker.intent label.
func (p *Provider) find(r *providers.Resume) (record, bool, error) {
	var found record
	var ok bool
	err := withDB(p.path, false, func(b *bbolt.Bucket) error {
		rec, hit, err := get(b, r.ProviderID)
		if err != nil || hit {
			found, ok = rec, hit
			return err
		}
		if r.IntentID == "" {
			return nil
		}
		recs, err := list(b)
		for _, rec := range recs {
			if rec.Labels[providers.LabelIntent] == r.IntentID {
				found, ok = rec, true
				break
			}
		}
		return err
	})
	if err != nil {
		return record{}, false, fmt.Errorf("sim: resume: %w", err)
	}
	return found, ok, nil
}

// Checkin implements providers.Provider.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.CheckinResponse{}, err
	}
	if err := p.injected(OpCheckin); err != nil {
		return providers.CheckinResponse{}, err
	}
	gone := false
	err := withDB(p.path, true, func(b *bbolt.Bucket) error {
		key := []byte(req.Host.ProviderID)
		if req.Host.ProviderID == "" || b.Get(key) == nil {
			gone = true
			return nil
		}
		return b.Delete(key)
	})
	if err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("sim: checkin %s: %w", req.Host.ProviderID, err)
	}
	return providers.CheckinResponse{Gone: gone}, nil
}

// Extend implements providers.Extender: the host's lease restarts now,
// capped by max_lease.
func (p *Provider) Extend(ctx context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.ExtendResponse{}, err
	}
	if err := p.injected(OpExtend); err != nil {
		return providers.ExtendResponse{}, err
	}
	d := req.Lease
	if d <= 0 && req.NewExpireTime != "" {
		// The AWX notation, "+seconds", is accepted for familiarity.
		secs, err := strconv.Atoi(strings.TrimPrefix(req.NewExpireTime, "+"))
		if err != nil {
			return providers.ExtendResponse{}, fmt.Errorf("sim: extend: bad new expire time %q: %w", req.NewExpireTime, err)
		}
		d = time.Duration(secs) * time.Second
	}
	var expires time.Time
	err := withDB(p.path, true, func(b *bbolt.Bucket) error {
		rec, ok, err := get(b, req.Host.ProviderID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no host %q", req.Host.ProviderID)
		}
		if d <= 0 {
			d = rec.Lease
		}
		d = p.lease(d)
		if d <= 0 {
			return errors.New("no lease to extend by")
		}
		rec.Lease = d
		rec.Expires = p.Now().UTC().Add(d)
		expires = rec.Expires
		return put(b, rec)
	})
	if err != nil {
		return providers.ExtendResponse{}, fmt.Errorf("sim: extend: %w", err)
	}
	return providers.ExtendResponse{Expires: expires}, nil
}

// Sync implements providers.Syncer: the hosts carrying every label of
// req.Labels, and, unless AllUsers, the user's broker.user label.
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.SyncResponse{}, err
	}
	if err := p.injected(OpSync); err != nil {
		return providers.SyncResponse{}, err
	}
	user := req.User
	if user == "" {
		user = p.cfg.User
	}
	var out []providers.HostInfo
	err := withDB(p.path, false, func(b *bbolt.Bucket) error {
		recs, err := list(b)
		for _, r := range recs {
			if !req.AllUsers && user != "" && r.Labels[providers.LabelUser] != user {
				continue
			}
			match := true
			for k, v := range req.Labels {
				if got, ok := r.Labels[k]; !ok || got != v {
					match = false
					break
				}
			}
			if match {
				info := r.info()
				info.Recipe = r.Recipe
				out = append(out, info)
			}
		}
		return err
	})
	if err != nil {
		return providers.SyncResponse{}, fmt.Errorf("sim: sync: %w", err)
	}
	return providers.SyncResponse{Hosts: out}, nil
}

// Refresh implements providers.Refresher: a host is running while the sim
// file holds it, gone after.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.RefreshResponse{}, err
	}
	out := providers.RefreshResponse{Hosts: make(map[string]providers.Presence, len(req.Hosts))}
	err := withDB(p.path, false, func(b *bbolt.Bucket) error {
		// Presence is the key's: no record needs decoding. The ids are
		// looked up in key order with one cursor walking forward, which
		// keeps a plan of 10,000 hosts fast.
		order := make([]int, len(req.Hosts))
		for i := range order {
			order[i] = i
			out.Hosts[req.Hosts[i].ID] = providers.PresenceGone
		}
		if b == nil {
			return nil
		}
		slices.SortFunc(order, func(x, y int) int { return strings.Compare(req.Hosts[x].ProviderID, req.Hosts[y].ProviderID) })
		c := b.Cursor()
		k, _ := c.First()
		for _, i := range order {
			id := []byte(req.Hosts[i].ProviderID)
			for k != nil && bytes.Compare(k, id) < 0 {
				k, _ = c.Next()
			}
			if k != nil && bytes.Equal(k, id) {
				out.Hosts[req.Hosts[i].ID] = providers.PresenceRunning
			}
		}
		return nil
	})
	if err != nil {
		return providers.RefreshResponse{}, fmt.Errorf("sim: refresh: %w", err)
	}
	return out, nil
}

// Execute implements providers.Executor: the arguments (and command)
// come back as the result, so `broker execute` can be tried end to end.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.ExecuteResponse{}, err
	}
	result := map[string]any{"args": maps.Clone(req.Args)}
	if len(req.Command) > 0 {
		cmd := make([]any, len(req.Command))
		for i, c := range req.Command {
			cmd[i] = c
		}
		result["command"] = cmd
	}
	if req.Stdout != nil {
		raw, err := json.Marshal(result)
		if err != nil {
			return providers.ExecuteResponse{}, fmt.Errorf("sim: execute: %w", err)
		}
		if _, err := fmt.Fprintf(req.Stdout, "%s\n", raw); err != nil {
			return providers.ExecuteResponse{}, fmt.Errorf("sim: execute: %w", err)
		}
	}
	return providers.ExecuteResponse{Result: result}, nil
}

// Describe implements providers.Provider. The "hosts" listing shows what
// the sim file holds.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	if req.Listing == "hosts" {
		hosts, err := Hosts(p.path)
		if err != nil {
			return providers.DescribeResponse{}, err
		}
		resp := providers.DescribeResponse{Summary: fmt.Sprintf("%d simulated hosts", len(hosts))}
		for _, h := range hosts {
			if req.Item != "" && req.Item != h.ProviderID && req.Item != h.Name {
				continue
			}
			resp.Items = append(resp.Items, providers.Item{
				Name:        h.ProviderID,
				Description: h.Hostname,
				Detail:      map[string]any{"name": h.Name, "ip": h.IP, "labels": h.Labels, "expires": h.Expires},
			})
		}
		return resp, nil
	}
	if req.Listing != "" {
		return providers.DescribeResponse{}, fmt.Errorf("sim: no listing %q (try hosts): %w", req.Listing, providers.ErrNotSupported)
	}
	s := p.settings
	return providers.DescribeResponse{
		Summary: "simulated hosts kept in " + p.path,
		Actions: []providers.Action{
			{Name: "checkout", Summary: "make a simulated host; any arguments are kept as its recipe",
				Args: providers.HelpOf(ArgsSchema)},
			{Name: "checkin", Summary: "forget a simulated host"},
			{Name: "extend", Summary: "restart a host's lease, capped by max_lease"},
			{Name: "execute", Summary: "echo the arguments back as the result"},
		},
		Listings: []string{"hosts"},
		Detail: map[string]any{
			"latency":        s.Latency.String(),
			"fail_rate":      s.FailRate,
			"fail_on":        s.FailOn,
			"fail_addresses": s.FailAddresses,
			"seed":           s.Seed,
			"path":           p.path,
			"max_lease":      s.MaxLease.String(),
		},
	}, nil
}
