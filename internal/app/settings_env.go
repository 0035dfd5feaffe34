package app

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/providers"
)

// Environment overrides of the settings file, as the Python broker's
// DynaConf ones: BROKER_<BLOCK>__<KEY>=value, double underscores nesting.
//
//	BROKER_SSH__USER=root                    ssh { user = "root" }
//	BROKER_LOGGING__LEVEL=debug              logging { level = "debug" }
//	BROKER_INVENTORY__FIELDS='["Host:hostname"]'
//	BROKER_STATE__TLS__CA=/etc/ca.pem        state { tls { ca = … } }
//	BROKER_AnsibleTower__testing__url=…      provider "awx" "testing" { url = … }
//	BROKER_AWX__URL=…                        every awx instance (or "default")
//
// Block, provider type (aliases too), instance and key are matched without
// regard to case; a missing block or instance is added. A value is written
// as HCL when it is a number, true/false or a [list], and as a string
// otherwise. The overrides are applied to the parsed file with hclwrite
// before it is decoded, so the decoder checks them like the file's own
// attributes (diagnostics name the variable).

// Variables that are not settings overrides.
var notOverrides = map[string]bool{"DIRECTORY": true, "ENVIRONMENT": true, "NO_GLOBAL_CONFIG": true, "NON_INTERACTIVE": true}

// Override is one BROKER_… variable that changes the settings.
type Override struct {
	Var   string // the variable's name
	Path  []string
	Value string
}

// SettingsOverrides lists the overrides in environ (KEY=VALUE entries),
// sorted by variable name.
func SettingsOverrides(environ []string) []Override {
	var out []Override
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || len(k) <= len("BROKER_") || !strings.EqualFold(k[:len("BROKER_")], "BROKER_") {
			continue
		}
		rest := k[len("BROKER_"):]
		if !strings.Contains(rest, "__") || notOverrides[strings.ToUpper(rest)] || strings.HasPrefix(strings.ToUpper(rest), "VAR_") {
			continue
		}
		parts := strings.Split(rest, "__")
		bad := false
		for _, p := range parts {
			if p == "" {
				bad = true
			}
		}
		if bad {
			continue
		}
		out = append(out, Override{Var: k, Path: parts, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Var < out[j].Var })
	return out
}

var settingsBlocks = []string{"ssh", "logging", "inventory", "state"}

// pythonEnvOnly are Python settings sections an environment variable may
// set there and not here, with what to do instead.
var pythonEnvOnly = map[string]string{
	"inventory_fields": `inventory columns are set with BROKER_INVENTORY__FIELDS='["Title:field|fallback", …]'`,
	"nicks":            "nicks are set in broker.hcl (broker config set nicks.NAME FILE)",
}

// ApplyOverrides rewrites the settings source src with the overrides. It
// returns the new source and notes on variables it translated from the
// Python broker's names or ignored, or an error naming a variable it
// cannot apply.
func ApplyOverrides(src []byte, filename string, ovs []Override) ([]byte, []string, error) {
	if len(ovs) == 0 {
		return src, nil, nil
	}
	src = ExpandOneLineBlocks(src, filename)
	f, diags := hclwrite.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// Let the decoder report the syntax error with its snippet.
		return src, nil, nil
	}
	body := f.Body()
	var notes []string
	for _, ov := range ovs {
		note, err := applyOverride(body, ov)
		if err != nil {
			return nil, nil, Hint(fmt.Errorf("environment variable %s: %w", ov.Var, err),
				"write BROKER_<BLOCK>__<KEY> (ssh, logging, inventory, state) or BROKER_<PROVIDER>[__<INSTANCE>]__<KEY>")
		}
		if note != "" {
			notes = append(notes, ov.Var+": "+note)
		}
	}
	return f.Bytes(), notes, nil
}

