package statetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/labbroker/broker/state"
)

// Run runs the suite. open returns a fresh, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"HostsCRUD", testHostsCRUD},
		{"HostNotFound", testHostNotFound},
		{"PutWithoutID", testPutWithoutID},
		{"Copies", testCopies},
		{"Serials", testSerials},
		{"Environments", testEnvironments},
		{"Intents", testIntents},
		{"LockExcludes", testLockExcludes},
		{"LockZeroTimeout", testLockZeroTimeout},
		{"LockIndependentEnvironments", testLockIndependent},
		{"UnlockTwice", testUnlockTwice},
		{"LockContextCancel", testLockContextCancel},
		{"LockSharedTogether", testLockSharedTogether},
		{"LockSharedWaitsForExclusive", testLockSharedWaitsForExclusive},
		{"LockExclusiveNotStarved", testLockExclusiveNotStarved},
		{"Reserve", testReserve},
		{"ReserveConcurrent", testReserveConcurrent},
		{"ConcurrentWrites", testConcurrentWrites},
		{"LockHolder", testLockHolder},
		{"ForceUnlock", testForceUnlock},
		{"Pools", testPools},
		{"SetSerial", testSetSerial},
		{"Identity", testIdentity},
		{"Values", testValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// ignoreTimes ignores the times the store sets itself.
var ignoreTimes = cmpopts.IgnoreFields(state.Host{}, "Created", "Updated")
var ignoreIntentTimes = cmpopts.IgnoreFields(state.Intent{}, "Created", "Updated")

func host(id, env string) state.Host {
	return state.Host{
		ID:          id,
		Environment: env,
		Address:     "host.web[0]",
		Provider:    "sim",
		Instance:    "default",
		ProviderID:  "sim-" + id,
		Name:        "web-" + id,
		Hostname:    id + ".sim.test",
		IP:          "192.0.2.1",
		ConnectHost: "127.0.0.1",
		Transport:   state.TransportNone,
		Connection:  &state.Connection{User: "qe", Port: 2222, PrivateKeyFile: "/keys/id", Timeout: time.Minute, PasswordFrom: "var.pw", Manifest: "lab.hcl"},
		Recipe:      map[string]any{"image": "rhel9", "ports": []any{"22"}, "count": float64(2)},
		Facts:       map[string]any{"os": "rhel"},
		Labels:      map[string]string{"role": "web"},
		Lease:       state.Lease{Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Duration: time.Hour, Extended: 1},
		Status:      state.StatusReady,
		Origin:      state.Origin{User: "qe", Machine: "runner1", Command: "apply"},
	}
}

func ids(hs []state.Host) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testHostsCRUD(t *testing.T, s state.Store) {
	ctx := context.Background()
	// Put out of order; Hosts must return id order.
	must(t, s.Put(ctx, host("03", "a"), host("01", "a"), host("02", "b")))
	must(t, s.Put(ctx, host("04", "b")))

	tests := []struct {
		q    state.Query
		want []string
	}{
		{state.Query{}, []string{"01", "02", "03", "04"}},
		{state.Query{Environment: "a"}, []string{"01", "03"}},
		{state.Query{Environment: "b"}, []string{"02", "04"}},
		{state.Query{Environment: "none"}, []string{}},
	}
	for _, tt := range tests {
		got, err := s.Hosts(ctx, tt.q)
		must(t, err)
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("Hosts(%+v) ids (-want +got):\n%s", tt.q, diff)
		}
	}

	got, err := s.Host(ctx, "01")
	must(t, err)
	if diff := cmp.Diff(host("01", "a"), got, ignoreTimes); diff != "" {
		t.Errorf("Host(01) (-want +got):\n%s", diff)
	}
	if got.Created.IsZero() || got.Updated.IsZero() {
		t.Errorf("Host(01) times not set: created %v updated %v", got.Created, got.Updated)
	}

	// Replace keeps Created when the caller passes it back, moves
	// environments.
	moved := got
	moved.Environment = "b"
	moved.Status = state.StatusTainted
	must(t, s.Put(ctx, moved))
	got2, err := s.Host(ctx, "01")
	must(t, err)
	if diff := cmp.Diff(moved, got2, ignoreTimes); diff != "" {
		t.Errorf("after replace (-want +got):\n%s", diff)
	}
	if !got2.Created.Equal(got.Created) {
		t.Errorf("Created changed on replace: %v -> %v", got.Created, got2.Created)
	}
	a, err := s.Hosts(ctx, state.Query{Environment: "a"})
	must(t, err)
	if diff := cmp.Diff([]string{"03"}, ids(a)); diff != "" {
		t.Errorf("env a after move (-want +got):\n%s", diff)
	}

	must(t, s.Delete(ctx, "01", "03", "unknown"))
	all, err := s.Hosts(ctx, state.Query{})
	must(t, err)
	if diff := cmp.Diff([]string{"02", "04"}, ids(all)); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}

