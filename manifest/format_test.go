package manifest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

func TestFormatIdempotent(t *testing.T) {
	for _, p := range []string{"testdata/fmt/ugly.hcl", "testdata/lab/lab.hcl"} {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		once := Format(src)
		if twice := Format(once); !bytes.Equal(once, twice) {
			t.Errorf("%s: Format is not idempotent:\n%s", p, cmp.Diff(string(once), string(twice)))
		}
	}
}

func TestFormatPath(t *testing.T) {
	dir := t.TempDir()
	ugly, _ := os.ReadFile("testdata/fmt/ugly.hcl")
	pretty := Format(ugly)
	files := map[string][]byte{
		"a.hcl":      ugly,
		"b.hcl":      pretty,
		"broken.hcl": []byte("host \"x\" {\n"),
		"notes.txt":  []byte("x  =  1\n"),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		check bool
		want  []byte // a.hcl afterwards
	}{
		{"check writes nothing", true, ugly},
		{"rewrite", false, pretty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			changed, diags := FormatPath(dir, tc.check, &out)
			if diff := cmp.Diff([]string{filepath.Join(dir, "a.hcl")}, changed); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
			if out.String() != filepath.Join(dir, "a.hcl")+"\n" {
				t.Errorf("listing: %q", out.String())
			}
			if len(diags) == 0 || diags[0].Subject == nil || filepath.Base(diags[0].Subject.Filename) != "broken.hcl" {
				t.Errorf("want a diagnostic for broken.hcl, got %s", diagSummaries(diags))
			}
			got, _ := os.ReadFile(filepath.Join(dir, "a.hcl"))
			if !bytes.Equal(got, tc.want) {
				t.Errorf("a.hcl afterwards:\n%s", cmp.Diff(string(tc.want), string(got)))
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "broken.hcl")); string(b) != string(files["broken.hcl"]) {
				t.Errorf("broken.hcl was rewritten")
			}
		})
	}
}

func TestWriteDiagnosticsGolden(t *testing.T) {
	src := "host \"a\" {\n  provider = \"sim\"\n  lease    = \"soon\"\n}\n"
	cfg, diags := loadString(t, src, testOptions())
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, diags, cfg.Files, false, 78); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "diagnostics.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	if !strings.Contains(buf.String(), "on lab.hcl:3:14") { // file:line:column without colour
		t.Errorf("no source location in:\n%s", buf.String())
	}
}

// TestSecretsStayOut checks that a token given to provider settings is
// nowhere in what is recorded or rendered.
func TestSecretsStayOut(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "lab"), testOptions())
	for _, h := range cfg.Hosts {
		for k, v := range h.Args {
			if s, ok := v.(string); ok && s == "t0ken" {
				t.Errorf("host %s arg %s carries the token", h.Name, k)
			}
		}
	}
	var buf bytes.Buffer
	cfg2, diags := loadString(t, "host \"a\" {\n  provider = \"sim\"\n  args = { t = env(\"AWX_TOKEN\") }\n}\n", testOptions())
	_ = WriteDiagnostics(&buf, diags, cfg2.Files, false, 0)
	if strings.Contains(buf.String(), "s3cret") {
		t.Errorf("diagnostics reveal the secret:\n%s", buf.String())
	}
}
