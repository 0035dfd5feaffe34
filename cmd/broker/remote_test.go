package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/labbroker/broker/providers/docker/dockertest"
	"github.com/labbroker/broker/test/sshdtest"
)

// readJUnit reads a JUnit file with junitparser (python3-junitparser) and
// returns "SUITE: N tests, M failures" and one "CLASS NAME passed|failed:
// MESSAGE" line per case. In CI a missing reader fails the test.
func readJUnit(t *testing.T, path string) string {
	t.Helper()
	script := `import sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print(f"{suite.name}: {suite.tests} tests, {suite.failures} failures")
    for case in suite:
        fails = [r for r in case.result if isinstance(r, Failure)]
        print(case.classname, case.name, "failed: " + fails[0].message if fails else "passed")
`
	if err := exec.Command("/usr/bin/python3", "-c", "import junitparser").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no JUnit reader (/usr/bin/python3 -c 'import junitparser': %v), and CI=true forbids skipping", err)
		}
		t.Skipf("no JUnit reader: %v (apt-get install python3-junitparser)", err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("junitparser: %v\n%s", err, out)
	}
	return string(out)
}

// remoteLab is a broker directory whose settings log in to sshdtest
// servers with their client key, and a manifest of static pools of them.
type remoteLab struct {
	t   *testing.T
	dir string
}

func newRemoteLab(t *testing.T, srv *sshdtest.Server) *remoteLab {
	t.Helper()
	dir := t.TempDir()
	l := &remoteLab{t: t, dir: dir}
	l.write(".broker/broker.hcl", fmt.Sprintf("ssh {\n  private_key_file = %q\n  known_hosts_file = %q\n}\n",
		srv.KeyFile, filepath.Join(dir, "known_hosts")))
	return l
}

// in is the lab seen from a subtest.
func (l *remoteLab) in(t *testing.T) *remoteLab { return &remoteLab{t: t, dir: l.dir} }

