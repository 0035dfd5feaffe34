package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/test/etcdtest"
)

// stateApp is an App whose broker directory is a fresh temporary one; its
// state is the bolt file there unless settings say otherwise.
func stateApp(t *testing.T, settings *manifest.Config) (*App, state.Store) {
	t.Helper()
	if settings == nil {
		settings = &manifest.Config{}
	}
	a, err := New(context.Background(), Options{Directory: t.TempDir(), Settings: settings, LogLevel: "silent", Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	st, err := a.Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

// simRecord is a record of a sim host, put directly into the state.
func simRecord(id, env, address string) state.Host {
	return state.Host{
		ID: id, Environment: env, Address: address,
		Provider: "sim", Instance: "lab", ProviderID: "sim-" + id,
		Hostname: id + ".sim.test", Transport: state.TransportNone, Status: state.StatusReady,
	}
}

// fillState puts records in environments a and b (host.web[0] in both),
// an imperative one in c, and intents in b and d.
func fillState(t *testing.T, st state.Store) {
	t.Helper()
	ctx := context.Background()
	if err := st.Put(ctx,
		simRecord("01", "a", "host.web[0]"), simRecord("02", "a", "host.web[1]"),
		simRecord("03", "b", "host.web[0]"), simRecord("04", "c", "")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutIntents(ctx,
		state.Intent{ID: "i1", Environment: "b", Address: "host.web[0]", Op: state.OpDestroy, Provider: "sim", Instance: "lab", HostID: "03"},
		state.Intent{ID: "i2", Environment: "d", Address: "host.db[0]", Op: state.OpCreate, Provider: "sim", Instance: "lab", HostID: "05"}); err != nil {
		t.Fatal(err)
	}
}

func hintOf(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

func TestStateList(t *testing.T) {
	a, st := stateApp(t, nil)
	ctx := context.Background()
	got, err := a.StateList(ctx, StateListRequest{})
	if err != nil || len(got) != 0 {
		t.Fatalf("StateList of an empty state = %v, %v", got, err)
	}
	fillState(t, st)
	serial := func(env string) uint64 {
		n, err := st.Serial(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// bolt cannot name a lock's holder without taking the lock: LockedBy
	// stays empty even while someone holds it.
	u, err := st.Lock(ctx, "a", a.LockInfo("apply"), state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Unlock()

	tests := []struct {
		env  string
		want []EnvironmentSummary
	}{
		{"", []EnvironmentSummary{
			{Environment: "a", Hosts: 2, Serial: serial("a")},
			{Environment: "b", Hosts: 1, Intents: 1, Serial: serial("b")},
			{Environment: "c", Hosts: 1, Serial: serial("c")},
			{Environment: "d", Intents: 1, Serial: serial("d")},
		}},
		{"b", []EnvironmentSummary{{Environment: "b", Hosts: 1, Intents: 1, Serial: serial("b")}}},
		{"nope", []EnvironmentSummary{{Environment: "nope"}}},
	}
	for _, tt := range tests {
		got, err := a.StateList(ctx, StateListRequest{Environment: tt.env})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("StateList(%q) (-want +got):\n%s", tt.env, diff)
		}
	}
}

func TestStateFindAndShow(t *testing.T) {
	a, st := stateApp(t, nil)
	ctx := context.Background()
	fillState(t, st)

	find := func(env string, targets ...string) ([]string, error) {
		hs, err := a.StateFind(ctx, StateFindRequest{Environment: env, Targets: targets})
		var ids []string
		for _, h := range hs {
			ids = append(ids, h.Environment+"/"+h.ID)
		}
		return ids, err
	}
	tests := []struct {
		env      string
		targets  []string
		want     []string
		err      string
		wantHint string
	}{
		{"", []string{"04", "host.web[0]"}, []string{"a/01", "b/03", "c/04"}, "", ""},
		{"", []string{"host.web[0]", "03", "01"}, []string{"a/01", "b/03"}, "", ""},
		{"a", []string{"host.web[1]", "host.web[0]"}, []string{"a/02", "a/01"}, "", ""},
		{"a", []string{"03"}, nil, `record 03 is in environment "b", not "a"`, ""},
		{"", []string{"01", "nothing"}, nil, `no record with id or address "nothing" in the state`, "`broker inventory --details` lists ids and addresses"},
		{"c", []string{"host.web[0]"}, nil, `no record with id or address "host.web[0]" in environment "c"`, "`broker inventory --details` lists ids and addresses"},
	}
	for _, tt := range tests {
		got, err := find(tt.env, tt.targets...)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || hintOf(err) != tt.wantHint {
				t.Errorf("StateFind(%q, %q) = %v (hint %q), want %q (hint %q)", tt.env, tt.targets, err, hintOf(err), tt.err, tt.wantHint)
			}
			continue
		}
		if err != nil {
			t.Errorf("StateFind(%q, %q): %v", tt.env, tt.targets, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("StateFind(%q, %q) (-want +got):\n%s", tt.env, tt.targets, diff)
		}
	}

	// An address held in two environments is ambiguous for show.
	_, err := a.StateShow(ctx, StateShowRequest{Target: "host.web[0]"})
	if err == nil || err.Error() != "2 records have address host.web[0]" || hintOf(err) != "pass --environment, or use the id: 01, 03" {
		t.Errorf("StateShow of an ambiguous address = %v (hint %q)", err, hintOf(err))
	}
	rec, err := a.StateShow(ctx, StateShowRequest{Environment: "b", Target: "host.web[0]"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Host.ID != "03" || len(rec.Intents) != 1 || rec.Intents[0].ID != "i1" {
		t.Errorf("StateShow(b, host.web[0]) = record %s with intents %v, want 03 with i1", rec.Host.ID, rec.Intents)
	}
	rec, err = a.StateShow(ctx, StateShowRequest{Target: "01"})
	if err != nil || rec.Host.ID != "01" || rec.Intents != nil {
		t.Errorf("StateShow(01) = record %s with intents %v, %v", rec.Host.ID, rec.Intents, err)
	}
}

func TestStateRm(t *testing.T) {
	a, st := stateApp(t, nil)
	ctx := context.Background()
	fillState(t, st)
	found, err := a.StateFind(ctx, StateFindRequest{Targets: []string{"host.web[0]"}})
	if err != nil {
		t.Fatal(err)
	}
	serialA, _ := st.Serial(ctx, "a")

	// rm takes each environment's lock: while another process holds b's,
	// it stops there, having done a (environments go in name order).
	u, err := st.Lock(ctx, "b", state.LockInfo{PID: 4242, Operation: "apply"}, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.StateRm(ctx, StateRmRequest{Hosts: found})
	var le *state.LockedError
	if !errors.As(err, &le) || le.Environment != "b" || le.Holder.PID != 4242 {
		t.Fatalf("StateRm while b is locked = %v, want *state.LockedError naming b's holder", err)
	}
	if _, err := st.Host(ctx, "03"); err != nil {
		t.Errorf("record 03 of the locked environment: %v", err)
	}
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}

	res, err := a.StateRm(ctx, StateRmRequest{Hosts: found})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 2 {
		t.Errorf("Removed = %d, want 2", res.Removed)
	}
	hosts, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hosts {
		ids = append(ids, h.ID)
	}
	if diff := cmp.Diff([]string{"02", "04"}, ids); diff != "" {
		t.Errorf("records left (-want +got):\n%s", diff)
	}
	// Intents are left alone; the serial moved, so saved plans of a are stale.
	if in, _ := st.Intents(ctx, "b"); len(in) != 1 {
		t.Errorf("intents of b after rm: %v", in)
	}
	if n, _ := st.Serial(ctx, "a"); n <= serialA {
		t.Errorf("serial of a is %d after rm, was %d", n, serialA)
	}
}

func TestStateUnlockBolt(t *testing.T) {
	a, st := stateApp(t, nil)
	ctx := context.Background()
	asked := false
	confirm := func(state.LockInfo) (bool, error) { asked = true; return true, nil }

	res, err := a.StateUnlock(ctx, StateUnlockRequest{Environment: "e", Confirm: confirm})
	if err != nil || res.Held || res.Broken || asked {
		t.Errorf("StateUnlock of a free bolt lock = %+v, %v (asked %v)", res, err, asked)
	}
	// The free lock was given back.
	u, err := st.Lock(ctx, "e", state.LockInfo{PID: 4242, Machine: "runner1", Operation: "apply"}, state.LockOptions{})
	if err != nil {
		t.Fatalf("lock after StateUnlock: %v", err)
	}
	defer u.Unlock()

	// A held bolt lock cannot be broken: the error names the process to stop.
	_, err = a.StateUnlock(ctx, StateUnlockRequest{Environment: "e", Confirm: confirm})
	if err == nil || !strings.Contains(err.Error(), `environment "e" is locked by apply (pid 4242`) ||
		hintOf(err) != "stop that process (pid 4242 on runner1) and the lock is free" {
		t.Errorf("StateUnlock of a held bolt lock = %v (hint %q)", err, hintOf(err))
	}
	if asked {
		t.Errorf("Confirm was called on a backend that cannot break locks")
	}
	if _, err := st.Lock(ctx, "e", a.LockInfo("test"), state.LockOptions{}); err == nil {
		t.Errorf("the held lock was broken")
	}
}

func TestStateMigrateBolt(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	a, st := stateApp(t, nil)
	ctx := context.Background()
	fillState(t, st)
	if _, err := st.Reserve(ctx, "static.lab", []string{"lab1"}, "a/host.web[0]"); err != nil {
		t.Fatal(err)
	}

	res, err := a.StateMigrate(ctx, StateMigrateRequest{From: "bolt", To: "bolt:~/copy.db"})
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(home, "copy.db")
	want := StateMigrateResult{
		Source: "bolt:" + filepath.Join(a.Dir, "state.db"), Target: "bolt:" + copyPath,
		CopyResult: state.CopyResult{Environments: 4, Hosts: 4, Intents: 2, Reservations: 1, PoolsListed: true, IdentityCopied: true},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("StateMigrate (-want +got):\n%s", diff)
	}
	cp, err := bolt.Open(copyPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, s := range []state.Store{st, cp} {
		hosts, _ := s.Hosts(ctx, state.Query{})
		intents, _ := s.Intents(ctx, "")
		res, _ := s.Reservations(ctx, "static.lab")
		if len(hosts) != 4 || len(intents) != 2 || res["lab1"] != "a/host.web[0]" {
			t.Errorf("%T after migrate: %d hosts, %d intents, reservations %v", s, len(hosts), len(intents), res)
		}
	}

	// The target now holds records: refused, naming it, unless forced.
	_, err = a.StateMigrate(ctx, StateMigrateRequest{From: "bolt", To: "bolt:" + copyPath})
	var ne *state.NotEmptyError
	if !errors.As(err, &ne) || err.Error() != "the target bolt:"+copyPath+" already holds 4 host records and 2 intents" ||
		hintOf(err) != "check with `broker state list`; pass --force to copy over them" {
		t.Errorf("StateMigrate into a non-empty target = %v (hint %q)", err, hintOf(err))
	}
	res, err = a.StateMigrate(ctx, StateMigrateRequest{From: "bolt", To: "bolt:" + copyPath, Force: true, Pools: []string{"extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reservations != 0 || len(res.Kept) != 1 || res.Kept[0].Member != "lab1" {
		t.Errorf("forced StateMigrate: %d reservations, kept %v; want 0 and lab1", res.Reservations, res.Kept)
	}

	bad := []struct {
		from, to, err, hint string
	}{
		{"bolt", "bolt", "--from and --to are the same backend (bolt)", ""},
		{"bolt", "bolt:" + filepath.Join(a.Dir, "state.db"), "--from and --to are the same state (bolt:" + filepath.Join(a.Dir, "state.db") + ")", ""},
		{"bolt", "etcd", `open --to etcd: broker.hcl has no state block with backend = "etcd"`,
			`add state { backend = "etcd"  endpoints = ["https://etcd1:2379"]  prefix = "/broker/lab" } to broker.hcl`},
		{"bolt", "etcd:foo", "open --to etcd:foo: etcd takes no address here",
			"put endpoints, prefix, tls and credentials in the state block of broker.hcl and write just --to etcd"},
		{"nope.db", "bolt", `open --from nope.db: unknown backend "nope.db"`, "use bolt, bolt:PATH or etcd"},
	}
	for _, tt := range bad {
		_, err := a.StateMigrate(ctx, StateMigrateRequest{From: tt.from, To: tt.to})
		if err == nil || err.Error() != tt.err || hintOf(err) != tt.hint {
			t.Errorf("StateMigrate(%s → %s) = %v (hint %q), want %q (hint %q)", tt.from, tt.to, err, hintOf(err), tt.err, tt.hint)
		}
	}
}

// On etcd: list names the lock's holder, unlock asks and breaks it, and
// migrate carries serials over both ways.
func TestStateEtcd(t *testing.T) {
	c := etcdtest.Start(t)
	a, st := stateApp(t, &manifest.Config{State: &manifest.StateSettings{
		Backend: "etcd", Endpoints: c.Endpoints(), Prefix: "/test/" + t.Name(), LockTTL: 2 * time.Second,
	}})
	ctx := context.Background()
	fillState(t, st)

	holder := state.LockInfo{PID: 4242, User: "qe", Machine: "runner1", Operation: "apply", Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	u, err := st.Lock(ctx, "a", holder, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Unlock()
	list, err := a.StateList(ctx, StateListRequest{Environment: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].LockedBy == nil || list[0].LockedBy.PID != 4242 {
		t.Errorf("StateList on etcd while a is locked = %+v", list)
	}

	// Declined: nothing changes. A failing Confirm's error comes back as it is.
	var asked []state.LockInfo
	res, err := a.StateUnlock(ctx, StateUnlockRequest{Environment: "a", Confirm: func(h state.LockInfo) (bool, error) {
		asked = append(asked, h)
		return false, nil
	}})
	if err != nil || !res.Held || res.Broken || len(asked) != 1 || asked[0].PID != 4242 {
		t.Errorf("declined StateUnlock = %+v, %v (asked %v)", res, err, asked)
	}
	errNo := errors.New("no terminal")
	if _, err := a.StateUnlock(ctx, StateUnlockRequest{Environment: "a", Confirm: func(state.LockInfo) (bool, error) { return false, errNo }}); err != errNo {
		t.Errorf("StateUnlock with a failing Confirm = %v, want its error", err)
	}
	if _, held, _ := st.(state.LockHolder).LockHolder(ctx, "a"); !held {
		t.Fatalf("the lock was broken without confirmation")
	}
	res, err = a.StateUnlock(ctx, StateUnlockRequest{Environment: "a", Confirm: func(state.LockInfo) (bool, error) { return true, nil }})
	if err != nil || !res.Held || !res.Broken || !cmp.Equal(res.Holder, holder, cmpopts.EquateApproxTime(time.Second)) {
		t.Errorf("confirmed StateUnlock = %+v, %v", res, err)
	}
	if _, held, _ := st.(state.LockHolder).LockHolder(ctx, "a"); held {
		t.Errorf("the lock is still held after StateUnlock")
	}
	if res, err := a.StateUnlock(ctx, StateUnlockRequest{Environment: "a"}); err != nil || res.Held {
		t.Errorf("StateUnlock of a free etcd lock = %+v, %v", res, err)
	}

	// etcd → bolt: bolt counts its own serials.
	path := filepath.Join(t.TempDir(), "copy.db")
	mig, err := a.StateMigrate(ctx, StateMigrateRequest{From: "etcd", To: "bolt:" + path})
	if err != nil {
		t.Fatal(err)
	}
	wantSource := "etcd:" + strings.Join(c.Endpoints(), ",") + "/test/" + t.Name()
	if mig.Source != wantSource || mig.Target != "bolt:"+path || mig.Hosts != 4 || mig.SerialsCopied {
		t.Errorf("StateMigrate etcd → bolt = %+v", mig)
	}
	// bolt → etcd (forced, over the same records): serials are set, never back.
	serialA, _ := st.Serial(ctx, "a")
	mig, err = a.StateMigrate(ctx, StateMigrateRequest{From: "bolt:" + path, To: "etcd", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !mig.SerialsCopied || mig.Target != wantSource {
		t.Errorf("StateMigrate bolt → etcd = %+v", mig)
	}
	if n, _ := st.Serial(ctx, "a"); n < serialA {
		t.Errorf("serial of a went back from %d to %d", serialA, n)
	}
	// The App's own etcd store is still open after migrate closed its view.
	if _, err := a.StateList(ctx, StateListRequest{}); err != nil {
		t.Errorf("StateList after migrate: %v", err)
	}
}
