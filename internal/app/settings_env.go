package app

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

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
var notOverrides = map[string]bool{"DIRECTORY": true, "ENVIRONMENT": true}

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

// ApplyOverrides rewrites the settings source src with the overrides. It
// returns the new source, or an error naming a variable it cannot apply.
func ApplyOverrides(src []byte, filename string, ovs []Override) ([]byte, error) {
	if len(ovs) == 0 {
		return src, nil
	}
	f, diags := hclwrite.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// Let the decoder report the syntax error with its snippet.
		return src, nil
	}
	body := f.Body()
	for _, ov := range ovs {
		if err := applyOverride(body, ov); err != nil {
			return nil, Hint(fmt.Errorf("environment variable %s: %w", ov.Var, err),
				"write BROKER_<BLOCK>__<KEY> (ssh, logging, inventory, state) or BROKER_<PROVIDER>[__<INSTANCE>]__<KEY>")
		}
	}
	return f.Bytes(), nil
}

func applyOverride(body *hclwrite.Body, ov Override) error {
	head := ov.Path[0]
	for _, b := range settingsBlocks {
		if strings.EqualFold(head, b) {
			blk := findBlock(body, b, nil)
			if blk == nil {
				blk = body.AppendNewBlock(b, nil)
			}
			inner := blk.Body()
			rest := ov.Path[1:]
			for len(rest) > 1 {
				sub := findBlock(inner, strings.ToLower(rest[0]), nil)
				if sub == nil {
					sub = inner.AppendNewBlock(strings.ToLower(rest[0]), nil)
				}
				inner, rest = sub.Body(), rest[1:]
			}
			return setAttr(inner, rest[0], ov.Value)
		}
	}
	t, ok := providers.Lookup(head)
	if !ok {
		return fmt.Errorf("%q is neither a settings block (%s) nor a provider (%s)", head, strings.Join(settingsBlocks, ", "), strings.Join(providers.Names(), ", "))
	}
	switch len(ov.Path) {
	case 2:
		// A type-level setting: every instance of the type takes it.
		blocks := providerBlocks(body, t)
		if len(blocks) == 0 {
			blocks = append(blocks, body.AppendNewBlock("provider", []string{t.Name, "default"}))
		}
		for _, b := range blocks {
			if err := setAttr(b.Body(), ov.Path[1], ov.Value); err != nil {
				return err
			}
		}
		return nil
	case 3:
		var blk *hclwrite.Block
		for _, b := range providerBlocks(body, t) {
			if l := b.Labels(); len(l) == 2 && strings.EqualFold(l[1], ov.Path[1]) {
				blk = b
			}
		}
		if blk == nil {
			blk = body.AppendNewBlock("provider", []string{t.Name, ov.Path[1]})
		}
		return setAttr(blk.Body(), ov.Path[2], ov.Value)
	}
	return fmt.Errorf("a provider override is BROKER_%s__KEY or BROKER_%s__INSTANCE__KEY", head, head)
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
