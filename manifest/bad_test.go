package manifest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// yamlBomb is a "billion laughs": nine levels of nine aliases, 9^9 values
// once expanded, in a few hundred bytes.
var yamlBomb = func() string {
	var b strings.Builder
	b.WriteString("a: &a [x, x, x, x, x, x, x, x, x]\n")
	for c := 'b'; c <= 'i'; c++ {
		p := string(c - 1)
		fmt.Fprintf(&b, "%c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", c, c, p, p, p, p, p, p, p, p, p)
	}
	return b.String()
}()

// manyHosts is n host blocks of 1000 instances each.
func manyHosts(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "host \"h%d\" {\n  provider = \"sim\"\n  count = 1000\n}\n", i)
	}
	return b.String()
}

func TestLoadBadManifests(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		vars    map[string]string
		summary string
		detail  string // substring, "" to skip
		pos     string // subject file:line:column, "" for none
	}{
		{"unknown block", "foo {}\n", nil, "Unsupported block type", "foo", "lab.hcl:1:1"},
		{"unknown attribute", "bogus = 1\n", nil, "Unsupported argument", "bogus", "lab.hcl:1:1"},
		{"unknown host attribute", "host \"a\" {\n  provider = \"sim\"\n  colour = \"red\"\n}\n", nil, "Unsupported argument", "colour", "lab.hcl:3:3"},
		{"logging in a manifest", "logging { level = \"info\" }\n", nil, "Unsupported block type", "logging", "lab.hcl:1:1"},
		{"duplicate host", "host \"a\" { provider = \"sim\" }\nhost \"a\" { provider = \"sim\" }\n", nil, "Duplicate host block", "lab.hcl:1", "lab.hcl:2:1"},
		{"duplicate nick", "nick \"n\" { provider = \"sim\" }\n\nnick \"n\" { provider = \"sim\" }\n", nil, "Duplicate nick block", "lab.hcl:1", "lab.hcl:3:1"},
		{"duplicate provider", "provider \"sim\" \"a\" {}\nprovider \"TestProvider\" \"a\" {}\n", nil, "Duplicate provider block", "lab.hcl:1", "lab.hcl:2:1"},
		{"duplicate variable", "variable \"v\" { default = 1 }\nvariable \"v\" { default = 2 }\n", nil, "Duplicate variable block", "lab.hcl:1", "lab.hcl:2:1"},
		{"duplicate hook", "hook \"h\" {\n  on = [\"after_setup\"]\n  local = [\"x\"]\n}\nhook \"h\" {\n  on = [\"after_setup\"]\n  local = [\"y\"]\n}\n", nil, "Duplicate hook block", "lab.hcl:1", "lab.hcl:5:1"},
		{"duplicate setup", "host \"a\" {\n  provider = \"sim\"\n  setup {}\n  setup {}\n}\n", nil, "Duplicate setup block", "", "lab.hcl:4:3"},
		{"unknown nick", "nick \"rhel9\" { provider = \"sim\" }\nhost \"a\" { nick = \"rhel8\" }\n", nil, "Unknown nick", `Did you mean "rhel9"?`, "lab.hcl:2:19"},
		{"unknown provider instance", "provider \"docker\" \"local\" {}\nhost \"a\" {\n  provider = \"docker.locl\"\n  args = { image = \"x\" }\n}\n", nil, "Unknown provider instance", `Did you mean "local"?`, "lab.hcl:3:14"},
		{"unknown provider type", "provider \"dokcer\" \"x\" {}\n", nil, "Unknown provider type", `Did you mean "docker"?`, "lab.hcl:1:10"},
		{"unknown provider type in host", "host \"a\" { provider = \"vmware.x\" }\n", nil, "Unknown provider type", "Known types: TestProvider", "lab.hcl:1:23"},
		{"two defaults", "provider \"sim\" \"a\" { default = true }\nprovider \"sim\" \"b\" { default = true }\n", nil, "Duplicate default provider", "sim.a (lab.hcl:1)", "lab.hcl:2:32"},
		{"ambiguous provider", "provider \"sim\" \"a\" {}\nprovider \"sim\" \"b\" {}\nhost \"h\" { provider = \"sim\" }\n", nil, "Ambiguous provider", "sim.a, sim.b", "lab.hcl:3:23"},
		{"required settings, no instance", "host \"h\" { provider = \"awx\" }\n", nil, "No provider instance", "required settings", "lab.hcl:1:23"},
		{"unknown provider setting", "provider \"sim\" \"a\" {\n  colour = 1\n}\n", nil, "Unsupported argument", "colour", "lab.hcl:2:3"},
		{"missing provider setting", "provider \"awx\" \"a\" {}\n", nil, "Missing required argument", "url", "lab.hcl:1:20"},
		{"negative count", "host \"a\" {\n  provider = \"sim\"\n  count = -1\n}\n", nil, "Invalid count", "at least 0", "lab.hcl:3:11"},
		{"non-number count", "host \"a\" {\n  provider = \"sim\"\n  count = \"many\"\n}\n", nil, "Invalid count", "number is required", "lab.hcl:3:11"},
		{"fractional count", "host \"a\" {\n  provider = \"sim\"\n  count = 1.5\n}\n", nil, "Invalid count", "whole number", "lab.hcl:3:11"},
		{"unparsable lease", "host \"a\" {\n  provider = \"sim\"\n  lease = \"soon\"\n}\n", nil, "Invalid lease", `"soon"`, "lab.hcl:3:11"},
		{"unparsable renew_before", "host \"a\" {\n  provider = \"sim\"\n  renew_before = \"1x\"\n}\n", nil, "Invalid renew_before", "", "lab.hcl:3:18"},
		{"labels not strings", "host \"a\" {\n  provider = \"sim\"\n  labels = { n = 1 }\n}\n", nil, "Invalid labels", `"n" is a number`, "lab.hcl:3:12"},
		{"args missing required attribute", "host \"a\" {\n  provider = \"docker\"\n  args = { ports = [\"22\"] }\n}\n", nil, "Invalid args", `"image" is required`, "lab.hcl:3:10"},
		{"args wrong type", "host \"a\" {\n  provider = \"docker\"\n  args = { image = \"x\", ports = \"22\" }\n}\n", nil, "Invalid args", `attribute "ports"`, "lab.hcl:3:10"},
		{"args not an object", "host \"a\" {\n  provider = \"sim\"\n  args = \"x\"\n}\n", nil, "Invalid args", "must be an object", "lab.hcl:3:10"},
		{"nick args refer to a host", "host \"b\" { provider = \"sim\" }\nnick \"n\" {\n  provider = \"sim\"\n  args = { peer = host.b[0].hostname }\n}\n", nil, "Invalid reference in args", "before any host exists", "lab.hcl:4:19"},
		{"args refer to self", "host \"a\" {\n  provider = \"sim\"\n  args = { me = self.hostname }\n}\n", nil, "Invalid reference in args", "before any host exists", "lab.hcl:3:17"},
		{"args refer to an undeclared host", "host \"a\" {\n  provider = \"sim\"\n  args = { peer = host.sat[0].hostname }\n}\n", nil, "Reference to undeclared host", "sat", "lab.hcl:3:19"},
		{"args refer to each other", "host \"a\" {\n  provider = \"sim\"\n  args = { peer = host.b[0].hostname }\n}\nhost \"b\" {\n  provider = \"sim\"\n  labels = { peer = host.a[0].ip }\n}\n", nil, "Dependency cycle between hosts", "lab.hcl:3", "lab.hcl:7:21"},
		{"args refer past a host's count", "host \"b\" { provider = \"sim\" }\nhost \"a\" {\n  provider = \"sim\"\n  args = { peer = host.b[1].hostname }\n}\n", nil, "Invalid index", "", "lab.hcl:4:25"},
		{"args of a wrong type from a host", "host \"b\" { provider = \"sim\" }\nhost \"a\" {\n  provider = \"docker\"\n  args = { image = \"x\", ports = host.b[0].hostname }\n}\n", nil, "Invalid args", "ports", "lab.hcl:4:10"},
		{"neither nick nor provider", "host \"a\" {\n  count = 1\n}\n", nil, "Missing provider", "nick", "lab.hcl:1:1"},
		{"nick and provider disagree", "provider \"sim\" \"a\" {}\nprovider \"sim\" \"b\" {}\nnick \"n\" { provider = \"sim.a\" }\nhost \"h\" {\n  nick = \"n\"\n  provider = \"sim.b\"\n}\n", nil, "Conflicting provider", "uses sim.a", "lab.hcl:6:14"},
		{"reference to unknown host", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [\"ping ${host.nope[0].ip}\"] }\n}\n", nil, "Reference to undeclared host", "nope", "lab.hcl:3:26"},
		{"self reference", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [\"ping ${host.a[0].ip}\"] }\n}\n", nil, "Self-referential host", "self.ATTRIBUTE", "lab.hcl:3:26"},
		{"dependency cycle", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [host.b[0].ip] }\n}\nhost \"b\" {\n  provider = \"sim\"\n  teardown { run = [host.a[0].ip] }\n}\n", nil, "Dependency cycle between hosts", "lab.hcl:3", "lab.hcl:7:21"},
		{"sensitive env in args", "host \"a\" {\n  provider = \"sim\"\n  args = { token = env(\"AWX_TOKEN\") }\n}\n", nil, "Sensitive value in args", "at token", "lab.hcl:3:10"},
		{"sensitive variable in labels", "variable \"pw\" {\n  default = \"x\"\n  sensitive = true\n}\nhost \"a\" {\n  provider = \"sim\"\n  labels = { pw = var.pw }\n}\n", nil, "Sensitive value in labels", "stored in state", "lab.hcl:7:12"},
		{"sensitive value in setup", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [\"login ${env(\"AWX_TOKEN\")}\"] }\n}\n", nil, "Sensitive value in setup.run", "", "lab.hcl:3:17"},
		{"sensitive environment", "environment = env(\"HOME\")\n", nil, "Sensitive value in environment", "", "lab.hcl:1:15"},
		{"unknown hook event", "hook \"h\" {\n  on = [\"after_setup\", \"afterr_checkout\"]\n  local = [\"x\"]\n}\n", nil, "Unknown hook event", `Did you mean "after_checkout"?`, "lab.hcl:2:24"},
		{"hook without commands", "hook \"h\" {\n  on = [\"after_setup\"]\n}\n", nil, "Missing hook commands", "", "lab.hcl:1:1"},
		{"missing variable value", "variable \"rhel\" {\n  type = string\n}\n", nil, "No value for required variable", "--var rhel=", "lab.hcl:1:1"},
		{"var for undeclared variable", "variable \"rhel\" { default = \"9\" }\n", map[string]string{"rhl": "8"}, "Undeclared variable", `Did you mean "rhel"?`, ""},
		{"var not fitting its type", "variable \"n\" {\n  type = number\n  default = 1\n}\n", map[string]string{"n": "\"abc\""}, "Invalid value for variable", "number", "lab.hcl:1:1"},
		{"bad variable type", "variable \"v\" {\n  type = strin\n}\n", nil, "Invalid type specification", "strin", "lab.hcl:2:10"},
		{"default not fitting type", "variable \"v\" {\n  type = number\n  default = \"abc\"\n}\n", nil, "Invalid value for variable", "type number", "lab.hcl:3:13"},
		{"syntax error", "host \"a\" {\n  provider = \"sim\"\n", nil, "Unclosed configuration block", "", "lab.hcl:1:10"},
		{"locals cycle", "locals {\n  a = local.b\n  b = local.a\n}\n", nil, "Cycle in local values", "local.a → local.b → local.a", "lab.hcl:2:7"},
		{"undeclared local", "locals {\n  a = local.c\n}\n", nil, "Reference to undeclared local value", "", "lab.hcl:2:7"},
		{"env missing", "locals {\n  a = env(\"NOPE\")\n}\n", nil, "Invalid function argument", "NOPE is not set", "lab.hcl:2:12"},
		{"file missing", "locals {\n  a = file(\"missing.txt\")\n}\n", nil, "Invalid function argument", "cannot read missing.txt", "lab.hcl:2:13"},
		{"bad environment name", "environment = \"ui tests\"\n", nil, "Invalid environment name", "letters, digits", "lab.hcl:1:15"},
		{"wait_for invalid", "host \"a\" {\n  provider = \"sim\"\n  setup { wait_for = \"ping\" }\n}\n", nil, "Invalid wait_for", `"ping"`, "lab.hcl:3:22"},
		{"on_failure invalid", "host \"a\" {\n  provider = \"sim\"\n  setup { on_failure = \"retry\" }\n}\n", nil, "Invalid on_failure", `"retry"`, "lab.hcl:3:24"},
		{"upload missing destination", "host \"a\" {\n  provider = \"sim\"\n  setup {\n    upload { source = \"a\" }\n  }\n}\n", nil, "Missing required argument", "destination", "lab.hcl:4:14"},
		{"upload bad mode", "host \"a\" {\n  provider = \"sim\"\n  setup {\n    upload {\n      source = \"lab/files/sat.repo\"\n      destination = \"/b\"\n      mode = \"rw\"\n    }\n  }\n}\n", nil, "Invalid mode", "octal", "lab.hcl:7:14"},
		{"setup run not a list", "host \"a\" {\n  provider = \"sim\"\n  setup { run = 3 }\n}\n", nil, "Invalid setup.run", "list of string", "lab.hcl:3:17"},
		{"unknown function", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [nope(\"x\")] }\n}\n", nil, "Call to unknown function", "", "lab.hcl:3:18"},
		{"upload source missing", "host \"a\" {\n  provider = \"sim\"\n  setup {\n    upload {\n      source = \"lab/files/nope.repo\"\n      destination = \"/b\"\n    }\n  }\n}\n", nil, "Missing upload source", "nope.repo: no such file", "lab.hcl:5:16"},
		{"host index past count", "host \"a\" { provider = \"sim\" }\nhost \"b\" {\n  provider = \"sim\"\n  setup { run = [\"ping ${host.a[5].ip}\"] }\n}\n", nil, "Invalid index", "", "lab.hcl:4:32"},
		{"hook host index past count", "host \"a\" {\n  provider = \"sim\"\n  count = 2\n}\nhook \"h\" {\n  on = [\"after_setup\"]\n  local = [\"ping ${host.a[2].ip}\"]\n}\n", nil, "Invalid index", "greater than or equal to the length", "lab.hcl:7:26"},
		{"count over the maximum", "host \"a\" {\n  provider = \"sim\"\n  count = 1e9\n}\n", nil, "Invalid count", "at most 1000 instances", "lab.hcl:3:11"},
		{"count too large for an integer", "host \"a\" {\n  provider = \"sim\"\n  count = 1e30\n}\n", nil, "Invalid count", "too large", "lab.hcl:3:11"},
		{"too many hosts", manyHosts(11), nil, "Too many hosts", "at most 10000", "lab.hcl:41:1"},
		{"nesting too deep", "locals {\n  a = " + strings.Repeat("[", 8000) + strings.Repeat("]", 8000) + "\n}\n", nil, "Nesting too deep", "more than 100 levels", "lab.hcl:2:106"},
		{"yaml alias bomb", "locals {\n  a = yamldecode(<<EOT\n" + yamlBomb + "EOT\n  )\n}\n", nil, "Invalid function argument", "more than 100000 values", "lab.hcl:3:1"},
		{"yaml nested too deep", "locals {\n  a = yamldecode(\"" + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\")\n}\n", nil, "Invalid function argument", "more than 100 levels", "lab.hcl:2:19"},
		{"json nested too deep", "locals {\n  a = jsondecode(\"" + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\")\n}\n", nil, "Invalid function argument", "more than 100 levels", "lab.hcl:2:19"},
		{"file of a device", "locals {\n  a = file(\"/dev/zero\")\n}\n", nil, "Invalid function argument", "only regular files", "lab.hcl:2:13"},
		{"etcd without endpoints", "state { backend = \"etcd\" }\n", nil, "Missing etcd endpoints", "needs endpoints", "lab.hcl:1:1"},
		{"etcd endpoint without scheme or port", "state {\n  backend   = \"etcd\"\n  endpoints = [\"etcd1\"]\n}\n", nil, "Invalid etcd endpoint", `"etcd1" has no scheme`, "lab.hcl:3:15"},
		{"etcd endpoint with a bad port", "state {\n  backend   = \"etcd\"\n  endpoints = [\"https://etcd1:port\"]\n}\n", nil, "Invalid etcd endpoint", "is not a URL", "lab.hcl:3:15"},
		{"etcd endpoint missing a colon", "state {\n  backend   = \"etcd\"\n  endpoints = [\"http//etcd1:2379\"]\n}\n", nil, "Invalid etcd endpoint", "has no scheme", "lab.hcl:3:15"},
		{"etcd endpoint of another scheme", "state {\n  backend   = \"etcd\"\n  endpoints = [\"ftp://etcd1:2379\"]\n}\n", nil, "Invalid etcd endpoint", `scheme "ftp"`, "lab.hcl:3:15"},
		{"environment ..", "environment = \"..\"\n", nil, "Invalid environment name", `may not be "." or ".."`, "lab.hcl:1:15"},
		{"for_each over a host's value", "host \"a\" { provider = \"sim\" }\nhost \"b\" {\n  provider = \"sim\"\n  for_each = toset([host.a[0].hostname])\n}\n", nil, "Invalid for_each argument", "not known until apply", "lab.hcl:4:21"},
		{"for_each and count", "host \"a\" {\n  provider = \"sim\"\n  count = 2\n  for_each = { x = 1 }\n}\n", nil, "Both count and for_each", "lab.hcl:3", "lab.hcl:4:3"},
		{"for_each not a collection", "host \"a\" {\n  provider = \"sim\"\n  for_each = \"eu\"\n}\n", nil, "Invalid for_each argument", "map or a set of strings", "lab.hcl:3:14"},
		{"for_each set of numbers", "host \"a\" {\n  provider = \"sim\"\n  for_each = [[1]]\n}\n", nil, "Invalid for_each argument", "must hold strings", "lab.hcl:3:14"},
		{"for_each sensitive", "host \"a\" {\n  provider = \"sim\"\n  for_each = toset([env(\"AWX_TOKEN\")])\n}\n", nil, "Invalid for_each argument", "sensitive", "lab.hcl:3:14"},
		{"each without for_each", "host \"a\" {\n  provider = \"sim\"\n  args = { region = each.key }\n}\n", nil, "Invalid reference in args", "only in a host block with for_each", "lab.hcl:3:21"},
		{"each in setup without for_each", "host \"a\" {\n  provider = \"sim\"\n  setup { run = [each.value] }\n}\n", nil, "Invalid reference in setup.run", "only in a host block with for_each", "lab.hcl:3:18"},
		{"unknown for_each key referenced", "host \"a\" {\n  provider = \"sim\"\n  for_each = { eu = 1 }\n}\nhost \"b\" {\n  provider = \"sim\"\n  setup { run = [host.a[\"us\"].ip] }\n}\n", nil, "Invalid index", "does not identify", "lab.hcl:7:24"},
		{"action refers to an undeclared host", "host \"sat\" { provider = \"sim\" }\naction \"a\" {\n  local = [\"echo\", host.satt[0].hostname]\n}\n", nil, "Reference to undeclared host", `Did you mean "sat"?`, "lab.hcl:3:20"},
		{"output refers to an undeclared action", "action \"integrate\" { local = [\"true\"] }\noutput \"o\" {\n  value = action.integrat.result\n}\n", nil, "Reference to undeclared action", `Did you mean "integrate"?`, "lab.hcl:3:11"},
		{"actions wait for each other", "action \"a\" {\n  local = [action.b.result.x]\n}\naction \"b\" {\n  local = [action.a.result.x]\n}\n", nil, "Dependency cycle between actions", "action.a → action.b → action.a", "lab.hcl:5:12"},
		{"action without provider or local", "action \"a\" {\n  args = { x = 1 }\n}\n", nil, "Invalid action", "needs provider", "lab.hcl:1:1"},
		{"action with provider and local", "action \"a\" {\n  provider = \"sim\"\n  local = [\"x\"]\n}\n", nil, "Invalid action", "both a provider and local", "lab.hcl:1:1"},
		{"action bad retry", "action \"a\" {\n  local = [\"x\"]\n  retry { attempts = 0 }\n}\n", nil, "Invalid attempts", "at least 1", "lab.hcl:3:22"},
		{"action when not a bool", "action \"a\" {\n  local = [\"x\"]\n  when = \"sometimes\"\n}\n", nil, "Invalid when", "bool", "lab.hcl:3:10"},
		{"sensitive output", "variable \"pw\" {\n  default = \"x\"\n  sensitive = true\n}\noutput \"pw\" {\n  value = var.pw\n  sensitive = true\n}\n", nil, "Sensitive value in output pw", "", "lab.hcl:6:11"},
		{"output without value", "output \"o\" {}\n", nil, "Missing required argument", "value", "lab.hcl:1:12"},
		{"host refers to an action", "action \"a\" { local = [\"x\"] }\nhost \"h\" {\n  provider = \"sim\"\n  args = { x = action.a.result }\n}\n", nil, "Invalid reference in args", "cannot refer to action", "lab.hcl:4:16"},
		{"setup refers to an action", "action \"a\" { local = [\"x\"] }\nhost \"h\" {\n  provider = \"sim\"\n  setup { run = [action.a.result.x] }\n}\n", nil, "Invalid reference in setup.run", "cannot refer to action", "lab.hcl:4:18"},
		{"bad state backend", "state { backend = \"redis\" }\n", nil, "Invalid backend", "redis", "lab.hcl:1:19"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Vars = tc.vars
			cfg, diags := loadString(t, tc.src, opts)
			if cfg == nil || cfg.Files["lab.hcl"] == nil && tc.summary != "Unclosed configuration block" {
				t.Fatalf("Load returned no Config or no Files")
			}
			if len(cfg.Sources) != 1 {
				t.Errorf("Sources: got %d files, want 1", len(cfg.Sources))
			}
			var first *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					first = d
					break
				}
			}
			if first == nil {
				t.Fatalf("no error; want %q", tc.summary)
			}
			if first.Summary != tc.summary || diagPos(first) != tc.pos || !strings.Contains(first.Detail, tc.detail) {
				t.Errorf("got  %s %q: %s\nwant %s %q: …%s…\nall:\n%s", diagPos(first), first.Summary, first.Detail,
					tc.pos, tc.summary, tc.detail, diagSummaries(diags))
			}
		})
	}
}
