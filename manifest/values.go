package manifest

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// markSensitive is the cty mark carried by env() results and sensitive
// variables.
const markSensitive = "sensitive"

func sensitive(v cty.Value) cty.Value { return v.Mark(markSensitive) }

// sensitiveDiag reports a sensitive value where it would be recorded;
// nil when v carries no mark.
func sensitiveDiag(v cty.Value, what, why string, rng hcl.Range) *hcl.Diagnostic {
	if !v.ContainsMarked() {
		return nil
	}
	_, pvm := v.UnmarkDeepWithPaths()
	where := ""
	if len(pvm) > 0 && len(pvm[0].Path) > 0 {
		where = " at " + formatPath(pvm[0].Path)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Sensitive value in " + what,
		Detail: fmt.Sprintf("The value%s comes from env() or a sensitive variable and %s. "+
			"Sensitive values may only be used in provider settings, connection.password and state.password.",
			where, why),
		Subject: rng.Ptr(),
	}
}

// eval evaluates expr in the loader's context.
func (l *loader) eval(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	return expr.Value(l.ctx)
}

// evalString evaluates a string attribute that ends up recorded.
func (l *loader) evalString(expr hcl.Expression, what string) (string, hcl.Diagnostics) {
	v, diags := l.eval(expr)
	if diags.HasErrors() {
		return "", diags
	}
	if d := sensitiveDiag(v, what, "would be stored in state or shown in plans", expr.Range()); d != nil {
		return "", append(diags, d)
	}
	return stringOf(v, what, expr.Range())
}

// stringOf converts an evaluated value to a Go string.
func stringOf(v cty.Value, what string, rng hcl.Range) (string, hcl.Diagnostics) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("The %s must not be null.", what),
			Subject:  rng.Ptr(),
		}}
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || !s.IsWhollyKnown() {
		msg := "a string is required"
		if err != nil {
			msg = err.Error()
		}
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("The %s must be a string: %s.", what, msg),
			Subject:  rng.Ptr(),
		}}
	}
	return s.AsString(), nil
}

// convertDiag explains a failed conversion, naming the attribute path.
func convertDiag(err error, summary, what string, rng hcl.Range) *hcl.Diagnostic {
	var pe cty.PathError
	detail := fmt.Sprintf("The %s are not valid: %s.", what, err)
	if errors.As(err, &pe) && len(pe.Path) > 0 {
		detail = fmt.Sprintf("The %s are not valid: at %s: %s.", what, formatPath(pe.Path), pe.Error())
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// formatPath writes a cty path the way it would be written in HCL.
func formatPath(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			switch s.Key.Type() {
			case cty.String:
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			case cty.Number:
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			default:
				b.WriteString("[…]")
			}
		}
	}
	return b.String()
}

// toJSONShaped turns a known, unmarked cty value into string, float64,
// bool, []any, map[string]any or nil. Null attributes of objects are left
// out: an optional argument not given is not recorded.
func toJSONShaped(v cty.Value) (any, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, errors.New("value is not known")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f, nil
	case t == cty.Bool:
		return v.True(), nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := toJSONShaped(e)
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
			if t.IsObjectType() && e.IsNull() {
				continue
			}
			g, err := toJSONShaped(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot record a value of type %s", t.FriendlyName())
}

// FromGo turns JSON-shaped Go values (and a few common Go types) into cty:
// the one conversion of decoded YAML, JSON and recorded values into HCL's.
func FromGo(x any) cty.Value {
	switch x := x.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case cty.Value:
		return x
	case string:
		return cty.StringVal(x)
	case bool:
		return cty.BoolVal(x)
	case int:
		return cty.NumberIntVal(int64(x))
	case int64:
		return cty.NumberIntVal(x)
	case float64:
		return cty.NumberVal(big.NewFloat(x))
	case []string:
		vals := make([]cty.Value, len(x))
		for i, s := range x {
			vals[i] = cty.StringVal(s)
		}
		return tupleOf(vals)
	case []any:
		vals := make([]cty.Value, len(x))
		for i, e := range x {
			vals[i] = FromGo(e)
		}
		return tupleOf(vals)
	case map[string]string:
		if len(x) == 0 {
			return cty.MapValEmpty(cty.String)
		}
		m := make(map[string]cty.Value, len(x))
		for k, s := range x {
			m[k] = cty.StringVal(s)
		}
		return cty.MapVal(m)
	case map[string]any:
		m := make(map[string]cty.Value, len(x))
		for k, e := range x {
			m[k] = FromGo(e)
		}
		return cty.ObjectVal(m)
	}
	return cty.StringVal(fmt.Sprint(x))
}

