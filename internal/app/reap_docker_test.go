package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/docker/dockertest"
	"github.com/labbroker/broker/state"

	_ "github.com/labbroker/broker/providers/docker"
)

// fakeClock moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// events records executor events.
type events struct {
	mu sync.Mutex
	ev []executor.Event
}

func (e *events) Event(ev executor.Event) { e.mu.Lock(); defer e.mu.Unlock(); e.ev = append(e.ev, ev) }
func (e *events) notes() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.ev {
		if ev.Kind == executor.EventNote {
			fmt.Fprintf(&b, "%s: %s\n", ev.Address, ev.Message)
		}
	}
	return b.String()
}

type dockerLab struct {
	t     *testing.T
	a     *App
	clk   *fakeClock
	run   *dockertest.Run
	image string
	env   string
}

func newDockerLab(t *testing.T) *dockerLab {
	e := dockertest.EngineOf(t) // Docker, or Podman under TestPodman
	return newDockerLabOn(t, e.NewRun(t), e.Image(t, "busybox"))
}

// newDockerLabOn is a lab of a broker directory of its own (a state of its
// own) on run's engine, with run's names and labels: two of them are two
// broker directories sharing an engine.
func newDockerLabOn(t *testing.T, run *dockertest.Run, image string) *dockerLab {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Now().UTC()}
	a, err := New(context.Background(), Options{Directory: filepath.Join(dir, "broker"), Now: clk.now, LogLevel: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return &dockerLab{t: t, a: a, clk: clk, run: run, image: image, env: "reap-" + run.Value}
}

// manifest is two hosts: old (lease 1h) and fresh (lease 1d), labelled
// with the test run so that the engine's cleanup finds them.
func (l *dockerLab) manifest() *manifest.Config {
	l.t.Helper()
	src := fmt.Sprintf(`
environment = %q
provider "docker" "local" {
  name_prefix = %q
%s}
host "old" {
  provider = "docker.local"
  args     = { image = %q }
  lease    = "1h"
  labels   = { "broker.test.run" = %q }
}
host "fresh" {
  provider = "docker.local"
  args     = { image = %q }
  lease    = "1d"
  labels   = { "broker.test.run" = %q }
}
`, l.env, l.run.Prefix, l.run.Engine.HCL(), l.image, l.run.Value, l.image, l.run.Value)
	path := filepath.Join(l.t.TempDir(), "lab.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		l.t.Fatal(err)
	}
	cfg, err := l.a.LoadManifest(ManifestInput{Path: path})
	if err != nil {
		l.t.Fatal(err)
	}
	return cfg
}

func (l *dockerLab) apply(cfg *manifest.Config, destroy bool, obs executor.Observer) *executor.Result {
	l.t.Helper()
	res, err := l.a.Apply(context.Background(), ApplyRequest{Config: cfg,
		PlanRequest: PlanRequest{Config: cfg, Environment: l.env, Destroy: destroy, Refresh: true}, Observer: obs})
	if err != nil {
		l.t.Fatal(err)
	}
	if res.Result != nil {
		if err := res.Result.Err(); err != nil {
			l.t.Fatal(err)
		}
	}
	return res.Result
}

func (l *dockerLab) records() map[string]state.Host {
	l.t.Helper()
	st, err := l.a.Store(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	hs, err := st.Hosts(context.Background(), state.Query{Environment: l.env})
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]state.Host{}
	for _, h := range hs {
		out[h.Address] = h
	}
	return out
}

// stateID is the identity of the lab's state.
func (l *dockerLab) stateID() string {
	l.t.Helper()
	st, err := l.a.Store(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	id, err := st.(state.Identifier).Identity(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return id
}

// exists tells whether the engine still has the container.
func (l *dockerLab) exists(id string) bool {
	l.t.Helper()
	_, err := l.run.API.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	return err == nil
}

// handMade creates (and starts) a container through the engine API with
// the given labels, plus the run's.
func (l *dockerLab) handMade(name string, labels map[string]string) string {
	l.t.Helper()
	all := l.run.Labels()
	for k, v := range labels {
		all[k] = v
	}
	ctx := context.Background()
	resp, err := l.run.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       l.run.Prefix + "-" + name,
		Config:     &container.Config{Image: l.image, Cmd: []string{"sleep", "3600"}, Labels: all},
		HostConfig: &container.HostConfig{},
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.run.API.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{}); err != nil {
		l.t.Fatal(err)
	}
	return resp.ID
}

func TestReapDocker(t *testing.T) {
	l := newDockerLab(t)
	ctx := context.Background()
	cfg := l.manifest()
	l.apply(cfg, false, nil)
	recs := l.records()
	old, fresh := recs["host.old[0]"], recs["host.fresh[0]"]
	if old.ProviderID == "" || fresh.ProviderID == "" {
		t.Fatalf("records %+v", recs)
	}
	me := l.a.Origin().User
	sid := l.stateID()
	mine := l.handMade("mine", map[string]string{providers.LabelID: "orphan-mine", providers.LabelUser: me, providers.LabelEnvironment: "gone-env", providers.LabelState: sid})
	theirs := l.handMade("theirs", map[string]string{providers.LabelID: "orphan-theirs", providers.LabelUser: "someone-else-" + l.run.Value, providers.LabelState: sid})
	plain := l.handMade("plain", nil)
	only := map[string]string{dockertest.LabelKey: l.run.Value}

	// Nothing has expired; the orphan is listed, not removed.
	res, err := l.a.Reap(ctx, ReapRequest{Config: cfg, DryRun: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Expired) != 0 || len(res.Orphans) != 1 || res.Orphans[0].ID() != "orphan-mine" || res.Orphans[0].Info.ProviderID != mine {
		t.Fatalf("dry run: expired %d, orphans %+v", len(res.Expired), res.Orphans)
	}

	// Two hours on, old has expired.
	l.clk.add(2 * time.Hour)
	res, err = l.a.Reap(ctx, ReapRequest{Config: cfg, DryRun: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Expired) != 1 || res.Expired[0].ID != old.ID || res.Orphans[0].Age < time.Hour {
		t.Fatalf("dry run at +2h: expired %+v, orphans %+v", res.Expired, res.Orphans)
	}
	if !l.exists(old.ProviderID) {
		t.Fatal("dry run removed the expired container")
	}

	// Reap without --orphans: the expired host goes, the orphan stays.
	res, err = l.a.Reap(ctx, ReapRequest{Config: cfg, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reaped != 1 || res.Removed != 0 || res.Failed != 0 {
		t.Fatalf("reap: %s", res.Summary())
	}
	if l.exists(old.ProviderID) || !l.exists(fresh.ProviderID) || !l.exists(mine) {
		t.Fatalf("after reap: old %v fresh %v orphan %v", l.exists(old.ProviderID), l.exists(fresh.ProviderID), l.exists(mine))
	}
	if _, ok := l.records()["host.old[0]"]; ok {
		t.Error("the expired record is still there")
	}

	// --orphans removes this user's orphan only.
	res, err = l.a.Reap(ctx, ReapRequest{Config: cfg, Orphans: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Summary(); got != "reaped 0 expired hosts, removed 1 orphan, 0 failed" {
		t.Errorf("summary %q", got)
	}
	if l.exists(mine) || !l.exists(theirs) || !l.exists(plain) || !l.exists(fresh.ProviderID) {
		t.Fatalf("after --orphans: mine %v theirs %v plain %v fresh %v", l.exists(mine), l.exists(theirs), l.exists(plain), l.exists(fresh.ProviderID))
	}

	// --all-users takes the other user's; the unlabelled container stays.
	res, err = l.a.Reap(ctx, ReapRequest{Config: cfg, Orphans: true, AllUsers: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 || l.exists(theirs) || !l.exists(plain) || !l.exists(fresh.ProviderID) {
		t.Fatalf("after --all-users: %s; theirs %v plain %v", res.Summary(), l.exists(theirs), l.exists(plain))
	}

	// Idempotent destroy: a container removed behind broker's back is
	// dropped from the state with a note.
	if _, err := l.run.API.ContainerRemove(ctx, fresh.ProviderID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	obs := &events{}
	r := l.apply(cfg, true, obs)
	if r.Summary() != "1 checked in" || !strings.Contains(obs.notes(), "host.fresh[0]: already gone, removed from state") {
		t.Errorf("destroy: %s; notes:\n%s", r.Summary(), obs.notes())
	}
	if n := len(l.records()); n != 0 {
		t.Errorf("%d records left", n)
	}
}

func TestImportDocker(t *testing.T) {
	l := newDockerLab(t)
	ctx := context.Background()
	cfg := l.manifest()
	me := l.a.Origin().User
	id := l.handMade("adoptee", map[string]string{providers.LabelID: "lost-record", providers.LabelUser: me})

	res, err := l.a.Import(ctx, ImportRequest{Config: cfg, Environment: l.env, Address: "host.old[0]", Provider: "docker.local", ProviderID: id[:12]})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Host
	if h.ProviderID != id || h.Status != state.StatusReady || h.Address != "host.old[0]" || h.Lease.Duration != time.Hour ||
		!h.Lease.Expires.Equal(l.clk.now().Add(time.Hour)) || h.Labels[dockertest.LabelKey] != l.run.Value {
		t.Fatalf("imported record %+v", h)
	}
	// Importing it again, or over the same address, is refused.
	if _, err := l.a.Import(ctx, ImportRequest{Config: cfg, Environment: l.env, Address: "host.old[0]", Provider: "docker.local", ProviderID: id}); err == nil {
		t.Error("second import at the same address accepted")
	}
	if _, err := l.a.Import(ctx, ImportRequest{Config: cfg, Environment: l.env, Address: "host.old[1]", Provider: "docker.local", ProviderID: id}); err == nil {
		t.Error("import at an address the manifest lacks accepted")
	}

	p, err := l.a.Plan(ctx, PlanRequest{Config: cfg, Environment: l.env, Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Action.String()+" "+c.Address)
	}
	want := []string{"create host.fresh[0]", "no-op host.old[0]"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("plan after import: %v, want %v", got, want)
	}

	// The imported container is not an orphan.
	rr, err := l.a.Reap(ctx, ReapRequest{Config: cfg, DryRun: true, Labels: map[string]string{dockertest.LabelKey: l.run.Value}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Orphans) != 0 {
		t.Errorf("imported container listed as an orphan: %+v", rr.Orphans)
	}

	// Destroy checks it in through the provider.
	l.apply(cfg, true, nil)
	if l.exists(id) {
		t.Error("the imported container survived destroy")
	}
}

// Two broker directories (two states) apply the same manifest on one
// engine: both succeed, with names of their own. Each state's reap lists
// the other's containers as foreign, never as orphans, and --orphans
// leaves them; a real orphan of this state is still reaped, and a
// container without a state label (an older broker's) is foreign too.
func TestReapDockerTwoStates(t *testing.T) {
	e := dockertest.EngineOf(t)
	run, image := e.NewRun(t), e.Image(t, "busybox")
	a, b := newDockerLabOn(t, run, image), newDockerLabOn(t, run, image)
	ctx := context.Background()
	cfgA, cfgB := a.manifest(), b.manifest()
	a.apply(cfgA, false, nil)
	b.apply(cfgB, false, nil) // today: container name … is already in use
	ra, rb := a.records(), b.records()
	if len(ra) != 2 || len(rb) != 2 {
		t.Fatalf("records: %d and %d, want 2 each", len(ra), len(rb))
	}
	for addr, h := range ra {
		if h.ProviderID == rb[addr].ProviderID {
			t.Fatalf("%s: both states recorded container %s", addr, h.ProviderID)
		}
		in, err := run.API.ContainerInspect(ctx, h.ProviderID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := in.Container.Config.Labels[providers.LabelState]; got != a.stateID() {
			t.Errorf("%s: label %s = %q, want %q", addr, providers.LabelState, got, a.stateID())
		}
		if name := strings.TrimPrefix(in.Container.Name, "/"); !strings.HasSuffix(name, "-"+a.stateID()[:6]) {
			t.Errorf("%s: container name %q does not end with the state's short identity", addr, name)
		}
	}
	legacy := a.handMade("legacy", map[string]string{providers.LabelID: "older-broker", providers.LabelUser: a.a.Origin().User})
	only := map[string]string{dockertest.LabelKey: run.Value}

	// b's containers are foreign to a, as is the unlabelled one.
	res, err := a.a.Reap(ctx, ReapRequest{Config: cfgA, DryRun: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	foreign := map[string]string{}
	for _, o := range res.Foreign {
		foreign[o.Info.ProviderID] = o.Owner.String()
	}
	want := map[string]string{rb["host.old[0]"].ProviderID: "foreign", rb["host.fresh[0]"].ProviderID: "foreign", legacy: "unknown"}
	if len(res.Orphans) != 0 || fmt.Sprint(foreign) != fmt.Sprint(want) {
		t.Fatalf("dry run in a: orphans %+v, foreign %v, want %v", res.Orphans, foreign, want)
	}

	// A container of a's whose record is gone is a's orphan; --orphans
	// removes it and leaves the foreign ones.
	st, err := a.a.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost := ra["host.old[0]"]
	if err := st.Delete(ctx, lost.ID); err != nil {
		t.Fatal(err)
	}
	res, err = a.a.Reap(ctx, ReapRequest{Config: cfgA, Orphans: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 || len(res.Orphans) != 1 || res.Orphans[0].Info.ProviderID != lost.ProviderID || len(res.Foreign) != 3 {
		t.Fatalf("reap --orphans in a: %s; orphans %+v; %d foreign", res.Summary(), res.Orphans, len(res.Foreign))
	}
	if a.exists(lost.ProviderID) {
		t.Error("a's orphan survived reap --orphans")
	}
	for _, id := range []string{rb["host.old[0]"].ProviderID, rb["host.fresh[0]"].ProviderID, legacy, ra["host.fresh[0]"].ProviderID} {
		if !a.exists(id) {
			t.Errorf("container %s was removed by a's reap --orphans", shortID(id))
		}
	}

	// b sees a's remaining container as foreign, and its own as its own.
	res, err = b.a.Reap(ctx, ReapRequest{Config: cfgB, DryRun: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Orphans) != 0 || len(res.Foreign) != 2 {
		t.Fatalf("dry run in b: orphans %+v, %d foreign", res.Orphans, len(res.Foreign))
	}

	// --foreign is the explicit way to take the unlabelled one (and b's).
	res, err = a.a.Reap(ctx, ReapRequest{Config: cfgA, Foreign: true, Labels: only})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 3 || a.exists(legacy) || a.exists(rb["host.old[0]"].ProviderID) || !a.exists(ra["host.fresh[0]"].ProviderID) {
		t.Fatalf("reap --foreign in a: %s", res.Summary())
	}
	a.apply(cfgA, true, nil)
	b.apply(cfgB, true, nil)
}

func shortID(id string) string { return id[:min(12, len(id))] }
