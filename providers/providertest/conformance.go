package providertest

import (
	"context"
	"testing"

	"github.com/labbroker/broker/providers"
)

// Subject is a provider under the conformance suite.
type Subject struct {
	// Provider is a configured instance whose user is User.
	Provider providers.Provider
	// User is the instance's user (providers.Config.User).
	User string
	// Args make one host.
	Args map[string]any
	// Remove deletes a resource behind the provider's back (the test's
	// own access to the service); nil skips that part.
	Remove func(t *testing.T, providerID string)
}

// Conformance runs the behaviour every provider that makes hosts owes its
// callers: a checkout reports its host and checkpoints its id; Sync finds
// it by broker's labels; a resumed checkout of the same intent adopts it
// instead of making another; Refresh tells running from gone; check-in
// removes it and a second check-in, or one of a host removed behind the
// provider's back, is Gone rather than an error.
func Conformance(t *testing.T, s Subject) {
	t.Helper()
	ctx := context.Background()
	p := s.Provider
	labels := map[string]string{
		providers.LabelID: "conf-id", providers.LabelIntent: "conf-intent", providers.LabelUser: s.User,
		providers.LabelEnvironment: "conformance", providers.LabelAddress: "host.conf[0]",
	}

	d, err := p.Describe(ctx, providers.DescribeRequest{})
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if !hasAction(d, "checkout") {
		t.Errorf("describe lists no checkout action: %+v", d.Actions)
	}

	var checkpoints []string
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{
		Environment: "conformance", Address: "host.conf[0]", Name: "conf-0", Args: s.Args, Labels: labels,
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error {
			checkpoints = append(checkpoints, cp.ProviderID)
			return nil
		},
	})
	if err != nil {
		t.Fatalf("checkout: %v", err)
	}
	if len(resp.Hosts) != 1 || resp.Hosts[0].ProviderID == "" || resp.Adopted {
		t.Fatalf("checkout = %+v; want one new host with a provider id", resp)
	}
	h := resp.Hosts[0]
	if len(checkpoints) == 0 || checkpoints[len(checkpoints)-1] != h.ProviderID {
		t.Errorf("checkpoints %v; want the host's id %s", checkpoints, h.ProviderID)
	}
	if h.Transport == "" {
		t.Errorf("host %s has no transport", h.Name)
	}

	if sy, ok := p.(providers.Syncer); ok {
		got, err := sy.Sync(ctx, providers.SyncRequest{Labels: map[string]string{providers.LabelIntent: "conf-intent"}})
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		if len(got.Hosts) != 1 || got.Hosts[0].ProviderID != h.ProviderID || got.Hosts[0].Labels[providers.LabelID] != "conf-id" {
			t.Errorf("sync by intent label = %+v; want the host with broker's labels", got.Hosts)
		}
	}

	again, err := p.Checkout(ctx, providers.CheckoutRequest{
		Environment: "conformance", Address: "host.conf[0]", Name: "conf-0", Args: s.Args, Labels: labels,
		Resume: &providers.Resume{IntentID: "conf-intent"},
	})
	if err != nil {
		t.Fatalf("resumed checkout: %v", err)
	}
	if !again.Adopted || len(again.Hosts) != 1 || again.Hosts[0].ProviderID != h.ProviderID {
		t.Errorf("resumed checkout = %+v; want %s adopted", again, h.ProviderID)
	}

	refresh := func(id string) providers.Presence {
		r, ok := p.(providers.Refresher)
		if !ok {
			return providers.PresenceUnknown
		}
		got, err := r.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{{ID: "r", ProviderID: id}}})
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		return got.Hosts["r"]
	}
	if _, ok := p.(providers.Refresher); ok {
		if got := refresh(h.ProviderID); got != providers.PresenceRunning {
			t.Errorf("refresh of a new host = %s, want running", got)
		}
	}

	ref := providers.HostRef{ID: "r", ProviderID: h.ProviderID, Name: h.Name, Hostname: h.Hostname, Labels: labels}
	ci, err := p.Checkin(ctx, providers.CheckinRequest{Environment: "conformance", Host: ref})
	if err != nil || ci.Gone {
		t.Fatalf("checkin = %+v, %v; want done, not gone", ci, err)
	}
	if _, ok := p.(providers.Refresher); ok {
		if got := refresh(h.ProviderID); got != providers.PresenceGone {
			t.Errorf("refresh after checkin = %s, want gone", got)
		}
	}
	ci, err = p.Checkin(ctx, providers.CheckinRequest{Environment: "conformance", Host: ref})
	if err != nil || !ci.Gone {
		t.Errorf("second checkin = %+v, %v; want Gone", ci, err)
	}

	if s.Remove == nil {
		return
	}
	resp, err = p.Checkout(ctx, providers.CheckoutRequest{Environment: "conformance", Name: "conf-1", Args: s.Args, Labels: labels})
	if err != nil {
		t.Fatalf("checkout: %v", err)
	}
	h = resp.Hosts[0]
	s.Remove(t, h.ProviderID)
	if _, ok := p.(providers.Refresher); ok {
		if got := refresh(h.ProviderID); got != providers.PresenceGone {
			t.Errorf("refresh of a host removed behind the provider's back = %s, want gone", got)
		}
	}
	ci, err = p.Checkin(ctx, providers.CheckinRequest{Environment: "conformance", Host: providers.HostRef{ID: "r", ProviderID: h.ProviderID, Name: h.Name}})
	if err != nil || !ci.Gone {
		t.Errorf("checkin of a host removed behind the provider's back = %+v, %v; want Gone", ci, err)
	}
}

func hasAction(d providers.DescribeResponse, name string) bool {
	for _, a := range d.Actions {
		if a.Name == name {
			return true
		}
	}
	return false
}
