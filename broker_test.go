package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker"
)

func open(t *testing.T, o broker.Options) *broker.Client {
	t.Helper()
	if o.Directory == "" {
		o.Directory = t.TempDir()
	}
	c, err := broker.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func held(t *testing.T, c *broker.Client, filter string) []*broker.Host {
	t.Helper()
	hs, err := c.Inventory(t.Context(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func TestCheckoutRunCheckin(t *testing.T) {
	c := open(t, broker.Options{Environment: "lib"})
	h, err := c.Checkout(t.Context(), broker.Provider("sim"), broker.Args{"memory": 4096}, broker.Lease(time.Hour), broker.Labels{"team": "qe"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Environment != "lib" || h.Provider != "sim.default" || h.Labels["team"] != "qe" || h.Facts["memory_mb"] != float64(4096) {
		t.Errorf("host %+v", h)
	}
	if r := h.Record(); r.Recipe["memory"] != float64(4096) || r.Lease.Duration != time.Hour {
		t.Errorf("record recipe %v lease %v", r.Recipe, r.Lease)
	}
	inv := held(t, c, `labels.team == "qe"`)
	if len(inv) != 1 || inv[0] != h {
		t.Errorf("inventory %v, want the held *Host", inv)
	}
	if got := c.Held(); len(got) != 1 || got[0] != h {
		t.Errorf("Held %v", got)
	}

	res := h.Run(t.Context(), "true")
	if res.Err == nil || res.Status != -1 || res.OK() || !strings.Contains(res.String(), "error:") {
		t.Errorf("run on a host without transport: %+v", res)
	}

	if err := c.Checkin(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkin(t.Context(), h); err != nil {
		t.Errorf("second checkin: %v", err)
	}
	if res := h.Run(t.Context(), "true"); res.Err == nil || !strings.Contains(res.Err.Error(), "was checked in") {
		t.Errorf("run after checkin: %+v", res)
	}
	if inv := held(t, c, ""); len(inv) != 0 || len(c.Held()) != 0 {
		t.Errorf("after checkin: inventory %v, held %v", inv, c.Held())
	}
}

func TestExtend(t *testing.T) {
	c := open(t, broker.Options{})
	h, err := c.Checkout(t.Context(), broker.Provider("sim"), broker.Lease(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Checkin(context.Background(), h)
	before := h.Lease()
	if err := c.Extend(t.Context(), 5*time.Hour, h); err != nil {
		t.Fatal(err)
	}
	if r := h.Record(); !r.Lease.Expires.After(before) || r.Lease.Extended != 1 {
		t.Errorf("lease after extend: %+v (before: %v)", r.Lease, before)
	}
}

// Two clients in one process, with their own directories and settings in
// which the nick rhel9 means different things, share nothing.
func TestSettingsIsolation(t *testing.T) {
	settings := func(os string) string {
		return `provider "sim" "lab" {}
nick "rhel9" {
  provider = "sim.lab"
  args     = { os = "` + os + `" }
}`
	}
	a := open(t, broker.Options{Settings: settings("rhel-9.4")})
	b := open(t, broker.Options{Settings: settings("rhel-9.5")})
	if a.Directory() == b.Directory() {
		t.Fatal("one directory")
	}
	var wg sync.WaitGroup
	var ha, hb *broker.Host
	var ea, eb error
	wg.Go(func() { ha, ea = a.Checkout(t.Context(), broker.Nick("rhel9")) })
	wg.Go(func() { hb, eb = b.Checkout(t.Context(), broker.Nick("rhel9")) })
	wg.Wait()
	if err := errors.Join(ea, eb); err != nil {
		t.Fatal(err)
	}
	if ha.Facts["os"] != "rhel-9.4" || hb.Facts["os"] != "rhel-9.5" {
		t.Errorf("os facts: a %v, b %v", ha.Facts["os"], hb.Facts["os"])
	}
	if inv := held(t, a, ""); len(inv) != 1 || inv[0].ID != ha.ID {
		t.Errorf("a's inventory: %v", inv)
	}
	if inv := held(t, b, ""); len(inv) != 1 || inv[0].ID != hb.ID {
		t.Errorf("b's inventory: %v", inv)
	}
	// The same nick is unknown to a client whose settings lack it.
	d := open(t, broker.Options{})
	if _, err := d.Checkout(t.Context(), broker.Nick("rhel9")); err == nil || !strings.Contains(err.Error(), `unknown nick "rhel9"`) {
		t.Errorf("nick of another client's settings: %v", err)
	}
	if err := errors.Join(a.Checkin(t.Context(), ha), b.Checkin(t.Context(), hb)); err != nil {
		t.Fatal(err)
	}
}

func TestBadSettings(t *testing.T) {
	_, err := broker.Open(t.Context(), broker.Options{Directory: t.TempDir(), Settings: `provider "nosuch" "x" {}`})
	if err == nil || !strings.Contains(err.Error(), "Options.Settings:1,") {
		t.Errorf("error %v, want one citing the settings text's line", err)
	}
}

func TestSetupTeardown(t *testing.T) {
	c := open(t, broker.Options{})
	var mu sync.Mutex
	var calls []string
	step := func(name string, err error) func(context.Context, *broker.Host) error {
		return func(ctx context.Context, h *broker.Host) error {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, name+" "+h.IP)
			return err
		}
	}
	h, err := c.Checkout(t.Context(), broker.Provider("sim"),
		broker.Setup(step("setup1", nil)), broker.Setup(step("setup2", nil)),
		broker.Teardown(step("teardown1", nil)), broker.Teardown(step("teardown2", errors.New("unregister failed"))))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Checkin(t.Context(), h)
	if err == nil || !strings.Contains(err.Error(), "unregister failed") {
		t.Errorf("checkin error %v, want the teardown's", err)
	}
	if inv := held(t, c, ""); len(inv) != 0 {
		t.Errorf("a failing teardown kept the host: %v", inv)
	}
	want := []string{"setup1 " + h.IP, "setup2 " + h.IP, "teardown2 " + h.IP, "teardown1 " + h.IP}
	if strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v", calls, want)
	}
}

func TestFailingSetupChecksIn(t *testing.T) {
	c := open(t, broker.Options{})
	var tornDown bool
	hs, err := c.CheckoutN(t.Context(), 3, broker.Provider("sim"),
		broker.Setup(func(ctx context.Context, h *broker.Host) error {
			if h.IP == "192.0.2.2" {
				return errors.New("no repo")
			}
			return nil
		}),
		broker.Teardown(func(context.Context, *broker.Host) error { tornDown = true; return nil }))
	if err == nil || !strings.Contains(err.Error(), "no repo") || hs != nil {
		t.Fatalf("CheckoutN: %v, %v; want the setup's error and no hosts", hs, err)
	}
	if inv := held(t, c, ""); len(inv) != 0 || len(c.Held()) != 0 {
		t.Errorf("hosts left after a failed setup: %v", inv)
	}
	if tornDown {
		t.Error("teardown ran after a failed setup")
	}
}

func TestCheckoutErrors(t *testing.T) {
	c := open(t, broker.Options{Settings: `provider "sim" "lab" { fail_addresses = [] }`})
	if _, err := c.Checkout(t.Context(), broker.Provider("nosuch")); err == nil || !strings.Contains(err.Error(), "hint:") {
		t.Errorf("unknown provider: %v, want an error with a hint", err)
	}
	if _, err := c.CheckoutN(t.Context(), 0, broker.Provider("sim")); err == nil {
		t.Error("checkout of 0 hosts")
	}
	if _, err := c.Inventory(t.Context(), "labels.role =="); err == nil {
		t.Error("a bad filter listed hosts")
	}
}

func TestCleanup(t *testing.T) {
	c := open(t, broker.Options{})
	if _, err := c.CheckoutN(t.Context(), 2, broker.Provider("sim")); err != nil {
		t.Fatal(err)
	}
	if err := c.Cleanup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if inv := held(t, c, ""); len(inv) != 0 {
		t.Errorf("after Cleanup: %v", inv)
	}
}
