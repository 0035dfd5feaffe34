package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/providertest"
	"github.com/labbroker/broker/state"
)

// outcomes maps each result's address to "outcome" or "outcome: error".
func outcomes(res *Result) map[string]string {
	m := map[string]string{}
	for _, c := range res.Changes {
		s := c.Outcome.String()
		if c.Err != nil {
			s += ": " + c.Err.Error()
		}
		m[c.Address] = s
	}
	return m
}

// TestDependencyOrder proves that a change starts only once what it
// depends on is recorded ready: B depends on A, A's setup is held on a
// channel, and B is not called while it is held although C, independent,
// has finished.
func TestDependencyOrder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	releaseSetup := make(chan struct{})
	inSetup := make(chan struct{})
	cDone := make(chan struct{})
	var sawA state.Status = -1
	fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		if req.Address == "host.b[0]" {
			hs, err := st.Hosts(ctx, state.Query{Environment: env})
			if err != nil {
				return providers.CheckoutResponse{}, err
			}
			for _, h := range hs {
				if h.Address == "host.a[0]" {
					sawA = h.Status
				}
			}
		}
		return fake.DefaultCheckout(ctx, req)
	}
	opts := baseOptions(st, f, ObserverFunc(func(e Event) {
		if e.Address == "host.c[0]" && e.Kind == EventDone {
			close(cDone)
		}
	}))
	opts.AfterCheckout = func(ctx context.Context, h *state.Host, c planner.Change, emit func(Event)) error {
		if c.Address == "host.a[0]" {
			close(inSetup)
			<-releaseSetup
		}
		return nil
	}
	p := plan(createChange("host.b[0]", "host.a[0]"), createChange("host.a[0]"), createChange("host.c[0]"))
	type out struct {
		res *Result
		err error
	}
	done := make(chan out)
	go func() {
		res, err := Apply(ctx, p, opts)
		done <- out{res, err}
	}()
	<-inSetup
	<-cDone
	if got := fake.Calls()["checkout"]; got != 2 {
		t.Errorf("while A is in setup, %d checkouts were called, want 2 (A and C)", got)
	}
	close(releaseSetup)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if err := o.res.Err(); err != nil {
		t.Fatal(err)
	}
	if sawA != state.StatusReady {
		t.Errorf("B's checkout saw A %s, want ready", sawA)
	}
	var order []string
	for _, r := range fake.CheckoutRequests {
		order = append(order, r.Address)
	}
	if diff := cmp.Diff("host.b[0]", order[2]); diff != "" {
		t.Errorf("B was not checked out last: %v", order)
	}
	// Results come in plan order.
	var got []string
	for _, c := range o.res.Changes {
		got = append(got, c.Address)
	}
	if diff := cmp.Diff([]string{"host.b[0]", "host.a[0]", "host.c[0]"}, got); diff != "" {
		t.Errorf("result order (-want +got):\n%s", diff)
	}
}

func TestFailureSkipsDependantsOnly(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		if req.Address == "host.a[0]" {
			return providers.CheckoutResponse{}, errors.New("no capacity")
		}
		return fake.DefaultCheckout(ctx, req)
	}
	rec := &recorder{}
	p := plan(
		createChange("host.a[0]"),
		createChange("host.b[0]", "host.a[0]"),
		createChange("host.c[0]", "host.b[0]"),
		createChange("host.d[0]"),
		createChange("host.e[0]", "host.d[0]", "host.gone[0]"), // unknown address: met
	)
	res, err := Apply(ctx, p, baseOptions(st, f, rec))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"host.a[0]": "failed: checkout: no capacity",
		"host.b[0]": "skipped: depends on host.a[0], which failed",
		"host.c[0]": "skipped: depends on host.a[0], which failed",
		"host.d[0]": "done",
		"host.e[0]": "done",
	}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	var de *DependencyError
	if !errors.As(res.Changes[2].Err, &de) || de.Address != "host.a[0]" {
		t.Errorf("c's error = %v, want a DependencyError naming host.a[0]", res.Changes[2].Err)
	}
	if diff := cmp.Diff([]string{"skipped: depends on host.a[0], which failed"}, rec.lines("host.c[0]")); diff != "" {
		t.Errorf("c's events (-want +got):\n%s", diff)
	}
	if got, want := res.Summary(), "2 checked out, 1 failed, 2 skipped"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if res.Failed() != 1 || res.Interrupted {
		t.Errorf("failed = %d, interrupted = %v; want 1, false", res.Failed(), res.Interrupted)
	}
	if got := len(briefs(t, st)); got != 2 {
		t.Errorf("%d records, want 2", got)
	}
}

