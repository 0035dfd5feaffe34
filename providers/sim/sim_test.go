package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers"
)

// The test binary doubles as a second broker process: with SIM_HELPER
// set it checks out SIM_N hosts into SIM_PATH and prints their ids.
func TestMain(m *testing.M) {
	if os.Getenv("SIM_HELPER") != "" {
		n, _ := strconv.Atoi(os.Getenv("SIM_N"))
		p, err := NewWithSettings(providers.Config{Instance: "lab"}, Settings{Path: os.Getenv("SIM_PATH")})
		if err == nil {
			for i := range n {
				var resp providers.CheckoutResponse
				resp, err = p.Checkout(context.Background(), providers.CheckoutRequest{Name: fmt.Sprintf("helper-%d", i)})
				if err != nil {
					break
				}
				fmt.Println(resp.Hosts[0].ProviderID)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func newSim(t *testing.T, s Settings) *Provider {
	t.Helper()
	p, err := NewWithSettings(providers.Config{Instance: "lab", Directory: t.TempDir(), User: "qe"}, s)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return t0 }
	return p
}

func checkout(t *testing.T, p *Provider, req providers.CheckoutRequest) providers.HostInfo {
	t.Helper()
	resp, err := p.Checkout(context.Background(), req)
	if err != nil {
		t.Fatalf("Checkout(%+v): %v", req, err)
	}
	if len(resp.Hosts) != 1 {
		t.Fatalf("Checkout made %d hosts, want 1", len(resp.Hosts))
	}
	return resp.Hosts[0]
}

func held(t *testing.T, p *Provider) []string {
	t.Helper()
	hosts, err := Hosts(p.Path())
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, h := range hosts {
		ids = append(ids, h.ProviderID)
	}
	return ids
}

func TestCheckoutCheckin(t *testing.T) {
	p := newSim(t, Settings{})
	if diff := cmp.Diff([]string{}, held(t, p)); diff != "" {
		t.Errorf("a new sim holds hosts (-want +got):\n%s", diff)
	}
	var checkpoints []string
	req := providers.CheckoutRequest{
		Environment: "env", Address: "host.web[0]", Name: "Web_0",
		Args:   map[string]any{"os": "fedora", "image": "x"},
		Labels: map[string]string{"role": "web", providers.LabelUser: "qe"},
		Lease:  time.Hour,
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error {
			checkpoints = append(checkpoints, cp.ProviderID)
			return nil
		},
	}
	got := checkout(t, p, req)
	want := providers.HostInfo{
		ProviderID: "sim-000001", Name: "Web_0", Hostname: "web-0.sim.test", IP: "192.0.2.1",
		Transport: "none",
		Facts: map[string]any{"simulated": true, "instance": "lab", "serial": float64(1), "os": "fedora",
			"cpus": float64(2), "memory_mb": float64(2048)},
		Labels:  map[string]string{"role": "web", providers.LabelUser: "qe"},
		Expires: t0.Add(time.Hour), Created: t0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Checkout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"sim-000001"}, checkpoints); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}
	second := checkout(t, p, providers.CheckoutRequest{})
	if second.Name != "sim-000002" || second.IP != "192.0.2.2" {
		t.Errorf("unnamed checkout: name %q ip %q", second.Name, second.IP)
	}
	if diff := cmp.Diff([]string{"sim-000001", "sim-000002"}, held(t, p)); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}

	tests := []struct {
		id       string
		wantGone bool
		wantHeld []string
	}{
		{"sim-000001", false, []string{"sim-000002"}},
		{"sim-000001", true, []string{"sim-000002"}},
		{"", true, []string{"sim-000002"}},
		{"sim-000002", false, []string{}},
	}
	for _, tt := range tests {
		resp, err := p.Checkin(context.Background(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: tt.id}})
		if err != nil {
			t.Fatalf("Checkin(%q): %v", tt.id, err)
		}
		if resp.Gone != tt.wantGone {
			t.Errorf("Checkin(%q).Gone = %v, want %v", tt.id, resp.Gone, tt.wantGone)
		}
		if diff := cmp.Diff(tt.wantHeld, held(t, p)); diff != "" {
			t.Errorf("after Checkin(%q) (-want +got):\n%s", tt.id, diff)
		}
	}
}

func TestFileMode(t *testing.T) {
	p := newSim(t, Settings{})
	checkout(t, p, providers.CheckoutRequest{})
	if want := filepath.Join("sim", "lab.db"); !strings.HasSuffix(p.Path(), want) {
		t.Errorf("path %s does not end in %s", p.Path(), want)
	}
	fi, err := os.Stat(p.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("sim file mode %v, want 0600", fi.Mode())
	}
}

