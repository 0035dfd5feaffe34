package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/providertest"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
)

func TestMain(m *testing.M) {
	// Backoff between retries is not what the tests are about.
	retryBase = time.Millisecond
	os.Exit(m.Run())
}

const env = "lab"

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return now }

func openStore(t testing.TB) state.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is an Observer keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// lines renders the events of one address (or host id) as short lines:
// "phase_done checkout", "note: already gone…", "failed: …".
func (r *recorder) lines(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Address != key && (e.Address != "" || e.HostID != key) {
			continue
		}
		s := string(e.Kind)
		if e.Phase != "" && e.Kind != EventProgress {
			s += " " + string(e.Phase)
		}
		if e.Message != "" && e.Kind != EventStart {
			s += ": " + e.Message
		}
		if e.Err != "" {
			s += " error: " + e.Err
		}
		out = append(out, s)
	}
	return out
}

// fakes resolves "fake" instances to fake providers, made on first use.
type fakes struct {
	mu sync.Mutex
	m  map[string]*providertest.Provider
	// wrap, if set, hides capabilities of an instance's fake.
	wrap func(inst string, p *providertest.Provider) providers.Provider
}

func (f *fakes) get(inst string) *providertest.Provider {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*providertest.Provider{}
	}
	p, ok := f.m[inst]
	if !ok {
		p = &providertest.Provider{Now: clock}
		f.m[inst] = p
	}
	return p
}

func (f *fakes) resolve(typ, inst string) (providers.Provider, error) {
	if typ != "fake" {
		return nil, fmt.Errorf("unknown provider type %q", typ)
	}
	p := f.get(inst)
	if f.wrap != nil {
		return f.wrap(inst, p), nil
	}
	return p, nil
}

// basic hides every optional capability of a provider.
type basic struct{ providers.Provider }

func desired(addr string) *planner.Desired {
	return &planner.Desired{
		Address: addr, Provider: "fake", Instance: "a",
		Args:   map[string]any{"image": "alpine"},
		Lease:  time.Hour,
		Labels: map[string]string{"role": "web"},
	}
}

func createChange(addr string, deps ...string) planner.Change {
	return planner.Change{Action: planner.Create, Address: addr, After: desired(addr), DependsOn: deps}
}

func record(id, addr, providerID string) state.Host {
	return state.Host{
		ID: id, Environment: env, Address: addr, Provider: "fake", Instance: "a",
		ProviderID: providerID, Name: providerID, Recipe: map[string]any{"image": "alpine"},
		Lease:  state.Lease{Expires: now.Add(time.Hour), Duration: time.Hour},
		Status: state.StatusReady,
	}
}

func baseOptions(st state.Store, f *fakes, obs Observer) Options {
	return Options{
		Store: st, Provider: f.resolve, Observer: obs, Now: clock,
		Origin: state.Origin{User: "qe", Machine: "runner1", Command: "apply"},
	}
}

// brief is the part of a record the tests compare.
type brief struct {
	Address    string
	ProviderID string
	Status     state.Status
	Reason     string
	Expires    time.Time
	Extended   int
	HostKey    string
}

func briefs(t testing.TB, st state.Store) []brief {
	t.Helper()
	hs, err := st.Hosts(context.Background(), state.Query{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	out := []brief{}
	for _, h := range hs {
		out = append(out, brief{h.Address, h.ProviderID, h.Status, h.Reason, h.Lease.Expires.UTC(), h.Lease.Extended, h.HostKey})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address+out[i].ProviderID < out[j].Address+out[j].ProviderID })
	return out
}

func intents(t testing.TB, st state.Store) []state.Intent {
	t.Helper()
	in, err := st.Intents(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func plan(changes ...planner.Change) *planner.Plan {
	return &planner.Plan{Environment: env, Changes: changes}
}

// tempError is a provider error that may pass on a retry.
type tempError struct{ msg string }

func (e tempError) Error() string   { return e.msg }
func (e tempError) Temporary() bool { return true }
