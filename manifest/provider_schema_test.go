package manifest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	_ "github.com/labbroker/broker/providers/all"
)

// registrySchemas hands the registered providers' schemas to the decoder,
// as the operations layer does.
func registrySchemas(name string) (manifest.ProviderSchema, bool) {
	t, ok := providers.Lookup(name)
	if !ok {
		return manifest.ProviderSchema{}, false
	}
	return manifest.ProviderSchema{Type: t.Name, Settings: t.Settings, Args: t.Args, Sensitive: t.Sensitive, CheckArgs: t.CheckArgs}, true
}

// TestProviderSchemaErrorsPointAtTheValue: settings and args the
// provider's schema refuses are errors at validate time, at the offending
// value's own file:line:column.
func TestProviderSchemaErrorsPointAtTheValue(t *testing.T) {
	cases := []struct {
		name, src   string
		pos, detail string
	}{
		{"awx url without scheme", `provider "awx" "a" {
  url   = "awx.example.com"
  token = "t"
}
`, "lab.hcl:2:11", `"awx.example.com" is not a URL with a scheme and a host`},
		{"awx duration", `provider "awx" "a" {
  url           = "https://awx.example.com"
  token         = "t"
  poll_interval = "5 parsecs"
}
`, "lab.hcl:4:19", `"5 parsecs" is not a duration`},
		{"awx artifacts", `nick "n" {
  provider = "awx.a"
  args     = { workflow = "deploy", artifacts = "first" }
}
provider "awx" "a" {
  url   = "https://awx.example.com"
  token = "t"
}
host "h" { nick = "n" }
`, "lab.hcl:3:37", `"first" is not one of last, merge`},
		{"docker pull setting", `provider "docker" "d" {
  pull = "sometimes"
}
`, "lab.hcl:2:10", `"sometimes" is not one of missing, never, always`},
		{"podman timeout", `provider "podman" "p" {
  timeout = "0s"
}
`, "lab.hcl:2:13", "not a positive duration"},
		{"docker unknown argument", `host "c" {
  provider = "docker"
  args = {
    image = "alpine"
    prots = ["22"]
  }
}
`, "lab.hcl:5:5", `did you mean "ports"?`},
		{"docker unknown argument in a nick", `nick "n" {
  provider = "docker"
  args     = { image = "alpine", "prots" = ["22"] }
}
host "a" { nick = "n" }
host "b" { nick = "n" }
`, "lab.hcl:3:34", `did you mean "ports"?`},
		{"docker pull argument", `host "c" {
  provider = "docker"
  args = { image = "alpine", pull = "sometimes" }
}
`, "lab.hcl:3:30", `argument pull: "sometimes" is not one of missing, never, always`},
		{"docker image missing", `host "c" {
  provider = "docker"
  args = { ports = ["22"] }
}
`, "lab.hcl:3:10", "argument image is required"},
		{"docker cpus", `host "c" {
  provider = "docker"
  args = { image = "alpine", cpus = -1 }
}
`, "lab.hcl:3:30", "not positive"},
		{"sim fail_rate", `provider "sim" "s" {
  fail_rate = 2
}
`, "lab.hcl:2:15", "not between 0 and 1"},
		{"static port", `provider "static" "lab" {
  hosts = ["a"]
  port  = 70000
}
`, "lab.hcl:3:11", "70000 is not a port number"},
		{"static member", `provider "static" "lab" {
  hosts = ["a:b"]
}
`, "lab.hcl:1:", `"a:b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := manifest.LoadSources(map[string][]byte{"lab.hcl": []byte(tc.src)}, ".",
				manifest.Options{Schemas: registrySchemas, SchemaNames: providers.Names})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if len(diags) != 1 {
				t.Errorf("%d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			if !strings.Contains(strings.ToLower(d.Detail), strings.ToLower(tc.detail)) {
				t.Errorf("detail %q, want %q", d.Detail, tc.detail)
			}
			if d.Subject == nil {
				t.Fatal("no source range")
			}
			pos := fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if !strings.HasPrefix(pos, tc.pos) {
				t.Errorf("at %s, want %s", pos, tc.pos)
			}
		})
	}
}

// TestProviderSchemasAcceptWhatTheyDocument: the documented spellings
// pass, free-form AWX extra vars stay open, aliases work.
func TestProviderSchemasAcceptWhatTheyDocument(t *testing.T) {
	src := `provider "awx" "a" {
  url              = "https://awx.example.com"
  token            = "t"
  workflow_timeout = 3600
  poll_interval    = "2s"
}
provider "podman" "p" {
  engine  = "Podman"
  pull    = "never"
  timeout = "30s"
}
provider "static" "lab" {
  hosts = ["a", "b:2222"]
  host {
    name   = "c"
    labels = { rack = "1" }
    port   = 22
  }
}
host "rhel" {
  provider = "awx.a"
  args     = { workflow = "deploy-rhel", deploy_rhel_version = "9.4", anything = [1, 2] }
}
host "c" {
  provider = "podman.p"
  args     = { container_host = "alpine", ports = [22], env = { N = 3 } }
}
host "s" {
  provider = "static.lab"
  args     = { match = { rack = "1" } }
}
host "sim" {
  provider = "sim"
  args     = { os = "fedora", whatever = true }
}
`
	cfg, diags := manifest.LoadSources(map[string][]byte{"lab.hcl": []byte(src)}, ".",
		manifest.Options{Schemas: registrySchemas, SchemaNames: providers.Names})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, h := range cfg.Hosts {
		if h.Name == "c" && fmt.Sprint(h.Args["ports"]) != "[22]" {
			t.Errorf("ports recorded as %v", h.Args["ports"])
		}
	}
}
