package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/labbroker/broker/providers/openstack/ostest"
)

const openstackKilled = `
environment = "oskill"

provider "openstack" "cloud" {
  auth_url      = %q
  username      = "admin"
  password      = env("OS_PASSWORD")
  project_name  = "demo"
  poll_interval = "10ms"
}

host "web" {
  provider = "openstack.cloud"
  args     = { image = "cirros", flavor = "m1.small", network = "private" }
}
`

// TestOpenStackKilledApplyAdoptsByIntentLabel: an apply killed after
// Nova made the server but before broker learnt its id (the create's
// answer held by the emulator) leaves an intent with no checkpoint; the
// next apply finds the server by its broker.intent metadata and adopts it
// instead of making another.
func TestOpenStackKilledApplyAdoptsByIntentLabel(t *testing.T) {
	e := ostest.New(ostest.Options{})
	defer e.Close()
	t.Setenv("OS_PASSWORD", ostest.DefaultPassword)
	created := e.HoldCreates()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(openstackKilled, e.AuthURL()))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	var id string
	select {
	case id = <-created:
	case err := <-p.done:
		t.Fatalf("apply ended (%v) before the server was created; stderr:\n%s", err, drain(p))
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()
	e.ReleaseCreates()

	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("second apply: exit %d\n%s", code, errs)
	}
	hosts := inventory(t, dir)
	if len(hosts) != 1 || hosts[0].ProviderID != id {
		t.Errorf("after the second apply the state holds %+v; want the one server %s", hosts, id)
	}
	if n := e.Creates(); n != 1 || len(e.Servers()) != 1 {
		t.Errorf("%d creates, %d servers; want the killed apply's server adopted, none made again", n, len(e.Servers()))
	}
	if code, _, errs := runBroker(t, dir, "destroy", "-f", "lab.hcl", "-auto-approve"); code != 0 {
		t.Fatalf("destroy: exit %d\n%s", code, errs)
	}
	if n := len(e.Servers()); n != 0 {
		t.Errorf("%d servers after destroy, want 0", n)
	}
}

func drain(p *brokerProc) string {
	var s string
	for l := range p.lines {
		s += l + "\n"
	}
	return s
}
