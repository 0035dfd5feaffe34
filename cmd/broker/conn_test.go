package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
)

// runIn runs broker in dir (not the lab's) with extra environment.
func (l *remoteLab) runIn(dir string, env []string, args ...string) brokerRun {
	l.t.Helper()
	return l.runWith(dir, env, "", args...)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// After apply, exec, ssh and cp reach a host as its connection block says
// without the manifest: the block's user, port, key file and known-hosts
// file are recorded with the host (paths made absolute, so a command run
// from elsewhere finds them). The pool's own port is closed and its user
// wrong: only the block gets in. A block added to hosts applied before
// is recorded by the next apply, though it changes nothing else.
func TestExecAfterApplyUsesRecordedConnection(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	l := &remoteLab{t: t, dir: t.TempDir()}
	copyFile(t, srv.KeyFile, filepath.Join(l.dir, "keys", "lab_key"), 0o600)
	closed := closedPort(t)
	// The pool's member is a closed port with the wrong user; block is
	// the host's connection block.
	manifest := func(block string) string {
		return fmt.Sprintf(`environment = "lab"

provider "static" "pool" {
  hosts = ["127.0.0.1:%d"]
  user  = "nobody"
}

host "web" {
  provider = "static.pool"
%s}
`, closed, block)
	}
	blockWithPort := func(port int) string {
		return fmt.Sprintf(`  connection {
    user             = %q
    port             = %d
    private_key_file = "keys/lab_key"
    known_hosts_file = "keys/known_hosts"
    timeout          = "20s"
  }
`, srv.User, port)
	}
	// First without a block: the pool's closed port is all there is.
	l.write("noblock.hcl", manifest(""))
	l.must(0, "apply", "-f", "noblock.hcl", "--auto-approve")
	l.must(255, "exec", "-e", "lab", "--all", "--", "true")

	// The block added: apply has nothing to change, yet records it.
	l.write("lab.hcl", manifest(blockWithPort(srv.Port)))
	wantIn(t, "apply", l.must(0, "apply", "-f", "lab.hcl", "--auto-approve").stdout+"", `(?i)no changes`)

	elsewhere := t.TempDir()
	r := l.runIn(elsewhere, nil, "exec", "-e", "lab", "--all", "--", "echo $(id -un):"+serverPort)
	if r.code != 0 {
		t.Fatalf("exec without -f: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantIn(t, "stdout", r.stdout, fmt.Sprintf(`(?m)^\[host\.web\[0\]\] %s:%d$`, srv.User, srv.Port))

	r = l.runIn(elsewhere, nil, "ssh", "-e", "lab", "host.web[0]", "--", "echo via ssh")
	if r.code != 0 || !strings.Contains(r.stdout, "via ssh") {
		t.Fatalf("ssh without -f: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	src := filepath.Join(elsewhere, "up.txt")
	if err := os.WriteFile(src, []byte("copied\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "up.txt")
	r = l.runIn(elsewhere, nil, "cp", "-e", "lab", "up.txt", "host.web[0]:"+dst)
	if b, _ := os.ReadFile(dst); r.code != 0 || string(b) != "copied\n" {
		t.Fatalf("cp without -f: exit %d, file %q\n%s%s", r.code, b, r.stdout, r.stderr)
	}

	show := l.must(0, "state", "show", "-e", "lab", "host.web[0]")
	var rec struct {
		Connection map[string]any `json:"connection"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &rec); err != nil {
		t.Fatalf("state show: %v\n%s", err, show.stdout)
	}
	c := rec.Connection
	if c["user"] != srv.User || c["port"] != float64(srv.Port) ||
		c["private_key_file"] != filepath.Join(l.dir, "keys", "lab_key") ||
		c["known_hosts_file"] != filepath.Join(l.dir, "keys", "known_hosts") {
		t.Errorf("recorded connection %v", c)
	}

	// With -f the manifest's current block wins: a wrong port there
	// fails although the record's is right.
	l.write("other.hcl", manifest(blockWithPort(closedPort(t))))
	r = l.run("", "exec", "-f", "other.hcl", "--all", "--", "true")
	if r.code != 255 {
		t.Errorf("exec -f with the block's port closed: exit %d, want 255\n%s", r.code, r.stderr)
	}
	// A manifest that declares the host without a block wins too.
	if r = l.run("", "exec", "-f", "noblock.hcl", "--all", "--", "true"); r.code != 255 {
		t.Errorf("exec -f with no block for the host: exit %d, want 255\n%s", r.code, r.stderr)
	}
}

// A password is never recorded: without the manifest, exec says which
// variable the password comes from and what to pass; with it (and the
// variable set) it logs in.
func TestExecAfterApplyPasswordNamesVariable(t *testing.T) {
	const password = "pw-Lab-5f1e9c"
	srv := sshdtest.Start(t, sshdtest.Options{Password: password})
	l := &remoteLab{t: t, dir: t.TempDir()}
	l.write("lab.hcl", fmt.Sprintf(`environment = "lab"

variable "lab_password" {
  type      = string
  sensitive = true
}

provider "static" "pool" {
  hosts = ["127.0.0.1:%d"]
}

host "db" {
  provider = "static.pool"
  connection {
    user             = %q
    password         = var.lab_password
    known_hosts_file = "known_hosts"
  }
}
`, srv.Port, srv.User))
	withPassword := []string{"BROKER_VAR_lab_password=" + password}
	if r := l.runIn(l.dir, withPassword, "apply", "-f", "lab.hcl", "--auto-approve"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := l.must(255, "exec", "-e", "lab", "--all", "--", "true")
	wantIn(t, "stderr", r.stderr,
		`host\.db\[0\] authenticates with a password from var\.lab_password, which broker does not record`,
		`pass -f lab\.hcl with that variable set \(BROKER_VAR_lab_password in the environment\)`)

	show := l.must(0, "state", "show", "-e", "lab", "host.db[0]")
	wantIn(t, "state show", show.stdout, `"password_from": ?"var\.lab_password"`)
	details := l.must(0, "show", "-e", "lab", "host.db[0]")
	wantIn(t, "show", details.stdout, `(?m)^  connection\.password_from +var\.lab_password$`, `(?m)^  connection\.manifest +lab\.hcl$`)
	db, err := os.ReadFile(filepath.Join(l.dir, ".broker", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"state show": show.stdout, "show": details.stdout, "state.db": string(db), "exec stderr": r.stderr} {
		if strings.Contains(text, password) {
			t.Errorf("%s holds the password", what)
		}
	}

	r = l.runIn(l.dir, withPassword, "exec", "-f", "lab.hcl", "--all", "--", "echo in")
	if r.code != 0 || !strings.Contains(r.stdout, "] in") {
		t.Fatalf("exec -f with the variable set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