func TestDependencyCycle(t *testing.T) {
	st := openStore(t)
	f := &fakes{}
	p := plan(createChange("host.a[0]", "host.b[0]"), createChange("host.b[0]", "host.a[0]"), createChange("host.c[0]"))
	res, err := Apply(context.Background(), p, baseOptions(st, f, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"host.a[0]": "failed: dependency cycle through host.a[0]",
		"host.b[0]": "skipped: depends on host.a[0], which failed",
		"host.c[0]": "done",
	}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

// maxCounter tracks how many calls are in flight and the most ever seen.
type maxCounter struct{ cur, max atomic.Int64 }

func (m *maxCounter) enter() {
	n := m.cur.Add(1)
	for {
		old := m.max.Load()
		if n <= old || m.max.CompareAndSwap(old, n) {
			return
		}
	}
}

func (m *maxCounter) leave() { m.cur.Add(-1) }

// TestParallelismBound blocks every checkout until the expected bound of
// concurrent checkouts is reached, then releases them all; the highest
// concurrency seen must be exactly the bound.
func TestParallelismBound(t *testing.T) {
	tests := []struct {
		name        string
		hosts       int
		instances   []string // round robin
		parallelism int
		maxConc     map[string]int
		wantMax     int
		wantPerInst map[string]int64
	}{
		{"parallelism", 20, []string{"a"}, 5, nil, 5, map[string]int64{"a": 5}},
		{"max concurrency per instance", 20, []string{"a", "b"}, 10, map[string]int{"a": 2, "b": 2}, 4, map[string]int64{"a": 2, "b": 2}},
		{"one instance bounded", 12, []string{"a", "b"}, 10, map[string]int{"a": 1}, 7, map[string]int64{"a": 1, "b": 6}},
		{"parallelism below max concurrency", 30, []string{"a", "b"}, 3, map[string]int{"a": 5, "b": 5}, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			f := &fakes{}
			var all maxCounter
			per := map[string]*maxCounter{}
			entered := make(chan struct{}, tt.hosts)
			release := make(chan struct{})
			for _, inst := range tt.instances {
				fake := f.get(inst)
				m := &maxCounter{}
				per[inst] = m
				fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
					all.enter()
					m.enter()
					entered <- struct{}{}
					<-release
					m.leave()
					all.leave()
					return fake.DefaultCheckout(ctx, req)
				}
			}
			var changes []planner.Change
			for i := range tt.hosts {
				c := createChange(fmt.Sprintf("host.web[%d]", i))
				c.After.Instance = tt.instances[i%len(tt.instances)]
				changes = append(changes, c)
			}
			opts := baseOptions(st, f, nil)
			opts.Parallelism = tt.parallelism
			opts.MaxConcurrency = func(typ, inst string) int { return tt.maxConc[inst] }
			done := make(chan *Result)
			go func() {
				res, err := Apply(context.Background(), plan(changes...), opts)
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			for range tt.wantMax {
				<-entered
			}
			close(release)
			res := <-done
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if got := all.max.Load(); got != int64(tt.wantMax) {
				t.Errorf("most checkouts at once = %d, want %d", got, tt.wantMax)
			}
			if tt.wantPerInst != nil {
				got := map[string]int64{}
				for inst, m := range per {
					got[inst] = m.max.Load()
				}
				if diff := cmp.Diff(tt.wantPerInst, got); diff != "" {
					t.Errorf("most checkouts at once per instance (-want +got):\n%s", diff)
				}
			}
			if got := len(briefs(t, st)); got != tt.hosts {
				t.Errorf("%d records, want %d", got, tt.hosts)
			}
		})
	}
}

func TestResumePassesTheIntent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	fake.AddHost(providers.HostInfo{ProviderID: "p-7", Labels: map[string]string{providers.LabelIntent: "i1"}})
	in := state.Intent{ID: "i1", Environment: env, Address: "host.web[0]", Op: state.OpCreate,
		Provider: "fake", Instance: "a", HostID: "h1", ProviderID: "p-7", Checkpoint: map[string]string{"job": "42"}}
	if err := st.PutIntents(ctx, in); err != nil {
		t.Fatal(err)
	}
	c := createChange("host.web[0]")
	c.Resume = &in
	rec := &recorder{}
	res, err := Apply(ctx, plan(c), baseOptions(st, f, rec))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	req := fake.CheckoutRequests[0]
	if diff := cmp.Diff(&providers.Resume{IntentID: "i1", ProviderID: "p-7", Checkpoint: map[string]string{"job": "42"}}, req.Resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	if got := req.Labels[providers.LabelIntent]; got != "i1" {
		t.Errorf("intent label = %q, want i1", got)
	}
	if got := res.Changes[0].HostID; got != "h1" {
		t.Errorf("host id = %q, want the intent's h1", got)
	}
	if _, err := st.Host(ctx, "h1"); err != nil {
		t.Errorf("record h1: %v", err)
	}
	if diff := cmp.Diff([]string{"start", "phase_start checkout", "phase_done checkout", "note: resumed an interrupted checkout", "done"}, rec.lines("host.web[0]")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if in := intents(t, st); len(in) != 0 {
		t.Errorf("intents left: %+v", in)
	}
}

// TestCheckpointLandsDuringCheckout holds a checkout after its checkpoint
// and reads the intent while it is held: a process killed now would leave
// what the next run needs to resume.
func TestCheckpointLandsDuringCheckout(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	checkpointed := make(chan string)
	release := make(chan struct{})
	fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: "p-9", Data: map[string]string{"job": "77"}}); err != nil {
			return providers.CheckoutResponse{}, err
		}
		checkpointed <- req.Labels[providers.LabelID]
		<-release
		return providers.CheckoutResponse{Hosts: []providers.HostInfo{{ProviderID: "p-9"}}}, nil
	}
	done := make(chan *Result)
	go func() {
		res, _ := Apply(ctx, plan(createChange("host.web[0]")), baseOptions(st, f, nil))
		done <- res
	}()
	hostID := <-checkpointed
	got := intents(t, st)
	want := []state.Intent{{Environment: env, Address: "host.web[0]", Op: state.OpCreate, Provider: "fake", Instance: "a",
		HostID: hostID, Recipe: map[string]any{"image": "alpine"}, ProviderID: "p-9", Checkpoint: map[string]string{"job": "77"},
		Origin: state.Origin{User: "qe", Machine: "runner1", Command: "apply"}}}
	for i := range got {
		if got[i].ID == "" || got[i].Created.IsZero() || got[i].Updated.IsZero() {
			t.Errorf("intent without id or times: %+v", got[i])
		}
		got[i].ID, got[i].Created, got[i].Updated = "", time.Time{}, time.Time{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("intent during checkout (-want +got):\n%s", diff)
	}
	close(release)
	res := <-done
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]brief{{Address: "host.web[0]", ProviderID: "p-9", Status: state.StatusReady, Expires: now.Add(time.Hour)}}, briefs(t, st)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if in := intents(t, st); len(in) != 0 {
		t.Errorf("intents left: %+v", in)
	}
}

