package planner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func cfg(hosts ...*manifest.Host) *manifest.Config {
	return &manifest.Config{Environment: "ui", Hosts: hosts}
}

func web(count int) *manifest.Host {
	return &manifest.Host{Name: "web", Provider: "docker.local", ProviderType: "docker", Instance: "local",
		Count: count, Lease: 2 * time.Hour, Labels: map[string]string{"tier": "front"},
		Args: map[string]any{"image": "nginx", "ports": []any{"80"}}}
}

func db() *manifest.Host {
	return &manifest.Host{Name: "db", ProviderType: "sim", Instance: "lab", Count: 1, Nick: "pg",
		Args: map[string]any{"size": float64(2)}}
}

// rec is a ready record for the desired instance of h.
func rec(id string, h *manifest.Host, i int) state.Host {
	return state.Host{ID: id, Environment: "ui", Address: Address(h.Name, i), Provider: h.ProviderType,
		Instance: h.Instance, Recipe: copyJSON(h.Args), Labels: h.Labels, Nick: h.Nick,
		Status: state.StatusReady, Lease: state.Lease{Expires: now.Add(h.Lease), Duration: h.Lease},
		Created: now.Add(-time.Hour)}
}

func with(h state.Host, f func(*state.Host)) state.Host { f(&h); return h }

func with2(it state.Intent, f func(*state.Intent)) state.Intent { f(&it); return it }

// brief is a change reduced to what the tests compare.
type brief struct {
	Action    Action
	Address   string
	Before    string // record id
	Resume    string // intent id
	Reason    Reason
	DependsOn []string
	Labels    bool
}

func briefs(cs []Change) []brief {
	out := []brief{}
	for _, c := range cs {
		b := brief{Action: c.Action, Address: c.Address, Reason: c.Reason, DependsOn: c.DependsOn, Labels: c.UpdateLabels}
		if c.Before != nil {
			b.Before = c.Before.ID
		}
		if c.Resume != nil {
			b.Resume = c.Resume.ID
		}
		out = append(out, b)
	}
	return out
}