func testHostNotFound(t *testing.T, s state.Store) {
	_, err := s.Host(context.Background(), "missing")
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Host(missing) = %v, want ErrNotFound", err)
	}
}

func testPutWithoutID(t *testing.T, s state.Store) {
	ctx := context.Background()
	if err := s.Put(ctx, host("01", "a"), host("", "a")); err == nil {
		t.Fatalf("Put of a host without id succeeded")
	}
	if err := s.PutIntents(ctx, state.Intent{Environment: "a"}); err == nil {
		t.Fatalf("PutIntents of an intent without id succeeded")
	}
	// Nothing of a failed call is written.
	all, err := s.Hosts(ctx, state.Query{})
	must(t, err)
	if diff := cmp.Diff([]string{}, ids(all)); diff != "" {
		t.Errorf("hosts after a failed Put (-want +got):\n%s", diff)
	}
}

func testCopies(t *testing.T, s state.Store) {
	ctx := context.Background()
	h := host("01", "a")
	must(t, s.Put(ctx, h))
	// The caller's value is the caller's: changing it after Put changes
	// nothing stored.
	h.Labels["role"] = "changed-after-put"
	h.Recipe["image"] = "changed"

	got, err := s.Host(ctx, "01")
	must(t, err)
	got.Labels["role"] = "mutated"
	got.Facts["os"] = "mutated"
	got.Recipe["ports"].([]any)[0] = "mutated"
	list, err := s.Hosts(ctx, state.Query{})
	must(t, err)
	list[0].Labels["x"] = "y"

	again, err := s.Host(ctx, "01")
	must(t, err)
	if diff := cmp.Diff(host("01", "a"), again, ignoreTimes); diff != "" {
		t.Errorf("stored record changed through a copy (-want +got):\n%s", diff)
	}
}

func testSerials(t *testing.T, s state.Store) {
	ctx := context.Background()
	serial := func(env string) uint64 {
		t.Helper()
		n, err := s.Serial(ctx, env)
		must(t, err)
		return n
	}
	steps := []struct {
		name  string
		write func() error
		want  map[string]uint64
	}{
		{"nothing yet", func() error { return nil }, map[string]uint64{"a": 0, "b": 0}},
		{"put three in a", func() error { return s.Put(ctx, host("1", "a"), host("2", "a"), host("3", "a")) },
			map[string]uint64{"a": 1, "b": 0}},
		{"put in a and b", func() error { return s.Put(ctx, host("4", "a"), host("5", "b")) },
			map[string]uint64{"a": 2, "b": 1}},
		{"delete two in a", func() error { return s.Delete(ctx, "1", "2") }, map[string]uint64{"a": 3, "b": 1}},
		{"delete unknown", func() error { return s.Delete(ctx, "nope") }, map[string]uint64{"a": 3, "b": 1}},
		{"intent in b", func() error {
			return s.PutIntents(ctx, state.Intent{ID: "i1", Environment: "b", Op: state.OpCreate})
		}, map[string]uint64{"a": 3, "b": 2}},
		{"delete intent", func() error { return s.DeleteIntents(ctx, "i1") }, map[string]uint64{"a": 3, "b": 3}},
		{"delete all of b", func() error { return s.Delete(ctx, "5") }, map[string]uint64{"a": 3, "b": 4}},
	}
	for _, st := range steps {
		must(t, st.write())
		got := map[string]uint64{"a": serial("a"), "b": serial("b")}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: serials (-want +got):\n%s", st.name, diff)
		}
	}
}

