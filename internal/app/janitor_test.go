package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"

	_ "github.com/labbroker/broker/providers/sim"
)

// reapLab is a broker directory in t.TempDir() with sim hosts, a bolt
// state and a clock that moves only when told.
type reapLab struct {
	t   *testing.T
	dir string
	clk *fakeClock
	a   *App
}

func newReapLab(t *testing.T) *reapLab {
	l := &reapLab{t: t, dir: t.TempDir(), clk: &fakeClock{t: time.Now().UTC()}}
	l.a = l.open(nil)
	return l
}

// open makes another App on the lab's directory and clock (another
// process, as far as the state's locks and elections go).
func (l *reapLab) open(settings *manifest.Config) *App {
	l.t.Helper()
	a, err := New(context.Background(), Options{Directory: l.dir, Now: l.clk.now, LogLevel: "silent", Settings: settings,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { _ = a.Close() })
	return a
}

func (l *reapLab) load(src string) *manifest.Config {
	l.t.Helper()
	cfg, err := l.a.LoadManifest(ManifestInput{Sources: map[string][]byte{"lab.hcl": []byte(src)}, BaseDir: l.dir})
	if err != nil {
		l.t.Fatal(err)
	}
	return cfg
}

func (l *reapLab) apply(cfg *manifest.Config) {
	l.t.Helper()
	res, err := l.a.Apply(context.Background(), ApplyRequest{Config: cfg, PlanRequest: PlanRequest{Config: cfg, Environment: cfg.Environment}})
	if err != nil {
		l.t.Fatal(err)
	}
	if res.Result != nil {
		if err := res.Result.Err(); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *reapLab) store() state.Store {
	l.t.Helper()
	st, err := l.a.Store(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// records are the state's records, by environment and address (or id).
func (l *reapLab) records() map[string]state.Host {
	l.t.Helper()
	hs, err := l.store().Hosts(context.Background(), state.Query{})
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]state.Host{}
	for _, h := range hs {
		out[h.Environment+" "+orID(h)] = h
	}
	return out
}

func orID(h state.Host) string {
	if h.Address != "" {
		return h.Address
	}
	return h.ID
}

// simHosts are the provider ids the sim instance holds, for every user.
func (l *reapLab) simHosts(inst string) []string {
	l.t.Helper()
	p, err := l.a.Provider(context.Background(), nil, "sim", inst)
	if err != nil {
		l.t.Fatal(err)
	}
	resp, err := p.(providers.Syncer).Sync(context.Background(), providers.SyncRequest{AllUsers: true})
	if err != nil {
		l.t.Fatal(err)
	}
	var ids []string
	for _, h := range resp.Hosts {
		ids = append(ids, h.ProviderID)
	}
	slices.Sort(ids)
	return ids
}

const (
	reapLabA = `
environment = "env-a"
provider "sim" "lab" {}
host "web" {
  provider = "sim.lab"
  count    = 2
  lease    = "1h"
}
`
	reapLabB = `
environment = "env-b"
provider "sim" "lab" {}
host "db" {
  provider = "sim.lab"
  lease    = "1d"
}
`
)

func TestJanitorRoundReapsExpiredHosts(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	l.apply(l.load(reapLabA))
	l.apply(l.load(reapLabB))
	if n := len(l.simHosts("lab")); n != 3 {
		t.Fatalf("%d sim hosts after apply", n)
	}

	var kinds []string
	res, err := l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{DryRun: true},
		Events: func(e JanitorEvent) { kinds = append(kinds, e.Kind.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rounds != 1 || len(res.Last.Expired) != 0 || len(res.Last.Intents) != 0 || len(res.Last.Orphans) != 0 {
		t.Fatalf("dry run now: %+v", res.Last)
	}
	if strings.Join(kinds, " ") != "round round-done" {
		t.Errorf("events of one round: %v", kinds)
	}

	// Two hours on, env-a's hosts (1h) have expired, env-b's (1d) have not.
	l.clk.add(2 * time.Hour)
	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{DryRun: true}})
	if err != nil {
		t.Fatal(err)
	}
	var expired []string
	for _, h := range res.Last.Expired {
		expired = append(expired, h.Environment+" "+h.Address)
	}
	slices.Sort(expired)
	if strings.Join(expired, ", ") != "env-a host.web[0], env-a host.web[1]" {
		t.Fatalf("dry run at +2h: expired %v", expired)
	}
	if len(l.records()) != 3 || len(l.simHosts("lab")) != 3 || res.Last.Reaped != 0 {
		t.Fatal("a dry run changed something")
	}

	obs := &events{}
	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Observer: obs}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Last.Summary(); got != "reaped 2 expired hosts, removed 0 orphans, 0 failed" {
		t.Errorf("summary %q", got)
	}
	recs := l.records()
	if _, ok := recs["env-b host.db[0]"]; !ok || len(recs) != 1 {
		t.Errorf("records after reap: %v", recs)
	}
	if ids := l.simHosts("lab"); len(ids) != 1 || ids[0] != recs["env-b host.db[0]"].ProviderID {
		t.Errorf("sim hosts after reap: %v", ids)
	}
	if len(res.Last.Results) != 1 || res.Last.Results[0].Summary() != "2 checked in" {
		t.Errorf("executor results %+v", res.Last.Results)
	}

	// The environment limits the round.
	l.clk.add(2 * 24 * time.Hour)
	if res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Environment: "env-a"}}); err != nil || res.Last.Reaped != 0 {
		t.Errorf("env-a at +2d: %v, %v", res.Last, err)
	}
	if res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Environment: "env-b"}}); err != nil || res.Last.Reaped != 1 {
		t.Errorf("env-b at +2d: %v, %v", res.Last, err)
	}
	if n := len(l.simHosts("lab")); n != 0 {
		t.Errorf("%d sim hosts left", n)
	}
}