func mustFilter(t *testing.T, src string) *filter.Filter {
	t.Helper()
	f, err := filter.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMake(t *testing.T) {
	w2, d := web(2), db()
	sat := &manifest.Host{Name: "sat", ProviderType: "awx", Instance: "satlab", Count: 1}
	client := &manifest.Host{Name: "client", ProviderType: "docker", Instance: "local", Count: 1, DependsOn: []string{"sat"}}
	createIntent := func(id, addr string, created time.Time) state.Intent {
		return state.Intent{ID: id, Environment: "ui", Address: addr, Op: state.OpCreate, Provider: "docker", Instance: "local", Created: created}
	}
	tests := []struct {
		name     string
		in       Input
		presence map[string]providers.Presence
		targets  []string
		excludes []string
		want     []brief
	}{
		{
			name: "empty state: every instance is created, in natural order",
			in:   Input{Config: cfg(web(11))},
			want: func() []brief {
				var b []brief
				for i := range 11 {
					b = append(b, brief{Action: Create, Address: Address("web", i), Reason: Because(ReasonMissing, "")})
				}
				return b
			}(),
		},
		{
			name: "everything as wanted",
			in:   Input{Config: cfg(w2, d), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1), rec("c", d, 0)}},
			want: []brief{
				{Action: NoOp, Address: "host.db[0]", Before: "c"},
				{Action: NoOp, Address: "host.web[0]", Before: "a"},
				{Action: NoOp, Address: "host.web[1]", Before: "b"},
			},
		},
		{
			name: "status: tainted, failed, pending, releasing",
			in: Input{Config: cfg(web(4)), Records: []state.Host{
				with(rec("a", w2, 0), func(h *state.Host) { h.Status = state.StatusTainted; h.Reason = "jake" }),
				with(rec("b", w2, 1), func(h *state.Host) { h.Status = state.StatusFailed; h.Reason = "exit status 2" }),
				with(rec("c", w2, 2), func(h *state.Host) { h.Status = state.StatusPending }),
				with(rec("d", w2, 3), func(h *state.Host) { h.Status = state.StatusReleasing }),
			}},
			want: []brief{
				{Action: Replace, Address: "host.web[0]", Before: "a", Reason: Because(ReasonTainted, "jake")},
				{Action: Replace, Address: "host.web[1]", Before: "b", Reason: Because(ReasonSetupFailed, "exit status 2")},
				{Action: Replace, Address: "host.web[2]", Before: "c", Reason: Because(ReasonInterruptedApply, "")},
				{Action: Replace, Address: "host.web[3]", Before: "d", Reason: Because(ReasonInterruptedCheckin, "")},
			},
		},
		{
			name: "recipe changes name the keys; 1 and 1.0 are equal",
			in: Input{Config: cfg(web(3), d), Records: []state.Host{
				with(rec("a", w2, 0), func(h *state.Host) { h.Recipe["image"] = "httpd" }),
				with(rec("b", w2, 1), func(h *state.Host) { h.Instance = "remote"; h.Recipe["extra"] = true }),
				with(rec("c", w2, 2), func(h *state.Host) { h.Provider = "podman"; h.Recipe["ports"] = []any{"80", "443"} }),
				with(rec("d", d, 0), func(h *state.Host) { h.Recipe["size"] = 2 }),
			}},
			want: []brief{
				{Action: NoOp, Address: "host.db[0]", Before: "d"},
				{Action: Replace, Address: "host.web[0]", Before: "a", Reason: Reason{Kind: ReasonRecipeChanged, Fields: []string{"image"}}},
				{Action: Replace, Address: "host.web[1]", Before: "b", Reason: Reason{Kind: ReasonRecipeChanged, Fields: []string{"instance", "extra"}}},
				{Action: Replace, Address: "host.web[2]", Before: "c", Reason: Reason{Kind: ReasonRecipeChanged, Fields: []string{"provider", "ports"}}},
			},
		},
		{
			name: "refresh: gone and stopped replace; unknown and running do not",
			in:   Input{Config: cfg(web(4)), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1), rec("c", w2, 2), rec("d", w2, 3)}},
			presence: map[string]providers.Presence{"a": providers.PresenceGone, "b": providers.PresenceStopped,
				"c": providers.PresenceUnknown, "d": providers.PresenceRunning},
			want: []brief{
				{Action: Replace, Address: "host.web[0]", Before: "a", Reason: Because(ReasonGone, "")},
				{Action: Replace, Address: "host.web[1]", Before: "b", Reason: Because(ReasonStopped, "")},
				{Action: NoOp, Address: "host.web[2]", Before: "c"},
				{Action: NoOp, Address: "host.web[3]", Before: "d"},
			},
		},
		{
			name: "replacement requested",
			in:   Input{Config: cfg(w2), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1)}, Replace: []string{"host.web[1]"}},
			want: []brief{
				{Action: NoOp, Address: "host.web[0]", Before: "a"},
				{Action: Replace, Address: "host.web[1]", Before: "b", Reason: Because(ReasonReplaceRequested, "")},
			},
		},
		{
			name: "lease: none recorded, within half, expired, far enough, custom renew_before",
			in: Input{Config: cfg(web(4), &manifest.Host{Name: "long", ProviderType: "sim", Instance: "lab", Count: 1, Lease: 10 * time.Hour, RenewBefore: time.Hour}),
				Records: []state.Host{
					with(rec("a", w2, 0), func(h *state.Host) { h.Lease = state.Lease{} }),
					with(rec("b", w2, 1), func(h *state.Host) { h.Lease.Expires = now.Add(20 * time.Minute) }),
					with(rec("c", w2, 2), func(h *state.Host) { h.Lease.Expires = now.Add(-3 * time.Minute) }),
					with(rec("d", w2, 3), func(h *state.Host) { h.Lease.Expires = now.Add(61 * time.Minute) }),
					{ID: "e", Address: "host.long[0]", Provider: "sim", Instance: "lab", Status: state.StatusReady, Lease: state.Lease{Expires: now.Add(90 * time.Minute)}},
				}},
			want: []brief{
				{Action: NoOp, Address: "host.long[0]", Before: "e"},
				{Action: Extend, Address: "host.web[0]", Before: "a", Reason: Reason{Kind: ReasonLeaseMissing, Lease: 2 * time.Hour}},
				{Action: Extend, Address: "host.web[1]", Before: "b", Reason: Reason{Kind: ReasonLeaseEnding, Lease: 2 * time.Hour, Left: 20 * time.Minute}},
				{Action: Extend, Address: "host.web[2]", Before: "c", Reason: Reason{Kind: ReasonLeaseExpired, Lease: 2 * time.Hour, Left: -3 * time.Minute}},
				{Action: NoOp, Address: "host.web[3]", Before: "d"},
			},
		},
		{
			name: "labels only: no replacement, UpdateLabels",
			in: Input{Config: cfg(w2), Records: []state.Host{
				with(rec("a", w2, 0), func(h *state.Host) { h.Labels = map[string]string{"tier": "back"} }),
				with(rec("b", w2, 1), func(h *state.Host) { h.Labels = nil; h.Lease.Expires = now.Add(time.Minute) }),
			}},
			want: []brief{
				{Action: NoOp, Address: "host.web[0]", Before: "a", Reason: Because(ReasonLabelsChanged, ""), Labels: true},
				{Action: Extend, Address: "host.web[1]", Before: "b", Reason: Reason{Kind: ReasonLeaseEnding, Lease: 2 * time.Hour, Left: time.Minute}, Labels: true},
			},
		},
		{
			name: "count lowered and block removed",
			in:   Input{Config: cfg(web(1)), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1), rec("c", d, 0)}},
			want: []brief{
				{Action: Destroy, Address: "host.db[0]", Before: "c", Reason: Because(ReasonBlockRemoved, "host.db")},
				{Action: NoOp, Address: "host.web[0]", Before: "a"},
				{Action: Destroy, Address: "host.web[1]", Before: "b", Reason: Reason{Kind: ReasonCountReduced, Detail: "host.web", Count: 1}},
			},
		},
		{
			name: "imperative records and intents are left alone",
			in: Input{Config: cfg(), Records: []state.Host{{ID: "x", Provider: "docker", Status: state.StatusReady}},
				Intents: []state.Intent{{ID: "i", Op: state.OpCreate}, {ID: "j", Op: state.OpDestroy, HostID: "x"}}},
			want: []brief{},
		},
		{
			name: "create intents: the newest resumes, the rest and strays are cleaned up",
			in: Input{Config: cfg(w2), Records: []state.Host{rec("a", w2, 0)}, Intents: []state.Intent{
				createIntent("i1", "host.web[1]", now.Add(-2*time.Hour)),
				createIntent("i2", "host.web[1]", now.Add(-time.Hour)),
				createIntent("i3", "host.web[0]", now.Add(-time.Hour)), // address has a ready record
				createIntent("i4", "host.old[0]", now.Add(-time.Hour)), // not desired
			}},
			want: []brief{
				{Action: NoOp, Address: "host.web[0]", Before: "a"},
				{Action: Create, Address: "host.web[1]", Resume: "i2", Reason: Because(ReasonResume, "")},
				{Action: Destroy, Address: "host.old[0]", Resume: "i4", Reason: Because(ReasonCleanup, "")},
				{Action: Destroy, Address: "host.web[0]", Resume: "i3", Reason: Because(ReasonCleanup, "")},
				{Action: Destroy, Address: "host.web[1]", Resume: "i1", Reason: Because(ReasonCleanup, "")},
			},
		},
		{
			name: "destroy intents: finish the check-in, or clean up when the record is gone",
			in: Input{Config: cfg(web(1)), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1)}, Intents: []state.Intent{
				{ID: "d1", Address: "host.web[1]", Op: state.OpDestroy, HostID: "b"},
				{ID: "d2", Address: "host.web[0]", Op: state.OpDestroy, HostID: "a"},
				{ID: "d3", Address: "host.web[5]", Op: state.OpDestroy, HostID: "gone"},
			}},
			want: []brief{
				{Action: Replace, Address: "host.web[0]", Before: "a", Resume: "d2", Reason: Because(ReasonInterruptedCheckin, "")},
				{Action: Destroy, Address: "host.web[1]", Before: "b", Resume: "d1", Reason: Because(ReasonFinishCheckin, "")},
				{Action: Destroy, Address: "host.web[5]", Resume: "d3", Reason: Because(ReasonFinishCheckin, "")},
			},
		},
		{
			name: "a pending record with its own create intent: one change, the intent folded in",
			in: Input{Config: cfg(w2), Records: []state.Host{
				rec("a", w2, 0),
				with(rec("b", w2, 1), func(h *state.Host) { h.Status = state.StatusPending }),
			}, Intents: []state.Intent{with2(createIntent("i-b", "host.web[1]", now), func(it *state.Intent) { it.HostID = "b" })}},
			want: []brief{
				{Action: NoOp, Address: "host.web[0]", Before: "a"},
				{Action: Replace, Address: "host.web[1]", Before: "b", Resume: "i-b", Reason: Because(ReasonInterruptedApply, "")},
			},
		},
		{
			name: "destroy: a pending record's create intent goes with its check-in",
			in: Input{Destroy: true, Config: cfg(w2), Records: []state.Host{
				with(rec("b", w2, 1), func(h *state.Host) { h.Status = state.StatusPending }),
			}, Intents: []state.Intent{with2(createIntent("i-b", "host.web[1]", now), func(it *state.Intent) { it.HostID = "b" })}},
			want: []brief{
				{Action: Destroy, Address: "host.web[1]", Before: "b", Resume: "i-b", Reason: Because(ReasonDestroyEnvironment, "")},
			},
		},
		{
			name: "two records at one address: the older is checked in",
			in:   Input{Config: cfg(web(1)), Records: []state.Host{rec("a", w2, 0), with(rec("b", w2, 0), func(h *state.Host) { h.Created = now })}},
			want: []brief{
				{Action: Destroy, Address: "host.web[0]", Before: "a", Reason: Because(ReasonSuperseded, "host.web[0]")},
				{Action: NoOp, Address: "host.web[0]", Before: "b"},
			},
		},
		{
			name: "destroy everything, with intents; imperative records stay",
			in: Input{Destroy: true, Config: cfg(w2), Records: []state.Host{rec("a", w2, 0), rec("b", w2, 1), {ID: "x", Status: state.StatusReady}},
				Intents: []state.Intent{createIntent("i1", "host.web[2]", now), {ID: "d1", Address: "host.web[1]", Op: state.OpDestroy, HostID: "b"}}},
			want: []brief{
				{Action: Destroy, Address: "host.web[0]", Before: "a", Reason: Because(ReasonDestroyEnvironment, "")},
				{Action: Destroy, Address: "host.web[1]", Before: "b", Resume: "d1", Reason: Because(ReasonFinishCheckin, "")},
				{Action: Destroy, Address: "host.web[2]", Resume: "i1", Reason: Because(ReasonCleanup, "")},
			},
		},
		{
			name:    "targets and excludes on records and desired hosts",
			in:      Input{Config: cfg(web(3), d), Records: []state.Host{with(rec("a", w2, 0), func(h *state.Host) { h.Status = state.StatusTainted })}},
			targets: []string{`status == "tainted"`, `name == "db"`},
			want: []brief{
				{Action: Create, Address: "host.db[0]", Reason: Because(ReasonMissing, "")},
				{Action: Replace, Address: "host.web[0]", Before: "a", Reason: Because(ReasonTainted, "")},
			},
		},
		{
			name:     "excludes only",
			in:       Input{Config: cfg(web(3))},
			excludes: []string{`index >= 1`},
			want:     []brief{{Action: Create, Address: "host.web[0]", Reason: Because(ReasonMissing, "")}},
		},
		{
			name: "depends_on: the changing instances of referenced hosts",
			in: Input{Config: cfg(&manifest.Host{Name: "sat", ProviderType: "awx", Instance: "satlab", Count: 2}, client),
				Records: []state.Host{rec("s0", sat, 0)}},
			want: []brief{
				{Action: Create, Address: "host.client[0]", Reason: Because(ReasonMissing, ""), DependsOn: []string{"host.sat[1]"}},
				{Action: NoOp, Address: "host.sat[0]", Before: "s0"},
				{Action: Create, Address: "host.sat[1]", Reason: Because(ReasonMissing, "")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Environment, in.Now, in.Serial = "ui", now, 7
			if tt.presence != nil {
				in.Refresh = func(_ context.Context, rs []state.Host) (map[string]providers.Presence, error) {
					return tt.presence, nil
				}
			}
			for _, s := range tt.targets {
				in.Targets = append(in.Targets, mustFilter(t, s))
			}
			for _, s := range tt.excludes {
				in.Excludes = append(in.Excludes, mustFilter(t, s))
			}
			p, err := Make(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Environment != "ui" || p.StateSerial != 7 || !p.Created.Equal(now) || p.Destroy != in.Destroy {
				t.Errorf("plan header = %+v", p)
			}
			if d := cmp.Diff(tt.want, briefs(p.Changes)); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
		})
	}
}