// ExpandOneLineBlocks rewrites every one-line block ({ a = 1 } or {}) of
// src over several lines, so that attributes can be added to it. A source
// that does not parse is returned as it is.
func ExpandOneLineBlocks(src []byte, filename string) []byte {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return src
	}
	var at []int // byte offsets to insert a newline at
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, blk := range b.Blocks {
			if blk.OpenBraceRange.Start.Line == blk.CloseBraceRange.Start.Line {
				at = append(at, blk.OpenBraceRange.End.Byte)
				if blk.CloseBraceRange.Start.Byte > blk.OpenBraceRange.End.Byte {
					at = append(at, blk.CloseBraceRange.Start.Byte)
				}
			}
			walk(blk.Body)
		}
	}
	walk(f.Body.(*hclsyntax.Body))
	if len(at) == 0 {
		return src
	}
	sort.Ints(at)
	out := make([]byte, 0, len(src)+len(at))
	prev := 0
	for _, i := range at {
		out = append(out, src[prev:i]...)
		out = append(out, '\n')
		prev = i
	}
	return hclwrite.Format(append(out, src[prev:]...))
}

// translate maps a Python broker variable to this broker's path and value:
// BROKER_<P>__INSTANCES__<I>__KEY is BROKER_<P>__<I>__KEY, and keys are
// renamed (host_username is user, base_url is url, …). A non-empty ignore
// says why the variable means nothing here.
func translate(ov Override) (path []string, value, ignore string) {
	path, value = append([]string{}, ov.Path...), ov.Value
	head := strings.ToLower(path[0])
	if why, ok := pyconfig.PythonOnlyBlocks[head]; ok {
		return nil, "", "ignored: " + why
	}
	if why, ok := pythonEnvOnly[head]; ok {
		return nil, "", "ignored: " + why
	}
	block := head
	if t, ok := providers.Lookup(head); ok && !slices.Contains(settingsBlocks, head) {
		block = t.Name
		if len(path) == 4 && strings.EqualFold(path[1], "instances") {
			path = []string{path[0], path[2], path[3]}
		}
	}
	last := len(path) - 1
	if k, ok := pyconfig.PythonKey(block, path[last]); ok {
		if k.Ignore != "" {
			return nil, "", "ignored: " + k.Ignore
		}
		path[last] = k.To
		if k.Seconds {
			value = pyconfig.SecondsValue(value)
		}
	}
	return path, value, ""
}

func applyOverride(body *hclwrite.Body, ov Override) (string, error) {
	path, value, ignore := translate(ov)
	if ignore != "" {
		return ignore, nil
	}
	head := path[0]
	for _, b := range settingsBlocks {
		if strings.EqualFold(head, b) {
			blk := findBlock(body, b, nil)
			if blk == nil {
				blk = body.AppendNewBlock(b, nil)
			}
			inner := blk.Body()
			rest := path[1:]
			for len(rest) > 1 {
				sub := findBlock(inner, strings.ToLower(rest[0]), nil)
				if sub == nil {
					sub = inner.AppendNewBlock(strings.ToLower(rest[0]), nil)
				}
				inner, rest = sub.Body(), rest[1:]
			}
			return "", setAttr(inner, rest[0], value)
		}
	}
	t, ok := providers.Lookup(head)
	if !ok {
		return "", fmt.Errorf("%q is neither a settings block (%s) nor a provider (%s)", head, strings.Join(settingsBlocks, ", "), strings.Join(providers.Names(), ", "))
	}
	key := path[len(path)-1]
	// A Python provider section (AnsibleTower, Container, TestProvider)
	// takes any key there; here a key the type does not have is ignored
	// with a note rather than failing every command.
	if _, py := pyconfig.PythonProviderNames[strings.ToLower(head)]; py && t.SettingsSchema != nil {
		known := append(t.SettingsSchema.Names(), "default", "override_envars", "max_lease", "max_concurrency")
		if !slices.Contains(known, strings.ToLower(key)) {
			return fmt.Sprintf("ignored: %s has no setting %q", t.Name, key), nil
		}
	}
	var blocks []*hclwrite.Block
	switch len(path) {
	case 2:
		// A type-level setting: every instance of the type takes it.
		blocks = providerBlocks(body, t)
		if len(blocks) == 0 {
			blocks = append(blocks, body.AppendNewBlock("provider", []string{t.Name, "default"}))
		}
	case 3:
		for _, b := range providerBlocks(body, t) {
			if l := b.Labels(); len(l) == 2 && strings.EqualFold(l[1], path[1]) {
				blocks = append(blocks, b)
			}
		}
		if len(blocks) == 0 {
			blocks = append(blocks, body.AppendNewBlock("provider", []string{t.Name, path[1]}))
		}
	default:
		return "", fmt.Errorf("a provider override is BROKER_%s__KEY or BROKER_%s__INSTANCE__KEY", head, head)
	}
	var kept []string
	for _, b := range blocks {
		// override_envars = true: the instance's own settings win over
		// the environment, as in the Python broker.
		if overridesEnv(b.Body()) && hasAttr(b.Body(), key) {
			kept = append(kept, t.Name+"."+b.Labels()[1])
			continue
		}
		if err := setAttr(b.Body(), key, value); err != nil {
			return "", err
		}
	}
	if len(kept) > 0 {
		return fmt.Sprintf("not applied to %s: override_envars = true keeps the file's %s", strings.Join(kept, ", "), strings.ToLower(key)), nil
	}
	return "", nil
}

