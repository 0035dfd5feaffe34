package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// TestRecordConnectionKeepsNoSecret: the recorded block has absolute
// paths and no password, a bastion's password is dropped, and where the
// password came from is kept.
func TestRecordConnectionKeepsNoSecret(t *testing.T) {
	agent := true
	c := &manifest.Connection{User: "qe", Port: 2222, Password: "pw-9d1", PrivateKeyFile: "keys/id", KnownHostsFile: "/etc/kh",
		Agent: &agent, Bastion: "jump:pw-b7@gw.lab:22", Timeout: time.Minute, DeclRange: hcl.Range{Filename: "lab.hcl"}}
	sc := recordConnection(c)
	wantKey, _ := filepath.Abs("keys/id")
	if sc.User != "qe" || sc.Port != 2222 || sc.PrivateKeyFile != wantKey || sc.KnownHostsFile != "/etc/kh" ||
		sc.Agent == nil || !*sc.Agent || sc.Bastion != "jump@gw.lab:22" || sc.Timeout != time.Minute || sc.Manifest != "lab.hcl" {
		t.Errorf("recorded %+v", sc)
	}
	if sc.PasswordFrom != "a literal" {
		t.Errorf("PasswordFrom %q, want a literal", sc.PasswordFrom)
	}
	if recordConnection(nil) != nil {
		t.Error("no block recorded as one")
	}
}

// TestPasswordNeededSaysWhatToPass: the error names the host, where the
// password comes from and how to give it.
func TestPasswordNeededSaysWhatToPass(t *testing.T) {
	for from, want := range map[string]string{
		"var.lab_password": "host.db[0] authenticates with a password from var.lab_password, which broker does not record: pass -f lab.hcl with that variable set (BROKER_VAR_lab_password in the environment)",
		`env("DB_PW")`:     `host.db[0] authenticates with a password from env("DB_PW"), which broker does not record: pass -f lab.hcl with DB_PW set`,
		"a literal":        "host.db[0] authenticates with a password written in lab.hcl, which broker does not record: pass -f lab.hcl",
	} {
		h := &state.Host{Address: "host.db[0]", Connection: &state.Connection{PasswordFrom: from, Manifest: "lab.hcl"}}
		if got := passwordNeeded(h).Error(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", from, got, want)
		}
		if strings.Contains(passwordNeeded(h).Error(), "pw-") {
			t.Error("a password in the message")
		}
	}
}
