package providers_test

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/schema"
)

// TestRegisterDerivesFromTheSchemas: the spec, args type and sensitive
// list the manifest decoder gets come from the one declaration, and the
// command line's check is the schema's.
func TestRegisterDerivesFromTheSchemas(t *testing.T) {
	typ := &providers.Type{
		Name: "schematest",
		SettingsSchema: &schema.Schema{Fields: []schema.Field{
			{Name: "url", Type: schema.String, Required: true},
			{Name: "token", Type: schema.String, Sensitive: true},
		}},
		ArgsSchema: &schema.Schema{Fields: []schema.Field{
			{Name: "image", Type: schema.String, Required: true},
			{Name: "ports", Type: schema.StringList},
		}},
	}
	providers.Register(typ)
	if typ.Settings == nil || len(typ.Sensitive) != 1 || typ.Sensitive[0] != "token" {
		t.Errorf("settings %v, sensitive %v", typ.Settings, typ.Sensitive)
	}
	if !typ.Args.IsObjectType() || !typ.Args.HasAttribute("ports") {
		t.Errorf("args type %#v", typ.Args)
	}
	errs := typ.CheckArgs(map[string]any{"image": "x", "prots": "22"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `did you mean "ports"?`) {
		t.Errorf("check %v", errs)
	}
	if errs := typ.CheckArgs(map[string]any{"image": "x", "ports": "22"}); len(errs) != 0 {
		t.Errorf("good args refused: %v", errs)
	}
	help := providers.HelpOf(typ.SettingsSchema)
	if len(help) != 2 || !help[0].Required || !strings.Contains(help[1].Description, "sensitive") {
		t.Errorf("help %+v", help)
	}

	open := &providers.Type{Name: "schematest-open"}
	providers.Register(open)
	if open.Args != cty.DynamicPseudoType || open.CheckArgs(map[string]any{"anything": 1.0}) != nil {
		t.Errorf("a type without an args schema takes anything: %#v", open.Args)
	}
}
