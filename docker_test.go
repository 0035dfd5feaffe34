package broker_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labbroker/broker"
	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/providers/docker/dockertest"
	"github.com/labbroker/broker/state"
)

// dockerClient is a client on a fresh directory whose docker provider names
// containers with the run's prefix; the run's cleanup removes whatever
// carries its label, should a test fail half way. The engine is Docker, or
// Podman under TestPodman.
func dockerClient(t *testing.T) (*broker.Client, *dockertest.Run) {
	t.Helper()
	e := dockertest.EngineOf(t)
	e.Image(t, "sshd")
	e.Image(t, "busybox")
	run := e.NewRun(t)
	c := open(t, broker.Options{
		Environment: run.Prefix,
		Settings:    "provider \"docker\" \"local\" {\n  name_prefix = \"" + run.Prefix + "\"\n" + e.HCL() + "}\n",
	})
	return c, run
}

// TestPodman runs the library's container tests on Podman.
func TestPodman(t *testing.T) {
	dockertest.RunOn(t, "podman", map[string]func(*testing.T){
		"CheckoutRun": TestDockerCheckoutRun,
		"Apply":       TestDockerApply,
	})
}

func TestDockerCheckoutRun(t *testing.T) {
	c, run := dockerClient(t)
	labels := broker.Labels(run.Labels())

	sshd, err := c.Checkout(t.Context(), broker.Provider("docker.local"), labels,
		broker.Args{"image": dockertest.SSHDImage, "ports": []string{"22"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Checkout(t.Context(), broker.Provider("docker"), labels,
		broker.Args{"image": dockertest.BusyboxImage})
	if err != nil {
		t.Fatal(err)
	}
	if sshd.Record().Transport != state.TransportSSH || plain.Record().Transport != state.TransportDockerExec {
		t.Fatalf("transports %q and %q", sshd.Record().Transport, plain.Record().Transport)
	}

	for _, h := range []*broker.Host{sshd, plain} {
		res := h.Run(t.Context(), "echo out; echo err >&2; exit 3")
		if res.Err != nil || res.Status != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" || res.Duration <= 0 {
			t.Errorf("%s over %s: %+v", h, h.Record().Transport, res)
		}
		res = h.RunWith(t.Context(), "cat; echo $GREETING", broker.RunOptions{Stdin: strings.NewReader("fed\n"), Env: map[string]string{"GREETING": "hi"}})
		if !res.OK() || res.Stdout != "fed\nhi\n" {
			t.Errorf("%s RunWith stdin and env: %+v", h, res)
		}
		res = h.RunWith(t.Context(), "sleep 30", broker.RunOptions{Timeout: 200 * time.Millisecond})
		var te *remote.TimeoutError
		if !errors.As(res.Err, &te) || res.Status != -1 {
			t.Errorf("%s RunWith past its timeout: %+v", h, res)
		}
		var out, errs bytes.Buffer
		res = h.RunStream(t.Context(), "echo streamed; echo e >&2", &out, &errs)
		if !res.OK() || out.String() != "streamed\n" || errs.String() != "e\n" || res.Stdout != "" {
			t.Errorf("%s stream: %+v, %q, %q", h, res, out.String(), errs.String())
		}

		dir := t.TempDir()
		src := filepath.Join(dir, "up.txt")
		if err := os.WriteFile(src, []byte("payload\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := h.Upload(t.Context(), src, "/tmp/up.txt"); err != nil {
			t.Fatalf("%s upload: %v", h, err)
		}
		if res := h.Run(t.Context(), "cat /tmp/up.txt"); res.Stdout != "payload\n" {
			t.Errorf("%s: uploaded file reads %+v", h, res)
		}
		back := filepath.Join(dir, "back.txt")
		if err := h.Download(t.Context(), "/tmp/up.txt", back); err != nil {
			t.Fatalf("%s download: %v", h, err)
		}
		if b, _ := os.ReadFile(back); string(b) != "payload\n" {
			t.Errorf("%s: downloaded %q", h, b)
		}
	}

	// The SSH host key is pinned on first contact and recorded.
	inv, err := c.Inventory(t.Context(), `transport == "ssh"`)
	if err != nil || len(inv) != 1 {
		t.Fatalf("inventory: %v %v", inv, err)
	}
	st := inv[0].Record()
	if st.HostKey == "" {
		t.Error("no host key recorded after an SSH session")
	}

	if err := c.Checkin(t.Context(), sshd, plain); err != nil {
		t.Fatal(err)
	}
	if res := sshd.Run(t.Context(), "true"); res.Err == nil {
		t.Errorf("run on a checked-in host: %+v", res)
	}
	n, _, _, err := run.Left(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d containers left after checkin", n)
	}
}

const dockerLab = `
provider "docker" "local" {
  name_prefix = "%PREFIX%"
%ENGINE%}
host "server" {
  provider = "docker.local"
  args     = { image = "broker-sshd:bookworm", ports = ["22"] }
  labels   = { role = "server", "broker.test.run" = "%RUN%" }
  setup { run = ["echo ready > /tmp/marker"] }
}
host "client" {
  provider = "docker.local"
  count    = 2
  args     = { image = "broker-busybox:latest" }
  labels   = { role = "client", "broker.test.run" = "%RUN%" }
}
`

func TestDockerApply(t *testing.T) {
	c, run := dockerClient(t)
	path := filepath.Join(t.TempDir(), "lab.hcl")
	src := strings.NewReplacer("%PREFIX%", run.Prefix, "%RUN%", run.Value, "%ENGINE%", run.Engine.HCL()).Replace(dockerLab)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := c.Apply(t.Context(), path, broker.InEnvironment(run.Prefix+"-lab"))
	if err != nil {
		t.Fatal(err)
	}
	server := env.Host("host.server[0]")
	if server == nil {
		t.Fatalf("no server in %v", env.Hosts(""))
	}
	if res := server.Run(t.Context(), "cat /tmp/marker"); res.Stdout != "ready\n" {
		t.Errorf("server's setup: %+v", res)
	}
	clients := env.Hosts(`labels.role == "client"`)
	if len(clients) != 2 {
		t.Fatalf("clients: %v", clients)
	}
	for _, h := range clients {
		if res := h.Run(t.Context(), "hostname"); !res.OK() {
			t.Errorf("%s: %+v", h, res)
		}
	}
	if err := c.Destroy(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if n, _, _, err := run.Left(t.Context()); err != nil || n != 0 {
		t.Errorf("%d containers left after destroy (%v)", n, err)
	}
}
