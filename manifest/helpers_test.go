package manifest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// testSchemas stands in for the provider registry.
func testSchemas(name string) (ProviderSchema, bool) {
	switch strings.ToLower(name) {
	case "sim", "testprovider":
		return ProviderSchema{
			Type:     "sim",
			Settings: hcldec.ObjectSpec{"latency": &hcldec.AttrSpec{Name: "latency", Type: cty.String}},
			Args:     cty.DynamicPseudoType,
		}, true
	case "docker", "podman":
		return ProviderSchema{
			Type:     "docker",
			Settings: hcldec.ObjectSpec{"host": &hcldec.AttrSpec{Name: "host", Type: cty.String}},
			Args: cty.ObjectWithOptionalAttrs(map[string]cty.Type{
				"image": cty.String,
				"ports": cty.List(cty.String),
				"env":   cty.Map(cty.String),
			}, []string{"ports", "env"}),
		}, true
	case "awx", "ansibletower":
		return ProviderSchema{
			Type: "awx",
			Settings: hcldec.ObjectSpec{
				"url":   &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
				"token": &hcldec.AttrSpec{Name: "token", Type: cty.String},
			},
			Args:      cty.DynamicPseudoType,
			Sensitive: []string{"token"},
		}, true
	}
	return ProviderSchema{}, false
}

func testSchemaNames() []string {
	return []string{"TestProvider", "ansibletower", "awx", "docker", "podman", "sim"}
}

// testEnv is a fixed environment for env() and BROKER_VAR_*.
func testEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func testOptions() Options {
	return Options{
		Schemas:     testSchemas,
		SchemaNames: testSchemaNames,
		LookupEnv:   testEnv(map[string]string{"AWX_TOKEN": "s3cret", "HOME": "/home/q"}),
	}
}

func loadString(t *testing.T, src string, opts Options) (*Config, hcl.Diagnostics) {
	t.Helper()
	return LoadSources(map[string][]byte{"lab.hcl": []byte(src)}, "testdata", opts)
}

// diagPos is "file:line:column" of a diagnostic's subject, "" without one.
func diagPos(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
}

func diagSummaries(diags hcl.Diagnostics) string {
	var out []string
	for _, d := range diags {
		out = append(out, fmt.Sprintf("%s: %s (%s) %s", diagPos(d), d.Summary, d.Detail, ""))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