func TestMakeRefreshCalls(t *testing.T) {
	w := web(1)
	var got [][]string
	in := Input{Config: cfg(w), Now: now,
		Records: []state.Host{rec("a", w, 0), {ID: "x", Status: state.StatusReady}},
		Refresh: func(_ context.Context, rs []state.Host) (map[string]providers.Presence, error) {
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			got = append(got, ids)
			return nil, nil
		}}
	if _, err := Make(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{"a"}}, got); d != "" {
		t.Errorf("refresh calls (-want +got):\n%s", d)
	}
	boom := errors.New("boom")
	in.Refresh = func(context.Context, []state.Host) (map[string]providers.Presence, error) { return nil, boom }
	if _, err := Make(context.Background(), in); !errors.Is(err, boom) {
		t.Errorf("Make error = %v, want the refresh error", err)
	}
	in.Destroy = true
	if _, err := Make(context.Background(), in); err != nil {
		t.Errorf("destroy plans do not refresh: %v", err)
	}
}

func TestMakeIndexFilterRefused(t *testing.T) {
	in := Input{Config: cfg(web(1)), Now: now, Targets: []*filter.Filter{mustFilter(t, `@inv[0]`)}}
	if _, err := Make(context.Background(), in); err == nil {
		t.Fatal("want an error for an index filter")
	}
}

