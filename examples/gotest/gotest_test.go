package gotest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/labbroker/broker"
	"github.com/labbroker/broker/brokertest"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

func TestMain(m *testing.M) {
	// This example runs inside broker's own `go test ./...`, so it keeps
	// its state in a directory of its own. A real suite leaves this out
	// and uses the user's BROKER_DIRECTORY (or ~/.broker) and settings.
	tmp := ""
	if os.Getenv("BROKER_DIRECTORY") == "" {
		d, err := os.MkdirTemp("", "gotest-broker-")
		if err != nil {
			panic(err)
		}
		tmp = d
		os.Setenv("BROKER_DIRECTORY", d)
	}
	// Main checks in what the package's tests share (brokertest.Shared
	// below) after they have all run, pass or fail.
	code := brokertest.Main(m, nil)
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// needDocker skips the test when no Docker engine answers, and builds
// broker's test images when they are missing. (A suite of your own would
// not need this: its hosts come from your settings.)
func needDocker(t *testing.T) {
	t.Helper()
	dockertest.Image(t, "sshd")
	dockertest.Image(t, "busybox")
}

// busybox is one container shared by every test of the package: checked
// out by the first test that asks, checked in by Main.
func busybox(t *testing.T) *broker.Host {
	t.Helper()
	return brokertest.Shared(t, "busybox", broker.Provider("docker"),
		broker.Args{"image": "broker-busybox:latest"})
}

// A host with an SSH server: the container publishes port 22 and broker
// logs in with its own key.
func TestSSH(t *testing.T) {
	needDocker(t)
	host := brokertest.Checkout(t, broker.Provider("docker"),
		broker.Args{"image": "broker-sshd:bookworm", "ports": []string{"22"}},
		broker.Labels{"suite": "gotest"})

	res := host.Run(t.Context(), ". /etc/os-release && echo $VERSION_CODENAME")
	if res.Status != 0 {
		t.Fatal(res)
	}
	if got := strings.TrimSpace(res.Stdout); got != "bookworm" {
		t.Errorf("codename %q, want bookworm", got)
	}
	t.Logf("%s at %s:%d ran in %v", host.Name, host.ConnectHost, host.Port, res.Duration)
}

// A container without an SSH server is reached through the engine's exec
// API; the test does not need to know.
func TestExec(t *testing.T) {
	needDocker(t)
	host := busybox(t)
	res := host.Run(t.Context(), "echo hello from $(hostname); ls /nonexistent")
	if res.Err != nil {
		t.Fatal(res)
	}
	if res.Status == 0 || !strings.HasPrefix(res.Stdout, "hello from ") || res.Stderr == "" {
		t.Errorf("want a failed ls after the greeting: %v", res)
	}
}

// Setup and Teardown steps run around the test, as a Python broker Host
// class's setup and teardown methods do.
func TestSetupTeardown(t *testing.T) {
	needDocker(t)
	host := brokertest.Checkout(t, broker.Provider("docker"),
		broker.Args{"image": "broker-busybox:latest"},
		broker.Setup(func(ctx context.Context, h *broker.Host) error {
			return h.Run(ctx, "mkdir -p /srv/app && echo v1 > /srv/app/VERSION").Err
		}),
		broker.Teardown(func(ctx context.Context, h *broker.Host) error {
			res := h.Run(ctx, "cat /srv/app/VERSION")
			t.Logf("teardown: the app was at %s", strings.TrimSpace(res.Stdout))
			return res.Err
		}))
	if res := host.Run(t.Context(), "cat /srv/app/VERSION"); res.Stdout != "v1\n" {
		t.Fatal(res)
	}
}

// A whole lab for one test, destroyed when the test ends.
func TestApply(t *testing.T) {
	needDocker(t)
	env := brokertest.Apply(t, "testdata/lab.hcl")

	server := env.Host("host.server[0]")
	if res := server.Run(t.Context(), "cat /tmp/service.state"); res.Stdout != "listening\n" {
		t.Fatalf("the server's setup did not run: %v", res)
	}
	clients := env.Hosts(`labels.role == "client"`)
	if len(clients) != 2 {
		t.Fatalf("%d clients, want 2", len(clients))
	}
	for _, c := range clients {
		t.Run(c.Address, func(t *testing.T) {
			t.Parallel()
			if res := c.Run(t.Context(), "hostname"); res.Status != 0 || res.Stdout == "" {
				t.Fatal(res)
			}
		})
	}
}
