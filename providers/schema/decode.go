package schema

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Spec is the hcldec spec of a provider block's body. Every field is an
// attribute of its type's HCL type, checked where it is written, so that
// `broker validate` reports a bad value with its own source range; a
// schema's Check is reported at the block. Defaults are not in the spec:
// they are filled when the value is decoded.
func (s *Schema) Spec() hcldec.Spec {
	obj := hcldec.ObjectSpec{}
	for i := range s.Fields {
		f := &s.Fields[i]
		for _, name := range append([]string{f.Name}, f.Aliases...) {
			obj[name] = &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: name, Type: f.Type.Cty(), Required: f.Required && name == f.Name},
				Func:    f.validate(name),
			}
		}
	}
	for _, b := range s.Blocks {
		obj[b.Name] = &hcldec.BlockListSpec{TypeName: b.Name, Nested: b.Schema.Spec()}
	}
	if s.Check == nil {
		return obj
	}
	return &hcldec.ValidateSpec{Wrapped: obj, Func: func(v cty.Value) hcl.Diagnostics {
		in, err := FromCty(v)
		if err != nil {
			return nil // not known yet
		}
		_, errs := s.Values(in, "setting")
		var diags hcl.Diagnostics
		for _, err := range errs {
			var fe *Error
			if errors.As(err, &fe) {
				return nil // a field's own problem, reported where it is written
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid settings", Detail: sentence(err.Error())})
		}
		return diags
	}}
}

func (f *Field) validate(name string) func(cty.Value) hcl.Diagnostics {
	return func(v cty.Value) hcl.Diagnostics {
		raw, err := fromCty(v)
		if err != nil || raw == nil {
			return nil // unknown or null: nothing to check yet
		}
		if _, err := f.value(raw); err != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for " + name,
				Detail:   sentence(err.Error()),
			}}
		}
		return nil
	}
}

// sentence makes an error message a diagnostic's sentence.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// ArgsType is what a manifest's args convert to: an object with every
// field optional for a closed schema, anything for an open one.
func (s *Schema) ArgsType() cty.Type {
	if s == nil || s.Open {
		return cty.DynamicPseudoType
	}
	attrs := map[string]cty.Type{}
	var optional []string
	for _, f := range s.Fields {
		for _, name := range append([]string{f.Name}, f.Aliases...) {
			attrs[name] = f.Type.Cty()
			optional = append(optional, name)
		}
	}
	return cty.ObjectWithOptionalAttrs(attrs, optional)
}

// DecodeSettings reads a provider block's decoded value (or cty.NilVal:
// no block) into the struct dst points to.
func (s *Schema) DecodeSettings(v cty.Value, dst any) error {
	in, err := FromCty(v)
	if err != nil {
		return err
	}
	vals, errs := s.Values(in, "setting")
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return vals.Decode(dst)
}

// DecodeArgs reads JSON-shaped arguments into the struct dst points to.
func (s *Schema) DecodeArgs(args map[string]any, dst any) error {
	vals, errs := s.Values(args, "argument")
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return vals.Decode(dst)
}

// Decode fills the struct dst points to: each field tagged
// `schema:"name"` gets the value of that name (a block's: a slice of
// structs decoded the same way; a pointer field: a new value). Fields
// whose name has no value are left as they are.
func (v Values) Decode(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("schema: decode into %T, want a pointer to a struct", dst)
	}
	return v.decode(rv.Elem())
}

func (v Values) decode(st reflect.Value) error {
	t := st.Type()
	for i := 0; i < t.NumField(); i++ {
		name, ok := t.Field(i).Tag.Lookup("schema")
		if !ok {
			continue
		}
		val, ok := v[name]
		if !ok {
			continue
		}
		if err := assign(st.Field(i), val); err != nil {
			return fmt.Errorf("schema: %s into %s.%s: %w", name, t.Name(), t.Field(i).Name, err)
		}
	}
	return nil
}

func assign(dst reflect.Value, val any) error {
	if dst.Kind() == reflect.Pointer {
		p := reflect.New(dst.Type().Elem())
		if err := assign(p.Elem(), val); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	if blocks, ok := val.([]Values); ok {
		if dst.Kind() != reflect.Slice || dst.Type().Elem().Kind() != reflect.Struct {
			return fmt.Errorf("blocks want a slice of structs, not %s", dst.Type())
		}
		out := reflect.MakeSlice(dst.Type(), len(blocks), len(blocks))
		for i, b := range blocks {
			if err := b.decode(out.Index(i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	}
	if dst.Kind() == reflect.Interface {
		if val != nil {
			dst.Set(reflect.ValueOf(val))
		}
		return nil
	}
	rv := reflect.ValueOf(val)
	if kindClass(rv.Kind()) != kindClass(dst.Kind()) || !rv.Type().ConvertibleTo(dst.Type()) {
		return fmt.Errorf("cannot hold a %T in a %s", val, dst.Type())
	}
	dst.Set(rv.Convert(dst.Type()))
	return nil
}

// kindClass groups kinds that convert into one another without changing
// what the value means (int64 to int, float64 to float32).
func kindClass(k reflect.Kind) reflect.Kind {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return reflect.Int64
	case reflect.Float32, reflect.Float64:
		return reflect.Float64
	}
	return k
}

// Help documents one field, for `broker providers TYPE` and the README.
type Help struct {
	// Name is the field's name; a block's fields are "block.field".
	Name string
	Type string
	// Doc is the field's doc with what its checks accept and its aliases.
	Doc       string
	Required  bool
	Default   string
	Sensitive bool
}

// Help lists the fields in their declared order, then the blocks' fields.
func (s *Schema) Help() []Help {
	if s == nil {
		return nil
	}
	var out []Help
	for _, f := range s.Fields {
		doc := f.Doc
		for _, c := range f.Checks {
			if c.Doc != "" {
				doc = joinDoc(doc, c.Doc)
			}
		}
		if len(f.Aliases) > 0 {
			doc = joinDoc(doc, "also accepted as "+strings.Join(f.Aliases, ", "))
		}
		out = append(out, Help{Name: f.Name, Type: f.Type.String(), Doc: doc, Required: f.Required, Default: f.Default, Sensitive: f.Sensitive})
	}
	for _, b := range s.Blocks {
		out = append(out, Help{Name: b.Name, Type: "block", Doc: b.Doc})
		for _, h := range b.Schema.Help() {
			h.Name = b.Name + "." + h.Name
			out = append(out, h)
		}
	}
	return out
}

func joinDoc(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