func TestCancelMidCheckoutKeepsTheIntent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	entered := make(chan struct{})
	fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: "p-5"}); err != nil {
			return providers.CheckoutResponse{}, err
		}
		close(entered)
		<-ctx.Done()
		return providers.CheckoutResponse{}, ctx.Err()
	}
	rec := &recorder{}
	opts := baseOptions(st, f, rec)
	opts.Parallelism = 1
	done := make(chan *Result)
	go func() {
		res, _ := Apply(ctx, plan(createChange("host.a[0]"), createChange("host.b[0]")), opts)
		done <- res
	}()
	<-entered
	cancel()
	res := <-done
	want := map[string]string{
		"host.a[0]": "failed: checkout: context canceled",
		"host.b[0]": "skipped: interrupted",
	}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if !res.Interrupted || !errors.Is(res.Changes[1].Err, ErrInterrupted) {
		t.Errorf("interrupted = %v, b's error = %v", res.Interrupted, res.Changes[1].Err)
	}
	in := intents(t, st)
	if len(in) != 1 || in[0].ProviderID != "p-5" || in[0].Address != "host.a[0]" {
		t.Errorf("intents = %+v, want the interrupted checkout's with provider id p-5", in)
	}
	if got := briefs(t, st); len(got) != 0 {
		t.Errorf("records = %+v, want none", got)
	}
	if diff := cmp.Diff(map[string]int{"checkout": 1}, fake.Calls()); diff != "" {
		t.Errorf("provider calls (-want +got):\n%s", diff)
	}
	wantEvents := []string{"start", "phase_start checkout", "phase_done checkout error: context canceled",
		"note: interrupted: the intent stays for the next run to resume or clean up", "failed error: checkout: context canceled"}
	if diff := cmp.Diff(wantEvents, rec.lines("host.a[0]")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestStopSkipsUnstarted(t *testing.T) {
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	entered := make(chan struct{})
	release := make(chan struct{})
	fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		if req.Address == "host.a[0]" {
			close(entered)
			<-release
		}
		return fake.DefaultCheckout(ctx, req)
	}
	stop := make(chan struct{})
	opts := baseOptions(st, f, nil)
	opts.Parallelism = 1
	opts.Stop = stop
	done := make(chan *Result)
	go func() {
		res, _ := Apply(context.Background(), plan(createChange("host.a[0]"), createChange("host.b[0]"), createChange("host.c[0]")), opts)
		done <- res
	}()
	<-entered
	close(stop)
	close(release)
	res := <-done
	want := map[string]string{
		"host.a[0]": "done",
		"host.b[0]": "skipped: interrupted",
		"host.c[0]": "skipped: interrupted",
	}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if !res.Interrupted || !errors.Is(res.Err(), ErrInterrupted) {
		t.Errorf("interrupted = %v, err = %v", res.Interrupted, res.Err())
	}
	if got := briefs(t, st); len(got) != 1 || got[0].Address != "host.a[0]" || got[0].Status != state.StatusReady {
		t.Errorf("records = %+v, want host.a[0] ready", got)
	}
	if got := res.Summary(); got != "1 checked out, 2 skipped" {
		t.Errorf("summary = %q", got)
	}
}

