package statetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/labbroker/broker/state"
)

// RunCopy tests state.Copy from stores made by src into stores made by
// dst (each call returns a fresh, empty store; RunCopy closes it). The
// expectations follow the capabilities each side implements.
func RunCopy(t *testing.T, src, dst func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, src, dst state.Store)
	}{
		{"Everything", testCopyEverything},
		{"RefusesNonEmpty", testCopyRefusesNonEmpty},
		{"Force", testCopyForce},
		{"NamedPools", testCopyNamedPools},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := src(t), dst(t)
			t.Cleanup(func() {
				for _, st := range []state.Store{s, d} {
					if err := st.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				}
			})
			tt.fn(t, s, d)
		})
	}
}

// fill writes records, intents, reservations and some serial history
// into s.
func fill(t *testing.T, s state.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.Put(ctx, host("01", "a"), host("02", "a"), host("03", "b")))
	must(t, s.Put(ctx, host("04", "b")))
	must(t, s.Delete(ctx, "04"))
	must(t, s.PutIntents(ctx,
		state.Intent{ID: "i1", Environment: "a", Address: "host.web[1]", Op: state.OpCreate, Provider: "sim", Instance: "default", HostID: "05"},
		state.Intent{ID: "i2", Environment: "c", Op: state.OpDestroy, Provider: "sim", Instance: "default", HostID: "06"}))
	for _, r := range []state.Reservation{
		{Pool: "static.lab", Member: "lab1", Holder: "a/host.web[0]"},
		{Pool: "static.lab", Member: "lab2", Holder: "b/host.web[0]"},
		{Pool: "with/slash", Member: "m:22", Holder: "a/host.db[0]"},
	} {
		_, err := s.Reserve(ctx, r.Pool, []string{r.Member}, r.Holder)
		must(t, err)
	}
	if vs, ok := s.(state.ValueStore); ok {
		must(t, vs.PutValues(ctx, state.Value{Environment: "a", Kind: state.KindOutput, Name: "ip", Value: "10.0.0.1"}))
	}
}

// contents is what Copy carries over.
type contents struct {
	Hosts        []state.Host
	Intents      []state.Intent
	Reservations map[string]map[string]string
}

func read(t *testing.T, s state.Store, pools ...string) contents {
	t.Helper()
	ctx := context.Background()
	var c contents
	var err error
	c.Hosts, err = s.Hosts(ctx, state.Query{})
	must(t, err)
	c.Intents, err = s.Intents(ctx, "")
	must(t, err)
	c.Reservations = map[string]map[string]string{}
	for _, p := range pools {
		res, err := s.Reservations(ctx, p)
		must(t, err)
		if len(res) > 0 {
			c.Reservations[p] = res
		}
	}
	return c
}

func serials(t *testing.T, s state.Store, envs ...string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, env := range envs {
		n, err := s.Serial(context.Background(), env)
		must(t, err)
		out[env] = n
	}
	return out
}

var allPools = []string{"static.lab", "with/slash", "named"}

func testCopyEverything(t *testing.T, src, dst state.Store) {
	ctx := context.Background()
	fill(t, src)
	before := read(t, src, allPools...)
	srcSerials := serials(t, src, "a", "b", "c")

	got, err := state.Copy(ctx, dst, src, state.CopyOptions{})
	must(t, err)
	_, lists := src.(state.PoolLister)
	_, sets := dst.(state.SerialSetter)
	ids := identities(t, src, dst)
	want := state.CopyResult{Environments: 3, Hosts: 3, Intents: 2, PoolsListed: lists, SerialsCopied: sets, IdentityCopied: ids}
	_, srcValues := src.(state.ValueStore)
	dvs, dstValues := dst.(state.ValueStore)
	if srcValues && dstValues {
		want.Values = 1
		vals, err := dvs.Values(ctx, "a", state.KindOutput)
		must(t, err)
		if len(vals) != 1 || vals[0].Value != "10.0.0.1" {
			t.Errorf("target's outputs of a: %v", vals)
		}
	}
	if lists {
		want.Reservations = 3
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CopyResult (-want +got):\n%s", diff)
	}

	// The source is unchanged; the target holds the same records.
	if diff := cmp.Diff(before, read(t, src, allPools...), ignoreTimes, ignoreIntentTimes); diff != "" {
		t.Errorf("source changed (-before +after):\n%s", diff)
	}
	copied := read(t, dst, allPools...)
	if !lists {
		before.Reservations = map[string]map[string]string{}
	}
	if diff := cmp.Diff(before, copied, ignoreTimes, ignoreIntentTimes); diff != "" {
		t.Errorf("target (-source +target):\n%s", diff)
	}
	envs, err := dst.Environments(ctx)
	must(t, err)
	if diff := cmp.Diff([]string{"a", "b", "c"}, envs); diff != "" {
		t.Errorf("target's environments (-want +got):\n%s", diff)
	}

	// A target that can set serials carries the source's on, so that a
	// plan saved against the source applies to the target.
	if sets {
		if diff := cmp.Diff(srcSerials, serials(t, dst, "a", "b", "c")); diff != "" {
			t.Errorf("target's serials (-source +target):\n%s", diff)
		}
	}

	// An empty target takes the source's identity, so that what the
	// source's broker made is this state's in the target too.
	if ids {
		if s, d := identity(t, src), identity(t, dst); s != d {
			t.Errorf("target's identity %q, want the source's %q", d, s)
		}
	}
}

