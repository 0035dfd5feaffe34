package statetest

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/labbroker/broker/state"
)

// The optional capabilities (state/capabilities.go) are tested on every
// backend that implements them; a backend without one skips that test
// and says so. A wrapper such as state.Batcher hides them, so its runs
// skip these tests.

// capability returns s as T, or skips the test naming what s lacks.
func capability[T any](t *testing.T, s state.Store, name string) T {
	t.Helper()
	c, ok := s.(T)
	if !ok {
		t.Skipf("%T does not implement state.%s", s, name)
	}
	return c
}

func testLockHolder(t *testing.T, s state.Store) {
	lh := capability[state.LockHolder](t, s, "LockHolder")
	ctx := context.Background()
	holder := func(env string) (state.LockInfo, bool) {
		t.Helper()
		info, held, err := lh.LockHolder(ctx, env)
		must(t, err)
		return info, held
	}
	if info, held := holder("env"); held {
		t.Errorf("LockHolder of a free lock = %v, held", info)
	}
	u, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	info, held := holder("env")
	if !held {
		t.Fatalf("LockHolder of a held lock: not held")
	}
	if diff := cmp.Diff(lockInfo("apply"), info, cmpopts.EquateApproxTime(time.Second)); diff != "" {
		t.Errorf("LockHolder (-want +got):\n%s", diff)
	}
	// Asking does not take the lock, and other environments are free.
	if info, held := holder("other"); held {
		t.Errorf("LockHolder of another environment = %v, held", info)
	}
	if _, held := holder("env"); !held {
		t.Errorf("a second LockHolder found the lock free")
	}
	must(t, u.Unlock())
	if info, held := holder("env"); held {
		t.Errorf("LockHolder after Unlock = %v, held", info)
	}
}

func testForceUnlock(t *testing.T, s state.Store) {
	fu := capability[state.ForceUnlocker](t, s, "ForceUnlocker")
	ctx := context.Background()
	if info, held, err := fu.ForceUnlock(ctx, "env"); err != nil || held {
		t.Errorf("ForceUnlock of a free lock = %v, %v, %v; want not held", info, held, err)
	}
	u, err := s.Lock(ctx, "env", lockInfo("apply"), state.LockOptions{})
	must(t, err)
	other, err := s.Lock(ctx, "other", lockInfo("destroy"), state.LockOptions{})
	must(t, err)
	defer other.Unlock()

	info, held, err := fu.ForceUnlock(ctx, "env")
	must(t, err)
	if !held {
		t.Fatalf("ForceUnlock of a held lock: not held")
	}
	if diff := cmp.Diff(lockInfo("apply"), info, cmpopts.EquateApproxTime(time.Second)); diff != "" {
		t.Errorf("ForceUnlock holder (-want +got):\n%s", diff)
	}
	// The holder learns it lost the lock, where its lock can tell.
	if ln, ok := u.(state.LossNotifier); ok {
		<-ln.Lost()
	}
	if info, held, err := fu.LockHolder(ctx, "env"); err != nil || held {
		t.Errorf("LockHolder after ForceUnlock = %v, %v, %v; want free", info, held, err)
	}
	// Another process takes the lock at once; the old holder's Unlock
	// neither fails nor frees the new holder's lock.
	u2, err := s.Lock(ctx, "env", lockInfo("checkout"), state.LockOptions{})
	must(t, err)
	must(t, u.Unlock())
	var le *state.LockedError
	if _, err := s.Lock(ctx, "env", lockInfo("destroy"), state.LockOptions{}); !errors.As(err, &le) {
		t.Errorf("Lock after the old holder's Unlock = %v, want *state.LockedError", err)
	}
	must(t, u2.Unlock())
	// Only env's lock was broken.
	if _, held, err := fu.LockHolder(ctx, "other"); err != nil || !held {
		t.Errorf("LockHolder of another environment after ForceUnlock: held %v, %v", held, err)
	}
}

func testPools(t *testing.T, s state.Store) {
	pl := capability[state.PoolLister](t, s, "PoolLister")
	ctx := context.Background()
	pools := func() []string {
		t.Helper()
		p, err := pl.Pools(ctx)
		must(t, err)
		sort.Strings(p)
		return p
	}
	if got := pools(); len(got) != 0 {
		t.Errorf("Pools of an empty store = %q", got)
	}
	for _, pool := range []string{"static.lab", "with/slash", "ünïcode pool"} {
		_, err := s.Reserve(ctx, pool, []string{"m1", "m2"}, "h1")
		must(t, err)
	}
	_, err := s.Reserve(ctx, "static.lab", []string{"m1", "m2"}, "h2")
	must(t, err)
	want := []string{"static.lab", "with/slash", "ünïcode pool"}
	sort.Strings(want)
	if diff := cmp.Diff(want, pools()); diff != "" {
		t.Errorf("Pools (-want +got):\n%s", diff)
	}
	// A pool whose members are all free again is not listed.
	must(t, s.Release(ctx, "with/slash", "m1"))
	if diff := cmp.Diff([]string{"static.lab", "ünïcode pool"}, pools()); diff != "" {
		t.Errorf("Pools after releasing a pool's only member (-want +got):\n%s", diff)
	}
}

