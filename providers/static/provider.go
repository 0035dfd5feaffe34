package static

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/labbroker/broker/providers"
)

func init() {
	providers.Register(&providers.Type{
		Name:           "static",
		Summary:        "a pool of existing machines, lent one at a time and never destroyed",
		SettingsSchema: SettingsSchema,
		ArgsSchema:     ArgsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			return New(cfg)
		},
	})
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Syncer   = (*Provider)(nil)
)

// Provider is one static pool. It keeps no state of its own: membership is
// the settings, reservations are broker's state.
type Provider struct {
	cfg      providers.Config
	settings Settings
	pool     string
}

// New makes an instance from its configuration.
func New(cfg providers.Config) (*Provider, error) {
	s, err := ParseSettings(cfg.Settings)
	if err != nil {
		return nil, err
	}
	return NewWithSettings(cfg, s)
}

// NewWithSettings makes an instance from settings already parsed.
func NewWithSettings(cfg providers.Config, s Settings) (*Provider, error) {
	if cfg.Reservations == nil {
		return nil, errors.New("static: no reservation store (the pool needs broker's state)")
	}
	inst := cfg.Instance
	if inst == "" {
		inst = "default"
	}
	return &Provider{cfg: cfg, settings: s, pool: "static." + inst}, nil
}

// Pool is the reservation pool's name, "static.INSTANCE".
func (p *Provider) Pool() string { return p.pool }

// Describe implements providers.Provider.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	if req.Listing == "members" {
		held, err := p.cfg.Reservations.Reservations(ctx, p.pool)
		if err != nil {
			return providers.DescribeResponse{}, err
		}
		var items []providers.Item
		for _, m := range p.settings.Members {
			d := map[string]any{"hostname": m.Hostname, "labels": m.Labels}
			desc := "free"
			if h, ok := held[m.Name]; ok {
				desc = "held by " + holderString(h)
			}
			items = append(items, providers.Item{Name: m.Name, Description: desc, Detail: d})
		}
		return providers.DescribeResponse{Items: items}, nil
	}
	return providers.DescribeResponse{
		Summary:  fmt.Sprintf("pool %s of %d machine(s)", p.pool, len(p.settings.Members)),
		Listings: []string{"members"},
		Actions: []providers.Action{{
			Name:    "checkout",
			Summary: "reserve a free member of the pool",
			Args:    providers.HelpOf(ArgsSchema),
		}},
	}, nil
}

// holder is what a reservation records about who holds a member: the
// checkout's broker.* labels.
type holder struct {
	ID          string `json:"id,omitempty"`
	Environment string `json:"environment,omitempty"`
	Address     string `json:"address,omitempty"`
	Intent      string `json:"intent,omitempty"`
	User        string `json:"user,omitempty"`
	Expires     string `json:"expires,omitempty"`
	// State is the identity of the state that reserved the member.
	State string `json:"state,omitempty"`
}

func parseHolder(s string) holder {
	var h holder
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		h.ID = s // written by something else: keep it readable
	}
	return h
}

// holderString names a holder in messages: environment/address (user).
func holderString(s string) string {
	h := parseHolder(s)
	who := h.Environment
	if h.Address != "" {
		who += "/" + h.Address
	} else if h.ID != "" {
		who += "/" + h.ID
	}
	if h.User != "" {
		who += " (" + h.User + ")"
	}
	if who == "" {
		return s
	}
	return who
}

func (h holder) labels(pool string) map[string]string {
	l := map[string]string{"broker.pool": pool}
	set := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	set(providers.LabelID, h.ID)
	set(providers.LabelEnvironment, h.Environment)
	set(providers.LabelAddress, h.Address)
	set(providers.LabelIntent, h.Intent)
	set(providers.LabelUser, h.User)
	set(providers.LabelExpires, h.Expires)
	set(providers.LabelState, h.State)
	return l
}

// args reads the checkout arguments.
func args(a map[string]any) (match map[string]string, host string, err error) {
	var v struct {
		Match map[string]string `schema:"match"`
		Host  string            `schema:"host"`
	}
	err = ArgsSchema.DecodeArgs(a, &v)
	return v.Match, v.Host, err
}

// candidates are the members a checkout may take, in declaration order.
func (p *Provider) candidates(match map[string]string, host string) []string {
	var out []string
	for _, m := range p.settings.Members {
		if host != "" && m.Name != host && m.Hostname != host {
			continue
		}
		ok := true
		for k, v := range match {
			if m.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m.Name)
		}
	}
	return out
}