func TestResume(t *testing.T) {
	p := newSim(t, Settings{})
	orig := checkout(t, p, providers.CheckoutRequest{Labels: map[string]string{providers.LabelIntent: "intent-1"}})

	tests := []struct {
		name        string
		resume      providers.Resume
		wantAdopted bool
		wantID      string
	}{
		{"by intent label", providers.Resume{IntentID: "intent-1"}, true, orig.ProviderID},
		{"by provider id", providers.Resume{IntentID: "other", ProviderID: orig.ProviderID}, true, orig.ProviderID},
		{"nothing to adopt", providers.Resume{IntentID: "intent-2", ProviderID: "sim-999999"}, false, "sim-000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Resume: &tt.resume})
			if err != nil {
				t.Fatal(err)
			}
			got := []any{resp.Adopted, resp.Hosts[0].ProviderID}
			if diff := cmp.Diff([]any{tt.wantAdopted, tt.wantID}, got); diff != "" {
				t.Errorf("(adopted, id) (-want +got):\n%s", diff)
			}
		})
	}
}

// A run killed after the host is made but before Checkout returns leaves
// the host, which the next run adopts through the intent.
func TestCancelAfterWriteLeavesHostToAdopt(t *testing.T) {
	// Any latency puts a wait after the checkpoint; the cancellation from
	// the checkpoint lands in it.
	p := newSim(t, Settings{Latency: 2 * time.Nanosecond})
	ctx, cancel := context.WithCancel(context.Background())
	var cp string
	_, err := p.Checkout(ctx, providers.CheckoutRequest{
		Labels: map[string]string{providers.LabelIntent: "i1"},
		Checkpoint: func(_ context.Context, c providers.Checkpoint) error {
			cp = c.ProviderID
			cancel() // the "kill" lands after the write
			return nil
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Checkout = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([]string{cp}, held(t, p)); diff != "" {
		t.Fatalf("held after cancel (-want +got):\n%s", diff)
	}
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Resume: &providers.Resume{IntentID: "i1"}})
	if err != nil || !resp.Adopted || resp.Hosts[0].ProviderID != cp {
		t.Errorf("resume = %+v, %v; want %s adopted", resp, err, cp)
	}
}

func TestCheckpointFailureLeavesNothing(t *testing.T) {
	p := newSim(t, Settings{})
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{
		Checkpoint: func(context.Context, providers.Checkpoint) error { return errors.New("state is gone") },
	})
	if err == nil || !strings.Contains(err.Error(), "state is gone") {
		t.Fatalf("Checkout = %v, want the checkpoint's error", err)
	}
	if diff := cmp.Diff([]string{}, held(t, p)); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
}

func TestFailureInjection(t *testing.T) {
	ctx := context.Background()
	t.Run("fail_addresses", func(t *testing.T) {
		p := newSim(t, Settings{FailAddresses: []string{"host.web[1]"}})
		for _, addr := range []string{"host.web[0]", "host.web[1]", "host.web[2]"} {
			_, err := p.Checkout(ctx, providers.CheckoutRequest{Address: addr})
			if failed := err != nil; failed != (addr == "host.web[1]") {
				t.Errorf("Checkout(%s) = %v", addr, err)
			}
			if err != nil && !strings.Contains(err.Error(), "injected") {
				t.Errorf("error %q does not say it was injected", err)
			}
		}
		if n := len(held(t, p)); n != 2 {
			t.Errorf("%d hosts held, want 2", n)
		}
	})
	t.Run("fail_rate 1 on checkin only", func(t *testing.T) {
		p := newSim(t, Settings{FailRate: 1, FailOn: []string{OpCheckin}})
		h := checkout(t, p, providers.CheckoutRequest{})
		_, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID}})
		if err == nil || !strings.Contains(err.Error(), "injected checkin failure") {
			t.Errorf("Checkin = %v, want an injected failure", err)
		}
		if _, err := p.Sync(ctx, providers.SyncRequest{}); err != nil {
			t.Errorf("Sync failed though fail_on is checkin only: %v", err)
		}
	})
	t.Run("fail_rate without fail_on covers every operation", func(t *testing.T) {
		p := newSim(t, Settings{FailRate: 1})
		if _, err := p.Sync(ctx, providers.SyncRequest{}); err == nil {
			t.Errorf("Sync succeeded at fail_rate 1")
		}
		if _, err := p.Checkout(ctx, providers.CheckoutRequest{}); err == nil {
			t.Errorf("Checkout succeeded at fail_rate 1")
		}
	})
	t.Run("same seed, same failures", func(t *testing.T) {
		outcomes := func(seed int64) []bool {
			p := newSim(t, Settings{FailRate: 0.5, Seed: seed, FailOn: []string{OpCheckout}})
			var out []bool
			for range 40 {
				_, err := p.Checkout(ctx, providers.CheckoutRequest{})
				out = append(out, err != nil)
			}
			return out
		}
		a, b := outcomes(7), outcomes(7)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("two runs with seed 7 differ (-first +second):\n%s", diff)
		}
		fails := 0
		for _, f := range a {
			if f {
				fails++
			}
		}
		if fails == 0 || fails == len(a) {
			t.Errorf("%d of %d failed at fail_rate 0.5", fails, len(a))
		}
		if diff := cmp.Diff(a, outcomes(8)); diff == "" {
			t.Errorf("seeds 7 and 8 fail the same way")
		}
	})
}

