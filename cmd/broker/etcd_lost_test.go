package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/test/etcdtest"
)

const lostManifest = `
environment = "lost"
provider "sim" "lab" {
  latency = "%s"
}
host "web" {
  provider = "sim.lab"
  count    = 4
}
`

// TestEtcdLostMidApply: the only etcd member dies during an apply. The
// apply stops safely, saying why (its lock is lost once the session's TTL
// runs out), and once etcd is back the next apply reconciles what was in
// flight: every host exactly once.
func TestEtcdLostMidApply(t *testing.T) {
	c := etcdtest.Start(t)
	dir := t.TempDir()
	etcdSettings(t, dir, c, "/broker/lost")
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(lostManifest, "1h"))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--parallelism", "4")
	p.waitLine(t, "checking out")
	c.Members[0].Kill(t)
	code, stderr := p.wait()
	if code == 0 {
		t.Fatalf("apply went on after losing etcd; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "lock was lost") {
		t.Errorf("the apply does not say its lock was lost:\n%s", stderr)
	}

	c.Members[0].Restart(t)
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(lostManifest, "0s"))
	// The dead run's lock outlives it by one TTL (etcd renews leases when
	// it restarts): a runner waits for it, as runners do.
	code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--lock-timeout", "2m")
	if code != 0 {
		t.Fatalf("apply after etcd came back: exit %d\n%s", code, errs)
	}
	hosts := inventory(t, dir)
	seen := map[string]int{}
	for _, h := range hosts {
		seen[h.Address]++
		if h.Status != state.StatusReady {
			t.Errorf("%s is %s", h.Address, h.Status)
		}
	}
	if len(hosts) != 4 || len(seen) != 4 {
		t.Errorf("after recovery: %d records over %d addresses, want 4 and 4: %v", len(hosts), len(seen), seen)
	}
}