func testEnvironments(t *testing.T, s state.Store) {
	ctx := context.Background()
	envs := func() []string {
		t.Helper()
		e, err := s.Environments(ctx)
		must(t, err)
		sort.Strings(e)
		if e == nil {
			e = []string{}
		}
		return e
	}
	if diff := cmp.Diff([]string{}, envs()); diff != "" {
		t.Errorf("empty store (-want +got):\n%s", diff)
	}
	must(t, s.Put(ctx, host("1", "zeta"), host("2", "alpha")))
	must(t, s.PutIntents(ctx, state.Intent{ID: "i", Environment: "intent-only", Op: state.OpCreate}))
	if diff := cmp.Diff([]string{"alpha", "intent-only", "zeta"}, envs()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	must(t, s.Delete(ctx, "1"))
	must(t, s.DeleteIntents(ctx, "i"))
	if diff := cmp.Diff([]string{"alpha"}, envs()); diff != "" {
		t.Errorf("after deletes (-want +got):\n%s", diff)
	}
}

func testIntents(t *testing.T, s state.Store) {
	ctx := context.Background()
	in := func(id, env string) state.Intent {
		return state.Intent{
			ID: id, Environment: env, Address: "host.web[0]", Op: state.OpCreate,
			Provider: "sim", Instance: "default", HostID: "h" + id,
			Recipe:     map[string]any{"image": "x"},
			Checkpoint: map[string]string{"job": "7"},
			Origin:     state.Origin{User: "qe"},
		}
	}
	must(t, s.PutIntents(ctx, in("2", "a"), in("1", "a"), in("3", "b")))
	upd := in("1", "a")
	upd.ProviderID = "sim-1"
	must(t, s.PutIntents(ctx, upd))

	tests := []struct {
		env  string
		want []state.Intent
	}{
		{"", []state.Intent{upd, in("2", "a"), in("3", "b")}},
		{"a", []state.Intent{upd, in("2", "a")}},
		{"b", []state.Intent{in("3", "b")}},
		{"c", nil},
	}
	for _, tt := range tests {
		got, err := s.Intents(ctx, tt.env)
		must(t, err)
		if diff := cmp.Diff(tt.want, got, ignoreIntentTimes, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Intents(%q) (-want +got):\n%s", tt.env, diff)
		}
		for _, g := range got {
			if g.Created.IsZero() || g.Updated.IsZero() {
				t.Errorf("intent %s times not set", g.ID)
			}
		}
	}
	must(t, s.DeleteIntents(ctx, "1", "3", "unknown"))
	got, err := s.Intents(ctx, "")
	must(t, err)
	if diff := cmp.Diff([]state.Intent{in("2", "a")}, got, ignoreIntentTimes); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}

func lockInfo(op string) state.LockInfo {
	return state.LockInfo{PID: 4242, User: "qe", Machine: "runner1", Operation: op,
		Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func testLockExcludes(t *testing.T, s state.Store) {
	ctx := context.Background()
	first, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)

	waiting := make(chan state.LockInfo, 1)
	type result struct {
		u   state.Unlocker
		err error
	}
	got := make(chan result, 1)
	go func() {
		u, err := s.Lock(ctx, "env", lockInfo("destroy"), state.LockOptions{
			Timeout: time.Minute,
			OnWait:  func(h state.LockInfo) { waiting <- h },
		})
		got <- result{u, err}
	}()

	// The second Lock reports that it waits, and on whom, and does not
	// return while the first holds the lock.
	holder := <-waiting
	if diff := cmp.Diff(lockInfo("apply"), holder, cmpopts.EquateApproxTime(time.Second)); diff != "" {
		t.Errorf("OnWait holder (-want +got):\n%s", diff)
	}
	select {
	case r := <-got:
		t.Fatalf("second Lock returned while the first holds the lock: %v", r.err)
	default:
	}
	must(t, first.Unlock())
	r := <-got
	must(t, r.err)
	must(t, r.u.Unlock())
	if len(waiting) != 0 {
		t.Errorf("OnWait called more than once")
	}
}

func testLockZeroTimeout(t *testing.T, s state.Store) {
	ctx := context.Background()
	u, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	defer u.Unlock()

	_, err = s.Lock(ctx, "env", lockInfo("destroy"), state.LockOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock = %v, want *state.LockedError", err)
	}
	want := &state.LockedError{Environment: "env", Holder: lockInfo("apply")}
	if diff := cmp.Diff(want, le, cmpopts.EquateApproxTime(time.Second)); diff != "" {
		t.Errorf("LockedError (-want +got):\n%s", diff)
	}
}

func testLockIndependent(t *testing.T, s state.Store) {
	ctx := context.Background()
	envs := []string{"a", "b", "with/slash", "../dots", "ünïcode env", "A"}
	var held []state.Unlocker
	for _, env := range envs {
		u, err := s.Lock(ctx, env, lockInfo("apply "+env), state.LockOptions{})
		if err != nil {
			t.Fatalf("Lock(%q) while others are held: %v", env, err)
		}
		held = append(held, u)
	}
	for _, u := range held {
		must(t, u.Unlock())
	}
}

func testUnlockTwice(t *testing.T, s state.Store) {
	ctx := context.Background()
	u, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	must(t, u.Unlock())
	must(t, u.Unlock())
	// The lock is free again, and a second Unlock of the old holder does
	// not release the new holder's lock.
	u2, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	must(t, u.Unlock())
	_, err = s.Lock(ctx, "env", lockInfo("destroy"), state.LockOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Errorf("Lock after stale Unlock = %v, want *state.LockedError", err)
	}
	must(t, u2.Unlock())
}

func testLockContextCancel(t *testing.T, s state.Store) {
	u, err := s.Lock(context.Background(), "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	defer u.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = s.Lock(ctx, "env", lockInfo("destroy"), state.LockOptions{
		Timeout: time.Hour,
		OnWait:  func(state.LockInfo) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with cancelled context = %v, want context.Canceled", err)
	}
}

// Shared holders hold the lock together; an exclusive request is refused
// while they do, naming one and counting the others.
func testLockSharedTogether(t *testing.T, s state.Store) {
	ctx := context.Background()
	shared := state.LockOptions{Shared: true}
	a, err := s.Lock(ctx, "env", lockInfo("checkout"), shared)
	must(t, err)
	b, err := s.Lock(ctx, "env", lockInfo("checkin"), shared)
	if err != nil {
		t.Fatalf("second shared Lock while the first holds: %v", err)
	}
	_, err = s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("exclusive Lock while shared holders hold = %v, want *state.LockedError", err)
	}
	if op := le.Holder.Operation; op != "checkout" && op != "checkin" {
		t.Errorf("LockedError names %q, want a shared holder", le.Holder)
	}
	if le.Holder.Others != 1 {
		t.Errorf("LockedError counts %d other holders, want 1: %v", le.Holder.Others, le)
	}
	// Other environments are not concerned.
	u, err := s.Lock(ctx, "other", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	must(t, u.Unlock())

	must(t, a.Unlock())
	must(t, b.Unlock())
	u, err = s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	if err != nil {
		t.Fatalf("exclusive Lock after the shared holders left: %v", err)
	}
	must(t, u.Unlock())
}

// A shared request waits for an exclusive holder, says on whom, and gets
// the lock when it is released.
func testLockSharedWaitsForExclusive(t *testing.T, s state.Store) {
	ctx := context.Background()
	x, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	_, err = s.Lock(ctx, "env", lockInfo("checkout"), state.LockOptions{Shared: true})
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.Operation != "apply" {
		t.Fatalf("shared Lock while apply holds = %v, want *state.LockedError naming apply", err)
	}
	waiting := make(chan state.LockInfo, 1)
	got := make(chan error, 1)
	var shared state.Unlocker
	go func() {
		u, err := s.Lock(ctx, "env", lockInfo("checkout"), state.LockOptions{
			Shared: true, Timeout: time.Minute, OnWait: func(h state.LockInfo) { waiting <- h },
		})
		shared = u
		got <- err
	}()
	if h := <-waiting; h.Operation != "apply" {
		t.Errorf("the shared request waits on %v, want apply", h)
	}
	select {
	case err := <-got:
		t.Fatalf("shared Lock returned while apply holds the lock: %v", err)
	default:
	}
	must(t, x.Unlock())
	must(t, <-got)
	must(t, shared.Unlock())
}

// An exclusive request that waits for shared holders holds back the shared
// requests that come after it, so that a stream of them cannot starve it;
// they proceed once it is done.
func testLockExclusiveNotStarved(t *testing.T, s state.Store) {
	ctx := context.Background()
	a, err := s.Lock(ctx, "env", lockInfo("checkout"), state.LockOptions{Shared: true})
	must(t, err)

	xWaits := make(chan state.LockInfo, 1)
	xGot := make(chan state.Unlocker, 1)
	go func() {
		u, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{
			Timeout: time.Minute, OnWait: func(h state.LockInfo) { xWaits <- h },
		})
		if err != nil {
			t.Errorf("exclusive Lock: %v", err)
		}
		xGot <- u
	}()
	if h := <-xWaits; h.Operation != "checkout" {
		t.Errorf("apply waits on %v, want the checkout", h)
	}
	// The apply is queued: a later shared request is refused at once.
	_, err = s.Lock(ctx, "env", lockInfo("checkin"), state.LockOptions{Shared: true})
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("shared Lock behind a waiting apply = %v, want *state.LockedError", err)
	}
	// And a waiting one gets the lock only after the apply.
	bWaits := make(chan state.LockInfo, 1)
	bGot := make(chan error, 1)
	var b state.Unlocker
	go func() {
		u, err := s.Lock(ctx, "env", lockInfo("checkin"), state.LockOptions{
			Shared: true, Timeout: time.Minute, OnWait: func(h state.LockInfo) { bWaits <- h },
		})
		b = u
		bGot <- err
	}()
	<-bWaits
	must(t, a.Unlock())
	x := <-xGot
	if x == nil {
		t.FailNow()
	}
	select {
	case err := <-bGot:
		t.Fatalf("shared Lock returned while apply holds the lock: %v", err)
	default:
	}
	must(t, x.Unlock())
	must(t, <-bGot)
	must(t, b.Unlock())
}

