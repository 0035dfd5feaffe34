package providertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/labbroker/broker/providers"
)

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Extender  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Executor  = (*Provider)(nil)
)

// Provider is a fake provider with call records. It implements
// providers.Provider and every capability interface. It is safe for
// concurrent use; a Fn is called without the fake's lock held, so it may
// block, and it may call the fake's helpers (Hosts, AddHost, Default*).
//
// The zero value is ready to use.
type Provider struct {
	mu sync.Mutex

	CheckoutCalled   int
	CheckoutRequests []providers.CheckoutRequest
	CheckoutFn       func(context.Context, providers.CheckoutRequest) (providers.CheckoutResponse, error)

	CheckinCalled   int
	CheckinRequests []providers.CheckinRequest
	CheckinFn       func(context.Context, providers.CheckinRequest) (providers.CheckinResponse, error)

	ExtendCalled   int
	ExtendRequests []providers.ExtendRequest
	ExtendFn       func(context.Context, providers.ExtendRequest) (providers.ExtendResponse, error)

	SyncCalled   int
	SyncRequests []providers.SyncRequest
	SyncFn       func(context.Context, providers.SyncRequest) (providers.SyncResponse, error)

	RefreshCalled   int
	RefreshRequests []providers.RefreshRequest
	RefreshFn       func(context.Context, providers.RefreshRequest) (providers.RefreshResponse, error)

	ExecuteCalled   int
	ExecuteRequests []providers.ExecuteRequest
	ExecuteFn       func(context.Context, providers.ExecuteRequest) (providers.ExecuteResponse, error)

	DescribeCalled   int
	DescribeRequests []providers.DescribeRequest
	DescribeFn       func(context.Context, providers.DescribeRequest) (providers.DescribeResponse, error)

	// Now, if set, is the fake's clock (default time.Now).
	Now func() time.Time

	// hosts are what the default behaviour holds, by ProviderID.
	hosts map[string]providers.HostInfo
	seq   int
}

// Checkout records the call and runs CheckoutFn, or DefaultCheckout.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	p.mu.Lock()
	p.CheckoutCalled++
	p.CheckoutRequests = append(p.CheckoutRequests, req)
	fn := p.CheckoutFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	return p.DefaultCheckout(ctx, req)
}

// DefaultCheckout adopts the host of req.Resume when the fake holds it
// (by ProviderID or by the broker.intent label); otherwise it makes one
// host with a fresh ProviderID, reports it through req.Checkpoint, and
// remembers it with req.Labels so that Sync by label finds it.
func (p *Provider) DefaultCheckout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.CheckoutResponse{}, err
	}
	if r := req.Resume; r != nil {
		p.mu.Lock()
		h, ok := p.hosts[r.ProviderID]
		if !ok {
			for _, k := range slices.Sorted(maps.Keys(p.hosts)) {
				if p.hosts[k].Labels[providers.LabelIntent] == r.IntentID && r.IntentID != "" {
					h, ok = p.hosts[k], true
					break
				}
			}
		}
		p.mu.Unlock()
		if ok {
			return providers.CheckoutResponse{Hosts: []providers.HostInfo{copyInfo(h)}, Adopted: true}, nil
		}
	}
	p.mu.Lock()
	p.seq++
	id := fmt.Sprintf("fake-%d", p.seq)
	p.mu.Unlock()
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: id}); err != nil {
			return providers.CheckoutResponse{}, fmt.Errorf("checkpoint: %w", err)
		}
	}
	name := req.Name
	if name == "" {
		name = id
	}
	h := providers.HostInfo{
		ProviderID: id,
		Name:       name,
		Hostname:   name + ".fake.test",
		Transport:  "none",
		Labels:     maps.Clone(req.Labels),
		Created:    p.now(),
	}
	p.AddHost(h)
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{copyInfo(h)}}, nil
}

// Checkin records the call and runs CheckinFn, or DefaultCheckin.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	p.mu.Lock()
	p.CheckinCalled++
	p.CheckinRequests = append(p.CheckinRequests, req)
	fn := p.CheckinFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	return p.DefaultCheckin(ctx, req)
}

// DefaultCheckin forgets the host; Gone when the fake did not hold it.
func (p *Provider) DefaultCheckin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.CheckinResponse{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.hosts[req.Host.ProviderID]; !ok {
		return providers.CheckinResponse{Gone: true}, nil
	}
	delete(p.hosts, req.Host.ProviderID)
	return providers.CheckinResponse{}, nil
}

