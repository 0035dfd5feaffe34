package docker

// The Python broker's container arguments (broker/providers/container.py:
// run_container's environment and provider_labels handling, _port_mapping's
// port forms; tests/providers/test_container.py; tests/functional/
// test_containers.py's provider_labels {"l1": "v1", "l2": None}).

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
)

func TestPythonEnvironmentForms(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]any
		want map[string]string
	}{
		{map[string]any{"image": "i", "environment": "A=1,B=2"}, map[string]string{"A": "1", "B": "2"}},
		{map[string]any{"image": "i", "environment": "URL=http://x/?a=b"}, map[string]string{"URL": "http://x/?a=b"}},
		{map[string]any{"image": "i", "environment": map[string]any{"A": "1", "N": float64(2), "E": nil}}, map[string]string{"A": "1", "N": "2", "E": ""}},
		{map[string]any{"image": "i", "env": map[string]any{"A": "0", "C": "3"}, "environment": "A=1"}, map[string]string{"A": "1", "C": "3"}},
	} {
		a, err := decodeArgs(tc.in)
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, a.Env); diff != "" {
			t.Errorf("%v: env (-want +got):\n%s", tc.in, diff)
		}
	}
	if _, err := decodeArgs(map[string]any{"image": "i", "environment": "A"}); err == nil || !strings.Contains(err.Error(), "environment") {
		t.Errorf("environment=A: %v", err)
	}
}

func TestPythonCommandAndAliases(t *testing.T) {
	a, err := decodeArgs(map[string]any{"container_app": "i", "command": `sh -c 'echo "a b"' x\ y`, "working_dir": "/srv", "mem_limit": "64m"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sh", "-c", `echo "a b"`, "x y"}, a.Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	if a.Image != "i" || a.WorkDir != "/srv" || a.Memory != "64m" {
		t.Errorf("aliases: %+v", a)
	}
	if _, err := decodeArgs(map[string]any{"image": "i", "command": `echo "unterminated`}); err == nil {
		t.Error("unterminated quote accepted")
	}
}

// Options the engine API has no mapping for here are refused, naming them.
func TestUnknownEngineOptionNamed(t *testing.T) {
	_, err := decodeArgs(map[string]any{"image": "i", "blkio_weight": "10"})
	if err == nil || !strings.Contains(err.Error(), "blkio_weight") {
		t.Fatalf("blkio_weight: %v", err)
	}
}

// provider_labels and the user's labels land as broker.<key>; broker's own
// labels win; the labels option is set as given.
func TestContainerLabels(t *testing.T) {
	a, err := decodeArgs(map[string]any{"image": "i",
		"provider_labels": map[string]any{"l1": "v1", "l2": nil, "id": "mine"},
		"labels":          map[string]any{"com.example.team": "qe"}})
	if err != nil {
		t.Fatal(err)
	}
	got := containerLabels(map[string]string{"team": "qe", "broker.id": "rec1", "broker.provider": "docker"}, a)
	want := map[string]string{"broker.l1": "v1", "broker.l2": "", "broker.team": "qe", "broker.id": "rec1", "broker.provider": "docker", "com.example.team": "qe"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestEngineOptionsMapped(t *testing.T) {
	a, err := decodeArgs(map[string]any{"image": "i",
		"cap_add": "NET_ADMIN,SYS_TIME", "dns": "192.0.2.53", "extra_hosts": map[string]any{"db": "192.0.2.9"},
		"devices": []any{"/dev/fuse"}, "tmpfs": []any{"/run:size=1m"}, "shm_size": "1m", "sysctls": map[string]any{"net.ipv4.ip_forward": "1"},
		"init": true, "read_only": true, "domainname": "example.test", "stop_signal": "SIGINT", "network_mode": "none"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc := &container.Config{}, &container.HostConfig{}
	if err := applyEngineOptions(cfg, hc, a); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(hc.CapAdd, []string{"NET_ADMIN", "SYS_TIME"}) || len(hc.DNS) != 1 || !cmp.Equal(hc.ExtraHosts, []string{"db:192.0.2.9"}) ||
		len(hc.Devices) != 1 || hc.Devices[0].PathInContainer != "/dev/fuse" || hc.Tmpfs["/run"] != "size=1m" || hc.ShmSize != 1<<20 ||
		hc.Sysctls["net.ipv4.ip_forward"] != "1" || hc.Init == nil || !*hc.Init || !hc.ReadonlyRootfs || hc.NetworkMode != "none" ||
		cfg.Domainname != "example.test" || cfg.StopSignal != "SIGINT" {
		t.Errorf("mapped: %+v %+v", cfg, hc)
	}
	for _, bad := range []map[string]any{
		{"image": "i", "dns": "not-an-ip"},
		{"image": "i", "shm_size": "lots"},
		{"image": "i", "tmpfs": []any{"run"}},
		{"image": "i", "extra_hosts": []any{"nocolon"}},
	} {
		a, err := decodeArgs(bad)
		if err == nil {
			err = applyEngineOptions(&container.Config{}, &container.HostConfig{}, a)
		}
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// _port_mapping's "22/tcp:1337" form.
func TestPythonPortForm(t *testing.T) {
	_, bindings, err := parsePorts([]string{"22/tcp:1337", "53/udp:5353"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for port, host := range map[string]string{"22/tcp": "1337", "53/udp": "5353"} {
		found := false
		for p, bs := range bindings {
			if p.String() == port && len(bs) == 1 && bs[0].HostPort == host {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not bound to %s: %v", port, host, bindings)
		}
	}
}
