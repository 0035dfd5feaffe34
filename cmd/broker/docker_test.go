package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/providers/docker/dockertest"
	"github.com/labbroker/broker/state"
)

// dockerEnv makes a unique environment name, so parallel runs and
// leftovers never mix, and removes whatever carries it at the end. Under
// TestPodman, DOCKER_HOST points broker and the docker CLI at Podman.
func dockerEnv(t *testing.T) string {
	t.Helper()
	dockertest.Docker(t) // skips, or fails in CI, without an engine
	if e := dockertest.EngineOf(t); e.Host != "" {
		// The images first: they are made with Docker's CLI.
		e.Image(t, "sshd")
		e.Image(t, "busybox")
		t.Setenv("DOCKER_HOST", e.Host)
	}
	env := fmt.Sprintf("dt-%d-%s", os.Getpid(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	if len(env) > 40 {
		env = env[:40]
	}
	t.Cleanup(func() {
		for _, kind := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
			ids := dockerList(t, env, kind...)
			if len(ids) == 0 {
				continue
			}
			rm := map[string][]string{"ps": {"rm", "-f", "-v"}, "network": {"network", "rm"}, "volume": {"volume", "rm", "-f"}}[kind[0]]
			_ = exec.Command("docker", append(rm, ids...)...).Run()
		}
	})
	return env
}

// dockerList lists ids of containers (ps -aq), networks or volumes that
// carry the environment's label.
func dockerList(t *testing.T, env string, kind ...string) []string {
	t.Helper()
	args := append(append([]string{}, kind...), "--filter", "label=broker.environment="+env)
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

const dockerLab = `
environment = "%s"
provider "docker" "local" {
  name_prefix = "%s"
}
variable "ssh_hosts" {
  type    = number
  default = 3
}
host "ssh" {
  provider = "docker.local"
  count    = var.ssh_hosts
  lease    = "1h"
  args     = { image = "broker-sshd:bookworm", ports = ["22"], network = "%s-net" }
  setup { run = ["echo set-up > /tmp/marker"] }
}
host "plain" {
  provider = "docker.local"
  count    = 2
  lease    = "1h"
  args     = { image = "broker-busybox:latest", network = "%s-net" }
  setup { run = ["echo set-up > /tmp/marker"] }
}
`

// TestDockerLifecycle: five containers (three reached over SSH, two over
// the engine's exec API), fewer of them, then none, leaving nothing behind.
func TestDockerLifecycle(t *testing.T) {
	env := dockerEnv(t)
	dockertest.Image(t, "sshd")
	dockertest.Image(t, "busybox")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(dockerLab, env, env, env, env))

	code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	hosts := inventory(t, dir)
	if len(hosts) != 5 || len(dockerList(t, env, "ps", "-q")) != 5 {
		t.Fatalf("after apply: %d records, %d running containers; want 5 and 5", len(hosts), len(dockerList(t, env, "ps", "-q")))
	}

	// Every host answers through its transport, and its setup ran.
	a, err := app.New(context.Background(), app.Options{Directory: filepath.Join(dir, ".broker"), LogLevel: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	transports := map[string]int{}
	for _, h := range hosts {
		h := h
		transports[h.Transport]++
		sess, err := a.Session(context.Background(), &h)
		if err != nil {
			t.Fatalf("%s: session: %v", h.Address, err)
		}
		res, err := sess.Run(context.Background(), "cat /tmp/marker; hostname; echo oops >&2; exit 3", remote.RunOptions{})
		if err != nil {
			t.Fatalf("%s over %s: %v", h.Address, h.Transport, err)
		}
		if res.Status != 3 || !strings.HasPrefix(res.Stdout, "set-up\n") || res.Stderr != "oops\n" {
			t.Errorf("%s over %s: status %d stdout %q stderr %q", h.Address, h.Transport, res.Status, res.Stdout, res.Stderr)
		}
		if h.Transport == state.TransportSSH && h.HostKey == "" {
			t.Errorf("%s: no host key pinned after setup over ssh", h.Address)
		}
	}
	if transports[state.TransportSSH] != 3 || transports[state.TransportDockerExec] != 2 {
		t.Errorf("transports %v, want 3 ssh and 2 docker-exec", transports)
	}

	// Fewer: the plan names two check-ins.
	code, out, errs := runBroker(t, dir, "plan", "-f", "lab.hcl", "--var", "ssh_hosts=1")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, errs)
	}
	if !strings.Contains(out, "Plan: 0 to check out, 0 to extend, 2 to check in, 0 to replace.") {
		t.Fatalf("plan with ssh_hosts=1:\n%s", out)
	}
	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--var", "ssh_hosts=1", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	if n := len(dockerList(t, env, "ps", "-aq")); n != 3 {
		t.Fatalf("%d containers after lowering the count, want 3", n)
	}

	if code, _, errs := runBroker(t, dir, "destroy", "-f", "lab.hcl", "--var", "ssh_hosts=1", "--auto-approve"); code != 0 {
		t.Fatalf("destroy: exit %d\n%s", code, errs)
	}
	for _, kind := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		if left := dockerList(t, env, kind...); len(left) != 0 {
			t.Errorf("docker %s: %d left with broker's labels after destroy", kind[0], len(left))
		}
	}
	if got := inventory(t, dir); len(got) != 0 {
		t.Errorf("%d records left after destroy", len(got))
	}
}

