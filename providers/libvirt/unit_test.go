package libvirt

import (
	"strings"
	"testing"
)

func TestParseURISSHParameters(t *testing.T) {
	got, err := parseURI("qemu+ssh://me@lab1/system?keyfile=/k&known_hosts=/kh&no_verify=1&netcat=/bin/nc&socket=/s")
	if err != nil || got.KeyFile != "/k" || got.KnownHosts != "/kh" || !got.NoVerify || got.Netcat != "/bin/nc" || got.Socket != "/s" {
		t.Errorf("%+v, %v", got, err)
	}
	if q := shellQuote("it's"); q != `'it'\''s'` {
		t.Errorf("shellQuote = %s", q)
	}
}

func TestParseURI(t *testing.T) {
	for _, c := range []struct {
		in, open, socket, ssh, port string
		err                         string
	}{
		{in: "qemu:///system", open: "qemu:///system"},
		{in: "qemu:///session", open: "qemu:///session"},
		{in: "qemu+unix:///session?socket=/tmp/x/sock", open: "qemu:///session", socket: "/tmp/x/sock"},
		{in: "qemu+ssh://me@lab1:2222/system", open: "qemu:///system", ssh: "me@lab1", port: "2222"},
		{in: "xen:///system", err: "only qemu"},
		{in: "qemu:///nope", err: "/system or /session"},
		{in: "qemu+tcp://h/system", err: `transport "tcp"`},
		{in: "qemu://h/system", err: "needs a transport"},
	} {
		got, err := parseURI(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.Open != c.open || got.Socket != c.socket || got.SSH != c.ssh || got.SSHPort != c.port || got.Remote != (c.ssh != "") {
			t.Errorf("%s: %+v, %v", c.in, got, err)
		}
	}
}

// TestMetadataRoundTrip: labels and volumes written into a domain's XML
// are read back, with characters XML must escape.
func TestMetadataRoundTrip(t *testing.T) {
	m := newMeta(map[string]string{"broker.id": "a<b>&\"c", "broker.intent": "i1"})
	m.Volumes = []string{"x.qcow2", "x-seed.iso"}
	m.Pool, m.SSHPort, m.User, m.Network, m.Created = "default", 2222, "root", "user", "2026-01-02T03:04:05Z"
	s := spec{Type: "qemu", Name: "n", Meta: m, MemoryMiB: 256, VCPUs: 1, Disk: "/p/x.qcow2", SSHPort: 2222, MAC: "52:54:00:00:00:01"}
	d, err := parseDomain(s.xml())
	if err != nil {
		t.Fatal(err)
	}
	got := d.Metadata.Host
	if got == nil || got.labels()["broker.id"] != "a<b>&\"c" || got.labels()["broker.intent"] != "i1" || len(got.Volumes) != 2 || got.SSHPort != 2222 || got.Pool != "default" || got.Created != "2026-01-02T03:04:05Z" {
		t.Fatalf("metadata read back = %+v", got)
	}
	if !strings.Contains(s.xml(), "hostfwd=tcp:127.0.0.1:2222-:22") {
		t.Errorf("user networking lacks the forward from 127.0.0.1:\n%s", s.xml())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512M": 512 << 20, "2G": 2 << 30, "1024": 1024 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("lots: no error")
	}
}