func testSetSerial(t *testing.T, s state.Store) {
	ss := capability[state.SerialSetter](t, s, "SerialSetter")
	ctx := context.Background()
	serial := func(env string) uint64 {
		t.Helper()
		n, err := s.Serial(ctx, env)
		must(t, err)
		return n
	}
	must(t, s.Put(ctx, host("1", "a")))
	must(t, ss.SetSerial(ctx, "a", 40))
	if n := serial("a"); n != 40 {
		t.Errorf("Serial after SetSerial(40) = %d", n)
	}
	// Later writes count on from the set value.
	must(t, s.Put(ctx, host("2", "a")))
	if n := serial("a"); n != 41 {
		t.Errorf("Serial after SetSerial(40) and a write = %d, want 41", n)
	}
	// Setting the current value is harmless; setting it back is refused
	// and changes nothing.
	must(t, ss.SetSerial(ctx, "a", 41))
	if err := ss.SetSerial(ctx, "a", 7); err == nil {
		t.Errorf("SetSerial back from 41 to 7 succeeded")
	}
	if n := serial("a"); n != 41 {
		t.Errorf("Serial after a refused SetSerial = %d, want 41", n)
	}
	// An environment without records gets the serial too, and others are
	// untouched.
	must(t, ss.SetSerial(ctx, "fresh", 9))
	if n := serial("fresh"); n != 9 {
		t.Errorf("Serial of a fresh environment after SetSerial(9) = %d", n)
	}
	if n := serial("b"); n != 0 {
		t.Errorf("Serial of an untouched environment = %d", n)
	}
}

func testIdentity(t *testing.T, s state.Store) {
	idr := capability[state.Identifier](t, s, "Identifier")
	ctx := context.Background()
	// Many callers at once (runners sharing a fresh state) agree on one id.
	ids := make([]string, 8)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = idr.Identity(ctx) })
	}
	wg.Wait()
	for i := range ids {
		must(t, errs[i])
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("concurrent Identity calls gave %q", ids)
		}
	}
	// Writes do not change it.
	must(t, s.Put(ctx, host("01", "a")))
	again, err := idr.Identity(ctx)
	must(t, err)
	if again != ids[0] {
		t.Errorf("Identity after a write = %q, was %q", again, ids[0])
	}
	if is, ok := s.(state.IdentitySetter); ok {
		must(t, is.SetIdentity(ctx, "copied0000000000"))
		got, err := idr.Identity(ctx)
		must(t, err)
		if got != "copied0000000000" {
			t.Errorf("Identity after SetIdentity = %q", got)
		}
	}
}

func testValues(t *testing.T, s state.Store) {
	vs := capability[state.ValueStore](t, s, "ValueStore")
	ctx := context.Background()
	list := func(env, kind string) []state.Value {
		t.Helper()
		out, err := vs.Values(ctx, env, kind)
		must(t, err)
		return out
	}
	ignore := cmpopts.IgnoreFields(state.Value{}, "Updated")
	if got := list("env", ""); len(got) != 0 {
		t.Fatalf("Values of an empty state = %v", got)
	}
	out := func(name string, v any) state.Value {
		return state.Value{Environment: "env", Kind: state.KindOutput, Name: name, Value: v}
	}
	act := state.Value{Environment: "env", Kind: state.KindAction, Name: "integrate", Digest: "d1", Status: "done",
		Value: map[string]any{"artifacts": map[string]any{"ok": true}}}
	must(t, vs.PutValues(ctx, out("b", "x"), out("a/b", []any{"1", "2"}), act,
		state.Value{Environment: "other", Kind: state.KindOutput, Name: "a", Value: "other's", Sensitive: true}))
	want := []state.Value{act, out("a/b", []any{"1", "2"}), out("b", "x")}
	if d := cmp.Diff(want, list("env", ""), ignore); d != "" {
		t.Errorf("Values(env) (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want[1:], list("env", state.KindOutput), ignore); d != "" {
		t.Errorf("Values(env, output) (-want +got):\n%s", d)
	}
	if got := list("env", ""); got[0].Updated.IsZero() {
		t.Error("PutValues did not set Updated")
	}
	// Replaced by name.
	must(t, vs.PutValues(ctx, out("b", "y")))
	if got := list("env", state.KindOutput); len(got) != 2 || got[1].Value != "y" {
		t.Errorf("after replacing b: %v", got)
	}
	must(t, vs.DeleteValues(ctx, "env", state.KindOutput, "a/b", "missing"))
	if d := cmp.Diff([]state.Value{act, out("b", "y")}, list("env", ""), ignore); d != "" {
		t.Errorf("after deleting a/b (-want +got):\n%s", d)
	}
	must(t, vs.DeleteValues(ctx, "env", state.KindOutput))
	if d := cmp.Diff([]state.Value{act}, list("env", ""), ignore); d != "" {
		t.Errorf("after deleting every output (-want +got):\n%s", d)
	}
	if got := list("other", ""); len(got) != 1 || !got[0].Sensitive {
		t.Errorf("other environment's values: %v", got)
	}
	envs, err := s.Environments(ctx)
	must(t, err)
	if len(envs) != 0 {
		t.Errorf("Environments = %v: values alone do not make an environment hold records", envs)
	}
}
