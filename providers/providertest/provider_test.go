package providertest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labbroker/broker/providers"
)

func TestDefaults(t *testing.T) {
	ctx := context.Background()
	p := &Provider{}
	var checkpoints []string
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{
		Name:   "web-0",
		Labels: map[string]string{providers.LabelIntent: "i1", "role": "web"},
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error {
			checkpoints = append(checkpoints, cp.ProviderID)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(resp.Hosts); got != 1 {
		t.Fatalf("checkout made %d hosts, want 1", got)
	}
	id := resp.Hosts[0].ProviderID
	if diff := cmp.Diff([]string{id}, checkpoints); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}

	// Resume by intent label adopts the same host.
	resp2, err := p.Checkout(ctx, providers.CheckoutRequest{Resume: &providers.Resume{IntentID: "i1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp2.Adopted || resp2.Hosts[0].ProviderID != id {
		t.Errorf("resume = %+v, want adoption of %s", resp2, id)
	}

	tests := []struct {
		labels map[string]string
		want   int
	}{
		{map[string]string{providers.LabelIntent: "i1"}, 1},
		{map[string]string{"role": "web"}, 1},
		{map[string]string{providers.LabelIntent: "other"}, 0},
		{nil, 1},
	}
	for _, tt := range tests {
		s, err := p.Sync(ctx, providers.SyncRequest{Labels: tt.labels})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Hosts) != tt.want {
			t.Errorf("sync %v found %d hosts, want %d", tt.labels, len(s.Hosts), tt.want)
		}
	}

	ci, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: id}})
	if err != nil || ci.Gone {
		t.Fatalf("first checkin = %+v, %v; want not gone", ci, err)
	}
	ci, err = p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: id}})
	if err != nil || !ci.Gone {
		t.Fatalf("second checkin = %+v, %v; want gone", ci, err)
	}
	want := map[string]int{"checkout": 2, "checkin": 2, "sync": 4}
	if diff := cmp.Diff(want, p.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