// Extend records the call and runs ExtendFn; by default the host's
// Expires becomes now + req.Lease (an error when the fake does not hold it).
func (p *Provider) Extend(ctx context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	p.mu.Lock()
	p.ExtendCalled++
	p.ExtendRequests = append(p.ExtendRequests, req)
	fn := p.ExtendFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	if err := ctx.Err(); err != nil {
		return providers.ExtendResponse{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.hosts[req.Host.ProviderID]
	if !ok {
		return providers.ExtendResponse{}, fmt.Errorf("no host %q", req.Host.ProviderID)
	}
	h.Expires = p.now().Add(req.Lease)
	p.hosts[h.ProviderID] = h
	return providers.ExtendResponse{Expires: h.Expires}, nil
}

// Sync records the call and runs SyncFn; by default it lists the hosts
// that carry every label of req.Labels, ordered by ProviderID.
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	p.mu.Lock()
	p.SyncCalled++
	p.SyncRequests = append(p.SyncRequests, req)
	fn := p.SyncFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	if err := ctx.Err(); err != nil {
		return providers.SyncResponse{}, err
	}
	var out []providers.HostInfo
	for _, h := range p.Hosts() {
		match := true
		for k, v := range req.Labels {
			if h.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, h)
		}
	}
	return providers.SyncResponse{Hosts: out}, nil
}

// Refresh records the call and runs RefreshFn; by default a host is
// running when the fake holds its ProviderID, gone otherwise.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	p.mu.Lock()
	p.RefreshCalled++
	p.RefreshRequests = append(p.RefreshRequests, req)
	fn := p.RefreshFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	if err := ctx.Err(); err != nil {
		return providers.RefreshResponse{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := providers.RefreshResponse{Hosts: map[string]providers.Presence{}}
	for _, r := range req.Hosts {
		if _, ok := p.hosts[r.ProviderID]; ok {
			out.Hosts[r.ID] = providers.PresenceRunning
		} else {
			out.Hosts[r.ID] = providers.PresenceGone
		}
	}
	return out, nil
}

// Execute records the call and runs ExecuteFn; by default it returns the
// request's Args as the result.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	p.mu.Lock()
	p.ExecuteCalled++
	p.ExecuteRequests = append(p.ExecuteRequests, req)
	fn := p.ExecuteFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	if err := ctx.Err(); err != nil {
		return providers.ExecuteResponse{}, err
	}
	return providers.ExecuteResponse{Result: maps.Clone(req.Args)}, nil
}

// Describe records the call and runs DescribeFn; by default it names the
// fake's actions.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	p.mu.Lock()
	p.DescribeCalled++
	p.DescribeRequests = append(p.DescribeRequests, req)
	fn := p.DescribeFn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	return providers.DescribeResponse{
		Summary: "fake provider for tests",
		Actions: []providers.Action{{Name: "checkout", Summary: "make a host in memory"}},
	}, nil
}

// AddHost makes the fake hold h (keyed by h.ProviderID), as if it had
// been made outside the test's view.
func (p *Provider) AddHost(h providers.HostInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hosts == nil {
		p.hosts = map[string]providers.HostInfo{}
	}
	p.hosts[h.ProviderID] = copyInfo(h)
}

// RemoveHost makes the fake forget a host, as if it vanished behind
// broker's back.
func (p *Provider) RemoveHost(providerID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.hosts, providerID)
}

// Hosts returns the hosts the fake holds, ordered by ProviderID.
func (p *Provider) Hosts() []providers.HostInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]providers.HostInfo, 0, len(p.hosts))
	for _, k := range slices.Sorted(maps.Keys(p.hosts)) {
		out = append(out, copyInfo(p.hosts[k]))
	}
	return out
}

// Calls returns the call counts by method name, for compact assertions.
func (p *Provider) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]int{}
	for name, n := range map[string]int{
		"checkout": p.CheckoutCalled, "checkin": p.CheckinCalled, "extend": p.ExtendCalled,
		"sync": p.SyncCalled, "refresh": p.RefreshCalled, "execute": p.ExecuteCalled,
		"describe": p.DescribeCalled,
	} {
		if n > 0 {
			m[name] = n
		}
	}
	return m
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func copyInfo(h providers.HostInfo) providers.HostInfo {
	h.Labels = maps.Clone(h.Labels)
	h.Facts = maps.Clone(h.Facts)
	h.Recipe = maps.Clone(h.Recipe)
	return h
}
