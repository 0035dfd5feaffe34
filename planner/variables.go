package planner

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/labbroker/broker/manifest"
)

// A saved plan holds the values of the manifest's variables that are not
// sensitive, whichever way they were given, and only the names of the
// sensitive ones that were given a value: a plan file may be kept as a CI
// artifact, and no secret goes into it. Applying the plan loads the
// manifest with the saved values; the sensitive ones are given again (the
// same --var, --var-file or BROKER_VAR_<name> as for the plan), and a value
// given at apply that differs from the plan's is refused, so that the plan
// applied is the plan shown. Values marked sensitive by env() count as
// sensitive.

// SavedValue is a variable's value in a plan file: its type and its value
// in cty's JSON encoding, so that it decodes to the very same value.
type SavedValue struct{ Value cty.Value }

type savedJSON struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
}

// MarshalJSON encodes the type and the value.
func (s SavedValue) MarshalJSON() ([]byte, error) {
	ty, err := ctyjson.MarshalType(s.Value.Type())
	if err != nil {
		return nil, err
	}
	val, err := ctyjson.Marshal(s.Value, s.Value.Type())
	if err != nil {
		return nil, err
	}
	return json.Marshal(savedJSON{Type: ty, Value: val})
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (s *SavedValue) UnmarshalJSON(b []byte) error {
	var j savedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	ty, err := ctyjson.UnmarshalType(j.Type)
	if err != nil {
		return fmt.Errorf("variable type: %w", err)
	}
	v, err := ctyjson.Unmarshal(j.Value, ty)
	if err != nil {
		return fmt.Errorf("variable value: %w", err)
	}
	s.Value = v
	return nil
}

// secretVariable reports whether v's value must not be saved.
func secretVariable(v *manifest.Variable) bool {
	return v.Sensitive || (v.Value != cty.NilVal && v.Value.ContainsMarked())
}

// given reports whether v's value came from --var, a var file or the
// environment rather than from its default.
func given(v *manifest.Variable) bool {
	if v.Value == cty.NilVal {
		return false
	}
	if v.Default == cty.NilVal {
		return true
	}
	val, _ := v.Value.UnmarkDeep()
	def, _ := v.Default.UnmarkDeep()
	return !val.RawEquals(def)
}

// SaveVariables records in f the variables cfg was loaded with: the
// values of those that are not sensitive, the names of the sensitive ones
// given a value.
func (f *File) SaveVariables(cfg *manifest.Config) error {
	f.Variables, f.SensitiveVariables = nil, nil
	for _, v := range cfg.Variables {
		switch {
		case secretVariable(v):
			if given(v) {
				f.SensitiveVariables = append(f.SensitiveVariables, v.Name)
			}
		case v.Value != cty.NilVal && v.Value.IsWhollyKnown():
			if f.Variables == nil {
				f.Variables = map[string]SavedValue{}
			}
			f.Variables[v.Name] = SavedValue{Value: v.Value}
		}
	}
	sort.Strings(f.SensitiveVariables)
	return nil
}

// VariableValues are the saved values, to load the manifest with
// (manifest.Options.Values).
func (f *File) VariableValues() map[string]cty.Value {
	if len(f.Variables) == 0 {
		return nil
	}
	out := make(map[string]cty.Value, len(f.Variables))
	for name, v := range f.Variables {
		out[name] = v.Value
	}
	return out
}

// CheckVariables tells whether cfg, loaded to apply f with the saved
// values and what was given at apply, has the variables f was made with:
// every sensitive variable given again, no other changed.
func (f *File) CheckVariables(cfg *manifest.Config) error {
	byName := map[string]*manifest.Variable{}
	for _, v := range cfg.Variables {
		byName[v.Name] = v
	}
	var missing []string
	for _, name := range f.SensitiveVariables {
		if v, ok := byName[name]; ok && !given(v) {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		n := missing[0]
		return fmt.Errorf("the saved plan needs the sensitive variable %q: a plan never holds sensitive values; give it again as for the plan (--var %s=…, a --var-file or BROKER_VAR_%s)", n, n, n)
	default:
		return fmt.Errorf("the saved plan needs the sensitive variables %s: a plan never holds sensitive values; give them again as for the plan (--var NAME=…, a --var-file or BROKER_VAR_NAME)", quoteAll(missing))
	}
	for _, name := range sortedNames(f.Variables) {
		v, ok := byName[name]
		if !ok || v.Value == cty.NilVal || secretVariable(v) {
			continue
		}
		saved := f.Variables[name].Value
		if !v.Value.RawEquals(saved) {
			return fmt.Errorf("variable %q is %s in the saved plan, but %s was given: give the plan's value or none, or make the plan again",
				name, literal(saved), literal(v.Value))
		}
	}
	return nil
}

func literal(v cty.Value) string {
	return strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
