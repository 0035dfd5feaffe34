package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/labbroker/broker/providers/awx/awxtest"
	"github.com/labbroker/broker/providers/beaker/beakertest"
	"github.com/labbroker/broker/providers/foreman/foremantest"
	"github.com/labbroker/broker/providers/openstack/ostest"
)

var update = flag.Bool("update", false, "rewrite golden files and testscript expectations")

// asBroker makes the test binary run broker's main when re-executed by the
// process tests (the testscript scripts get a `broker` command instead).
const asBroker = "BROKER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asBroker) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"broker": func() { os.Exit(Main(os.Args[1:])) },
	})
}

func TestScripts(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("BROKER_DIRECTORY", filepath.Join(env.WorkDir, ".broker"))
			env.Setenv("EXAMPLES", examples)
			env.Setenv("NO_COLOR", "1")
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"awx-emulator":       awxEmulator,
			"beaker-emulator":    beakerEmulator,
			"foreman-emulator":   foremanEmulator,
			"openstack-emulator": openstackEmulator,
			"json":               jsonField,
		},
		Condition: scriptCondition,
	})
}

// awxEmulator starts the AWX API emulator for a script and sets AWX_URL and
// AWX_TOKEN (user admin, password "password") for it; it stops with the
// script. Each argument NAME is a host of the inventory admin-hosts made
// outside broker (by the Python broker), with the fqdn NAME.lab.example.test;
// the argument +satellite adds awxtest.SatelliteWorkflows instead.
func awxEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! awx-emulator")
	}
	opts := awxtest.Options{Polls: 1}
	in := awxtest.Inventory{Name: "admin-hosts"}
	for _, n := range args {
		if n == "+satellite" {
			opts.Workflows = append(awxtest.DefaultWorkflows(), awxtest.SatelliteWorkflows()...)
			continue
		}
		in.Hosts = append(in.Hosts, awxtest.Host{Name: n, Variables: map[string]any{"fqdn": n + ".lab.example.test", "os_distribution": "RHEL"}})
	}
	if len(in.Hosts) > 0 {
		opts.Inventories = []awxtest.Inventory{in}
	}
	srv := awxtest.New(opts)
	ts.Defer(srv.Close)
	ts.Setenv("AWX_URL", srv.URL())
	ts.Setenv("AWX_TOKEN", "admin-token")
}

// openstackEmulators are the scripts' running OpenStack emulators.
var openstackEmulators sync.Map // *testscript.TestScript → *ostest.Emulator

// openstackEmulator starts the OpenStack API emulator (Keystone, Nova,
// Glance, Neutron) for a script and sets OS_AUTH_URL, OS_USERNAME,
// OS_PASSWORD and OS_PROJECT_NAME for it; it stops with the script. With
// arguments it acts on the running one: "rm-server NAME" deletes a server
// behind broker's back, "quota N" limits the servers, "fail-build FAULT"
// sends the next server to ERROR with that fault, "expect SERVERS FIPS"
// checks how many servers and floating IPs it holds, "python-inventory
// NAME FILE" makes a server as the Python broker would and writes its
// inventory.yaml entry to FILE.
func openstackEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! openstack-emulator")
	}
	if len(args) == 0 {
		srv := ostest.New(ostest.Options{})
		openstackEmulators.Store(ts, srv)
		ts.Defer(func() { openstackEmulators.Delete(ts); srv.Close() })
		ts.Setenv("OS_AUTH_URL", srv.AuthURL())
		ts.Setenv("OS_USERNAME", ostest.DefaultUsername)
		ts.Setenv("OS_PASSWORD", ostest.DefaultPassword)
		ts.Setenv("OS_PROJECT_NAME", ostest.DefaultProject)
		return
	}
	v, ok := openstackEmulators.Load(ts)
	if !ok {
		ts.Fatalf("openstack-emulator %s: no emulator started", args[0])
	}
	srv := v.(*ostest.Emulator)
	switch {
	case args[0] == "rm-server" && len(args) == 2:
		for _, s := range srv.Servers() {
			if s.Name == args[1] {
				srv.RemoveServer(s.ID)
				return
			}
		}
		ts.Fatalf("openstack-emulator: no server %s", args[1])
	case args[0] == "quota" && len(args) == 2:
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		srv.SetQuota(n)
	case args[0] == "fail-build" && len(args) == 2:
		srv.FailNextBuilds(args[1])
	case args[0] == "python-inventory" && len(args) == 3:
		// A server the Python broker made, and its inventory.yaml.
		id := srv.AddServer(args[1], "private", nil)
		var ip string
		for _, s := range srv.Servers() {
			if s.ID == id {
				ip = s.FixedIPs[0]
			}
		}
		inv := fmt.Sprintf("- _broker_provider: OpenStack\n  _broker_provider_instance: default\n  hostname: %s\n  name: %s\n  instance_id: %s\n  _broker_args:\n    ostack_image: cirros\n    ostack_flavor: m1.small\n", ip, args[1], id)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(inv), 0o644))
	case args[0] == "expect" && len(args) == 3:
		servers, err := strconv.Atoi(args[1])
		ts.Check(err)
		fips, err := strconv.Atoi(args[2])
		ts.Check(err)
		if got := len(srv.Servers()); got != servers {
			ts.Fatalf("the emulator holds %d servers, want %d", got, servers)
		}
		if got := srv.FloatingIPs(); got != fips {
			ts.Fatalf("the emulator holds %d floating IPs, want %d", got, fips)
		}
	default:
		ts.Fatalf("usage: openstack-emulator [rm-server NAME | quota N | fail-build FAULT | expect SERVERS FLOATING_IPS | python-inventory NAME FILE]")
	}
}

// beakerEmulator starts the Beaker hub emulator for a script and sets
// BEAKER_URL and BEAKER_PASSWORD (of user admin: "hub-secret", which
// scripts look for where it must not be); it stops with the script.
func beakerEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! beaker-emulator")
	}
	srv := beakertest.New(beakertest.Options{Users: map[string]string{"admin": "hub-secret"}})
	ts.Defer(srv.Close)
	ts.Setenv("BEAKER_URL", srv.URL())
	ts.Setenv("BEAKER_PASSWORD", "hub-secret")
}

// foremanEmulator starts the Foreman API emulator for a script and sets
// FOREMAN_URL and FOREMAN_PASSWORD (of user admin: "foreman-secret", which
// scripts look for where it must not be); it stops with the script.
func foremanEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! foreman-emulator")
	}
	srv := foremantest.New(foremantest.Options{Users: map[string]string{"admin": "foreman-secret"}})
	ts.Defer(srv.Close)
	ts.Setenv("FOREMAN_URL", srv.URL())
	ts.Setenv("FOREMAN_PASSWORD", "foreman-secret")
}

// scriptCondition answers [docker]: whether a Docker engine answers. In CI
// a missing engine fails the script instead of skipping it.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "docker":
		err := exec.Command("docker", "info").Run()
		if err != nil && os.Getenv("CI") == "true" {
			return false, fmt.Errorf("no Docker engine answers (docker info: %v), and CI=true forbids skipping", err)
		}
		return err == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