// identities reports whether src and dst can carry an identity over.
func identities(t *testing.T, src, dst state.Store) bool {
	t.Helper()
	_, ok1 := src.(state.Identifier)
	_, ok2 := dst.(state.IdentitySetter)
	return ok1 && ok2
}

func identity(t *testing.T, s state.Store) string {
	t.Helper()
	id, err := s.(state.Identifier).Identity(context.Background())
	must(t, err)
	return id
}

func testCopyRefusesNonEmpty(t *testing.T, src, dst state.Store) {
	ctx := context.Background()
	fill(t, src)
	must(t, dst.Put(ctx, host("99", "z")))
	must(t, dst.PutIntents(ctx, state.Intent{ID: "i9", Environment: "z", Op: state.OpCreate}))
	before := read(t, dst, allPools...)
	beforeSerials := serials(t, dst, "a", "b", "c", "z")

	_, err := state.Copy(ctx, dst, src, state.CopyOptions{})
	var ne *state.NotEmptyError
	if !errors.As(err, &ne) {
		t.Fatalf("Copy into a non-empty target = %v, want *state.NotEmptyError", err)
	}
	if ne.Hosts != 1 || ne.Intents != 1 {
		t.Errorf("NotEmptyError counts %d hosts and %d intents, want 1 and 1", ne.Hosts, ne.Intents)
	}
	if got, want := ne.Error(), "the target already holds 1 host records and 1 intents"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	ne.Target = "bolt:x.db"
	if got, want := ne.Error(), "the target bolt:x.db already holds 1 host records and 1 intents"; got != want {
		t.Errorf("error naming the target %q, want %q", got, want)
	}
	if diff := cmp.Diff(before, read(t, dst, allPools...), ignoreTimes, ignoreIntentTimes); diff != "" {
		t.Errorf("a refused Copy changed the target (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeSerials, serials(t, dst, "a", "b", "c", "z")); diff != "" {
		t.Errorf("a refused Copy changed serials (-before +after):\n%s", diff)
	}
}

func testCopyForce(t *testing.T, src, dst state.Store) {
	ctx := context.Background()
	fill(t, src)
	// The target has a record of its own, an older copy of one of the
	// source's, one of the source's members reserved by another holder,
	// and a higher serial in one environment.
	old := host("01", "a")
	old.Hostname = "stale.sim.test"
	must(t, dst.Put(ctx, host("99", "z"), old))
	_, err := dst.Reserve(ctx, "static.lab", []string{"lab2"}, "z/host.web[0]")
	must(t, err)
	for range 20 {
		must(t, dst.Put(ctx, host("98", "b")))
	}
	dstSerialB := serials(t, dst, "b")["b"]
	var dstID string
	if identities(t, src, dst) {
		dstID = identity(t, dst)
	}

	got, err := state.Copy(ctx, dst, src, state.CopyOptions{Force: true})
	must(t, err)
	_, lists := src.(state.PoolLister)
	_, sets := dst.(state.SerialSetter)
	want := state.CopyResult{Environments: 3, Hosts: 3, Intents: 2, PoolsListed: lists, SerialsCopied: sets}
	_, srcValues := src.(state.ValueStore)
	if _, dstValues := dst.(state.ValueStore); srcValues && dstValues {
		want.Values = 1
	}
	if lists {
		want.Reservations = 2
		want.Kept = []state.Reservation{{Pool: "static.lab", Member: "lab2", Holder: "b/host.web[0]"}}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CopyResult (-want +got):\n%s", diff)
	}
	h, err := dst.Host(ctx, "01")
	must(t, err)
	if h.Hostname != host("01", "a").Hostname {
		t.Errorf("record 01 in the target has hostname %q, want the source's", h.Hostname)
	}
	hosts, err := dst.Hosts(ctx, state.Query{})
	must(t, err)
	if diff := cmp.Diff([]string{"01", "02", "03", "98", "99"}, ids(hosts)); diff != "" {
		t.Errorf("target's records (-want +got):\n%s", diff)
	}
	res, err := dst.Reservations(ctx, "static.lab")
	must(t, err)
	wantRes := map[string]string{"lab2": "z/host.web[0]"}
	if lists {
		wantRes["lab1"] = "a/host.web[0]"
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("target's reservations (-want +got):\n%s", diff)
	}
	// A serial is never moved back.
	if n := serials(t, dst, "b")["b"]; n < dstSerialB {
		t.Errorf("target's serial of b went back from %d to %d", dstSerialB, n)
	}
	// A target that held records keeps its identity: its own resources
	// must not become foreign to it.
	if dstID != "" {
		if got := identity(t, dst); got != dstID {
			t.Errorf("forced copy changed the target's identity from %q to %q", dstID, got)
		}
	}
}

// Pools named in the options are copied whether or not the source lists
// its pools; a source that cannot list them copies only those.
func testCopyNamedPools(t *testing.T, src, dst state.Store) {
	ctx := context.Background()
	fill(t, src)
	// A source that cannot list its pools: hide the capability.
	hidden := struct{ state.Store }{src}
	got, err := state.Copy(ctx, dst, hidden, state.CopyOptions{Pools: []string{"with/slash", "named", "with/slash"}})
	must(t, err)
	if got.PoolsListed || got.Reservations != 1 {
		t.Errorf("Copy from a source without PoolLister: PoolsListed %v, %d reservations; want false, 1", got.PoolsListed, got.Reservations)
	}
	c := read(t, dst, allPools...)
	want := map[string]map[string]string{"with/slash": {"m:22": "a/host.db[0]"}}
	if diff := cmp.Diff(want, c.Reservations, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("target's reservations (-want +got):\n%s", diff)
	}
}