func (l *remoteLab) write(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// pool is a static provider block listing the server's ports.
func pool(name string, srv *sshdtest.Server, extra ...string) string {
	var hosts []string
	for _, p := range srv.Ports {
		hosts = append(hosts, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", p)))
	}
	for _, e := range extra {
		hosts = append(hosts, fmt.Sprintf("%q", e))
	}
	return fmt.Sprintf("provider \"static\" %q {\n  hosts = [%s]\n  user  = %q\n}\n", name, strings.Join(hosts, ", "), srv.User)
}

type brokerRun struct {
	stdout, stderr string
	code           int
}

// run runs broker as a process in the lab with stdin.
func (l *remoteLab) run(stdin string, args ...string) brokerRun {
	l.t.Helper()
	return l.runWith(l.dir, nil, stdin, args...)
}

// runWith runs broker as a process in dir with extra environment and stdin.
func (l *remoteLab) runWith(dir string, env []string, stdin string, args ...string) brokerRun {
	l.t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asBroker+"=1", "BROKER_DIRECTORY="+filepath.Join(l.dir, ".broker"), "NO_COLOR=1", "HOME="+l.dir)
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := brokerRun{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	return r
}

// must runs broker and fails the test unless it exits with code.
func (l *remoteLab) must(code int, args ...string) brokerRun {
	l.t.Helper()
	r := l.run("", args...)
	if r.code != code {
		l.t.Fatalf("broker %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

func wantIn(t *testing.T, what, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(text) {
			t.Errorf("%s lacks %q:\n%s", what, p, text)
		}
	}
}

// closedPort is a loopback port with nothing listening.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// serverPort is the shell snippet that prints the port the command's sshd
// listens on: how a command tells pool members on one machine apart.
const serverPort = `$(echo $SSH_CONNECTION | cut -d" " -f4)`

func TestStaticPoolAndExec(t *testing.T) {
	srv := sshdtest.StartN(t, 3)
	l := newRemoteLab(t, srv)
	dead := closedPort(t)
	lab := func(count, deadCount int) {
		l.write("lab.hcl", `environment = "remote"
`+pool("lab", srv)+fmt.Sprintf(`
provider "static" "dead" {
  hosts = ["127.0.0.1:%d"]
  user  = %q
}

host "web" {
  provider = "static.lab"
  count    = %d
  labels   = { role = "web" }
}

host "dead" {
  provider = "static.dead"
  count    = %d
}
`, dead, srv.User, count, deadCount))
	}

	// Five wanted from a pool of three: three are checked out, two fail
	// naming the pool, its size and the holders.
	lab(5, 0)
	r := l.must(1, "apply", "-f", "lab.hcl", "--auto-approve")
	if n := strings.Count(r.stderr, "checkout failed: checkout: pool static.lab exhausted: all 3 member(s) are held"); n != 2 {
		t.Fatalf("%d pool exhausted errors, want 2:\n%s", n, r.stderr)
	}
	wantIn(t, "apply stderr", r.stderr, `held: 127\.0\.0\.1:\d+ by remote/host\.web\[\d\]`)
	inv := l.must(0, "inventory", "--json")
	if n := strings.Count(inv.stdout, `"provider":"static"`); n != 3 {
		t.Fatalf("%d static hosts in the inventory, want 3:\n%s", n, inv.stdout)
	}

	// Check-in frees members: down to one, then two more fit again.
	lab(1, 0)
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	lab(3, 0)
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")

	t.Run("prefixed", func(t *testing.T) {
		l := l.in(t)
		r := l.must(0, "exec", "-f", "lab.hcl", "host.web", "--", "echo out; echo err >&2")
		for i := range 3 {
			wantIn(t, "stdout", r.stdout, fmt.Sprintf(`(?m)^\[host\.web\[%d\]\] out$`, i))
			wantIn(t, "stderr", r.stderr, fmt.Sprintf(`(?m)^\[host\.web\[%d\]\] err$`, i))
		}
		if strings.Contains(r.stdout, "err") || strings.Contains(r.stderr, "] out") {
			t.Errorf("stdout and stderr mixed:\n%s\n%s", r.stdout, r.stderr)
		}
		wantIn(t, "stderr", r.stderr, `3 hosts: 3 ok, 0 failed, 0 unreachable`)
	})

	t.Run("words", func(t *testing.T) {
		// Words after -- are one command line, as ssh joins them.
		l := l.in(t)
		r := l.must(0, "exec", "-e", "remote", "host.web[0]", "--", "echo", "x", "y")
		wantIn(t, "stdout", r.stdout, `(?m)^\[host\.web\[0\]\] x y$`)
		r = l.must(0, "exec", "-e", "remote", "host.web[0]", "--", "echo", "a  b", "$HOME")
		wantIn(t, "stdout", r.stdout, `(?m)^\[host\.web\[0\]\] a  b \$HOME$`)
		r = l.must(0, "ssh", "-e", "remote", "host.web[0]", "--", "echo", "x", "y")
		wantIn(t, "stdout", r.stdout, `(?m)^x y$`)
	})

	t.Run("worst exit code", func(t *testing.T) {
		l := l.in(t)
		cmd := fmt.Sprintf(`case %s in %d) exit 3;; %d) exit 1;; esac; echo fine`, serverPort, srv.Ports[0], srv.Ports[1])
		r := l.must(3, "exec", "--all", "-e", "remote", "--report", "exec.xml", "--", cmd)
		wantIn(t, "stderr", r.stderr, `3 hosts: 1 ok, 2 failed, 0 unreachable`)
		wantIn(t, "stdout", r.stdout, `\] fine`)

		// --report on exec, read back by a JUnit reader: a case per host,
		// the failed ones with their status and last stderr line.
		junit := readJUnit(t, filepath.Join(l.dir, "exec.xml"))
		wantIn(t, "junit", junit, `(?m)^broker exec remote: 3 tests, 2 failures$`)
		if n := len(regexp.MustCompile(`(?m)^host\.web\[\d\] exec failed: failed \(status [13]\)$`).FindAllString(junit, -1)); n != 2 {
			t.Errorf("%d failed exec cases, want 2:\n%s", n, junit)
		}
		wantIn(t, "junit", junit, `(?m)^host\.web\[\d\] exec passed$`)
	})

	t.Run("group", func(t *testing.T) {
		l := l.in(t)
		r := l.must(0, "exec", "-e", "remote", "--group", "--filter", `labels.role == "web"`, "--", "printf 'a\\nb\\n'")
		for i := range 3 {
			wantIn(t, "stdout", r.stdout, fmt.Sprintf(`(?m)^== host\.web\[%d\]: ok \(status 0, .*\)\na\nb\n`, i))
		}
	})

	t.Run("json and stdin", func(t *testing.T) {
		l := l.in(t)
		r := l.run("broadcast\n", "exec", "-e", "remote", "--all", "--json", "--stdin", "--", "cat; echo e >&2")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var recs []execRecord
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
			t.Fatalf("%v:\n%s", err, r.stdout)
		}
		if len(recs) != 3 {
			t.Fatalf("%d records", len(recs))
		}
		for _, rec := range recs {
			if rec.Status != "ok" || rec.Stdout != "broadcast\n" || rec.Stderr != "e\n" || rec.Address == "" || rec.Duration <= 0 {
				t.Errorf("record %+v", rec)
			}
		}
	})

	t.Run("timeout", func(t *testing.T) {
		l := l.in(t)
		// Every host reads a fifo nobody writes: only --timeout ends the
		// commands, however slow the machine, so the short budget cannot
		// be raced. The fifo exists before the commands start.
		fifo := filepath.Join(l.dir, "never")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		r := l.must(124, "exec", "-e", "remote", "--all", "--timeout", "1s", "--", "cat "+fifo+"; echo done")
		wantIn(t, "stderr", r.stderr, `3 hosts: 0 ok, 3 failed, 0 unreachable`)
		if n := strings.Count(r.stderr, "timed out after 1s"); n != 3 {
			t.Errorf("%d timeouts reported, want 3:\n%s", n, r.stderr)
		}
		if strings.Contains(r.stdout, "done") {
			t.Errorf("a command went on after its timeout:\n%s", r.stdout)
		}
		// A budget commands end within (by far) stops none of them.
		r = l.must(0, "exec", "-e", "remote", "--all", "--timeout", "1h", "--", "echo done")
		wantIn(t, "stderr", r.stderr, `3 hosts: 3 ok, 0 failed, 0 unreachable`)
	})

	t.Run("unreachable", func(t *testing.T) {
		l := l.in(t)
		lab(3, 1)
		l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
		r := l.must(255, "exec", "-e", "remote", "--all", "--", "true")
		wantIn(t, "stderr", r.stderr, `4 hosts: 3 ok, 0 failed, 1 unreachable`, `\[host\.dead\[0\]\] broker: unreachable: .*127\.0\.0\.1:`+fmt.Sprint(dead))
		lab(3, 0)
		l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	})

	t.Run("ssh command", func(t *testing.T) {
		l := l.in(t)
		r := l.must(7, "ssh", "-e", "remote", "host.web[0]", "--", "echo hi; exit 7")
		if r.stdout != "hi\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		// Without a command: a shell with a PTY, fed from stdin here.
		if r := l.run("echo in-shell\nexit 3\n", "ssh", "-e", "remote", "host.web[1]"); r.code != 3 || !strings.Contains(r.stdout, "in-shell") {
			t.Errorf("shell: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = l.must(1, "ssh", "-e", "remote", "host.web", "--", "true")
		wantIn(t, "stderr", r.stderr, `names 3 hosts`)
	})

	t.Run("cp", func(t *testing.T) {
		l := l.in(t)
		src := filepath.Join(l.dir, "tree")
		l.write("tree/a.sh", "#!/bin/sh\necho a\n")
		l.write("tree/sub/b.txt", "b\n")
		os.Chmod(filepath.Join(src, "a.sh"), 0o750)
		os.Chmod(filepath.Join(src, "sub"), 0o711)
		os.Chmod(filepath.Join(src, "sub", "b.txt"), 0o604)
		remoteDir := filepath.Join(l.dir, "remote-tree")
		l.must(0, "cp", "-e", "remote", src, "host.web[0]:"+remoteDir)
		if got, want := treeModes(t, remoteDir), treeModes(t, src); got != want {
			t.Errorf("uploaded tree:\n%s\nwant:\n%s", got, want)
		}
		// Download from every web host: one directory each.
		dst := filepath.Join(l.dir, "down")
		r := l.must(0, "cp", "-e", "remote", `labels.role == "web"`+":"+remoteDir, dst)
		wantIn(t, "stderr", r.stderr, `3 hosts: 3 ok`)
		for i := range 3 {
			got := treeModes(t, filepath.Join(dst, fmt.Sprintf("host.web[%d]", i), "remote-tree"))
			if want := treeModes(t, src); got != want {
				t.Errorf("host.web[%d] download:\n%s\nwant:\n%s", i, got, want)
			}
		}
		r = l.must(1, "cp", "-e", "remote", filepath.Join(l.dir, "missing"), "host.web[0]:/tmp/x")
		wantIn(t, "stderr", r.stderr, `no such file`)

		// A host's link to a directory of the runner is not recreated,
		// with a warning; the directory it then puts in its place stays
		// inside the destination.
		outside := t.TempDir()
		evil := filepath.Join(remoteDir, "evil")
		if err := os.Symlink(outside, evil); err != nil {
			t.Fatal(err)
		}
		again := filepath.Join(l.dir, "again")
		r = l.must(0, "cp", "-e", "remote", "host.web[0]:"+remoteDir, again)
		wantIn(t, "stderr", r.stderr, `\[host\.web\[0\]\] broker: warning: skipped .*evil: symbolic link to .*absolute target is not recreated`, `1 host: 1 ok`)
		os.Remove(evil)
		l.write("remote-tree/evil/authorized_keys", "ssh-ed25519 AAAA attacker\n")
		l.must(0, "cp", "-e", "remote", "host.web[0]:"+remoteDir, again)
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Errorf("cp wrote outside its destination: %v", ents)
		}
		if _, err := os.Stat(filepath.Join(again, "evil", "authorized_keys")); err != nil {
			t.Errorf("evil/authorized_keys not in the destination: %v", err)
		}
	})
}

// treeModes describes a tree: relative path, mode, content.
func treeModes(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		content := ""
		if !d.IsDir() {
			data, _ := os.ReadFile(p)
			content = string(data)
		}
		fmt.Fprintf(&b, "%s %v %q\n", rel, fi.Mode(), content)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExecRefusesChangedHostKey(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	l := newRemoteLab(t, srv)
	l.write("lab.hcl", pool("one", srv)+`host "box" { provider = "static.one" }`+"\n")
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	l.must(0, "exec", "--all", "--", "true")
	rec := l.must(0, "show", "host.box[0]")
	old := srv.HostKeyFingerprint
	srv.Restart(true)
	r := l.must(255, "exec", "--all", "--", "true")
	wantIn(t, "stderr", r.stderr, regexp.QuoteMeta(old), regexp.QuoteMeta(srv.HostKeyFingerprint), `pinned key`, `1 unreachable`)
	wantIn(t, "stderr", r.stderr, "broker state show host.box\\[0\\]")
	// The command the hint names shows the pinned key.
	wantIn(t, "state show", l.must(0, "state", "show", "host.box[0]").stdout, `"host_key": "ssh-`)
	if !strings.Contains(rec.stdout+rec.stderr, "ssh-ed25519") && !strings.Contains(rec.stdout, "host_key") {
		t.Logf("show does not print the pinned key:\n%s", rec.stdout)
	}
	// Knowingly accepting any key gets through.
	l.must(0, "--insecure-ignore-host-key", "exec", "--all", "--", "true")
}

// A login the host refuses is not a host still booting: setup's wait for
// SSH ends at the first refusal, with what to check.
func TestSetupRefusedLoginFailsAtOnce(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	l := newRemoteLab(t, srv)
	l.write("lab.hcl", fmt.Sprintf(`environment = "refused"
provider "static" "one" {
  hosts = ["127.0.0.1:%d"]
  user  = "nobody-b7"
}
host "box" {
  provider = "static.one"
  setup { run = ["true"] }
}
`, srv.Port))
	r := l.must(1, "apply", "-f", "lab.hcl", "--auto-approve")
	wantIn(t, "stderr", r.stderr, `auth`, `refused user "nobody-b7"`, `private_key_file`)
	if n := strings.Count(srv.Log(), "Invalid user nobody-b7"); n != 1 {
		t.Errorf("%d login attempts, want 1:\n%s", n, srv.Log())
	}
}

func TestExecThroughBastion(t *testing.T) {
	target := sshdtest.Start(t, sshdtest.Options{})
	// The bastion lets in the same client key as the target.
	pub := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(clientKey(t, target.KeyFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	bastion := sshdtest.Start(t, sshdtest.Options{AllowTCPForwarding: true, ExtraConfig: []string{"AuthorizedKeysFile " + pub}})
	l := newRemoteLab(t, target)
	l.write(".broker/broker.hcl", fmt.Sprintf("ssh {\n  private_key_file = %q\n  known_hosts_file = %q\n}\n",
		target.KeyFile, bastion.KnownHosts(t)))
	l.write("lab.hcl", pool("one", target)+fmt.Sprintf(`
host "inner" {
  provider = "static.one"
  connection {
    bastion = "%s@127.0.0.1:%d"
  }
}
`, bastion.User, bastion.Port))
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	r := l.must(0, "exec", "-f", "lab.hcl", "--all", "--", "echo $SSH_CONNECTION")
	// The target sees the connection come from the bastion's forwarding.
	wantIn(t, "stdout", r.stdout, fmt.Sprintf(`127\.0\.0\.1 %d`, target.Port))
	if !strings.Contains(bastion.Log(), "direct-tcpip") && !strings.Contains(bastion.Log(), "forward") {
		t.Logf("bastion log has no forwarding line:\n%s", bastion.Log())
	}
}

func clientKey(t *testing.T, file string) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestSetupTaintReplaceAndHooks(t *testing.T) {
	srv := sshdtest.StartN(t, 2)
	l := newRemoteLab(t, srv)
	flag := filepath.Join(l.dir, "setup-may-pass")
	hooks := filepath.Join(l.dir, "hooks.log")
	l.write("lab.hcl", `environment = "setup"
`+pool("lab", srv)+fmt.Sprintf(`
host "app" {
  provider = "static.lab"
  labels   = { role = "app" }
  setup {
    upload {
      source      = "files/motd"
      destination = %q
    }
    run    = ["echo setting up", "test -f %s"]
  }
  teardown { run = ["echo bye >> %s"] }
}

hook "yes" {
  on    = ["after_setup"]
  when  = "labels.role == \"app\""
  local = ["echo yes $BROKER_HOST_ADDRESS $BROKER_HOST_LABEL_ROLE >> %s"]
}

hook "no" {
  on    = ["after_setup"]
  when  = "labels.role == \"db\""
  local = ["echo no >> %s"]
}
`, filepath.Join(l.dir, "motd.out"), flag, filepath.Join(l.dir, "teardown.log"), hooks, hooks))
	l.write("files/motd", "hello\n")

	r := l.must(1, "apply", "-f", "lab.hcl", "--auto-approve")
	wantIn(t, "apply stderr", r.stderr, `setting up`)
	if data, _ := os.ReadFile(filepath.Join(l.dir, "motd.out")); string(data) != "hello\n" {
		t.Errorf("upload: %q", data)
	}
	inv := l.must(0, "inventory", "--json")
	wantIn(t, "inventory", inv.stdout, `"status":"tainted"`)

	l.write("setup-may-pass", "")
	p := l.run("", "plan", "-f", "lab.hcl")
	wantIn(t, "plan", p.stdout, `-/\+ host\.app\[0\]`)
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	if data, _ := os.ReadFile(filepath.Join(l.dir, "teardown.log")); string(data) != "bye\n" {
		t.Errorf("teardown of the tainted host ran %q times, want once", data)
	}
	data, _ := os.ReadFile(hooks)
	if string(data) != "yes host.app[0] app\n" {
		t.Errorf("hooks log %q", data)
	}
	l.must(0, "destroy", "-f", "lab.hcl", "--auto-approve")
	if data, _ := os.ReadFile(filepath.Join(l.dir, "teardown.log")); string(data) != "bye\nbye\n" {
		t.Errorf("teardown log %q", data)
	}
	// Both members are free again.
	l.write("lab.hcl", pool("lab", srv)+`host "x" {
  provider = "static.lab"
  count = 2
}
`)
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
}

func TestExecDockerExecTransport(t *testing.T) {
	image := dockertest.Image(t, "busybox")
	l := &remoteLab{t: t, dir: t.TempDir()}
	l.write("lab.hcl", fmt.Sprintf(`environment = "dockerexec"
provider "docker" "local" {}
host "box" {
  provider = "docker.local"
  count    = 2
  args     = { image = %q }
}
`, image))
	t.Cleanup(func() { l.run("", "destroy", "-f", "lab.hcl", "--auto-approve") })
	l.must(0, "apply", "-f", "lab.hcl", "--auto-approve")
	inv := l.must(0, "inventory", "--json")
	wantIn(t, "inventory", inv.stdout, `"transport":"docker-exec"`)
	r := l.must(0, "exec", "-f", "lab.hcl", "host.box", "--", "echo hi from $(hostname)")
	for i := range 2 {
		wantIn(t, "stdout", r.stdout, fmt.Sprintf(`(?m)^\[host\.box\[%d\]\] hi from `, i))
	}
	l.write("conf/app.conf", "x=1\n")
	l.must(0, "cp", "-f", "lab.hcl", filepath.Join(l.dir, "conf"), "host.box:/tmp/conf")
	r = l.must(0, "ssh", "-f", "lab.hcl", "host.box[1]", "--", "cat /tmp/conf/app.conf")
	if r.stdout != "x=1\n" {
		t.Errorf("copied file reads %q", r.stdout)
	}

	// exec behaves like ssh on this transport too: words are one command
	// line, and --timeout ends with 124 as timeout(1) does.
	r = l.must(0, "exec", "-e", "dockerexec", "host.box[0]", "--", "echo", "x", "y")
	wantIn(t, "stdout", r.stdout, `(?m)^\[host\.box\[0\]\] x y$`)
	r = l.must(124, "exec", "-e", "dockerexec", "--timeout", "2s", "host.box[0]", "--", "sleep 600")
	wantIn(t, "stderr", r.stderr, `timed out after 2s`)
}
