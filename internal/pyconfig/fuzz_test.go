package pyconfig

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FuzzConvertSettings: whatever YAML it is given, ConvertSettings either
// refuses it or writes broker.hcl that parses.
func FuzzConvertSettings(f *testing.F) {
	f.Add([]byte(`AnsibleTower:
  instances:
    - production:
        base_url: "https://awx.example.com/"
        token: "s3cret"
        default: True
Container:
  instances:
    - local:
        host_username: root
        host_password: x
        runtime: podman
        default: True
nicks:
  rhel9:
    workflow: deploy-rhel
    rhel_version: "9.4"
logging:
  console_level: info
inventory_fields:
  Host: hostname | name
`))
	f.Add([]byte("TestProvider:\n  instances:\n    - a: {foo: 1}\nssh:\n  backend: ssh2-python\n  host_username: root\n  host_password: pw\n"))
	f.Add([]byte("a: &a [1, 2]\nnicks: {x: {b: *a}}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := ConvertSettings(src)
		if err != nil {
			return
		}
		if _, diags := hclsyntax.ParseConfig(res.HCL, "broker.hcl", hcl.InitialPos); diags.HasErrors() {
			t.Fatalf("the converted settings do not parse: %s\n%s", diags.Error(), res.HCL)
		}
	})
}