func TestJanitorCleansUpStaleIntents(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	l.apply(l.load(reapLabB))
	st := l.store()
	db := l.records()["env-b host.db[0]"]
	// An interrupted check-in of db (releasing, not expired), and a create
	// that died before its provider call. (The store stamps intents with
	// the wall clock, so young intents are planner's tests' business.)
	db.Status = state.StatusReleasing
	if err := st.Put(ctx, db); err != nil {
		t.Fatal(err)
	}
	intent := func(id, op, hostID string) state.Intent {
		return state.Intent{ID: id, Environment: "env-b", Address: "host.db[0]", Op: op, Provider: "sim", Instance: "lab", HostID: hostID}
	}
	if err := st.PutIntents(ctx, intent("checkin-db", state.OpDestroy, db.ID), intent("lost-create", state.OpCreate, "never-made")); err != nil {
		t.Fatal(err)
	}
	res, err := l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{DryRun: true}})
	if err != nil || len(res.Last.Intents) != 0 {
		t.Fatalf("fresh intents taken for stale: %+v, %v", res.Last.Intents, err)
	}
	l.clk.add(time.Hour)

	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{DryRun: true}})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, it := range res.Last.Intents {
		stale = append(stale, it.ID)
	}
	slices.Sort(stale)
	if strings.Join(stale, " ") != "checkin-db lost-create" || len(res.Last.Expired) != 0 {
		t.Fatalf("dry run: stale %v, expired %d", stale, len(res.Last.Expired))
	}

	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Last.Summary(); got != "reaped 1 expired host, removed 0 orphans, cleaned up 1 interrupted run, 0 failed" {
		t.Errorf("summary %q", got)
	}
	left, err := st.Intents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("intents left: %+v", left)
	}
	if n := len(l.records()); n != 0 {
		t.Errorf("%d records left", n)
	}
	if ids := l.simHosts("lab"); len(ids) != 0 {
		t.Errorf("sim hosts left: %v", ids)
	}
}

