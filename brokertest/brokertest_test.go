package brokertest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labbroker/broker"
	"github.com/labbroker/broker/brokertest"
)

// child is set in test binaries this package's tests start, to run one of
// the child tests below; the parent then looks at the state they left.
var child = os.Getenv("BROKERTEST_CHILD")

// sharedHost is checked out by TestMain's setup, for every test.
var sharedHost *broker.Host

func TestMain(m *testing.M) {
	var tmp string
	if os.Getenv("BROKER_DIRECTORY") == "" {
		// Never the user's ~/.broker: a directory of the run's own.
		d, err := os.MkdirTemp("", "brokertest-")
		if err != nil {
			panic(err)
		}
		tmp = d
		os.Setenv("BROKER_DIRECTORY", d)
	}
	code := brokertest.Main(m, func(ctx context.Context, c *broker.Client) (err error) {
		sharedHost, err = c.Checkout(ctx, broker.Provider("sim"), broker.Labels{"scope": "package"})
		return err
	})
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// runChild runs this test binary again with only the child test name, in
// a broker directory of its own, and returns that directory, the exit
// error and the output.
func runChild(t *testing.T, name string, args ...string) (dir string, out string, err error) {
	t.Helper()
	dir = t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + name + "$", "-test.v"}, args...)...)
	cmd.Env = append(os.Environ(), "BROKERTEST_CHILD="+name, "BROKER_DIRECTORY="+dir, "BROKER_ENVIRONMENT=child")
	b, err := cmd.CombinedOutput()
	return dir, string(b), err
}

