package schema

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/internal/suggest"
)

// Type is the kind of value a field holds, as the user writes it and as
// the provider reads it.
type Type int

const (
	// String is a string (Go string).
	String Type = iota + 1
	// Bool is true or false (Go bool).
	Bool
	// Number is any number (Go float64).
	Number
	// Int is a whole number (Go int or int64).
	Int
	// Duration is written "90s", "1h30m" or as whole seconds ("3600"),
	// and read as a time.Duration. Negative durations are refused.
	Duration
	// StringList is a list of strings (Go []string).
	StringList
	// StringMap is a map of strings (Go map[string]string).
	StringMap
	// Any is any JSON-shaped value, kept as it is (Go any).
	Any
)

var typeNames = map[Type]string{
	String: "string", Bool: "bool", Number: "number", Int: "int", Duration: "duration",
	StringList: "list(string)", StringMap: "map(string)", Any: "any",
}

// String is the type's name in help texts.
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "invalid"
}

// Cty is the type HCL values are converted to before they are checked.
func (t Type) Cty() cty.Type {
	switch t {
	case String, Duration:
		return cty.String
	case Bool:
		return cty.Bool
	case Number, Int:
		return cty.Number
	case StringList:
		return cty.List(cty.String)
	case StringMap:
		return cty.Map(cty.String)
	}
	return cty.DynamicPseudoType
}

// Field declares one setting or argument.
type Field struct {
	Name string
	Type Type
	// Doc is one line for `broker providers TYPE` and the README.
	Doc      string
	Required bool
	// Default is the value as a user would write it ("5s", "true"); it
	// is read like one. Empty: none.
	Default string
	// Sensitive fields (tokens, passwords) are never printed or stored.
	Sensitive bool
	// Checks refuse values of the right type that are still wrong.
	Checks []Check
	// Aliases are other names accepted for the field (the Python tool's
	// container_host for image). The first name given wins.
	Aliases []string
	// Split lets a list arrive as one string of items separated by
	// spaces or commas, as command lines give it ("22 80").
	Split bool
	// InPlace (arguments only): a new value does not need a new host, so
	// a plan records it rather than replacing the host (a note, a value
	// only broker reads). Every other argument forces a replacement when
	// it changes, a new value of a host it refers to included.
	InPlace bool
}

// Block declares a repeated nested block of a provider block (static
// pool's host "name" { … }). Blocks are for settings only.
type Block struct {
	Name   string
	Doc    string
	Schema *Schema
}

// Schema declares a provider's settings or its arguments.
type Schema struct {
	Fields []Field
	Blocks []Block
	// Open accepts names that are not declared and keeps their values as
	// they are (AWX extra vars); a closed schema refuses them.
	Open bool
	// Check, if set, looks at the values together (settings that go in
	// pairs). It runs only when every field is valid on its own.
	Check func(Values) error
}

// Values are decoded values by field name: string, bool, float64 (Number),
// int64 (Int), time.Duration, []string, map[string]string, any, and
// []Values for blocks. A field neither given nor defaulted is absent.
// An open schema's undeclared names keep their values as given.
type Values map[string]any

// String returns a string field's value, or "".
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Error is a problem with one setting or argument. Name is the name as the
// user wrote it (a block's fields as "block.field").
type Error struct {
	// Noun is "setting" or "argument".
	Noun string
	Name string
	// Unknown is set when no field has the name; Suggestion is the
	// closest one, if any.
	Unknown    bool
	Suggestion string
	// Missing is set for a required field not given.
	Missing bool
	Err     error
}

func (e *Error) Error() string {
	if e.Unknown {
		msg := fmt.Sprintf("unknown %s %s", e.Noun, e.Name)
		if e.Suggestion != "" {
			msg += fmt.Sprintf("; did you mean %q?", e.Suggestion)
		}
		return msg
	}
	if e.Missing {
		return fmt.Sprintf("%s %s is required", e.Noun, e.Name)
	}
	return fmt.Sprintf("%s %s: %v", e.Noun, e.Name, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Field is the name the error is about, for callers that point at it
// (manifest diagnostics).
func (e *Error) Field() string { return e.Name }

// Names lists every accepted name (fields, their aliases, blocks), sorted.
func (s *Schema) Names() []string {
	var out []string
	for _, f := range s.Fields {
		out = append(out, f.Name)
		out = append(out, f.Aliases...)
	}
	for _, b := range s.Blocks {
		out = append(out, b.Name)
	}
	sort.Strings(out)
	return out
}

// SensitiveNames lists the sensitive fields.
func (s *Schema) SensitiveNames() []string {
	var out []string
	for _, f := range s.Fields {
		if f.Sensitive {
			out = append(out, f.Name)
		}
	}
	return out
}

// InPlaceNames lists the fields whose changes need no new host.
func (s *Schema) InPlaceNames() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, f := range s.Fields {
		if f.InPlace {
			out = append(out, f.Name)
		}
	}
	return out
}

// field finds a field by name or alias.
func (s *Schema) field(name string) (*Field, bool) {
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Name == name {
			return f, true
		}
		for _, a := range f.Aliases {
			if a == name {
				return f, true
			}
		}
	}
	return nil, false
}