// overridesEnv reports whether body says override_envars = true.
func overridesEnv(body *hclwrite.Body) bool {
	for n, a := range body.Attributes() {
		if strings.EqualFold(n, "override_envars") {
			return strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes())) == "true"
		}
	}
	return false
}

func hasAttr(body *hclwrite.Body, key string) bool {
	for n := range body.Attributes() {
		if strings.EqualFold(n, key) {
			return true
		}
	}
	return false
}

func findBlock(body *hclwrite.Body, typ string, labels []string) *hclwrite.Block {
	for _, b := range body.Blocks() {
		if b.Type() == typ {
			return b
		}
	}
	return nil
}

func providerBlocks(body *hclwrite.Body, t *providers.Type) []*hclwrite.Block {
	var out []*hclwrite.Block
	for _, b := range body.Blocks() {
		if b.Type() != "provider" || len(b.Labels()) == 0 {
			continue
		}
		if bt, ok := providers.Lookup(b.Labels()[0]); ok && bt == t {
			out = append(out, b)
		}
	}
	return out
}

// setAttr sets key (matched without regard to case) to the value.
func setAttr(body *hclwrite.Body, key, value string) error {
	name := strings.ToLower(key)
	for n := range body.Attributes() {
		if strings.EqualFold(n, key) {
			name = n
		}
	}
	if !hclsyntax.ValidIdentifier(name) {
		return fmt.Errorf("%q is not an attribute name", key)
	}
	switch {
	case value == "true" || value == "True":
		body.SetAttributeValue(name, cty.True)
	case value == "false" || value == "False":
		body.SetAttributeValue(name, cty.False)
	case strings.HasPrefix(strings.TrimSpace(value), "["):
		expr, diags := hclsyntax.ParseExpression([]byte(value), "env", hcl.InitialPos)
		if diags.HasErrors() {
			return fmt.Errorf("value %q is not a list", value)
		}
		v, diags := expr.Value(nil)
		if diags.HasErrors() {
			return fmt.Errorf("value %q is not a list of literals", value)
		}
		body.SetAttributeValue(name, v)
	default:
		if _, err := strconv.ParseFloat(value, 64); err == nil && !strings.ContainsAny(value, "xXeE_") && !strings.HasPrefix(value, "+") {
			body.SetAttributeRaw(name, hclwrite.Tokens{{Type: hclsyntax.TokenNumberLit, Bytes: []byte(value)}})
		} else {
			body.SetAttributeValue(name, cty.StringVal(value))
		}
	}
	return nil
}

// environ is the process environment as LookupEnv sees it: os.Environ
// filtered through lookup, so tests that hand in a fake LookupEnv are
// not affected by the real environment beyond the names it knows.
func environ(lookup func(string) (string, bool), extra []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, kv := range append(os.Environ(), extra...) {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		if v, ok := lookup(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}