func TestStopBeforeStart(t *testing.T) {
	st := openStore(t)
	f := &fakes{}
	stop := make(chan struct{})
	close(stop)
	opts := baseOptions(st, f, nil)
	opts.Stop = stop
	res, err := Apply(context.Background(), plan(createChange("host.a[0]"), createChange("host.b[0]", "host.a[0]")), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"host.a[0]": "skipped: interrupted", "host.b[0]": "skipped: interrupted"}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if got := f.get("a").Calls(); len(got) != 0 {
		t.Errorf("provider calls = %v, want none", got)
	}
}

func TestCheckoutFailureCleansUp(t *testing.T) {
	makeThenFail := func(p *providertest.Provider) {
		p.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
			if _, err := p.DefaultCheckout(ctx, req); err != nil {
				return providers.CheckoutResponse{}, err
			}
			return providers.CheckoutResponse{}, errors.New("quota exceeded")
		}
	}
	tests := []struct {
		name        string
		basic       bool
		fn          func(p *providertest.Provider)
		wantCalls   map[string]int
		wantNotes   []string
		wantLeft    int // hosts left at the fake
		wantIntents int
	}{
		{
			name:      "found by label",
			fn:        makeThenFail,
			wantCalls: map[string]int{"checkout": 1, "sync": 1, "checkin": 1},
			wantNotes: []string{"note: checked in 1 leftovers of the failed checkout"},
		},
		{
			name:      "found by checkpoint",
			basic:     true,
			fn:        makeThenFail,
			wantCalls: map[string]int{"checkout": 1, "checkin": 1},
			wantNotes: []string{"note: checked in 1 leftovers of the failed checkout"},
		},
		{
			name: "nothing left",
			fn: func(p *providertest.Provider) {
				p.CheckoutFn = func(context.Context, providers.CheckoutRequest) (providers.CheckoutResponse, error) {
					return providers.CheckoutResponse{}, errors.New("quota exceeded")
				}
			},
			wantCalls: map[string]int{"checkout": 1, "sync": 1},
		},
		{
			name: "clean-up fails: the intent stays",
			fn: func(p *providertest.Provider) {
				makeThenFail(p)
				p.CheckinFn = func(context.Context, providers.CheckinRequest) (providers.CheckinResponse, error) {
					return providers.CheckinResponse{}, errors.New("api down")
				}
			},
			wantCalls:   map[string]int{"checkout": 1, "sync": 1, "checkin": 1},
			wantNotes:   []string{"note: could not clean up after the failed checkout, the intent stays for the next run: checkin fake-1: api down"},
			wantLeft:    1,
			wantIntents: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			f := &fakes{}
			fake := f.get("a")
			tt.fn(fake)
			if tt.basic {
				f.wrap = func(_ string, p *providertest.Provider) providers.Provider { return basic{p} }
			}
			rec := &recorder{}
			res, err := Apply(context.Background(), plan(createChange("host.a[0]")), baseOptions(st, f, rec))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{"host.a[0]": "failed: checkout: quota exceeded"}, outcomes(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if res.Changes[0].Host != nil {
				t.Errorf("result host = %+v, want none", res.Changes[0].Host)
			}
			if diff := cmp.Diff(tt.wantCalls, fake.Calls()); diff != "" {
				t.Errorf("provider calls (-want +got):\n%s", diff)
			}
			var notes []string
			for _, l := range rec.lines("host.a[0]") {
				if strings.HasPrefix(l, "note:") {
					notes = append(notes, l)
				}
			}
			if diff := cmp.Diff(tt.wantNotes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			if got := len(fake.Hosts()); got != tt.wantLeft {
				t.Errorf("%d hosts left at the provider, want %d", got, tt.wantLeft)
			}
			if got := len(intents(t, st)); got != tt.wantIntents {
				t.Errorf("%d intents, want %d", got, tt.wantIntents)
			}
			if got := briefs(t, st); len(got) != 0 {
				t.Errorf("records = %+v, want none", got)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		err         error
		wantOutcome string
		wantCalls   int
	}{
		{"temporary twice", 2, tempError{"busy"}, "done", 3},
		{"temporary always", 5, tempError{"busy"}, "failed: checkout: busy", 3},
		{"wrapped temporary", 1, fmt.Errorf("awx: %w", tempError{"502"}), "done", 2},
		{"permanent", 5, errors.New("bad image"), "failed: checkout: bad image", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			f := &fakes{}
			fake := f.get("a")
			var calls int
			var mu sync.Mutex
			fake.CheckoutFn = func(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if n <= tt.failures {
					return providers.CheckoutResponse{}, tt.err
				}
				return fake.DefaultCheckout(ctx, req)
			}
			res, err := Apply(context.Background(), plan(createChange("host.a[0]")), baseOptions(st, f, nil))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{"host.a[0]": tt.wantOutcome}, outcomes(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if fake.CheckoutCalled != tt.wantCalls {
				t.Errorf("checkout called %d times, want %d", fake.CheckoutCalled, tt.wantCalls)
			}
			// A retry adopts what the first attempt may have made.
			first := fake.CheckoutRequests[0]
			if first.Resume != nil {
				t.Errorf("first attempt resumes %+v", first.Resume)
			}
			for _, r := range fake.CheckoutRequests[1:] {
				if r.Resume == nil || r.Resume.IntentID != first.Labels[providers.LabelIntent] {
					t.Errorf("retry resume = %+v, want the intent %s", r.Resume, first.Labels[providers.LabelIntent])
				}
			}
		})
	}
}

func TestSeveralHostsFromOneCreate(t *testing.T) {
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	fake.CheckoutFn = func(context.Context, providers.CheckoutRequest) (providers.CheckoutResponse, error) {
		return providers.CheckoutResponse{Hosts: []providers.HostInfo{{ProviderID: "p1"}, {ProviderID: "p2"}, {ProviderID: "p3"}}}, nil
	}
	rec := &recorder{}
	res, err := Apply(context.Background(), plan(createChange("host.a[0]")), baseOptions(st, f, rec))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	exp := now.Add(time.Hour)
	want := []brief{
		{Address: "host.a[0]", ProviderID: "p1", Status: state.StatusReady, Expires: exp},
		{ProviderID: "p2", Status: state.StatusReady, Expires: exp},
		{ProviderID: "p3", Status: state.StatusReady, Expires: exp},
	}
	if diff := cmp.Diff(want, briefs(t, st)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	var noted bool
	for _, l := range rec.lines("host.a[0]") {
		noted = noted || strings.HasPrefix(l, "note: the provider made 2 more hosts, recorded without an address: ")
	}
	if !noted {
		t.Errorf("no note of the extra hosts in %q", rec.lines("host.a[0]"))
	}
}

// TestImperative applies changes without addresses, as checkout, checkin
// and extend build them.
func TestImperative(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := &fakes{}
	fake := f.get("a")
	old := record("r1", "", "fake-x")
	ext := record("r2", "", "fake-y")
	fake.AddHost(providers.HostInfo{ProviderID: "fake-x"})
	fake.AddHost(providers.HostInfo{ProviderID: "fake-y"})
	if err := st.Put(ctx, old, ext); err != nil {
		t.Fatal(err)
	}
	d := desired("")
	rec := &recorder{}
	p := plan(
		planner.Change{Action: planner.Create, After: d},
		planner.Change{Action: planner.Create, After: d},
		planner.Change{Action: planner.Destroy, Before: &old},
		planner.Change{Action: planner.Extend, Before: &ext},
	)
	res, err := Apply(ctx, p, baseOptions(st, f, rec))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if got, want := res.Summary(), "2 checked out, 1 extended, 1 checked in"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if res.Changes[0].HostID == res.Changes[1].HostID || res.Changes[0].HostID == "" {
		t.Errorf("create host ids %q and %q", res.Changes[0].HostID, res.Changes[1].HostID)
	}
	if got := rec.lines(res.Changes[0].HostID); len(got) != 4 || got[0] != "start" {
		t.Errorf("events of the first create = %q", got)
	}
	if got := rec.lines("r1"); len(got) != 4 || got[3] != "done" {
		t.Errorf("events of the destroy = %q", got)
	}
	hs, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, h := range hs {
		ids[h.ID] = true
	}
	want := map[string]bool{res.Changes[0].HostID: true, res.Changes[1].HostID: true, "r2": true}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestApplyMany(t *testing.T) {
	const n = 1000
	st := openStore(t)
	f := &fakes{}
	var changes []planner.Change
	for i := range n {
		changes = append(changes, createChange(fmt.Sprintf("host.web[%d]", i)))
	}
	opts := baseOptions(st, f, nil)
	opts.Parallelism = 50
	res, err := Apply(context.Background(), plan(changes...), opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if got, want := res.Summary(), "1000 checked out"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	bs := briefs(t, st)
	ready := 0
	for _, b := range bs {
		if b.Status == state.StatusReady {
			ready++
		}
	}
	if ready != n {
		t.Errorf("%d ready records, want %d", ready, n)
	}
	if got := len(intents(t, st)); got != 0 {
		t.Errorf("%d intents left", got)
	}
	if got := len(f.get("a").Hosts()); got != n {
		t.Errorf("the provider holds %d hosts, want %d", got, n)
	}
}

func BenchmarkApply1000(b *testing.B) {
	for _, par := range []int{10, 50} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			var changes []planner.Change
			for i := range 1000 {
				changes = append(changes, createChange(fmt.Sprintf("host.web[%d]", i)))
			}
			for b.Loop() {
				b.StopTimer()
				st := openStore(b)
				f := &fakes{}
				opts := baseOptions(st, f, nil)
				opts.Parallelism = par
				b.StartTimer()
				res, err := Apply(context.Background(), plan(changes...), opts)
				if err != nil || res.Err() != nil {
					b.Fatal(err, res.Err())
				}
			}
		})
	}
}

// TestCancelMidCheckin cancels a check-in in flight: the record goes back
// to what it was, and the destroy's intent stays, since nobody knows
// whether the provider released the host.
func TestCancelMidCheckin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	r1 := record("r1", "host.a[0]", "fake-x")
	if err := st.Put(ctx, r1); err != nil {
		t.Fatal(err)
	}
	f := &fakes{}
	fake := f.get("a")
	entered := make(chan struct{})
	fake.CheckinFn = func(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
		close(entered)
		<-ctx.Done()
		return providers.CheckinResponse{}, ctx.Err()
	}
	done := make(chan *Result)
	go func() {
		res, _ := Apply(ctx, plan(planner.Change{Action: planner.Destroy, Address: "host.a[0]", Before: &r1}), baseOptions(st, f, nil))
		done <- res
	}()
	<-entered
	cancel()
	res := <-done
	if diff := cmp.Diff(map[string]string{"host.a[0]": "failed: checkin: context canceled"}, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	want := []brief{{Address: "host.a[0]", ProviderID: "fake-x", Status: state.StatusReady, Reason: "checkin: context canceled", Expires: now.Add(time.Hour)}}
	if diff := cmp.Diff(want, briefs(t, st)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	in := intents(t, st)
	if len(in) != 1 || in[0].Op != state.OpDestroy || in[0].HostID != "r1" || in[0].ProviderID != "fake-x" {
		t.Errorf("intents = %+v, want the destroy's", in)
	}
}