func (s *Schema) block(name string) (*Block, bool) {
	for i := range s.Blocks {
		if s.Blocks[i].Name == name {
			return &s.Blocks[i], true
		}
	}
	return nil, false
}

// Values decodes JSON-shaped input (what args, argument files and command
// lines give: strings, float64, bool, []any, map[string]any) into Values:
// names checked, types converted, checks run, defaults filled. noun
// ("setting", "argument") is used in errors. Every problem is returned,
// each an *Error, sorted by name.
func (s *Schema) Values(in map[string]any, noun string) (Values, []error) {
	out := Values{}
	var errs []error
	bad := map[string]bool{} // fields given with a bad value
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		raw := in[k]
		if b, ok := s.block(k); ok {
			list, ok := raw.([]any)
			if !ok && raw != nil {
				errs = append(errs, &Error{Noun: noun, Name: k, Err: fmt.Errorf("want a list of %s blocks, got %s", k, describe(raw))})
				continue
			}
			var vs []Values
			for _, e := range list {
				m, _ := e.(map[string]any)
				v, bErrs := b.Schema.Values(m, noun)
				for _, err := range bErrs {
					var fe *Error
					if errors.As(err, &fe) {
						fe.Name = k + "." + fe.Name
					}
				}
				errs = append(errs, bErrs...)
				vs = append(vs, v)
			}
			if vs != nil {
				out[k] = vs
			}
			continue
		}
		f, ok := s.field(k)
		if !ok {
			if s.Open {
				out[k] = raw
				continue
			}
			errs = append(errs, &Error{Noun: noun, Name: k, Unknown: true, Suggestion: suggest.Closest(k, s.Names())})
			continue
		}
		if raw == nil {
			continue
		}
		if k != f.Name && in[f.Name] != nil {
			continue // the field's own name wins over an alias
		}
		v, err := f.value(raw)
		if err != nil {
			errs = append(errs, &Error{Noun: noun, Name: k, Err: err})
			bad[f.Name] = true
			continue
		}
		out[f.Name] = v
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if _, ok := out[f.Name]; ok || bad[f.Name] {
			continue
		}
		switch {
		case f.Required:
			errs = append(errs, &Error{Noun: noun, Name: f.Name, Missing: true})
		case f.Default != "":
			v, err := f.value(f.Default)
			if err != nil {
				panic(fmt.Sprintf("schema: default of %s: %v", f.Name, err))
			}
			out[f.Name] = v
		}
	}
	if len(errs) == 0 && s.Check != nil {
		if err := s.Check(out); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errs
}

// value converts and checks one value.
func (f *Field) value(raw any) (any, error) {
	v, err := f.Type.convert(raw, f.Split)
	if err != nil {
		return nil, err
	}
	for _, c := range f.Checks {
		if err := c.fn(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Check refuses values of the right type that are still wrong.
type Check struct {
	// Doc says what is accepted, for help texts ("one of a, b").
	Doc string
	fn  func(v any) error
}

// OneOf accepts the listed strings (for a list: each element).
func OneOf(allowed ...string) Check {
	list := strings.Join(allowed, ", ")
	one := func(s string) error {
		for _, a := range allowed {
			if s == a {
				return nil
			}
		}
		msg := fmt.Sprintf("%q is not one of %s", s, list)
		if c := suggest.Closest(s, allowed); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		return errors.New(msg)
	}
	return Check{Doc: "one of " + list, fn: func(v any) error {
		switch v := v.(type) {
		case string:
			return one(v)
		case []string:
			for _, e := range v {
				if err := one(e); err != nil {
					return err
				}
			}
		}
		return nil
	}}
}

// URL accepts absolute URLs with a host and one of the schemes.
func URL(schemes ...string) Check {
	return Check{Doc: "a URL (" + strings.Join(schemes, " or ") + ")", fn: func(v any) error {
		s, _ := v.(string)
		return checkURL(s, schemes)
	}}
}

// Positive accepts numbers and durations above zero.
func Positive() Check {
	return Check{Doc: "positive", fn: func(v any) error {
		switch v := v.(type) {
		case float64:
			if v <= 0 {
				return fmt.Errorf("%g is not positive", v)
			}
		case int64:
			if v <= 0 {
				return fmt.Errorf("%d is not positive", v)
			}
		case time.Duration:
			if v <= 0 {
				return fmt.Errorf("%s is not a positive duration", v)
			}
		}
		return nil
	}}
}

// Between accepts numbers from lo to hi.
func Between(lo, hi float64) Check {
	return Check{Doc: fmt.Sprintf("from %g to %g", lo, hi), fn: func(v any) error {
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case int64:
			f = float64(v)
		default:
			return nil
		}
		if f < lo || f > hi {
			return fmt.Errorf("%g is not between %g and %g", f, lo, hi)
		}
		return nil
	}}
}

// Port accepts TCP port numbers.
func Port() Check {
	between := Between(1, 65535)
	return Check{Doc: "a port number", fn: func(v any) error {
		if between.fn(v) != nil {
			return fmt.Errorf("%v is not a port number (1 to 65535)", v)
		}
		return nil
	}}
}

// Func is a check of the provider's own; fn gets the converted value.
func Func(doc string, fn func(v any) error) Check { return Check{Doc: doc, fn: fn} }
