package manifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// A provider setting that reads an unset environment variable does not
// fail the file: the instance records where it reads it, and fails only
// when made (UnsetErr). Elsewhere an unset variable is still an error.
func TestUnsetEnvInProviderIsDeferred(t *testing.T) {
	src := `provider "awx" "a" {
  url   = "https://a.example"
  token = env("NOPE_TOKEN")
}
provider "awx" "b" {
  url   = "https://b.example"
  token = env("AWX_TOKEN")
}
provider "awx" "c" {
  url   = "https://c.example"
  token = env("NOPE_TOKEN", "fallback")
}
host "web" {
  provider = "awx.b"
  args     = { workflow = "w" }
}
`
	cfg, diags := loadString(t, src, testOptions())
	if diags.HasErrors() {
		t.Fatalf("load: %s", diagSummaries(diags))
	}
	byRef := map[string]*Provider{}
	for _, p := range cfg.Providers {
		byRef[p.Ref()] = p
	}
	a := byRef["awx.a"]
	want := []UnsetVar{{Name: "NOPE_TOKEN", Setting: "token"}}
	got := append([]UnsetVar(nil), a.Unset...)
	for i := range got {
		got[i].Range = hcl.Range{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("awx.a Unset (-want +got):\n%s", diff)
	}
	if pos := a.Unset[0].Range; pos.Start.Line != 3 || pos.Start.Column != 11 {
		t.Errorf("unset variable at %s, want lab.hcl:3:11", pos)
	}
	var ue *UnsetError
	if err := a.UnsetErr(); !errors.As(err, &ue) || !strings.Contains(err.Error(), "NOPE_TOKEN (lab.hcl:3:11, setting token)") {
		t.Errorf("UnsetErr = %v", err)
	}
	if w := a.UnsetWarnings(); len(w) != 1 || w[0].Severity != hcl.DiagWarning || diagPos(w[0]) != "lab.hcl:3:11" {
		t.Errorf("UnsetWarnings = %v", w)
	}
	for _, ref := range []string{"awx.b", "awx.c"} {
		if err := byRef[ref].UnsetErr(); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}

	// Outside a provider's settings, an unset variable stays an error.
	_, diags = loadString(t, "locals {\n  a = env(\"NOPE\")\n}\n", testOptions())
	if !diags.HasErrors() {
		t.Errorf("env() of an unset variable in locals: no error")
	}
}
