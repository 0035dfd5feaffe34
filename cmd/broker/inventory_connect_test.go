package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/labbroker/broker/test/sshdtest"
)

// requireProgram returns the path of a program the test drives (ssh,
// ansible): it skips without it, or fails in CI (test/deps.sh installs
// them).
func requireProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true: not skipping; test/deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed (test/deps.sh installs it)", name)
	}
	return p
}

// consumer runs ssh or ansible as a user would, with HOME in dir (so
// nothing of the machine's own configuration takes part).
func consumer(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, ".ansible-tmp"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sshAliases are the Host names of an ssh-config.
func sshAliases(cfg string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^Host (\S+)$`).FindAllStringSubmatch(cfg, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkSSHConfig logs in to every host of an ssh-config with the real ssh,
// then shows the pinned key is checked: with another key written under a
// host's alias, ssh refuses it.
func checkSSHConfig(t *testing.T, l *remoteLab, env string, want int) {
	t.Helper()
	ssh := requireProgram(t, "ssh")
	r := l.must(0, "inventory", "-e", env, "--format", "ssh-config")
	aliases := sshAliases(r.stdout)
	if len(aliases) != want {
		t.Fatalf("%d Host entries, want %d:\n%s", len(aliases), want, r.stdout)
	}
	wantIn(t, "ssh-config", r.stdout, `(?m)^  StrictHostKeyChecking yes$`, `(?m)^  HostKeyAlias broker-\S+$`, `(?m)^  IdentityFile \S+$`)
	cfg := l.write("ssh_config", r.stdout)
	for _, a := range aliases {
		if out, err := consumer(t, l.dir, ssh, "-F", cfg, "-o", "BatchMode=yes", a, "true"); err != nil {
			t.Errorf("ssh -F ssh_config %s true: %v\n%s", a, err, out)
		}
	}
	// Another key of the same type under the first alias: ssh must
	// refuse the host.
	kh := regexp.MustCompile(`(?m)^  UserKnownHostsFile (\S+)$`).FindStringSubmatch(r.stdout)[1]
	alias := regexp.MustCompile(`(?m)^  HostKeyAlias (\S+)$`).FindStringSubmatch(r.stdout)[1]
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(alias) + ` (\S+) \S+$`)
	m := line.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no line for %s in %s:\n%s", alias, kh, b)
	}
	lines := line.ReplaceAllString(string(b), alias+" "+otherKey(t, m[1]))
	if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := consumer(t, l.dir, ssh, "-F", cfg, "-o", "BatchMode=yes", aliases[0], "true"); err == nil {
		t.Errorf("ssh accepted a host whose key differs from the pinned one:\n%s", out)
	} else if !strings.Contains(out, "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh failed, but not on the host key:\n%s", out)
	}
}

// otherKey is a new public key of the given type, in authorized_keys form.
func otherKey(t *testing.T, typ string) string {
	t.Helper()
	var pub any
	switch typ {
	case ssh.KeyAlgoED25519:
		pub, _, _ = ed25519.GenerateKey(rand.Reader)
	case ssh.KeyAlgoECDSA256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	default:
		t.Fatalf("pinned key of type %s: the test makes ed25519 and ecdsa-sha2-nistp256 keys only", typ)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// checkAnsible runs `ansible -i FILE all -m raw -a true` on the inventory:
// every host answers, one entry each.
func checkAnsible(t *testing.T, l *remoteLab, env string, want int) {
	t.Helper()
	ansible := requireProgram(t, "ansible")
	r := l.must(0, "inventory", "-e", env, "--format", "ansible")
	inv := l.write("hosts.yaml", r.stdout)
	out, err := consumer(t, l.dir, ansible, "-i", inv, "all", "-m", "raw", "-a", "true")
	if err != nil {
		t.Fatalf("ansible -i hosts.yaml all -m raw -a true: %v\n%s\ninventory:\n%s", err, out, r.stdout)
	}
	if n := len(regexp.MustCompile(`(?m)^\S+ \| (CHANGED|SUCCESS) \| rc=0`).FindAllString(out, -1)); n != want {
		t.Errorf("%d hosts answered ansible, want %d:\n%s", n, want, out)
	}
}

// Pool members on one machine share a hostname: a reference by it names
// several hosts and is refused; the ssh-config and the Ansible inventory
// still name each once (by member), and real ssh and ansible log in.
func TestInventoryFormatsWithSSHAndAnsibleStatic(t *testing.T) {
	srv := sshdtest.StartN(t, 2)
	l := newRemoteLab(t, srv)
	l.write("lab.hcl", `environment = "pool"
`+pool("lab", srv)+`
host "web" {
  provider = "static.lab"
  count    = 2
}
`)
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	// exec pins the host keys.
	l.must(0, "exec", "-e", "pool", "--all", "--", "true")

	r := l.must(1, "exec", "-e", "pool", "127.0.0.1", "--", "true")
	wantIn(t, "stderr", r.stderr, `"127\.0\.0\.1" names 2 hosts \(0: host\.web\[\d\], 1: host\.web\[\d\]\)`)

	t.Run("ssh", func(t *testing.T) { checkSSHConfig(t, l.in(t), "pool", 2) })
	t.Run("ansible", func(t *testing.T) { checkAnsible(t, l.in(t), "pool", 2) })
}

// Containers are named by their own hostname, not by 127.0.0.1 where
// their SSH port is published: --list names each once, a hostname
// selects one host, and the inventory formats work with real ssh (the
// SSH hosts) and ansible (all four).
func TestInventoryFormatsWithSSHAndAnsibleDocker(t *testing.T) {
	env := dockerEnv(t)
	l := &remoteLab{t: t, dir: t.TempDir()}
	l.write("lab.hcl", fmt.Sprintf(`environment = %q
provider "docker" "local" {
  name_prefix = %q
}
host "ssh" {
  provider = "docker.local"
  count    = 3
  args     = { image = "broker-sshd:bookworm", ports = ["22"] }
  setup { run = ["true"] }
}
host "plain" {
  provider = "docker.local"
  args     = { image = "broker-busybox:latest" }
}
`, env, env))
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")

	list := strings.Fields(l.must(0, "inventory", "-e", env, "--list").stdout)
	seen := map[string]bool{}
	for _, name := range list {
		if name == "127.0.0.1" || seen[name] {
			t.Errorf("inventory --list names %q twice or by its connect address: %v", name, list)
		}
		seen[name] = true
	}
	if len(list) != 4 {
		t.Fatalf("inventory --list: %v, want 4 names", list)
	}
	// A hostname names one host: the container whose hostname it is.
	r := l.must(0, "exec", "-e", env, list[1], "--", "hostname")
	if got := strings.TrimSpace(r.stdout); !strings.HasSuffix(got, "] "+list[1]) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("exec %s -- hostname: %q", list[1], r.stdout)
	}

	t.Run("ssh", func(t *testing.T) { checkSSHConfig(t, l.in(t), env, 3) })
	// The busybox container has no SSH: Ansible reaches it through the
	// engine (ansible_connection docker).
	t.Run("ansible", func(t *testing.T) { checkAnsible(t, l.in(t), env, 4) })
}
