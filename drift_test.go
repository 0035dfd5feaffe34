package broker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labbroker/broker"
)

// The library and the command line share one rule for each of these; each
// test failed while they had copies of their own.

// A directory given as ~/lab is under the home directory, with or without
// Settings (it was a literal ./~/lab with Settings).
func TestDirectoryTildeWithSettings(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(t.TempDir())
	for _, settings := range []string{"", `provider "sim" "lab" {}`} {
		c, err := broker.Open(t.Context(), broker.Options{Directory: "~/lab", Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Directory(), filepath.Join(home, "lab"); got != want {
			t.Errorf("settings %q: directory %s, want %s", settings, got, want)
		}
		c.Close()
		if _, err := os.Stat("~"); err == nil {
			t.Errorf("settings %q: a directory named ~ was made in the working directory", settings)
		}
	}
}

// Extending a host that has no lease gives it planner.DefaultExtension
// (48h), as `broker extend` does; the library used to refuse.
func TestExtendWithoutLease(t *testing.T) {
	c := open(t, broker.Options{Settings: `provider "sim" "lab" { max_lease = "none" }`})
	h, err := c.Checkout(t.Context(), broker.Provider("sim.lab"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Checkin(t.Context(), h)
	if err := c.Extend(t.Context(), 0, h); err != nil {
		t.Fatalf("extend of a host without a lease: %v", err)
	}
	if r := h.Record(); r.Lease.Duration != 48*time.Hour || r.Lease.Expires.IsZero() {
		t.Errorf("lease after extend: %+v, want 48h", r.Lease)
	}
}

// A manifest's provider block wins for that manifest, even after the
// client made the same instance from its settings for a Checkout.
func TestManifestProviderBlockWins(t *testing.T) {
	c := open(t, broker.Options{Settings: `provider "sim" "lab" {}`})
	h, err := c.Checkout(t.Context(), broker.Provider("sim.lab"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Checkin(t.Context(), h)

	dir := t.TempDir()
	manifest := filepath.Join(dir, "lab.hcl")
	if err := os.WriteFile(manifest, []byte(`environment = "drift"
provider "sim" "lab" { fail_addresses = ["host.web[0]"] }
host "web" { provider = "sim.lab" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := c.Apply(t.Context(), manifest)
	if env != nil {
		defer env.Destroy(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), "host.web[0]") {
		t.Fatalf("apply with the manifest's fail_addresses: err = %v, want host.web[0] to fail", err)
	}
}
