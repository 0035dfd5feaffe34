package executor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/awx"
	"github.com/labbroker/broker/providers/awx/awxtest"
	"github.com/labbroker/broker/state"
)

// killAfterCheckpoint stands for a broker process killed right after a
// check-in's checkpoint was written: it cancels the run's context there.
type killAfterCheckpoint struct {
	providers.Provider
	mu   sync.Mutex
	kill context.CancelFunc
}

func (k *killAfterCheckpoint) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	k.mu.Lock()
	kill := k.kill
	k.mu.Unlock()
	if kill != nil && req.Checkpoint != nil {
		cp := req.Checkpoint
		req.Checkpoint = func(ctx context.Context, c providers.Checkpoint) error {
			err := cp(ctx, c)
			kill()
			return err
		}
	}
	return k.Provider.Checkin(ctx, req)
}

// TestKilledAWXDestroyDoesNotReleaseTwice: a destroy killed while AWX runs
// the release workflows is finished by the next destroy, which waits on
// the release jobs recorded in the intents instead of launching them
// again; records and intents are all gone at the end.
func TestKilledAWXDestroyDoesNotReleaseTwice(t *testing.T) {
	const hosts = 5
	srv := awxtest.New(awxtest.Options{Now: func() time.Time { return now }})
	t.Cleanup(srv.Close)
	p, err := awx.Open(context.Background(), awx.Settings{
		URL: srv.URL(), Token: "admin-token",
		PollInterval: time.Millisecond, MaxResilientWait: time.Minute, WorkflowTimeout: time.Minute,
		Now: clock,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	prov := &killAfterCheckpoint{Provider: p}
	st := openStore(t)
	opts := baseOptions(st, nil, nil)
	opts.Provider = func(typ, inst string) (providers.Provider, error) {
		if typ != "awx" {
			return nil, fmt.Errorf("unknown provider type %q", typ)
		}
		return prov, nil
	}
	ctx := context.Background()

	var creates []planner.Change
	for i := range hosts {
		addr := fmt.Sprintf("host.vm[%d]", i)
		creates = append(creates, planner.Change{Action: planner.Create, Address: addr, After: &planner.Desired{
			Address: addr, Provider: "awx", Instance: "lab", Args: map[string]any{"workflow": "deploy-rhel"},
		}})
	}
	res, err := Apply(ctx, plan(creates...), opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}

	destroyAll := func(ctx context.Context) *Result {
		t.Helper()
		recs, err := st.Hosts(context.Background(), state.Query{Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		ins := intents(t, st)
		var changes []planner.Change
		for _, r := range recs {
			c := planner.Change{Action: planner.Destroy, Address: r.Address, Before: &r}
			for _, in := range ins {
				if in.HostID == r.ID && in.Op == state.OpDestroy {
					c.Resume = &in
				}
			}
			changes = append(changes, c)
		}
		res, err := Apply(ctx, plan(changes...), opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// The first destroy is killed once every release job is launched and
	// recorded (one host at a time, so each gets that far).
	killed, kill := context.WithCancel(ctx)
	prov.kill = kill
	opts.Parallelism = 1
	destroyAll(killed)
	prov.mu.Lock()
	prov.kill = nil
	prov.mu.Unlock()
	launched := srv.Launches("remove-vm")
	if launched == 0 {
		t.Fatal("the killed destroy launched no release")
	}
	ins := intents(t, st)
	if len(ins) == 0 || ins[0].Checkpoint["release_job_id"] == "" {
		t.Fatalf("intents after the kill: %+v, want the release job recorded", ins)
	}

	opts.Parallelism = 0
	for res := destroyAll(ctx); res.Err() != nil; res = destroyAll(ctx) {
		t.Fatalf("destroy after the kill: %v", res.Err())
	}
	if got := srv.Launches("remove-vm"); got != hosts {
		t.Errorf("%d launches of the release workflow for %d hosts (%d before the kill), want %d", got, hosts, launched, hosts)
	}
	if left := briefs(t, st); len(left) != 0 {
		t.Errorf("records left: %+v", left)
	}
	if in := intents(t, st); len(in) != 0 {
		t.Errorf("intents left: %+v", in)
	}
	if left := srv.Hosts(""); len(left) != 0 {
		t.Errorf("hosts left in AWX: %v", left)
	}
}