// TestMakeReplaceMatchingNothingRefused: a --replace address that names no
// host of the manifest is an error with the nearest address, not a plan
// that silently replaces nothing.
func TestMakeReplaceMatchingNothingRefused(t *testing.T) {
	w := web(2)
	in := Input{Config: cfg(w), Records: []state.Host{rec("a", w, 0)}, Now: now, Replace: []string{"host.web[5]"}}
	_, err := Make(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "replace host.web[5]: the manifest has no host at this address") ||
		!strings.Contains(err.Error(), "did you mean host.web[0]?") {
		t.Fatalf("got %v", err)
	}
	in.Replace = []string{"host.web[1]"}
	if _, err := Make(context.Background(), in); err != nil {
		t.Fatalf("a desired address not yet checked out: %v", err)
	}
}

func TestDesiredHosts(t *testing.T) {
	w := web(2)
	got := DesiredHosts(cfg(w, &manifest.Host{Name: "none", Count: 0}))
	want := []Desired{
		{Address: "host.web[0]", Host: "web", Index: 0, Provider: "docker", Instance: "local", Args: w.Args, Lease: 2 * time.Hour, Labels: w.Labels},
		{Address: "host.web[1]", Host: "web", Index: 1, Provider: "docker", Instance: "local", Args: w.Args, Lease: 2 * time.Hour, Labels: w.Labels},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	got[0].Args["ports"].([]any)[0] = "8080"
	got[0].Labels["tier"] = "x"
	if w.Args["ports"].([]any)[0] != "80" || w.Labels["tier"] != "front" {
		t.Error("DesiredHosts shares args or labels with the config")
	}
	if DesiredHosts(nil) != nil {
		t.Error("DesiredHosts(nil) != nil")
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		name string
		idx  int
		ok   bool
	}{
		{"host.web[0]", "web", 0, true},
		{"host.web[10]", "web", 10, true},
		{"host.a.b[2]", "", 0, false}, // block names are identifiers
		{"host.web-1[3]", "web-1", 3, true},
		{"host.web[1x]", "", 0, false},
		{"host.web[]", "", 0, false},
		{"host.web[-1]", "", 0, false},
		{"host.web[01]", "", 0, false},
		{"web[0]", "", 0, false},
		{"host.[0]", "", 0, false},
		{"host.web", "", 0, false},
	}
	for _, tt := range tests {
		n, i, ok := ParseAddress(tt.in)
		if n != tt.name || i != tt.idx || ok != tt.ok {
			t.Errorf("ParseAddress(%q) = %q, %d, %v", tt.in, n, i, ok)
		}
	}
}