func tupleOf(vals []cty.Value) cty.Value {
	if len(vals) == 0 {
		return cty.EmptyTupleVal
	}
	return cty.TupleVal(vals)
}

// hostValueAttrs are always present on self and host.NAME[i], so that a
// host without an IP renders "" rather than failing on a missing attribute.
var hostValueAttrs = map[string]cty.Value{
	"id":       cty.StringVal(""),
	"address":  cty.StringVal(""),
	"name":     cty.StringVal(""),
	"hostname": cty.StringVal(""),
	"ip":       cty.StringVal(""),
	"port":     cty.NumberIntVal(0),
	"user":     cty.StringVal(""),
	"labels":   cty.MapValEmpty(cty.String),
	"facts":    cty.EmptyObjectVal,
}

// unknownMark marks the HostValues of an instance not checked out yet.
const unknownMark = "\x00unknown"

// UnknownHost stands for an instance whose values are known only after
// its checkout (being created or replaced): expressions that read it are
// unknown, and args and labels that do are "known after checkout".
func UnknownHost() HostValues { return HostValues{unknownMark: true} }

// unknownHostValue is an instance not checked out yet: its attributes
// are unknown values of their types, so that a wrong use of one (a
// hostname where a list is wanted) is still found.
func unknownHostValue() cty.Value {
	m := make(map[string]cty.Value, len(hostValueAttrs)+3)
	for k, v := range hostValueAttrs {
		m[k] = cty.UnknownVal(v.Type())
	}
	m["facts"] = cty.DynamicVal
	for _, k := range []string{"provider", "instance", "key"} {
		m[k] = cty.UnknownVal(cty.String)
	}
	return cty.ObjectVal(m)
}

// hostValue turns HostValues into the object expressions see.
func hostValue(hv HostValues) cty.Value {
	if _, ok := hv[unknownMark]; ok {
		return unknownHostValue()
	}
	m := make(map[string]cty.Value, len(hostValueAttrs)+len(hv))
	for k, v := range hostValueAttrs {
		m[k] = v
	}
	for k, v := range hv {
		if v == nil {
			continue
		}
		m[k] = FromGo(v)
	}
	return cty.ObjectVal(m)
}

// hostsValue is the host object: host.NAME is a tuple of instances, or,
// for a for_each block (its instances' values carry a string "key"), an
// object of instances by key.
func hostsValue(hosts map[string][]HostValues) map[string]cty.Value {
	out := make(map[string]cty.Value, len(hosts))
	for name, list := range hosts {
		if keyed := keyedInstances(list); keyed != nil {
			out[name] = cty.ObjectVal(keyed)
			continue
		}
		vals := make([]cty.Value, len(list))
		for i, hv := range list {
			vals[i] = hostValue(hv)
		}
		out[name] = tupleOf(vals)
	}
	return out
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyedInstances is the object of for_each instances by key; nil when the
// list holds count instances.
func keyedInstances(list []HostValues) map[string]cty.Value {
	var out map[string]cty.Value
	for _, hv := range list {
		k, ok := hv["key"].(string)
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]cty.Value{}
		}
		out[k] = hostValue(hv)
	}
	return out
}