func TestJanitorOrphans(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	l.apply(l.load(reapLabA))
	st := l.store()
	// host.web[1]'s record is lost: its sim host becomes an orphan.
	lost := l.records()["env-a host.web[1]"]
	if err := st.Delete(ctx, lost.ID); err != nil {
		t.Fatal(err)
	}
	// Another user's host of this state, made straight through the provider.
	p, err := l.a.Provider(ctx, nil, "sim", "lab")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := st.(state.Identifier).Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := p.Checkout(ctx, providers.CheckoutRequest{Environment: "env-a", Name: "theirs",
		Labels: map[string]string{providers.LabelID: "their-id", providers.LabelUser: "someone-else", providers.LabelState: sid}})
	if err != nil {
		t.Fatal(err)
	}

	orphanIDs := func(res *ReapResult) []string {
		var ids []string
		for _, o := range res.Orphans {
			ids = append(ids, o.ID())
		}
		return ids
	}
	res, err := l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := orphanIDs(res.Last); len(got) != 1 || got[0] != lost.ID || res.Last.Orphans[0].Info.ProviderID != lost.ProviderID ||
		res.Last.Orphans[0].Removed || res.Last.Removed != 0 {
		t.Fatalf("without Orphans: %+v", res.Last.Orphans)
	}
	if len(l.simHosts("lab")) != 3 {
		t.Fatal("an orphan was removed without Orphans")
	}
	// Another environment's scope does not see it.
	if res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Environment: "env-b", DryRun: true}}); err != nil || len(res.Last.Orphans) != 0 {
		t.Errorf("env-b: %+v, %v", res.Last, err)
	}

	// A provider that cannot list is a warning; one whose check-in fails
	// counts the orphan as failed and leaves it.
	failing := func(op string) *manifest.Config {
		return l.load(fmt.Sprintf(`
environment = "env-a"
provider "sim" "lab" {
  fail_rate = 1
  fail_on   = [%q]
}
`, op))
	}
	cfg := failing("sync")
	res, err = l.open(nil).Janitor(ctx, JanitorRequest{Reap: ReapRequest{Config: cfg, Orphans: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Last.Orphans) != 0 || len(res.Last.Warnings) != 1 || !strings.Contains(res.Last.Warnings[0], "sim.lab: list resources: sim: injected sync failure") {
		t.Errorf("listing fails: orphans %+v, warnings %q", res.Last.Orphans, res.Last.Warnings)
	}
	cfg = failing("checkin")
	obs := &events{}
	res, err = l.open(nil).Janitor(ctx, JanitorRequest{Reap: ReapRequest{Config: cfg, Orphans: true, Observer: obs}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Last.Orphans) != 1 || res.Last.Orphans[0].Err == nil || res.Last.Orphans[0].Removed || res.Last.Failed != 1 ||
		!strings.Contains(res.Last.Orphans[0].Err.Error(), "injected checkin failure") {
		t.Errorf("check-in fails: %s, %+v", res.Last.Summary(), res.Last.Orphans)
	}
	if len(l.simHosts("lab")) != 3 {
		t.Fatal("a failed removal removed the orphan")
	}
	if !obs.has("failed", lost.ID) {
		t.Errorf("no failed event for the orphan: %+v", obs.ev)
	}

	// Orphans removes this user's; AllUsers the other's too.
	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Orphans: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Last.Summary(); got != "reaped 0 expired hosts, removed 1 orphan, 0 failed" || !res.Last.Orphans[0].Removed {
		t.Errorf("Orphans: %s", got)
	}
	if ids := l.simHosts("lab"); slices.Contains(ids, lost.ProviderID) || !slices.Contains(ids, theirs.Hosts[0].ProviderID) || len(ids) != 2 {
		t.Errorf("sim hosts after Orphans: %v", ids)
	}
	res, err = l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{Orphans: true, AllUsers: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := orphanIDs(res.Last); len(got) != 1 || got[0] != "their-id" || res.Last.Removed != 1 {
		t.Errorf("AllUsers: %v, %s", got, res.Last.Summary())
	}
	if ids := l.simHosts("lab"); len(ids) != 1 || ids[0] != l.records()["env-a host.web[0]"].ProviderID {
		t.Errorf("sim hosts after AllUsers: %v", ids)
	}
}

// has reports whether an event of kind for host id was seen.
func (e *events) has(kind, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.ev {
		if string(ev.Kind) == kind && ev.HostID == id {
			return true
		}
	}
	return false
}

// janitorRun is a watching janitor run in a goroutine: its events arrive
// on a channel, and a tick releases its next round.
type janitorRun struct {
	t      *testing.T
	name   string
	events chan JanitorEvent
	ticks  chan time.Time
	stop   chan struct{}
	done   chan struct{}
	res    *JanitorResult
	err    error
}

func startJanitor(t *testing.T, a *App, name string, log func(string)) *janitorRun {
	r := &janitorRun{t: t, name: name, events: make(chan JanitorEvent, 100), ticks: make(chan time.Time),
		stop: make(chan struct{}), done: make(chan struct{})}
	req := JanitorRequest{Reap: ReapRequest{Stop: r.stop}, Watch: true, Interval: time.Hour,
		Events: func(e JanitorEvent) {
			if log != nil {
				log(name + " " + e.Kind.String())
			}
			r.events <- e
		},
		after: func(time.Duration) (<-chan time.Time, func() bool) { return r.ticks, func() bool { return true } },
	}
	go func() {
		defer close(r.done)
		r.res, r.err = a.Janitor(context.Background(), req)
	}()
	t.Cleanup(func() {
		select {
		case <-r.stop:
		default:
			close(r.stop)
		}
		<-r.done
	})
	return r
}

// next is the janitor's next event, which must be of kind.
func (r *janitorRun) next(kind JanitorEventKind) JanitorEvent {
	r.t.Helper()
	e := <-r.events
	if e.Kind != kind {
		r.t.Fatalf("%s: event %s (%+v), want %s", r.name, e.Kind, e, kind)
	}
	return e
}

// finish stops the janitor and waits for it.
func (r *janitorRun) finish() (*JanitorResult, error) {
	close(r.stop)
	<-r.done
	return r.res, r.err
}

func TestJanitorWatchReapsEachRoundUntilStopped(t *testing.T) {
	l := newReapLab(t)
	l.apply(l.load(reapLabA))
	r := startJanitor(t, l.a, "janitor", nil)
	// bolt elects among one machine's processes.
	if e := r.next(JanitorLeading); e.Leader.Operation != "reap --watch" || e.Leader.PID != os.Getpid() {
		t.Errorf("leader %+v", e.Leader)
	}
	if e := r.next(JanitorRound); e.Round != 1 || !e.Time.Equal(l.clk.now()) {
		t.Errorf("round event %+v", e)
	}
	if e := r.next(JanitorRoundDone); e.Err != nil || e.Result.Reaped != 0 || e.Stopping {
		t.Errorf("round 1: %+v", e)
	}
	l.clk.add(2 * time.Hour)
	r.ticks <- l.clk.now()
	r.next(JanitorRound)
	if e := r.next(JanitorRoundDone); e.Err != nil || e.Round != 2 || e.Result.Reaped != 2 {
		t.Errorf("round 2: %+v", e)
	}
	res, err := r.finish()
	if err != nil || res.Rounds != 2 || res.Last.Reaped != 2 {
		t.Errorf("janitor: %+v, %v", res, err)
	}
	if e := r.next(JanitorStopped); e.Round != 2 || e.Campaigning {
		t.Errorf("stopped %+v", e)
	}
	// It resigned: nobody leads.
	if who, ok, err := l.store().(state.Elector).Leader(context.Background(), janitorElection); ok || err != nil {
		t.Errorf("leader after stop: %v, %v", who, err)
	}
}

func TestJanitorWatchOneLeads(t *testing.T) {
	l := newReapLab(t)
	var mu sync.Mutex
	var log []string
	record := func(s string) { mu.Lock(); defer mu.Unlock(); log = append(log, s) }
	first := startJanitor(t, l.a, "first", record)
	first.next(JanitorLeading)
	first.next(JanitorRound)
	first.next(JanitorRoundDone)

	second := startJanitor(t, l.open(nil), "second", record)
	if e := second.next(JanitorWaiting); e.Leader.Operation != "reap --watch" {
		t.Errorf("second waits for %+v", e.Leader)
	}
	// A third one is stopped while it waits.
	third := startJanitor(t, l.open(nil), "third", nil)
	third.next(JanitorWaiting)
	if res, err := third.finish(); err != nil || res.Rounds != 0 {
		t.Errorf("third: %+v, %v", res, err)
	}
	if e := third.next(JanitorStopped); !e.Campaigning || e.Round != 0 {
		t.Errorf("third stopped %+v", e)
	}

	if _, err := first.finish(); err != nil {
		t.Fatal(err)
	}
	first.next(JanitorStopped)
	second.next(JanitorLeading)
	second.next(JanitorRound)
	second.next(JanitorRoundDone)
	if _, err := second.finish(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	i, j := slices.Index(log, "first stopped"), slices.Index(log, "second leading")
	if i < 0 || j < i {
		t.Errorf("second led before first stopped: %v", log)
	}
}

func TestJanitorWatchRefusesDryRunAndNoInterval(t *testing.T) {
	l := newReapLab(t)
	ctx := context.Background()
	if _, err := l.a.Janitor(ctx, JanitorRequest{Reap: ReapRequest{DryRun: true}, Watch: true, Interval: time.Hour}); err == nil {
		t.Error("watching dry run accepted")
	}
	if _, err := l.a.Janitor(ctx, JanitorRequest{Watch: true}); err == nil {
		t.Error("watch without an interval accepted")
	}
}
