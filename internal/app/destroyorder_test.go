package app

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/state"
)

// A web host's setup refers to the db host, so web depends on db: db is
// checked out first, and checked in last. The names are chosen so that
// address order (host.db before host.web) is the wrong order for a
// destroy.
const orderLab = `
environment = "order"
provider "sim" "lab" {}
host "db" {
  provider = "sim.lab"
}
host "web" {
  provider = "sim.lab"
  count    = 2
  setup { run = ["register --db ${host.db[0].hostname}"] }
}
host "cache" {
  provider = "sim.lab"
}
`

// checkins records, in order, the start and end of every check-in phase.
type checkins struct {
	mu  sync.Mutex
	log []string
}

func (c *checkins) Event(e executor.Event) {
	if e.Phase != executor.PhaseCheckin || (e.Kind != executor.EventPhaseStart && e.Kind != executor.EventPhaseDone) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf("%s %s", e.Kind, e.Address))
}

// webBeforeDB checks that every web host's check-in ended before db's began.
func (c *checkins) webBeforeDB(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	dbStart := slices.Index(c.log, "phase_start host.db[0]")
	if dbStart < 0 {
		t.Fatalf("db was not checked in: %q", c.log)
	}
	for _, w := range []string{"host.web[0]", "host.web[1]"} {
		if i := slices.Index(c.log, "phase_done "+w); i < 0 || i > dbStart {
			t.Errorf("%s was not checked in before host.db[0]: %q", w, c.log)
		}
	}
}

// destroy checks in a host whose setup refers to another before that
// other, at any parallelism.
func TestDestroyReverseDependencyOrder(t *testing.T) {
	for _, par := range []int{1, 10} {
		t.Run(fmt.Sprintf("parallelism %d", par), func(t *testing.T) {
			l := newReapLab(t)
			cfg := l.load(orderLab)
			l.apply(cfg)
			if got := l.records()["order host.web[1]"].DependsOn; !slices.Equal(got, []string{"db"}) {
				t.Fatalf("web's record depends on %q, want [db]", got)
			}
			obs := &checkins{}
			res, err := l.a.Apply(context.Background(), ApplyRequest{Config: cfg, Observer: obs, Parallelism: par,
				PlanRequest: PlanRequest{Config: cfg, Environment: cfg.Environment, Destroy: true}})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Result.Err(); err != nil {
				t.Fatal(err)
			}
			obs.webBeforeDB(t)
			if n := len(l.records()); n != 0 {
				t.Errorf("%d records left", n)
			}
		})
	}
}

// checkin of manifest hosts keeps the same order without the manifest:
// the records say what depends on what.
func TestCheckinReverseDependencyOrder(t *testing.T) {
	l := newReapLab(t)
	l.apply(l.load(orderLab))
	recs := l.records()
	hosts := []state.Host{recs["order host.db[0]"], recs["order host.cache[0]"], recs["order host.web[0]"], recs["order host.web[1]"]}
	obs := &checkins{}
	res, err := l.a.Checkin(context.Background(), CheckinRequest{Hosts: hosts, RunOptions: RunOptions{Observer: obs, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err("checkin"); err != nil {
		t.Fatal(err)
	}
	obs.webBeforeDB(t)
	if n := len(l.records()); n != 0 {
		t.Errorf("%d records left", n)
	}
}
