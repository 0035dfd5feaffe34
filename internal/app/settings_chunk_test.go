package app

import (
	"strings"
	"testing"

	_ "github.com/labbroker/broker/providers/all"
)

func TestExpandOneLineBlocks(t *testing.T) {
	src := "# c\nprovider \"sim\" \"a\" { default = true }\nprovider \"sim\" \"b\" {}\nstate {\n  tls { ca = \"x\" }\n}\n"
	out := string(ExpandOneLineBlocks([]byte(src), "s.hcl"))
	for _, want := range []string{"# c\n", "\"a\" {\n  default = true\n}", "\"b\" {\n}", "  tls {\n    ca = \"x\"\n  }\n}"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if _, err := CheckSettings(t.TempDir(), "s.hcl", []byte(out), func(string) (string, bool) { return "", false }); err != nil {
		t.Fatalf("expanded settings do not load: %v\n%s", err, out)
	}
}

func TestApplyOverridesPythonNames(t *testing.T) {
	src := []byte("provider \"sim\" \"a\" { default = true }\nprovider \"sim\" \"keep\" {\n  seed            = 1\n  override_envars = true\n}\n")
	ovs := SettingsOverrides([]string{
		"BROKER_TESTPROVIDER__SEED=5",
		"BROKER_SSH__HOST_USERNAME=me",
		"BROKER_SSH__BACKEND=paramiko",
		"BROKER_AnsibleTower__INSTANCES__lab__base_url=https://awx.example.test",
		"BROKER_AnsibleTower__lab__workflow_timeout=60",
	})
	out, notes, err := ApplyOverrides(src, "s.hcl", ovs)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := CheckSettings(t.TempDir(), "s.hcl", out, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cfg.SSH == nil || cfg.SSH.User != "me" {
		t.Errorf("ssh user not set from BROKER_SSH__HOST_USERNAME:\n%s", out)
	}
	got := string(out)
	for _, want := range []string{`url              = "https://awx.example.test"`, `workflow_timeout = "60s"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if !strings.Contains(got, "seed            = 1") {
		t.Errorf("override_envars block lost its own seed:\n%s", got)
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"BROKER_SSH__BACKEND: ignored", "BROKER_TESTPROVIDER__SEED: not applied to sim.keep"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

func TestSetChunkKeepsTheRest(t *testing.T) {
	src := []byte("# top comment\nprovider \"awx\" \"lab\" {\n  url   = \"https://a.example.test\" # the lab\n  token = env(\"T\")\n}\n\nnick \"x\" {\n  provider = \"awx\"\n}\n")
	out, c, err := SetChunk(src, "s.hcl", "AnsibleTower.lab.base_url", "https://b.example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "awx.lab.url" {
		t.Errorf("chunk name %q", c.Name)
	}
	got := string(out)
	for _, want := range []string{"# top comment", `url   = "https://b.example.test"`, `token = env("T")`, `nick "x"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if _, _, err := SetChunk(src, "s.hcl", "ssh.host_password", "pw", nil); err == nil || !strings.Contains(err.Error(), "never a stored password") {
		t.Errorf("ssh.host_password: %v", err)
	}
}
