package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/providertest"
	"github.com/labbroker/broker/state"
)

func TestApplyActions(t *testing.T) {
	const addr = "host.web[0]"
	r1 := record("r1", addr, "fake-x")
	onFake := []providers.HostInfo{{ProviderID: "fake-x"}}
	leftover := []providers.HostInfo{{ProviderID: "fake-left", Labels: map[string]string{providers.LabelIntent: "i1"}}}
	lease2h := desired(addr)
	lease2h.Lease = 2 * time.Hour
	interrupted := &state.Intent{ID: "i1", Environment: env, Address: addr, Op: state.OpCreate,
		Provider: "fake", Instance: "a", HostID: "h1"}
	interruptedWithID := *interrupted
	interruptedWithID.ProviderID = "fake-x"

	tests := []struct {
		name          string
		records       []state.Host
		intents       []state.Intent
		fakeHosts     []providers.HostInfo
		basic         bool // hide the fake's optional capabilities
		fn            func(p *providertest.Provider)
		afterCheckout func(ctx context.Context, h *state.Host, c planner.Change, emit func(Event)) error
		beforeCheckin func(ctx context.Context, h state.Host, emit func(Event)) error
		change        planner.Change
		wantOutcome   Outcome
		wantErr       string
		wantEvents    []string
		wantRecords   []brief
		wantCalls     map[string]int
	}{
		{
			name:        "create",
			change:      createChange(addr),
			wantEvents:  []string{"start", "phase_start checkout", "phase_done checkout", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-1", Status: state.StatusReady, Expires: now.Add(time.Hour)}},
			wantCalls:   map[string]int{"checkout": 1},
		},
		{
			name: "create with progress and a provider's shorter limit",
			fn: func(p *providertest.Provider) {
				p.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
					req.Progress("pulling image")
					return providers.CheckoutResponse{Hosts: []providers.HostInfo{{ProviderID: "p1", Expires: now.Add(30 * time.Minute)}}}, nil
				}
			},
			change:      createChange(addr),
			wantEvents:  []string{"start", "phase_start checkout", "progress: pulling image", "phase_done checkout", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "p1", Status: state.StatusReady, Expires: now.Add(30 * time.Minute)}},
			wantCalls:   map[string]int{"checkout": 1},
		},
		{
			name: "create with setup",
			afterCheckout: func(ctx context.Context, h *state.Host, c planner.Change, emit func(Event)) error {
				if h.Status != state.StatusPending {
					return errors.New("setup saw a host that is not pending")
				}
				emit(Event{Kind: EventProgress, Phase: PhaseSetup, Message: "dnf install"})
				h.HostKey = "ssh-ed25519 AAAA"
				return nil
			},
			change: createChange(addr),
			wantEvents: []string{"start", "phase_start checkout", "phase_done checkout",
				"phase_start setup", "progress: dnf install", "phase_done setup", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-1", Status: state.StatusReady, Expires: now.Add(time.Hour), HostKey: "ssh-ed25519 AAAA"}},
			wantCalls:   map[string]int{"checkout": 1},
		},
		{
			name: "setup failure taints",
			afterCheckout: func(context.Context, *state.Host, planner.Change, func(Event)) error {
				return errors.New("dnf failed")
			},
			change:      createChange(addr),
			wantOutcome: OutcomeFailed,
			wantErr:     "setup: dnf failed",
			wantEvents: []string{"start", "phase_start checkout", "phase_done checkout",
				"phase_start setup", "phase_done setup error: dnf failed", "failed error: setup: dnf failed"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-1", Status: state.StatusTainted, Reason: "setup: dnf failed", Expires: now.Add(time.Hour)}},
			wantCalls:   map[string]int{"checkout": 1},
		},
		{
			name: "setup failure kept",
			afterCheckout: func(context.Context, *state.Host, planner.Change, func(Event)) error {
				return Keep(errors.New("dnf failed"))
			},
			change: createChange(addr),
			wantEvents: []string{"start", "phase_start checkout", "phase_done checkout",
				"phase_start setup", "phase_done setup error: dnf failed", "note: setup failed, host kept: dnf failed", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-1", Status: state.StatusReady, Reason: "setup: dnf failed", Expires: now.Add(time.Hour)}},
			wantCalls:   map[string]int{"checkout": 1},
		},
		{
			name:        "destroy",
			records:     []state.Host{r1},
			fakeHosts:   onFake,
			change:      planner.Change{Action: planner.Destroy, Address: addr, Before: &r1},
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"checkin": 1},
		},
		{
			name:        "destroy of a host already gone",
			records:     []state.Host{r1},
			change:      planner.Change{Action: planner.Destroy, Address: addr, Before: &r1},
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin", "note: already gone, removed from state", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"checkin": 1},
		},
		{
			name:      "teardown failure still checks in",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			beforeCheckin: func(ctx context.Context, h state.Host, emit func(Event)) error {
				if h.Status != state.StatusReleasing {
					return errors.New("teardown saw a host that is not releasing")
				}
				return errors.New("unregister failed")
			},
			change: planner.Change{Action: planner.Destroy, Address: addr, Before: &r1},
			wantEvents: []string{"start", "phase_start teardown", "phase_done teardown error: unregister failed",
				"note: teardown failed, checking in anyway: unregister failed",
				"phase_start checkin", "phase_done checkin", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"checkin": 1},
		},
		{
			name:      "checkin failure keeps the record",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			fn: func(p *providertest.Provider) {
				p.CheckinFn = func(context.Context, providers.CheckinRequest) (providers.CheckinResponse, error) {
					return providers.CheckinResponse{}, errors.New("api down")
				}
			},
			change:      planner.Change{Action: planner.Destroy, Address: addr, Before: &r1},
			wantOutcome: OutcomeFailed,
			wantErr:     "checkin: api down",
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin error: api down", "failed error: checkin: api down"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Reason: "checkin: api down", Expires: now.Add(time.Hour)}},
			wantCalls:   map[string]int{"checkin": 1},
		},
		{
			name:      "replace",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			change:    planner.Change{Action: planner.Replace, Address: addr, Before: &r1, After: desired(addr)},
			wantEvents: []string{"start", "phase_start checkin", "phase_done checkin",
				"phase_start checkout", "phase_done checkout", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-1", Status: state.StatusReady, Expires: now.Add(time.Hour)}},
			wantCalls:   map[string]int{"checkin": 1, "checkout": 1},
		},
		{
			name:        "extend at the provider",
			records:     []state.Host{r1},
			fakeHosts:   onFake,
			change:      planner.Change{Action: planner.Extend, Address: addr, Before: &r1, After: lease2h},
			wantEvents:  []string{"start", "phase_start extend", "phase_done extend", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Expires: now.Add(2 * time.Hour), Extended: 1}},
			wantCalls:   map[string]int{"extend": 1},
		},
		{
			name:      "extend where the provider's limit ends before the lease",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			fn: func(p *providertest.Provider) {
				p.ExtendFn = func(context.Context, providers.ExtendRequest) (providers.ExtendResponse, error) {
					return providers.ExtendResponse{Expires: now.Add(30 * time.Minute)}, nil
				}
			},
			change:      planner.Change{Action: planner.Extend, Address: addr, Before: &r1, After: lease2h},
			wantEvents:  []string{"start", "phase_start extend", "phase_done extend", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Expires: now.Add(30 * time.Minute), Extended: 1}},
			wantCalls:   map[string]int{"extend": 1},
		},
		{
			name:      "extend where the provider grants more than the lease",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			fn: func(p *providertest.Provider) {
				p.ExtendFn = func(context.Context, providers.ExtendRequest) (providers.ExtendResponse, error) {
					return providers.ExtendResponse{Expires: now.Add(48 * time.Hour)}, nil
				}
			},
			change:      planner.Change{Action: planner.Extend, Address: addr, Before: &r1, After: lease2h},
			wantEvents:  []string{"start", "phase_start extend", "phase_done extend", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Expires: now.Add(2 * time.Hour), Extended: 1}},
			wantCalls:   map[string]int{"extend": 1},
		},
		{
			name:      "extend in state only",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			basic:     true,
			change:    planner.Change{Action: planner.Extend, Address: addr, Before: &r1, After: lease2h},
			wantEvents: []string{"start", "phase_start extend",
				"note: the provider cannot extend; the lease is extended in state only", "phase_done extend", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Expires: now.Add(2 * time.Hour), Extended: 1}},
			wantCalls:   map[string]int{},
		},
		{
			name:      "extend where the provider says not supported",
			records:   []state.Host{r1},
			fakeHosts: onFake,
			fn: func(p *providertest.Provider) {
				p.ExtendFn = func(context.Context, providers.ExtendRequest) (providers.ExtendResponse, error) {
					return providers.ExtendResponse{}, providers.ErrNotSupported
				}
			},
			change: planner.Change{Action: planner.Extend, Address: addr, Before: &r1},
			wantEvents: []string{"start", "phase_start extend",
				"note: the provider cannot extend; the lease is extended in state only", "phase_done extend", "done"},
			wantRecords: []brief{{Address: addr, ProviderID: "fake-x", Status: state.StatusReady, Expires: now.Add(time.Hour), Extended: 1}},
			wantCalls:   map[string]int{"extend": 1},
		},
		{
			name:        "clean up an interrupted checkout by its label",
			intents:     []state.Intent{*interrupted},
			fakeHosts:   leftover,
			change:      planner.Change{Action: planner.Destroy, Address: addr, Resume: interrupted},
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin", "note: checked in 1 leftovers of the interrupted create", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"sync": 1, "checkin": 1},
		},
		{
			name:        "clean up an interrupted checkout by its checkpoint",
			intents:     []state.Intent{interruptedWithID},
			fakeHosts:   onFake,
			basic:       true,
			change:      planner.Change{Action: planner.Destroy, Address: addr, Resume: &interruptedWithID},
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin", "note: checked in 1 leftovers of the interrupted create", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"checkin": 1},
		},
		{
			name:        "clean up an interrupted checkout that left nothing",
			intents:     []state.Intent{*interrupted},
			change:      planner.Change{Action: planner.Destroy, Address: addr, Resume: interrupted},
			wantEvents:  []string{"start", "phase_start checkin", "phase_done checkin", "note: the interrupted create left nothing behind", "done"},
			wantRecords: []brief{},
			wantCalls:   map[string]int{"sync": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			if len(tt.records) > 0 {
				if err := st.Put(ctx, tt.records...); err != nil {
					t.Fatal(err)
				}
			}
			if len(tt.intents) > 0 {
				if err := st.PutIntents(ctx, tt.intents...); err != nil {
					t.Fatal(err)
				}
			}
			f := &fakes{}
			fake := f.get("a")
			for _, h := range tt.fakeHosts {
				fake.AddHost(h)
			}
			if tt.fn != nil {
				tt.fn(fake)
			}
			if tt.basic {
				f.wrap = func(_ string, p *providertest.Provider) providers.Provider { return basic{p} }
			}
			rec := &recorder{}
			opts := baseOptions(st, f, rec)
			opts.AfterCheckout = tt.afterCheckout
			opts.BeforeCheckin = tt.beforeCheckin

			res, err := Apply(ctx, plan(tt.change), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) != 1 {
				t.Fatalf("got %d results, want 1", len(res.Changes))
			}
			cr := res.Changes[0]
			if cr.Outcome != tt.wantOutcome {
				t.Errorf("outcome = %s (%v), want %s", cr.Outcome, cr.Err, tt.wantOutcome)
			}
			gotErr := ""
			if cr.Err != nil {
				gotErr = cr.Err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("error = %q, want %q", gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantEvents, rec.lines(addr)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRecords, briefs(t, st)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if in := intents(t, st); len(in) != 0 {
				t.Errorf("intents left: %+v", in)
			}
			if diff := cmp.Diff(tt.wantCalls, fake.Calls()); diff != "" {
				t.Errorf("provider calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckoutRequest checks what the provider is told on a create and
// what the record says.
func TestCheckoutRequest(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	res, err := Apply(ctx, plan(createChange("host.Web_Server[0]")), baseOptions(st, f, nil))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	fake := f.get("a")
	req := fake.CheckoutRequests[0]
	h := res.Changes[0].Host
	wantLabels := map[string]string{
		"role":                     "web",
		providers.LabelID:          h.ID,
		providers.LabelEnvironment: env,
		providers.LabelAddress:     "host.Web_Server[0]",
		providers.LabelIntent:      req.Labels[providers.LabelIntent],
		providers.LabelUser:        "qe",
		providers.LabelOrigin:      "qe@runner1",
		providers.LabelExpires:     "2030-01-02T04:04:05Z",
		providers.LabelState:       stateID(t, st),
	}
	if diff := cmp.Diff(wantLabels, req.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if req.Labels[providers.LabelIntent] == "" {
		t.Error("no intent label")
	}
	got := struct {
		Name, Env, Addr string
		Lease           time.Duration
		Args            map[string]any
		Resume          *providers.Resume
	}{req.Name, req.Environment, req.Address, req.Lease, req.Args, req.Resume}
	want := got
	want.Name, want.Env, want.Addr, want.Lease = "lab-web-server-0", env, "host.Web_Server[0]", time.Hour
	want.Args, want.Resume = map[string]any{"image": "alpine"}, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	stored, err := st.Host(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRec := state.Host{
		ID: h.ID, Environment: env, Address: "host.Web_Server[0]", Provider: "fake", Instance: "a",
		ProviderID: "fake-1", Name: "lab-web-server-0", Hostname: "lab-web-server-0.fake.test", Transport: "none",
		Recipe: map[string]any{"image": "alpine"}, Labels: map[string]string{"role": "web"},
		Lease:  state.Lease{Expires: now.Add(time.Hour), Duration: time.Hour},
		Status: state.StatusReady, Origin: state.Origin{User: "qe", Machine: "runner1", Command: "apply"},
		Created: now,
	}
	stored.Updated = time.Time{}
	stored.Created, stored.Lease.Expires = stored.Created.UTC(), stored.Lease.Expires.UTC()
	if diff := cmp.Diff(wantRec, stored); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestHostName(t *testing.T) {
	tests := []struct{ env, addr, id, want string }{
		{"lab", "host.web[0]", "x", "lab-web-0"},
		{"UI Tests", "host.sat_capsule[12]", "x", "ui-tests-sat-capsule-12"},
		{"lab", "", "0123456789abcdefghjk", "lab-bcdefghjk"[:4] + "cdefghjk"},
		{"lab", "host." + strings.Repeat("a", 80) + "[0]", "x", "lab-" + strings.Repeat("a", 59)},
	}
	for _, tt := range tests {
		if got := hostName(tt.env, tt.addr, tt.id); got != tt.want {
			t.Errorf("hostName(%q, %q) = %q, want %q", tt.env, tt.addr, got, tt.want)
		}
	}
}

// stateID is the store's identity, which Apply labels what it makes with.
func stateID(t *testing.T, st state.Store) string {
	t.Helper()
	id, err := st.(state.Identifier).Identity(context.Background())
	if err != nil || id == "" {
		t.Fatalf("state identity %q, %v", id, err)
	}
	return id
}
