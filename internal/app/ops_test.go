package app

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"

	_ "github.com/labbroker/broker/providers/sim"
)

// simApp is an App on a fresh directory whose settings declare sim.lab
// (and sim.other), with a bolt state in it.
func simApp(t *testing.T, opts Options) *App {
	t.Helper()
	dir := t.TempDir()
	settings := `provider "sim" "lab" { default = true }
provider "sim" "other" {}
nick "small" {
  provider = "sim.lab"
  args     = { memory = 512 }
}
`
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Directory = dir
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	a, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func checkout(t *testing.T, a *App, env string, spec CheckoutSpec) []state.Host {
	t.Helper()
	res, err := a.Checkout(t.Context(), CheckoutRequest{Spec: spec, Environment: env})
	if err == nil {
		err = res.Err("checkout")
	}
	if err != nil {
		t.Fatal(err)
	}
	return res.Hosts()
}

func ids(hs []state.Host) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

func TestCheckoutNickAndCount(t *testing.T) {
	a := simApp(t, Options{})
	hs := checkout(t, a, "", CheckoutSpec{Nick: "small", Count: 3, Lease: 36 * time.Hour, Labels: map[string]string{"team": "qe"}})
	if len(hs) != 3 {
		t.Fatalf("%d hosts, want 3", len(hs))
	}
	for _, h := range hs {
		if h.Environment != DefaultEnvironment || h.Provider != "sim" || h.Instance != "lab" || h.Nick != "small" ||
			h.Recipe["memory"] != float64(512) || h.Labels["team"] != "qe" || h.Lease.Duration != 36*time.Hour {
			t.Errorf("host %+v", h)
		}
	}
}

func TestCheckoutUnknownNick(t *testing.T) {
	a := simApp(t, Options{})
	_, err := a.Checkout(t.Context(), CheckoutRequest{Spec: CheckoutSpec{Nick: "nope"}})
	var h interface{ Hint() string }
	if err == nil || !errors.As(err, &h) || h.Hint() != "known nicks: small" {
		t.Fatalf("err = %v, want unknown nick with the known ones as hint", err)
	}
}

func TestSelect(t *testing.T) {
	a := simApp(t, Options{})
	web := checkout(t, a, "web", CheckoutSpec{Provider: "sim", Count: 2})
	db := checkout(t, a, "db", CheckoutSpec{Provider: "sim.other"})
	// The listing is in the state's order: by record id, and ids grow.
	slices.SortFunc(web, func(x, y state.Host) int { return strings.Compare(x.ID, y.ID) })
	all := append(append([]state.Host{}, web...), db...)
	tests := []struct {
		name string
		req  SelectRequest
		want []string
		miss []string
	}{
		{"all", SelectRequest{All: true}, ids(all), nil},
		{"environment", SelectRequest{All: true, Environment: "db"}, ids(db), nil},
		{"index", SelectRequest{Refs: []string{"1"}}, ids(all[1:2]), nil},
		{"index in an environment", SelectRequest{Refs: []string{"0"}, RefEnvironment: "db"}, ids(db), nil},
		{"refs ignore the bulk scope", SelectRequest{Refs: []string{db[0].ID}, Environment: "web"}, ids(db), nil},
		{"id and name", SelectRequest{Refs: []string{web[0].ID, db[0].Name}}, []string{web[0].ID, db[0].ID}, nil},
		{"filter and all", SelectRequest{All: true, Filter: `instance == "other"`}, ids(db), nil},
		{"python filter", SelectRequest{All: true, Filter: "instance<oth"}, ids(db), nil},
		{"unmatched", SelectRequest{Refs: []string{"nope", "7"}}, []string{}, []string{"nope", "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := a.Select(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(sel.Hosts)); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.miss, sel.Unmatched); diff != "" {
				t.Errorf("unmatched (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := a.Select(t.Context(), SelectRequest{}); !errors.Is(err, ErrNoHostsGiven) {
		t.Errorf("empty selection: %v", err)
	}
	// --all in an environment that holds nothing names those that do.
	if _, err := a.Select(t.Context(), SelectRequest{All: true, Environment: "empty"}); err == nil ||
		!strings.Contains(err.Error(), `environment "empty" holds no such hosts; web (2), db (1) do`) {
		t.Errorf("--all in an empty environment: %v", err)
	}
	// An address two environments hold is refused with their names,
	// and found with -e.
	st, err := a.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(),
		state.Host{ID: state.NewID(), Environment: "x", Address: "host.web[0]", Provider: "sim", Instance: "lab"},
		state.Host{ID: state.NewID(), Environment: "y", Address: "host.web[0]", Provider: "sim", Instance: "lab"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Select(t.Context(), SelectRequest{Refs: []string{"host.web[0]"}}); err == nil ||
		!strings.Contains(err.Error(), `"host.web[0]" names hosts in 2 environments (x, y)`) {
		t.Errorf("an address of two environments: %v", err)
	}
	if sel, err := a.Select(t.Context(), SelectRequest{Refs: []string{"host.web[0]"}, RefEnvironment: "y"}); err != nil || len(sel.Hosts) != 1 || sel.Hosts[0].Environment != "y" {
		t.Errorf("the address with -e y: %+v, %v", sel, err)
	}
}

func TestCheckinAcrossEnvironments(t *testing.T) {
	a := simApp(t, Options{})
	web := checkout(t, a, "web", CheckoutSpec{Provider: "sim", Count: 2})
	db := checkout(t, a, "db", CheckoutSpec{Provider: "sim"})
	res, err := a.Checkin(t.Context(), CheckinRequest{Hosts: append(web, db...)})
	if err == nil {
		err = res.Err("checkin")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[0].Environment != "web" || res.Runs[1].Environment != "db" {
		t.Errorf("runs %+v, want one per environment", res.Runs)
	}
	if got := len(res.Released()); got != 3 {
		t.Errorf("released %d, want 3", got)
	}
	left, _, err := a.Inventory(t.Context(), "", "")
	if err != nil || len(left) != 0 {
		t.Errorf("left %v, %v", left, err)
	}
}

func TestExtendRule(t *testing.T) {
	a := simApp(t, Options{})
	withLease := checkout(t, a, "", CheckoutSpec{Provider: "sim", Lease: 3 * time.Hour})
	res, err := a.Extend(t.Context(), ExtendRequest{Hosts: withLease})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Hosts(); len(got) != 1 || got[0].Lease.Duration != 3*time.Hour || got[0].Lease.Extended != 1 {
		t.Errorf("extend with the host's own lease: %+v", got)
	}
	res, err = a.Extend(t.Context(), ExtendRequest{Hosts: withLease, Lease: 5 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Hosts(); len(got) != 1 || got[0].Lease.Duration != 5*time.Hour {
		t.Errorf("extend with a lease: %+v", got)
	}
	// planner.ExtendChanges gives a host without a lease the default.
	ch := planner.ExtendChanges([]state.Host{{ID: "x"}}, 0)
	if len(ch) != 1 || ch[0].After.Lease != planner.DefaultExtension {
		t.Errorf("changes for a host without a lease: %+v", ch)
	}
}

func TestDuplicate(t *testing.T) {
	a := simApp(t, Options{})
	orig := checkout(t, a, "", CheckoutSpec{Nick: "small", Labels: map[string]string{"k": "v"}})
	res, err := a.Duplicate(t.Context(), DuplicateRequest{Hosts: append(orig, state.Host{ID: "bare"}), Count: 2, Environment: "copies"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NoRecipe) != 1 || res.NoRecipe[0].ID != "bare" {
		t.Errorf("no recipe: %+v", res.NoRecipe)
	}
	made := res.Hosts()
	if len(made) != 2 {
		t.Fatalf("made %d, want 2", len(made))
	}
	for _, h := range made {
		if h.Environment != "copies" || h.Nick != "small" || h.Recipe["memory"] != float64(512) || h.Labels["k"] != "v" || h.ID == orig[0].ID {
			t.Errorf("copy %+v", h)
		}
	}
}

// The App asks for a key's passphrase only through Options.Prompt, once
// per key file; without a Prompt it says how to give one.
func TestPassphrasePrompt(t *testing.T) {
	var asked []string
	a := simApp(t, Options{Prompt: func(q string, secret bool) (string, error) {
		if !secret {
			t.Error("passphrase asked with echo")
		}
		asked = append(asked, q)
		return "sesame", nil
	}})
	for range 2 {
		p, err := a.passphrase("/keys/id")
		if err != nil || string(p) != "sesame" {
			t.Fatalf("passphrase = %q, %v", p, err)
		}
	}
	if len(asked) != 1 {
		t.Errorf("asked %d times: %v", len(asked), asked)
	}
	b := simApp(t, Options{})
	if _, err := b.passphrase("/keys/id"); err == nil {
		t.Error("no prompt and no variable: no error")
	}
	c := simApp(t, Options{Prompt: func(string, bool) (string, error) { return "", ErrNoPrompt }})
	if _, err := c.passphrase("/keys/id"); err == nil || errors.Is(err, ErrNoPrompt) {
		t.Errorf("prompt without a terminal: %v, want the hint error", err)
	}
}

// Output prefixes name the environment when the hosts come from several:
// host.web[0] of two environments are two different hosts.
func TestHostLabelsAcrossEnvironments(t *testing.T) {
	one := []state.Host{{ID: "1", Environment: "a", Address: "host.web[0]"}, {ID: "2", Environment: "a", Address: "host.web[1]"}}
	if diff := cmp.Diff([]string{"host.web[0]", "host.web[1]"}, HostLabels(one)); diff != "" {
		t.Errorf("one environment (-want +got):\n%s", diff)
	}
	two := []state.Host{{ID: "1", Environment: "a", Address: "host.web[0]"}, {ID: "2", Environment: "b", Address: "host.web[0]"}}
	if diff := cmp.Diff([]string{"a/host.web[0]", "b/host.web[0]"}, HostLabels(two)); diff != "" {
		t.Errorf("two environments (-want +got):\n%s", diff)
	}
}

// An extend made from a record another run has checked in meanwhile (its
// selection read the record before the check-in) touches nothing: the
// record does not come back, the provider is not asked. One made from an
// older copy of a live record extends the record as it is now.
func TestExtendUsesTheRecordAsItIsNow(t *testing.T) {
	a := simApp(t, Options{})
	hs := checkout(t, a, "", CheckoutSpec{Count: 2, Lease: time.Hour})
	gone, live := hs[0], hs[1]
	res, err := a.Checkin(t.Context(), CheckinRequest{Hosts: []state.Host{gone}})
	if err == nil {
		err = res.Err("checkin")
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Another run labelled the live host meanwhile.
	now, err := st.Host(t.Context(), live.ID)
	if err != nil {
		t.Fatal(err)
	}
	now.Labels = map[string]string{"by": "other run"}
	if err := st.Put(t.Context(), now); err != nil {
		t.Fatal(err)
	}

	res, err = a.Extend(t.Context(), ExtendRequest{Hosts: []state.Host{gone, live}, Lease: 2 * time.Hour})
	if err == nil {
		err = res.Err("extend")
	}
	if err != nil {
		t.Fatalf("extend: %v", err)
	}
	if _, err := st.Host(t.Context(), gone.ID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the checked-in host's record came back: %v", err)
	}
	got, err := st.Host(t.Context(), live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["by"] != "other run" || got.Lease.Duration != 2*time.Hour {
		t.Errorf("live host after extend: labels %v, lease %v", got.Labels, got.Lease.Duration)
	}
}