func testReserve(t *testing.T, s state.Store) {
	ctx := context.Background()
	cands := []string{"m1", "m2"}
	got1, err := s.Reserve(ctx, "pool", cands, "h1")
	must(t, err)
	got2, err := s.Reserve(ctx, "pool", cands, "h2")
	must(t, err)
	if _, err := s.Reserve(ctx, "pool", cands, "h3"); !errors.Is(err, state.ErrPoolExhausted) {
		t.Fatalf("third Reserve = %v, want ErrPoolExhausted", err)
	}
	// Another pool is independent.
	if _, err := s.Reserve(ctx, "other", cands, "h4"); err != nil {
		t.Fatalf("Reserve in another pool: %v", err)
	}
	res, err := s.Reservations(ctx, "pool")
	must(t, err)
	if diff := cmp.Diff(map[string]string{got1: "h1", got2: "h2"}, res); diff != "" {
		t.Errorf("Reservations (-want +got):\n%s", diff)
	}
	must(t, s.Release(ctx, "pool", got1))
	must(t, s.Release(ctx, "pool", got1)) // harmless
	must(t, s.Release(ctx, "nopool", "x"))
	got3, err := s.Reserve(ctx, "pool", cands, "h3")
	must(t, err)
	if got3 != got1 {
		t.Errorf("Reserve after Release = %q, want the released %q", got3, got1)
	}
	res, err = s.Reservations(ctx, "empty")
	must(t, err)
	if diff := cmp.Diff(map[string]string{}, res, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Reservations of an unknown pool (-want +got):\n%s", diff)
	}
}

