package static_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/static"
	"github.com/labbroker/broker/state/bolt"
)

// newPool decodes src as a provider block body and makes an instance whose
// reservations live in a real bolt state file.
func newPool(t *testing.T, src string) (*static.Provider, *bolt.Store) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "lab.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, static.SettingsSpec(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := static.New(providers.Config{Type: "static", Instance: "lab", Settings: v, Reservations: st, User: "qe"})
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

const threeMembers = `
hosts = ["lab1.example.com", "lab2.example.com:2222", "[::1]:2200"]
user  = "root"
host {
  name   = "lab1.example.com"
  labels = { gpu = "yes" }
}
host {
  name = "lab4.example.com"
  user = "admin"
}
`

func checkout(p *static.Provider, addr string, args map[string]any) (providers.CheckoutResponse, error) {
	return p.Checkout(context.Background(), providers.CheckoutRequest{
		Environment: "ci", Address: addr, Args: args,
		Labels: map[string]string{providers.LabelID: "id-" + addr, providers.LabelIntent: "in-" + addr, providers.LabelUser: "qe"},
	})
}

func TestSettings(t *testing.T) {
	p, _ := newPool(t, threeMembers)
	var got []string
	for range 4 {
		r, err := checkout(p, "host.x["+string(rune('0'+len(got)))+"]", nil)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Hosts[0]
		if h.Transport != "ssh" {
			t.Errorf("transport %q", h.Transport)
		}
		got = append(got, h.ProviderID+" "+h.Hostname+":"+itoa(h.Port)+" "+h.User)
	}
	want := []string{
		"lab1.example.com lab1.example.com:0 root",
		"lab2.example.com:2222 lab2.example.com:2222 root",
		"[::1]:2200 ::1:2200 root",
		"lab4.example.com lab4.example.com:0 admin",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("members:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestBadSettings(t *testing.T) {
	for _, src := range []string{`hosts = ["a:b"]`, `hosts = ["a:99999"]`, `hosts = [""]`} {
		f, _ := hclparse.NewParser().ParseHCL([]byte(src), "x.hcl")
		_, diags := hcldec.Decode(f.Body, static.SettingsSpec(), nil)
		if !diags.HasErrors() {
			t.Errorf("%s: no error", src)
		}
	}
}

func TestConcurrentCheckoutsExhaustPool(t *testing.T) {
	p, st := newPool(t, `hosts = ["a", "b", "c"]`)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[string]bool{}
		errs []error
	)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := checkout(p, "host.c["+itoa(i)+"]", nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if got[r.Hosts[0].ProviderID] {
				t.Errorf("member %s lent twice", r.Hosts[0].ProviderID)
			}
			got[r.Hosts[0].ProviderID] = true
		}()
	}
	wg.Wait()
	if len(got) != 3 || len(errs) != 2 {
		t.Fatalf("%d checkouts, %d errors (%v); want 3 and 2", len(got), len(errs), errs)
	}
	for _, err := range errs {
		var ex *static.ExhaustedError
		if !errors.As(err, &ex) {
			t.Fatalf("error %v is not an ExhaustedError", err)
		}
		msg := err.Error()
		for _, want := range []string{"pool static.lab exhausted", "all 3 member(s)", "a by ci/host.c[", "(qe)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
	}

	// Check-in frees a member, and is idempotent.
	held, _ := st.Reservations(context.Background(), "static.lab")
	h := parseID(held["b"])
	ref := providers.HostRef{ID: h, ProviderID: "b"}
	for i, wantGone := range []bool{false, true} {
		r, err := p.Checkin(context.Background(), providers.CheckinRequest{Environment: "ci", Host: ref})
		if err != nil || r.Gone != wantGone {
			t.Fatalf("checkin %d: %+v, %v; want gone=%v", i, r, err, wantGone)
		}
	}
	r, err := checkout(p, "host.c[9]", nil)
	if err != nil || r.Hosts[0].ProviderID != "b" {
		t.Fatalf("checkout after checkin: %+v, %v", r, err)
	}
	// A late check-in of the old holder leaves the new holder's member alone.
	if r, err := p.Checkin(context.Background(), providers.CheckinRequest{Host: ref}); err != nil || !r.Gone {
		t.Fatalf("stale checkin: %+v, %v", r, err)
	}
	if held, _ := st.Reservations(context.Background(), "static.lab"); held["b"] == "" {
		t.Fatal("stale checkin released the new holder's member")
	}
}

func parseID(holder string) string {
	_, rest, _ := strings.Cut(holder, `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

func TestMatchAndSync(t *testing.T) {
	p, _ := newPool(t, threeMembers)
	r, err := checkout(p, "host.gpu[0]", map[string]any{"match": map[string]any{"gpu": "yes"}})
	if err != nil || r.Hosts[0].ProviderID != "lab1.example.com" {
		t.Fatalf("match: %+v, %v", r, err)
	}
	_, err = checkout(p, "host.gpu[1]", map[string]any{"match": map[string]any{"gpu": "yes"}})
	if err == nil || !strings.Contains(err.Error(), `all 1 member(s) matching gpu="yes"`) {
		t.Fatalf("second gpu checkout: %v", err)
	}
	_, err = checkout(p, "host.x[0]", map[string]any{"match": map[string]any{"gpu": "no"}})
	if err == nil || !strings.Contains(err.Error(), `none of its 4 member(s) matches gpu="no"`) {
		t.Fatalf("no match: %v", err)
	}
	r, err = checkout(p, "host.one[0]", map[string]any{"host": "lab4.example.com"})
	if err != nil || r.Hosts[0].ProviderID != "lab4.example.com" {
		t.Fatalf("by host: %+v, %v", r, err)
	}
	s, err := p.Sync(context.Background(), providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range s.Hosts {
		ids = append(ids, h.ProviderID+"="+h.Labels[providers.LabelID])
	}
	if got := strings.Join(ids, " "); got != "lab1.example.com=id-host.gpu[0] lab4.example.com=id-host.one[0]" {
		t.Errorf("sync: %s", got)
	}
	if s, _ := p.Sync(context.Background(), providers.SyncRequest{User: "someone-else"}); len(s.Hosts) != 0 {
		t.Errorf("sync of another user: %+v", s.Hosts)
	}
}

func TestResumeAdoptsReservation(t *testing.T) {
	p, _ := newPool(t, `hosts = ["a", "b"]`)
	if _, err := checkout(p, "host.r[0]", nil); err != nil {
		t.Fatal(err)
	}
	r, err := p.Checkout(context.Background(), providers.CheckoutRequest{
		Environment: "ci", Address: "host.r[0]",
		Resume: &providers.Resume{IntentID: "in-host.r[0]"},
	})
	if err != nil || !r.Adopted || r.Hosts[0].ProviderID != "a" {
		t.Fatalf("resume: %+v, %v", r, err)
	}
}

// A pool's reservations live in the state itself, so Sync labels each with
// the state's identity: the one the checkout gave, else (a reservation made
// before reservations named their state) the store's own.
func TestSyncLabelsState(t *testing.T) {
	p, st := newPool(t, threeMembers)
	ctx := context.Background()
	if _, err := checkout(p, "host.x[0]", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Environment: "ci", Address: "host.x[1]",
		Labels: map[string]string{providers.LabelID: "id-1", providers.LabelUser: "qe", providers.LabelState: "given"}}); err != nil {
		t.Fatal(err)
	}
	own, err := st.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sync(ctx, providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range s.Hosts {
		got[h.Labels[providers.LabelID]] = h.Labels[providers.LabelState]
	}
	if got["id-host.x[0]"] != own || got["id-1"] != "given" {
		t.Errorf("broker.state labels %v, want the store's %q for the unlabelled reservation", got, own)
	}
}
