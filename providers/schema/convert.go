package schema

import (
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// convert turns a JSON-shaped value, or the string a command line gives,
// into the type's Go value.
func (t Type) convert(raw any, split bool) (any, error) {
	switch t {
	case String:
		if s, ok := scalarString(raw); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string, got %s", describe(raw))
	case Bool:
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			if b, err := strconv.ParseBool(v); err == nil {
				return b, nil
			}
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return nil, fmt.Errorf("want true or false, got %s", describe(raw))
	case Number, Int:
		if t == Int {
			switch i := raw.(type) {
			case int64:
				return i, nil
			case int:
				return int64(i), nil
			}
		}
		f, err := number(raw)
		if err != nil {
			return nil, err
		}
		if t == Number {
			return f, nil
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%s is not a whole number", strconv.FormatFloat(f, 'f', -1, 64))
		}
		return int64(f), nil
	case Duration:
		if f, ok := raw.(float64); ok {
			raw = strconv.FormatFloat(f, 'f', -1, 64)
		}
		s, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("want a duration such as \"30s\" or \"1h\", got %s", describe(raw))
		}
		return ParseDuration(s)
	case StringList:
		switch v := raw.(type) {
		case []string:
			return v, nil
		case []any:
			out := make([]string, 0, len(v))
			for i, e := range v {
				s, ok := scalarString(e)
				if !ok {
					return nil, fmt.Errorf("want a list of strings, got %s as element %d", describe(e), i)
				}
				out = append(out, s)
			}
			return out, nil
		case string:
			if split {
				return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }), nil
			}
			return []string{v}, nil
		case float64:
			s, _ := scalarString(v)
			return []string{s}, nil
		}
		return nil, fmt.Errorf("want a list of strings, got %s", describe(raw))
	case StringMap:
		switch v := raw.(type) {
		case map[string]string:
			return v, nil
		case map[string]any:
			out := make(map[string]string, len(v))
			for k, e := range v {
				s, ok := scalarString(e)
				if !ok {
					return nil, fmt.Errorf("want a map of strings, got %s for %q", describe(e), k)
				}
				out[k] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a map of strings such as { KEY = \"value\" }, got %s", describe(raw))
	case Any:
		return raw, nil
	}
	return nil, fmt.Errorf("schema: field of invalid type %d", int(t))
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func number(v any) (float64, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %s", describe(v))
}

// describe names a value's kind in errors, in the user's words.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case bool:
		return "a bool"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// ParseDuration reads a setting's duration: Go's notation ("90s",
// "1h30m") or a number of seconds ("3600", as the Python broker's
// settings have them). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(t, 64); err == nil {
		if n < 0 || math.IsNaN(n) || n > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("%q is not a duration of zero or more", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"30s\", \"5m\" or \"1h\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is not a duration of zero or more", s)
	}
	return d, nil
}

func checkURL(s string, schemes []string) error {
	want := fmt.Sprintf("a URL with a scheme and a host, such as %q", schemes[0]+"://example.com")
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.Scheme == "" {
		return fmt.Errorf("%q is not %s", s, want)
	}
	for _, sc := range schemes {
		if strings.EqualFold(u.Scheme, sc) {
			return nil
		}
	}
	return fmt.Errorf("%q: the scheme must be %s", s, strings.Join(schemes, " or "))
}

// FromCty turns a decoded object (a provider block's settings, a host's
// args) into the JSON-shaped map Values reads. Null attributes are left
// out; numbers become float64, or int64 when whole and too large for
// float64 to hold exactly.
func FromCty(v cty.Value) (map[string]any, error) {
	if v == cty.NilVal || v.IsNull() {
		return map[string]any{}, nil
	}
	g, err := fromCty(v)
	if err != nil {
		return nil, err
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object, got %s", v.Type().FriendlyName())
	}
	return m, nil
}

func fromCty(v cty.Value) (any, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value is not known yet")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact && (i > 1<<53 || i < -(1<<53)) {
			return i, nil
		}
		f, _ := bf.Float64()
		return f, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := fromCty(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case t.IsMapType() || t.IsObjectType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() {
				continue
			}
			g, err := fromCty(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot read a %s", t.FriendlyName())
}
