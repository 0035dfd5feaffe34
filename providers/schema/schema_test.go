package schema_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

var testSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "url", Type: schema.String, Required: true, Checks: []schema.Check{schema.URL("https", "http")}},
		{Name: "poll", Type: schema.Duration, Default: "5s"},
		{Name: "mode", Type: schema.String, Default: "fast", Checks: []schema.Check{schema.OneOf("fast", "slow")}},
		{Name: "ports", Type: schema.StringList, Split: true, Aliases: []string{"port_list"}},
		{Name: "cpus", Type: schema.Number, Checks: []schema.Check{schema.Positive()}},
		{Name: "seed", Type: schema.Int},
		{Name: "port", Type: schema.Int, Checks: []schema.Check{schema.Port()}},
		{Name: "env", Type: schema.StringMap},
		{Name: "on", Type: schema.Bool},
		{Name: "secret", Type: schema.String, Sensitive: true},
	},
	Blocks: []schema.Block{{Name: "member", Schema: &schema.Schema{Fields: []schema.Field{
		{Name: "name", Type: schema.String, Required: true},
		{Name: "port", Type: schema.Int, Checks: []schema.Check{schema.Port()}},
	}}}},
	Check: func(v schema.Values) error {
		if v.String("secret") == "forbidden" {
			return errors.New("secret may not be forbidden")
		}
		return nil
	},
}

type member struct {
	Name string `schema:"name"`
	Port int    `schema:"port"`
}

type decoded struct {
	URL     string            `schema:"url"`
	Poll    time.Duration     `schema:"poll"`
	Mode    string            `schema:"mode"`
	Ports   []string          `schema:"ports"`
	CPUs    float64           `schema:"cpus"`
	Seed    int64             `schema:"seed"`
	Port    int               `schema:"port"`
	Env     map[string]string `schema:"env"`
	On      *bool             `schema:"on"`
	Members []member          `schema:"member"`
}

func TestDecodeArgsFromCommandLineShapes(t *testing.T) {
	var got decoded
	err := testSchema.DecodeArgs(map[string]any{
		"url": "https://x.example", "poll": "90", "port_list": "22, 80", "cpus": "1.5",
		"seed": "42", "env": map[string]any{"N": float64(3)}, "on": "true",
	}, &got)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	want := decoded{URL: "https://x.example", Poll: 90 * time.Second, Mode: "fast", Ports: []string{"22", "80"},
		CPUs: 1.5, Seed: 42, Env: map[string]string{"N": "3"}, On: &on}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEachProblemIsReportedWithItsName(t *testing.T) {
	_, errs := testSchema.Values(map[string]any{
		"url": "example.com", "poll": "5 parsecs", "mode": "fsat", "prots": "22", "cpus": float64(-1),
		"seed": 1.5, "port": float64(70000), "env": []any{"x"}, "on": "maybe",
	}, "argument")
	var got []string
	for _, err := range errs {
		var se *schema.Error
		if !errors.As(err, &se) {
			t.Fatalf("%v is not a *schema.Error", err)
		}
		got = append(got, se.Field()+": "+err.Error())
	}
	want := []string{
		`cpus: argument cpus: -1 is not positive`,
		`env: argument env: want a map of strings such as { KEY = "value" }, got a list`,
		`mode: argument mode: "fsat" is not one of fast, slow; did you mean "fast"?`,
		`on: argument on: "maybe" is not true or false`,
		`poll: argument poll: "5 parsecs" is not a duration such as "30s", "5m" or "1h"`,
		`port: argument port: 70000 is not a port number (1 to 65535)`,
		`prots: unknown argument prots; did you mean "ports"?`,
		`seed: argument seed: 1.5 is not a whole number`,
		`url: argument url: "example.com" is not a URL with a scheme and a host, such as "https://example.com"`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestRequiredAndOpen(t *testing.T) {
	_, errs := testSchema.Values(map[string]any{}, "setting")
	if len(errs) != 1 || errs[0].Error() != "setting url is required" {
		t.Errorf("errors %v", errs)
	}
	open := &schema.Schema{Open: true, Fields: []schema.Field{{Name: "artifacts", Type: schema.String, Checks: []schema.Check{schema.OneOf("last", "merge")}}}}
	v, errs := open.Values(map[string]any{"deploy_rhel_version": float64(9), "artifacts": "last"}, "argument")
	if len(errs) != 0 || v["deploy_rhel_version"] != float64(9) {
		t.Errorf("open schema: %v %v", v, errs)
	}
	if _, errs := open.Values(map[string]any{"artifacts": "first"}, "argument"); len(errs) != 1 {
		t.Errorf("open schema checks its declared fields: %v", errs)
	}
	if open.ArgsType() != cty.DynamicPseudoType {
		t.Errorf("open args type %#v", open.ArgsType())
	}
}

// decodeHCL decodes a provider block body with the schema's spec.
func decodeHCL(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "p.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return hcldec.Decode(f.Body, testSchema.Spec(), nil)
}

func TestSpecReportsTheValuesRange(t *testing.T) {
	for _, tc := range []struct{ src, summary, pos string }{
		{"url = \"https://x\"\npoll = \"5 parsecs\"\n", "Invalid value for poll", "p.hcl:2,8-19"},
		{"url = \"awx.example.com\"\n", "Invalid value for url", "p.hcl:1,7-24"},
		{"url = \"https://x\"\nmember {\n  name = \"a\"\n  port = 0\n}\n", "Invalid value for port", "p.hcl:4,10-11"},
		{"url = \"https://x\"\nsecret = \"forbidden\"\n", "Invalid settings", "p.hcl:1,1"},
		{"mode = \"fast\"\n", "Missing required argument", "p.hcl:1,1"},
	} {
		_, diags := decodeHCL(t, tc.src)
		for _, d := range diags {
			t.Logf("%s", d)
		}
		if len(diags) != 1 || diags[0].Summary != tc.summary || diags[0].Subject == nil ||
			!strings.HasPrefix(diags[0].Subject.String(), tc.pos) {
			t.Errorf("%q: %v (at %v), want %s at %s", tc.src, diags, diags[0].Subject, tc.summary, tc.pos)
		}
	}
}

func TestDecodeSettingsFromHCL(t *testing.T) {
	v, diags := decodeHCL(t, "url = \"https://x\"\npoll = 3600\nmember {\n  name = \"a\"\n  port = 2222\n}\nmember { name = \"b\" }\n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got decoded
	if err := testSchema.DecodeSettings(v, &got); err != nil {
		t.Fatal(err)
	}
	want := decoded{URL: "https://x", Poll: time.Hour, Mode: "fast", Members: []member{{Name: "a", Port: 2222}, {Name: "b"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestHelp(t *testing.T) {
	var names []string
	for _, h := range testSchema.Help() {
		names = append(names, h.Name)
		if h.Name == "mode" && (h.Default != "fast" || !strings.Contains(h.Doc, "one of fast, slow")) {
			t.Errorf("mode help %+v", h)
		}
		if h.Name == "secret" && !h.Sensitive {
			t.Errorf("secret help %+v", h)
		}
	}
	want := []string{"url", "poll", "mode", "ports", "cpus", "seed", "port", "env", "on", "secret", "member", "member.name", "member.port"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := testSchema.SensitiveNames(); len(got) != 1 || got[0] != "secret" {
		t.Errorf("sensitive %v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "1h30m": 90 * time.Minute, "3600": time.Hour, " 0.5 ": 500 * time.Millisecond} {
		if got, err := schema.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1s", "-5", "5 parsecs", "soon"} {
		if _, err := schema.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}