const dockerMany = `
environment = "%s"
provider "docker" "local" {
  name_prefix = "%s"
}
host "box" {
  provider = "docker.local"
  count    = 6
  args     = { image = "broker-busybox:latest" }
}
`

// TestDockerKilledApply: SIGKILL while containers are being created, apply
// again: exactly the desired containers exist, each recorded, none orphaned.
func TestDockerKilledApply(t *testing.T) {
	env := dockerEnv(t)
	dockertest.Image(t, "busybox")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(dockerMany, env, env))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--parallelism", "2")
	p.waitLine(t, "ready in")
	p.waitLine(t, "created container")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()

	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("second apply: exit %d\n%s", code, errs)
	}
	hosts := inventory(t, dir)
	var recorded []string
	for _, h := range hosts {
		recorded = append(recorded, h.ProviderID)
	}
	running := dockerList(t, env, "ps", "-aq", "--no-trunc")
	sort.Strings(recorded)
	sort.Strings(running)
	if len(hosts) != 6 || strings.Join(recorded, ",") != strings.Join(running, ",") {
		t.Errorf("after the second apply: %d records %v, containers %v; want 6, the same", len(hosts), recorded, running)
	}
}

// TestDockerRemovedBehindBrokersBack: a container removed with docker rm -f
// is planned as a replacement and replaced by the next apply.
func TestDockerRemovedBehindBrokersBack(t *testing.T) {
	env := dockerEnv(t)
	dockertest.Image(t, "busybox")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), strings.Replace(fmt.Sprintf(dockerMany, env, env), "count    = 6", "count    = 2", 1))
	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	victim := inventory(t, dir)[0]
	if err := exec.Command("docker", "rm", "-f", victim.ProviderID).Run(); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runBroker(t, dir, "plan", "-f", "lab.hcl")
	if code != 0 || !strings.Contains(out, "-/+ "+victim.Address) || !strings.Contains(out, "outside broker") {
		t.Fatalf("plan after docker rm -f (exit %d):\n%s", code, out)
	}
	if code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	if n := len(dockerList(t, env, "ps", "-q")); n != 2 {
		t.Errorf("%d containers running after the replacement, want 2", n)
	}
	for _, h := range inventory(t, dir) {
		if h.ProviderID == victim.ProviderID {
			t.Errorf("%s still records the removed container", h.Address)
		}
	}
}
