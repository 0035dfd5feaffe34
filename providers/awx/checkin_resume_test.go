package awx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/awx/awxtest"
)

// TestCheckinResumesReleaseJob: a check-in killed once its release job is
// launched and checkpointed is finished by waiting on that job; the
// release workflow runs once.
func TestCheckinResumesReleaseJob(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	if err != nil {
		t.Fatal(err)
	}
	h := ref(resp.Hosts[0])

	ctx, kill := context.WithCancel(context.Background())
	var cp providers.Checkpoint
	_, err = p.Checkin(ctx, providers.CheckinRequest{Host: h, Checkpoint: func(_ context.Context, c providers.Checkpoint) error {
		cp = c
		kill()
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed checkin: %v", err)
	}
	if cp.Data["release_job_id"] == "" {
		t.Fatalf("checkpoint %+v names no release job", cp)
	}
	got, err := p.Checkin(context.Background(), providers.CheckinRequest{Host: h, Resume: &providers.Resume{Checkpoint: cp.Data}})
	if err != nil || got.Gone {
		t.Fatalf("resumed checkin: %+v, %v", got, err)
	}
	if n := s.Launches("remove-vm"); n != 1 {
		t.Errorf("%d launches of the release workflow, want 1", n)
	}
	if left := s.Hosts(""); len(left) != 0 {
		t.Errorf("hosts left: %v", left)
	}
}