func (p *Provider) member(name string) (Member, bool) {
	for _, m := range p.settings.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

func (p *Provider) info(m Member, h holder) providers.HostInfo {
	facts := map[string]any{"pool": p.pool, "member": m.Name}
	if len(m.Labels) > 0 {
		ls := map[string]any{}
		for k, v := range m.Labels {
			ls[k] = v
		}
		facts["member_labels"] = ls
	}
	return providers.HostInfo{
		// Name is the member as written ("lab2.example.com:2222"): unique
		// in the pool where the hostname need not be (members on one
		// machine at different ports).
		ProviderID: m.Name,
		Name:       m.Name,
		Hostname:   m.Hostname,
		Port:       m.Port,
		User:       m.User,
		Transport:  providers.TransportSSH,
		Facts:      facts,
		Labels:     h.labels(p.pool),
	}
}

// Checkout implements providers.Provider: it reserves the first free
// member matching the arguments.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	match, host, err := args(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	cands := p.candidates(match, host)
	if len(cands) == 0 {
		return providers.CheckoutResponse{}, p.noCandidates(match, host)
	}
	if r := req.Resume; r != nil {
		// An interrupted checkout may have reserved a member already.
		held, err := p.cfg.Reservations.Reservations(ctx, p.pool)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		for _, name := range cands {
			if h, ok := held[name]; ok && parseHolder(h).Intent == r.IntentID && r.IntentID != "" {
				m, _ := p.member(name)
				return providers.CheckoutResponse{Hosts: []providers.HostInfo{p.info(m, parseHolder(h))}, Adopted: true}, nil
			}
		}
	}
	l := req.Labels
	h := holder{
		ID: l[providers.LabelID], Environment: req.Environment, Address: req.Address,
		Intent: l[providers.LabelIntent], User: l[providers.LabelUser], Expires: l[providers.LabelExpires],
		State: l[providers.LabelState],
	}
	if h.User == "" {
		h.User = p.cfg.User
	}
	enc, _ := json.Marshal(h)
	name, err := p.cfg.Reservations.Reserve(ctx, p.pool, cands, string(enc))
	if err != nil {
		if ex := p.exhausted(ctx, cands, match, host); ex != nil {
			return providers.CheckoutResponse{}, ex
		}
		return providers.CheckoutResponse{}, fmt.Errorf("reserve a member of pool %s: %w", p.pool, err)
	}
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: name}); err != nil {
			_ = p.cfg.Reservations.Release(ctx, p.pool, name)
			return providers.CheckoutResponse{}, err
		}
	}
	m, _ := p.member(name)
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{p.info(m, h)}}, nil
}

func describeMatch(match map[string]string, host string) string {
	var parts []string
	for _, k := range sortedKeys(match) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, match[k]))
	}
	if host != "" {
		parts = append(parts, fmt.Sprintf("host=%q", host))
	}
	return strings.Join(parts, ", ")
}

func (p *Provider) noCandidates(match map[string]string, host string) error {
	if len(p.settings.Members) == 0 {
		return fmt.Errorf("pool %s has no members: list them in the provider block's hosts", p.pool)
	}
	return fmt.Errorf("pool %s: none of its %d member(s) matches %s", p.pool, len(p.settings.Members), describeMatch(match, host))
}

// ExhaustedError is a checkout that found every matching member held.
type ExhaustedError struct {
	Pool string
	// Size is the number of members the checkout could take.
	Size int
	// Holders maps each of those members to who holds it.
	Holders map[string]string
	// Match describes the arguments that narrowed the pool, if any.
	Match string
}

func (e *ExhaustedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %s exhausted: all %d member(s)", e.Pool, e.Size)
	if e.Match != "" {
		fmt.Fprintf(&b, " matching %s", e.Match)
	}
	b.WriteString(" are held: ")
	names := slices.Sorted(maps.Keys(e.Holders))
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s by %s", n, holderString(e.Holders[n]))
	}
	return b.String()
}

// exhausted returns an *ExhaustedError when every candidate is held (the
// state's own error for that cannot be named here without importing
// state), nil otherwise.
func (p *Provider) exhausted(ctx context.Context, cands []string, match map[string]string, host string) error {
	held, err := p.cfg.Reservations.Reservations(ctx, p.pool)
	if err != nil {
		return nil
	}
	e := &ExhaustedError{Pool: p.pool, Size: len(cands), Holders: map[string]string{}, Match: describeMatch(match, host)}
	for _, c := range cands {
		h, ok := held[c]
		if !ok {
			return nil
		}
		e.Holders[c] = h
	}
	return e
}

// Checkin implements providers.Provider: it releases the member. It is
// idempotent: a member already free (released by reap, or by an earlier
// check-in) is Gone, and a member that another host holds now is left to
// it.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	name := req.Host.ProviderID
	if name == "" {
		return providers.CheckinResponse{Gone: true}, nil
	}
	held, err := p.cfg.Reservations.Reservations(ctx, p.pool)
	if err != nil {
		return providers.CheckinResponse{}, err
	}
	h, ok := held[name]
	if !ok {
		return providers.CheckinResponse{Gone: true}, nil
	}
	if id := parseHolder(h).ID; id != "" && req.Host.ID != "" && id != req.Host.ID {
		// Released and taken again since this host's lease ended.
		return providers.CheckinResponse{Gone: true}, nil
	}
	if err := p.cfg.Reservations.Release(ctx, p.pool, name); err != nil {
		return providers.CheckinResponse{}, err
	}
	return providers.CheckinResponse{}, nil
}

// Sync implements providers.Syncer: the reserved members, with their
// holders as broker.* labels (for inventory --sync and reap).
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	held, err := p.cfg.Reservations.Reservations(ctx, p.pool)
	if err != nil {
		return providers.SyncResponse{}, err
	}
	user := req.User
	if user == "" {
		user = p.cfg.User
	}
	// Reservations live in the state itself, so every one is this
	// state's, also those made before reservations named their state.
	var own string
	if idr, ok := p.cfg.Reservations.(interface {
		Identity(context.Context) (string, error)
	}); ok {
		if own, err = idr.Identity(ctx); err != nil {
			return providers.SyncResponse{}, err
		}
	}
	var out []providers.HostInfo
	for _, m := range p.settings.Members {
		hs, ok := held[m.Name]
		if !ok {
			continue
		}
		h := parseHolder(hs)
		if h.State == "" {
			h.State = own
		}
		if !req.AllUsers && h.User != "" && h.User != user {
			continue
		}
		info := p.info(m, h)
		keep := true
		for k, v := range req.Labels {
			if info.Labels[k] != v {
				keep = false
			}
		}
		if keep {
			out = append(out, info)
		}
	}
	return providers.SyncResponse{Hosts: out}, nil
}
