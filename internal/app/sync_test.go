package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

func TestSyncMergesWhatTheProviderHolds(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	l.apply(l.load(reapLabA))
	recs := l.records()
	web0, web1 := recs["env-a host.web[0]"], recs["env-a host.web[1]"]
	st := l.store()
	// web0's record has gone stale; web1's host is checked in behind
	// broker's back; another host of this user is made outside broker.
	stale := web0
	stale.Hostname, stale.IP = "stale.example.test", ""
	stale.Facts = map[string]any{"os": "old", "local": "kept"}
	if err := st.Put(ctx, stale); err != nil {
		t.Fatal(err)
	}
	p, err := l.a.Provider(ctx, nil, "sim", "lab")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Checkin(ctx, providers.CheckinRequest{Environment: "env-a", Host: providers.HostRef{ID: web1.ID, ProviderID: web1.ProviderID}}); err != nil {
		t.Fatal(err)
	}
	made, err := p.Checkout(ctx, providers.CheckoutRequest{Environment: "env-a", Name: "handmade",
		Labels: map[string]string{providers.LabelUser: l.a.Origin().User}})
	if err != nil {
		t.Fatal(err)
	}
	l.clk.add(time.Minute)

	// By an alias, naming the instance.
	res, err := l.a.Sync(ctx, SyncRequest{Provider: "TestProvider", Instance: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider != "sim" || res.Instance != "lab" || res.Listed != 2 {
		t.Errorf("sync: %s.%s listed %d", res.Provider, res.Instance, res.Listed)
	}
	if len(res.Updated) != 1 || res.Updated[0].ID != web0.ID {
		t.Fatalf("updated %+v", res.Updated)
	}
	if len(res.Adoptable) != 1 || res.Adoptable[0].ProviderID != made.Hosts[0].ProviderID || res.Adoptable[0].Hostname != "handmade.sim.test" {
		t.Errorf("adoptable %+v", res.Adoptable)
	}
	if len(res.Unlisted) != 1 || res.Unlisted[0].ID != web1.ID {
		t.Errorf("unlisted %+v", res.Unlisted)
	}
	// The record got the provider's facts back, kept its own, and was
	// written.
	got := l.records()["env-a host.web[0]"]
	if got.Hostname != web0.Hostname || got.IP != web0.IP || got.Facts["os"] != "rhel" || got.Facts["local"] != "kept" ||
		got.Address != web0.Address || got.Lease != web0.Lease || !cmp.Equal(got.Labels, web0.Labels) {
		t.Errorf("record after sync %+v\nbefore %+v", got, web0)
	}
	if n := len(l.records()); n != 2 {
		t.Errorf("sync changed the number of records: %d", n)
	}

	// Another user's listing sees none of this user's hosts.
	res, err = l.a.Sync(ctx, SyncRequest{Provider: "sim", Instance: "lab", User: "someone-else"})
	if err != nil || res.Listed != 0 || len(res.Updated) != 0 || len(res.Unlisted) != 2 {
		t.Errorf("someone else's: %+v, %v", res, err)
	}
}

func TestSyncErrors(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	_, err := l.a.Sync(ctx, SyncRequest{Provider: "nosuch"})
	var h interface{ Hint() string }
	if err == nil || err.Error() != `unknown provider "nosuch"` || !errors.As(err, &h) || !strings.Contains(h.Hint(), "sim") {
		t.Errorf("unknown provider: %v", err)
	}
	// The instance comes from the settings: the default one, here failing.
	settings := l.load(`
provider "sim" "lab" {
  default   = true
  fail_rate = 1
  fail_on   = ["sync"]
}
`)
	_, err = l.open(settings).Sync(ctx, SyncRequest{Provider: "sim"})
	if err == nil || !strings.Contains(err.Error(), "sim: injected sync failure") {
		t.Errorf("failing provider: %v", err)
	}
}

func TestMergeSynced(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := func(id, typ, inst, pid, name string) state.Host {
		return state.Host{ID: id, Environment: "e", Provider: typ, Instance: inst, ProviderID: pid, Name: name, Hostname: "old." + id}
	}
	recs := []state.Host{
		rec("by-pid", "sim", "lab", "p1", ""),
		rec("by-label", "sim", "lab", "p-old", ""),
		rec("by-name", "sim", "lab", "", "vm-3"),
		rec("named-but-has-pid", "sim", "lab", "p9", "vm-4"),
		rec("other-instance", "sim", "other", "p5", ""),
		rec("other-type", "docker", "lab", "p6", ""),
	}
	listed := []providers.HostInfo{
		{ProviderID: "p1", Hostname: "new.p1", Port: 2222},
		{ProviderID: "p2", Labels: map[string]string{providers.LabelID: "by-label"}},
		{ProviderID: "p3", Name: "vm-3", IP: "192.0.2.3"},
		{ProviderID: "p4", Name: "vm-4"},
		{ProviderID: "p5"},
		{ProviderID: "p6"},
	}
	res := mergeSynced(recs, listed, "sim", "lab", now)
	var updated, adoptable, unlisted []string
	for _, r := range res.Updated {
		updated = append(updated, r.ID+" "+r.Hostname)
		if !r.Updated.Equal(now) {
			t.Errorf("%s: updated %v", r.ID, r.Updated)
		}
	}
	for _, h := range res.Adoptable {
		adoptable = append(adoptable, h.ProviderID)
	}
	for _, r := range res.Unlisted {
		unlisted = append(unlisted, r.ID)
	}
	if d := cmp.Diff([]string{"by-pid new.p1", "by-label old.by-label", "by-name old.by-name"}, updated); d != "" {
		t.Errorf("updated (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"p4", "p5", "p6"}, adoptable); d != "" {
		t.Errorf("adoptable (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"named-but-has-pid"}, unlisted); d != "" {
		t.Errorf("unlisted (-want +got):\n%s", d)
	}
	if res.Updated[0].Port != 2222 || res.Updated[2].IP != "192.0.2.3" || res.Updated[2].Name != "vm-3" || res.Listed != 6 {
		t.Errorf("merged fields %+v", res)
	}
	if recs[0].Hostname != "old.by-pid" {
		t.Error("the records handed in were changed")
	}
}

// TestSyncAdd: with Add, a sync records what no broker state made (as the
// Python broker's sync adds the provider's hosts), and leaves alone what
// another broker state made.
func TestSyncAdd(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	p, err := l.a.Provider(ctx, nil, "sim", "lab")
	if err != nil {
		t.Fatal(err)
	}
	user := map[string]string{providers.LabelUser: l.a.Origin().User}
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Environment: "x", Name: "by-python", Labels: user, Args: map[string]any{"workflow": "deploy-rhel"}}); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{providers.LabelUser: l.a.Origin().User, providers.LabelID: "06h00000000000000000"}
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Environment: "x", Name: "by-other-state", Labels: other}); err != nil {
		t.Fatal(err)
	}
	res, err := l.a.Sync(ctx, SyncRequest{Provider: "TestProvider", Instance: "lab", Add: true, Environment: "synced"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || res.Added[0].Name != "by-python" || res.Added[0].Environment != "synced" ||
		res.Added[0].Provider != "sim" || res.Added[0].Instance != "lab" || res.Added[0].Status != state.StatusReady {
		t.Fatalf("added %+v", res.Added)
	}
	if len(res.OtherState) != 1 || res.OtherState[0].Name != "by-other-state" {
		t.Errorf("other state %+v", res.OtherState)
	}
	got, ok := l.records()["synced "+res.Added[0].ID]
	if !ok || got.Name != "by-python" || got.Labels[providers.LabelUser] != "" || got.Recipe["workflow"] != "deploy-rhel" {
		t.Errorf("records %v", l.records())
	}
	// the next sync knows it
	res, err = l.a.Sync(ctx, SyncRequest{Provider: "sim", Instance: "lab", Add: true})
	if err != nil || len(res.Added) != 0 || len(res.Updated) != 1 {
		t.Errorf("second sync: %+v, %v", res, err)
	}
}