func TestSync(t *testing.T) {
	p := newSim(t, Settings{})
	mk := func(name, user, role string) {
		checkout(t, p, providers.CheckoutRequest{Name: name, Args: map[string]any{"n": name},
			Labels: map[string]string{providers.LabelUser: user, "role": role}})
	}
	mk("a", "qe", "web")
	mk("b", "qe", "db")
	mk("c", "dev", "web")
	tests := []struct {
		name string
		req  providers.SyncRequest
		want []string
	}{
		{"current user", providers.SyncRequest{}, []string{"a", "b"}},
		{"other user", providers.SyncRequest{User: "dev"}, []string{"c"}},
		{"all users", providers.SyncRequest{AllUsers: true}, []string{"a", "b", "c"}},
		{"label", providers.SyncRequest{AllUsers: true, Labels: map[string]string{"role": "web"}}, []string{"a", "c"}},
		{"label and user", providers.SyncRequest{Labels: map[string]string{"role": "web"}}, []string{"a"}},
		{"no match", providers.SyncRequest{Labels: map[string]string{"role": "none"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.Sync(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range resp.Hosts {
				got = append(got, h.Name)
				if h.Recipe["n"] != h.Name {
					t.Errorf("%s: recipe %v", h.Name, h.Recipe)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	p := newSim(t, Settings{})
	a := checkout(t, p, providers.CheckoutRequest{})
	b := checkout(t, p, providers.CheckoutRequest{})
	if _, err := p.Checkin(context.Background(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: b.ProviderID}}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Refresh(context.Background(), providers.RefreshRequest{Hosts: []providers.HostRef{
		{ID: "ra", ProviderID: a.ProviderID}, {ID: "rb", ProviderID: b.ProviderID}, {ID: "rc"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.Presence{"ra": providers.PresenceRunning, "rb": providers.PresenceGone, "rc": providers.PresenceGone}
	if diff := cmp.Diff(want, resp.Hosts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExtend(t *testing.T) {
	tests := []struct {
		name     string
		maxLease time.Duration
		checkout time.Duration
		req      providers.ExtendRequest
		want     time.Time
		wantErr  string
	}{
		{"lease", 0, time.Hour, providers.ExtendRequest{Lease: 3 * time.Hour}, t0.Add(3 * time.Hour), ""},
		{"capped", 2 * time.Hour, time.Hour, providers.ExtendRequest{Lease: 3 * time.Hour}, t0.Add(2 * time.Hour), ""},
		{"the host's own lease again", 0, time.Hour, providers.ExtendRequest{}, t0.Add(time.Hour), ""},
		{"awx notation", 0, time.Hour, providers.ExtendRequest{NewExpireTime: "+60"}, t0.Add(time.Minute), ""},
		{"no lease anywhere", 0, 0, providers.ExtendRequest{}, time.Time{}, "no lease"},
		{"unknown host", 0, time.Hour, providers.ExtendRequest{Lease: time.Hour, Host: providers.HostRef{ProviderID: "sim-9"}}, time.Time{}, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newSim(t, Settings{MaxLease: tt.maxLease})
			h := checkout(t, p, providers.CheckoutRequest{Lease: tt.checkout})
			if tt.req.Host.ProviderID == "" {
				tt.req.Host.ProviderID = h.ProviderID
			}
			resp, err := p.Extend(context.Background(), tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Extend = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !resp.Expires.Equal(tt.want) {
				t.Errorf("Expires = %v, want %v", resp.Expires, tt.want)
			}
			sync, _ := p.Sync(context.Background(), providers.SyncRequest{AllUsers: true})
			if !sync.Hosts[0].Expires.Equal(tt.want) {
				t.Errorf("stored Expires = %v, want %v", sync.Hosts[0].Expires, tt.want)
			}
		})
	}
}

func TestExecuteEchoes(t *testing.T) {
	p := newSim(t, Settings{})
	var out strings.Builder
	resp, err := p.Execute(context.Background(), providers.ExecuteRequest{
		Args: map[string]any{"workflow": "x", "n": float64(1)}, Command: []string{"echo", "hi"}, Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"args": map[string]any{"workflow": "x", "n": float64(1)}, "command": []any{"echo", "hi"}}
	if diff := cmp.Diff(want, resp.Result); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !strings.Contains(out.String(), `"workflow":"x"`) {
		t.Errorf("stdout %q does not echo the args", out.String())
	}
}

func TestDescribe(t *testing.T) {
	p := newSim(t, Settings{})
	resp, err := p.Describe(context.Background(), providers.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range resp.Actions {
		actions = append(actions, a.Name)
	}
	if diff := cmp.Diff([]string{"checkout", "checkin", "extend", "execute"}, actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	checkout(t, p, providers.CheckoutRequest{Name: "one"})
	list, err := p.Describe(context.Background(), providers.DescribeRequest{Listing: "hosts"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Description != "one.sim.test" {
		t.Errorf("hosts listing = %+v, %v", list, err)
	}
	if _, err := p.Describe(context.Background(), providers.DescribeRequest{Listing: "workflows"}); !errors.Is(err, providers.ErrNotSupported) {
		t.Errorf("unknown listing = %v, want ErrNotSupported", err)
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{"sim", "TestProvider", "testprovider"} {
		typ, ok := providers.Lookup(name)
		if !ok || typ.Name != "sim" {
			t.Fatalf("Lookup(%q) = %v, %v", name, typ, ok)
		}
	}
	typ, _ := providers.Lookup("sim")
	v := decodeSettings(t, `latency = "10ms"`)
	prov, err := typ.New(context.Background(), providers.Config{Type: "sim", Instance: "x", Settings: v, Directory: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := prov.(*Provider).settings.Latency; got != 10*time.Millisecond {
		t.Errorf("latency %v", got)
	}
}

func decodeSettings(t *testing.T, src string) cty.Value {
	t.Helper()
	v, diags := decodeSettingsDiags(src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v
}

func decodeSettingsDiags(src string) (cty.Value, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig([]byte(src), "broker.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return hcldec.Decode(f.Body, SettingsSpec(), nil)
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    Settings
		wantErr string
	}{
		{"defaults", ``, Settings{}, ""},
		{"everything", `
latency        = "200ms"
fail_rate      = 0.25
fail_on        = ["checkout", "sync"]
fail_addresses = ["host.web[1]"]
seed           = 42
path           = "/somewhere/sim.db"
max_lease      = "6h"
`, Settings{Latency: 200 * time.Millisecond, FailRate: 0.25, FailOn: []string{"checkout", "sync"},
			FailAddresses: []string{"host.web[1]"}, Seed: 42, Path: "/somewhere/sim.db", MaxLease: 6 * time.Hour}, ""},
		{"bad latency", `latency = "soon"`, Settings{}, `Invalid value for latency; "soon" is not a duration`},
		{"bad rate", `fail_rate = 2`, Settings{}, "between 0 and 1"},
		{"bad op", `fail_on = ["reboot"]`, Settings{}, `"reboot" is not one of checkout, checkin, extend, sync`},
		{"unknown setting", `colour = "red"`, Settings{}, "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, diags := decodeSettingsDiags(tt.src)
			if tt.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("diagnostics %v, want %q", diags, tt.wantErr)
				}
				if diags[0].Subject == nil {
					t.Errorf("diagnostic without a source range")
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, err := ParseSettings(v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseSettings(cty.NilVal); err != nil {
		t.Errorf("ParseSettings(NilVal) = %v", err)
	}
}

func TestNeedsAPlace(t *testing.T) {
	if _, err := NewWithSettings(providers.Config{Instance: "x"}, Settings{}); err == nil {
		t.Errorf("New without directory or path succeeded")
	}
}

// Two processes checking out into one sim file lose nothing and share no
// id: the file is opened per operation.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	const n = 25
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SIM_HELPER=1", "SIM_PATH="+path, fmt.Sprintf("SIM_N=%d", n))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := NewWithSettings(providers.Config{Instance: "lab"}, Settings{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i := range n {
		h := checkout(t, p, providers.CheckoutRequest{Name: fmt.Sprintf("parent-%d", i)})
		seen[h.ProviderID] = "parent"
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id := sc.Text()
		if who, dup := seen[id]; dup {
			t.Errorf("id %s given to the helper and to %s", id, who)
		}
		seen[id] = "helper"
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	hosts, err := Hosts(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2*n || len(seen) != 2*n {
		t.Errorf("sim holds %d hosts, %d ids handed out; want %d", len(hosts), len(seen), 2*n)
	}
}
