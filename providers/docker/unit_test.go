package docker

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/network"

	"github.com/labbroker/broker/providers"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		spec     string
		port     string
		hostIP   string
		hostPort string
		bad      bool
	}{
		{spec: "22", port: "22/tcp", hostIP: "127.0.0.1"},
		{spec: "22/tcp", port: "22/tcp", hostIP: "127.0.0.1"},
		{spec: "22:2222", port: "22/tcp", hostIP: "127.0.0.1", hostPort: "2222"},
		{spec: "53/udp", port: "53/udp", hostIP: "127.0.0.1"},
		{spec: "0.0.0.0:80:8080/tcp", port: "80/tcp", hostIP: "0.0.0.0", hostPort: "8080"},
		{spec: "x", bad: true},
		{spec: "22:notaport", bad: true},
		{spec: "a:22:2222", bad: true},
		{spec: "1:2:3:4", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			exposed, bindings, err := parsePorts([]string{tt.spec}, "127.0.0.1")
			if tt.bad {
				if err == nil {
					t.Fatalf("no error for %q", tt.spec)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := network.MustParsePort(tt.port)
			if _, ok := exposed[p]; !ok {
				t.Errorf("not exposed: %v", exposed)
			}
			b := bindings[p]
			if len(b) != 1 || b[0].HostIP.String() != tt.hostIP || b[0].HostPort != tt.hostPort {
				t.Errorf("bindings %v", b)
			}
		})
	}
}

func TestDecodeArgs(t *testing.T) {
	a, err := decodeArgs(map[string]any{
		"container_host": "img:1",
		"ports":          "22 80:8080",
		"env":            map[string]any{"N": float64(3)},
		"privileged":     "true",
		"cpus":           "1.5",
		"command":        []any{"sh", "-c", "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := args{Image: "img:1", Ports: []string{"22", "80:8080"}, Env: map[string]string{"N": "3"}, Privileged: true, CPUs: 1.5, Command: []string{"sh", "-c", "x"}}
	if d := cmp.Diff(want, a); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []map[string]any{
		{"ports": map[string]any{}},
		{"cpus": "-1"},
		{"pull": "sometimes"},
		{"env": []any{"x"}},
	} {
		if _, err := decodeArgs(bad); err == nil {
			t.Errorf("decodeArgs(%v) succeeded", bad)
		}
	}
}

func TestSSHArgs(t *testing.T) {
	got, err := sshArgs("ssh://root@builder.lab:2200")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Join(got, " ")
	for _, w := range []string{"-l root", "-p 2200", "-- builder.lab docker system dial-stdio"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
	for _, bad := range []string{"ssh://", "tcp://x:1", "ssh://h/path"} {
		if _, err := sshArgs(bad); err == nil {
			t.Errorf("sshArgs(%q) succeeded", bad)
		}
	}
}

func TestEngineHost(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	tests := []struct {
		name string
		set  settings
		typ  string
		want string
	}{
		{"setting wins", settings{Host: "unix:///x.sock"}, "docker", "unix:///x.sock"},
		{"DOCKER_HOST", settings{}, "docker", "tcp://127.0.0.1:2375"},
		{"podman alias", settings{}, "podman", "unix://" + run + "/podman/podman.sock"},
		{"podman engine", settings{Engine: "podman"}, "docker", "unix://" + run + "/podman/podman.sock"},
	}
	for _, tt := range tests {
		if got, _ := engineHost(tt.set, tt.typ); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if h, local := publishHost("ssh://root@builder.lab"); h != "builder.lab" || local {
		t.Errorf("publishHost(ssh) = %q %v", h, local)
	}
	if h, local := publishHost("unix:///var/run/docker.sock"); h != "127.0.0.1" || !local {
		t.Errorf("publishHost(unix) = %q %v", h, local)
	}
}

// TestPodmanSockets: engine = "podman" without host takes the first of
// podman's usual sockets that accepts a connection (a socket file left by a
// stopped podman does not), and names every one it tried when none does.
func TestPodmanSockets(t *testing.T) {
	run, sys := t.TempDir(), t.TempDir()
	user := filepath.Join(run, "podman", "podman.sock")
	system := filepath.Join(sys, "podman.sock")
	t.Setenv("XDG_RUNTIME_DIR", run)
	old := systemPodmanSocket
	systemPodmanSocket = system
	t.Cleanup(func() { systemPodmanSocket = old })
	if err := os.MkdirAll(filepath.Dir(user), 0o700); err != nil {
		t.Fatal(err)
	}
	// listen makes a socket at path that accepts (live) or not (stale:
	// the file stays, nothing listens).
	listen := func(path string, live bool) func() {
		t.Helper()
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		if !live {
			l.SetUnlinkOnClose(false)
			_ = l.Close()
		}
		return func() { _ = l.Close(); _ = os.Remove(path) }
	}
	podman := settings{Engine: "podman"}

	host, tried := engineHost(podman, "docker")
	if host != "unix://"+user || len(tried) != 2 || !strings.HasPrefix(tried[0], "unix://"+user+" (") ||
		!strings.HasPrefix(tried[1], "unix://"+system+" (") || !strings.Contains(tried[0], "no such file") {
		t.Errorf("no socket: host %q, tried %q", host, tried)
	}

	done := listen(system, true)
	if host, tried := engineHost(podman, "docker"); host != "unix://"+system || tried != nil {
		t.Errorf("system socket only: host %q, tried %q", host, tried)
	}
	stale := listen(user, false)
	if host, _ := engineHost(podman, "docker"); host != "unix://"+system {
		t.Errorf("stale user socket, live system socket: host %q", host)
	}
	stale()
	userDone := listen(user, true)
	if host, _ := engineHost(podman, "docker"); host != "unix://"+user {
		t.Errorf("both live: host %q, want the user's", host)
	}
	userDone()
	done()

	// None answers: the error names each socket and why, and says how to
	// start one.
	stale = listen(system, false)
	defer stale()
	p, err := New(context.Background(), providers.Config{Type: "podman", Alias: "podman", Instance: "p", User: testUser, Settings: settingsVal(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"image": "broker-busybox:latest"}})
	var ee *EngineError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v (%T), want *EngineError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"no podman engine answers", user + " (", "no such file", system + " (", "connection refused", "hint: start podman's API socket"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	if got := sanitizeName("host.client[0]"); got != "host.client-0" {
		t.Errorf("got %q", got)
	}
}

// TestContainerHostnameLongNamesStayDistinct: names past a hostname's 63
// characters that differ only at the end give distinct hostnames, each a
// valid length; a short name is its own hostname.
func TestContainerHostnameLongNamesStayDistinct(t *testing.T) {
	long := strings.Repeat("environment-", 6)
	a, b := containerHostname(long+"ssh-0"), containerHostname(long+"ssh-1")
	if a == b || len(a) > 63 || len(b) > 63 {
		t.Errorf("hostnames %q and %q of names differing at the end", a, b)
	}
	if got := containerHostname("qe-web-0"); got != "qe-web-0" {
		t.Errorf("short name: hostname %q", got)
	}
}
