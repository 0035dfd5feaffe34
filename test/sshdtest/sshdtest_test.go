package sshdtest_test

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dial(t *testing.T, s *sshdtest.Server, addr string) (*ssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(s.KnownHosts(t))
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.Signer())},
		HostKeyCallback: cb,
	})
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, out)
	}
	return string(out)
}

func TestStartRunRestart(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c, err := dial(t, s, s.Addr)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	if got := run(t, c, "echo hi"); got != "hi\n" {
		t.Errorf("output %q", got)
	}
	c.Close()

	old := s.HostKeyFingerprint
	s.Restart(false)
	if s.HostKeyFingerprint != old {
		t.Errorf("host key changed on Restart(false)")
	}
	c, err = dial(t, s, s.Addr)
	if err != nil {
		t.Fatalf("dial after restart: %v", err)
	}
	c.Close()

	known := s.KnownHosts(t)
	s.Restart(true)
	if s.HostKeyFingerprint == old {
		t.Errorf("host key kept on Restart(true)")
	}
	cb, _ := knownhosts.New(known)
	_, err = ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.Signer())}, HostKeyCallback: cb})
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("dial with old known_hosts: %v, want key mismatch", err)
	}
}

func TestStartNManyPorts(t *testing.T) {
	s := sshdtest.StartN(t, 40)
	if len(s.Addrs) != 40 {
		t.Fatalf("%d addrs", len(s.Addrs))
	}
	for _, i := range []int{0, 17, 39} {
		c, err := dial(t, s, s.Addrs[i])
		if err != nil {
			t.Fatalf("dial %s: %v", s.Addrs[i], err)
		}
		run(t, c, "true")
		c.Close()
	}
}

func TestHostKeyReuse(t *testing.T) {
	a := sshdtest.Start(t, sshdtest.Options{})
	b := sshdtest.Start(t, sshdtest.Options{HostKey: a.HostKeyFile})
	if a.HostKeyFingerprint != b.HostKeyFingerprint {
		t.Errorf("fingerprints differ: %s %s", a.HostKeyFingerprint, b.HostKeyFingerprint)
	}
}

func TestPassword(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s := sshdtest.Start(t, sshdtest.Options{Password: "s3cret-sshdtest"})
	c, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.Password(s.Password)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()),
	})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	defer c.Close()
	if got := run(t, c, "id -un"); strings.TrimSpace(got) != s.User {
		t.Errorf("id -un = %q, want %q", got, s.User)
	}
}

func TestStartSilent(t *testing.T) {
	addr := sshdtest.StartSilent(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