// inventory lists what the state of dir holds.
func inventory(t *testing.T, dir string) []*broker.Host {
	t.Helper()
	c, err := broker.Open(t.Context(), broker.Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hs, err := c.Inventory(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func TestCheckoutAndCleanup(t *testing.T) {
	var id string
	t.Run("inner", func(t *testing.T) {
		h := brokertest.Checkout(t, broker.Provider("sim"), broker.Labels{"test": "cleanup"})
		id = h.ID
		if h.Environment != brokertest.EnvironmentName() {
			t.Errorf("environment %q, want the binary's %q", h.Environment, brokertest.EnvironmentName())
		}
		if got := h.Record().Lease.Duration; got != 2*60*60*1e9 {
			t.Errorf("lease %v, want the -broker.lease default 2h", got)
		}
	})
	hs, err := brokertest.Client(t).Inventory(t.Context(), `id == "`+id+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 0 {
		t.Errorf("host %s still recorded after its test ended", id)
	}
}

func TestSharedFromMain(t *testing.T) {
	if sharedHost == nil {
		t.Fatal("TestMain's setup gave no host")
	}
	hs, err := brokertest.Client(t).Inventory(t.Context(), `labels.scope == "package"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0] != sharedHost {
		t.Errorf("inventory of the package's host: %v, want the one *Host setup got", hs)
	}
}

func TestParallelSubtests(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b", "c", "d"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := brokertest.Checkout(t, broker.Provider("sim"), broker.Labels{"sub": name})
				if h.Labels["sub"] != name {
					t.Errorf("labels %v", h.Labels)
				}
				mu.Lock()
				ids[h.ID] = true
				mu.Unlock()
			})
		}
	})
	if len(ids) != 4 {
		t.Fatalf("%d distinct hosts for 4 subtests", len(ids))
	}
	hs, err := brokertest.Client(t).Inventory(t.Context(), `"sub" in labels`)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 0 {
		t.Errorf("%d hosts of the parallel subtests left", len(hs))
	}
}

func TestCheckoutN(t *testing.T) {
	hs := brokertest.CheckoutN(t, 3, broker.Provider("sim"))
	seen := map[string]bool{}
	for _, h := range hs {
		seen[h.IP] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 hosts with %d distinct addresses", len(seen))
	}
}

func TestShared(t *testing.T) {
	var first *broker.Host
	t.Run("one", func(t *testing.T) { first = brokertest.Shared(t, "box", broker.Provider("sim")) })
	t.Run("two", func(t *testing.T) {
		if h := brokertest.Shared(t, "box", broker.Provider("sim")); h != first {
			t.Errorf("second Shared(box) gave %v, want the first test's %v", h, first)
		}
	})
	// Still held after both tests: Main checks it in.
	if hs, _ := brokertest.Client(t).Inventory(t.Context(), `id == "`+first.ID+`"`); len(hs) != 1 {
		t.Errorf("shared host checked in before Main's cleanup")
	}
}

const labManifest = `
environment = "ignored-by-brokertest"
provider "sim" "lab" {}
host "server" {
  provider = "sim.lab"
  labels   = { role = "server" }
}
host "client" {
  provider = "sim.lab"
  count    = 2
  labels   = { role = "client" }
}
`

func TestApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab.hcl")
	if err := os.WriteFile(path, []byte(labManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	var name string
	t.Run("inner", func(t *testing.T) {
		env := brokertest.Apply(t, path)
		name = env.Name
		if want := brokertest.EnvironmentName() + ".TestApply-inner"; env.Name != want {
			t.Errorf("environment %q, want %q", env.Name, want)
		}
		clients := env.Hosts(`labels.role == "client"`)
		if len(clients) != 2 || clients[0].Address != "host.client[0]" || clients[1].Address != "host.client[1]" {
			t.Errorf("clients: %v", clients)
		}
		if h := env.Host("host.server[0]"); h == nil || h.Labels["role"] != "server" {
			t.Errorf("server: %v", h)
		}
		if _, err := env.Select("labels.role =="); err == nil {
			t.Error("a bad filter selected hosts")
		}
	})
	hs, err := brokertest.Client(t).Inventory(t.Context(), `environment == "`+name+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 0 {
		t.Errorf("%d hosts of %s left after the test", len(hs), name)
	}
}

// TestChildFatal is run by TestFatalInSubtest in a child process: its
// subtest checks a host out and fails with t.Fatal.
func TestChildFatal(t *testing.T) {
	if child != "TestChildFatal" {
		t.Skip("run by TestFatalInSubtest")
	}
	t.Run("sub", func(t *testing.T) {
		h := brokertest.Checkout(t, broker.Provider("sim"))
		t.Logf("checked out %s", h.ID)
		t.Fatal("boom")
	})
}

func TestFatalInSubtest(t *testing.T) {
	dir, out, err := runChild(t, "TestChildFatal")
	if err == nil || !strings.Contains(out, "boom") || !strings.Contains(out, "checked out ") {
		t.Fatalf("child: err %v, want a failure with boom after a checkout\n%s", err, out)
	}
	if hs := inventory(t, dir); len(hs) != 0 {
		t.Errorf("%d hosts left by the failed child (the subtest's and Main's)\n%s", len(hs), out)
	}
}

// TestChildKeep is run by TestKeepFlag with -broker.keep.
func TestChildKeep(t *testing.T) {
	if child != "TestChildKeep" {
		t.Skip("run by TestKeepFlag")
	}
	h := brokertest.Checkout(t, broker.Provider("sim"), broker.Labels{"kept": "yes"})
	t.Logf("checked out %s", h.ID)
}

func TestKeepFlag(t *testing.T) {
	dir, out, err := runChild(t, "TestChildKeep", "-broker.keep")
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	hs := inventory(t, dir)
	var kept *broker.Host
	for _, h := range hs {
		if h.Labels["kept"] == "yes" {
			kept = h
		}
	}
	if kept == nil || len(hs) != 2 {
		t.Fatalf("after -broker.keep: %d hosts (want the test's and Main's)\n%s", len(hs), out)
	}
	if !strings.Contains(out, "keeping "+kept.Hostname+" (id "+kept.ID+", environment child)") {
		t.Errorf("the kept host is not named in the output:\n%s", out)
	}
	c, err := broker.Open(t.Context(), broker.Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Checkin(t.Context(), hs...); err != nil {
		t.Fatal(err)
	}
}

// TestChildFailingSuite fails; Main must still check the package's host in.
func TestChildFailingSuite(t *testing.T) {
	if child != "TestChildFailingSuite" {
		t.Skip("run by TestMainChecksIn")
	}
	brokertest.Shared(t, "box", broker.Provider("sim"))
	t.Error("failing on purpose")
}

func TestMainChecksIn(t *testing.T) {
	dir, out, err := runChild(t, "TestChildFailingSuite")
	if err == nil {
		t.Fatalf("child passed:\n%s", out)
	}
	if hs := inventory(t, dir); len(hs) != 0 {
		t.Errorf("%d hosts left after a failing suite; Main should check its and Shared's in\n%s", len(hs), out)
	}
}
