package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/labbroker/broker/providers/awx/awxtest"
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
			"awx-emulator": awxEmulator,
		},
		Condition: scriptCondition,
	})
}

// awxEmulator starts the AWX API emulator for a script and sets AWX_URL and
// AWX_TOKEN (user admin, password "password") for it; it stops with the
// script. `awx-emulator satellite` adds awxtest.SatelliteWorkflows.
func awxEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! awx-emulator")
	}
	opts := awxtest.Options{Polls: 1}
	for _, a := range args {
		switch a {
		case "satellite":
			opts.Workflows = append(awxtest.DefaultWorkflows(), awxtest.SatelliteWorkflows()...)
		default:
			ts.Fatalf("awx-emulator: unknown seed %q", a)
		}
	}
	srv := awxtest.New(opts)
	ts.Defer(srv.Close)
	ts.Setenv("AWX_URL", srv.URL())
	ts.Setenv("AWX_TOKEN", "admin-token")
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