func testReserveConcurrent(t *testing.T, s state.Store) {
	ctx := context.Background()
	cands := []string{"m1", "m2", "m3"}
	type result struct {
		member string
		err    error
	}
	results := make(chan result, 5)
	start := make(chan struct{})
	for i := range 5 {
		go func() {
			<-start
			m, err := s.Reserve(ctx, "pool", cands, fmt.Sprintf("holder%d", i))
			results <- result{m, err}
		}()
	}
	close(start)
	var members []string
	exhausted := 0
	for range 5 {
		r := <-results
		switch {
		case r.err == nil:
			members = append(members, r.member)
		case errors.Is(r.err, state.ErrPoolExhausted):
			exhausted++
		default:
			t.Errorf("Reserve: %v", r.err)
		}
	}
	sort.Strings(members)
	if diff := cmp.Diff(cands, members); diff != "" {
		t.Errorf("reserved members (-want +got):\n%s", diff)
	}
	if exhausted != 2 {
		t.Errorf("ErrPoolExhausted %d times, want 2", exhausted)
	}
}

func testConcurrentWrites(t *testing.T, s state.Store) {
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("%03d", i)
			env := []string{"a", "b"}[i%2]
			if err := s.Put(ctx, host(id, env)); err != nil {
				errs <- err
				return
			}
			if err := s.PutIntents(ctx, state.Intent{ID: "i" + id, Environment: env, Op: state.OpCreate}); err != nil {
				errs <- err
			}
			// Every third goroutine deletes what it wrote.
			if i%3 == 0 {
				if err := s.Delete(ctx, id); err != nil {
					errs <- err
				}
			}
			if _, err := s.Hosts(ctx, state.Query{Environment: env}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []string
	for i := range n {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("%03d", i))
		}
	}
	got, err := s.Hosts(ctx, state.Query{})
	must(t, err)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("hosts after concurrent writes (-want +got):\n%s", diff)
	}
	intents, err := s.Intents(ctx, "")
	must(t, err)
	if len(intents) != n {
		t.Errorf("%d intents after concurrent writes, want %d", len(intents), n)
	}
	// 50 puts of hosts, 50 of intents, 17 deletes, split over two
	// environments: serials count calls (or fewer, coalesced), never zero.
	for _, env := range []string{"a", "b"} {
		if n, err := s.Serial(ctx, env); err != nil || n == 0 {
			t.Errorf("Serial(%s) = %d, %v", env, n, err)
		}
	}
}
