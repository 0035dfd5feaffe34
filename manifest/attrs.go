package manifest

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// attrs decodes the plain attributes of one block's content, collecting
// diagnostics. Values must be known and, unless allowed, not sensitive.
type attrs struct {
	l       *loader
	content *hcl.BodyContent
	block   string
	diags   hcl.Diagnostics
}

func (a *attrs) value(name string, ty cty.Type, allowSensitive bool) (cty.Value, *hcl.Attribute, bool) {
	at, ok := a.content.Attributes[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, d := at.Expr.Value(a.l.ctx)
	a.diags = append(a.diags, d...)
	if d.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, at, false
	}
	if !allowSensitive {
		if sd := sensitiveDiag(v, a.block+"."+name, "would be shown or stored", at.Expr.Range()); sd != nil {
			a.diags = append(a.diags, sd)
			return cty.NilVal, at, false
		}
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return cty.NilVal, at, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		a.fail(at, fmt.Sprintf("A %s is required: %s.", ty.FriendlyName(), err))
		return cty.NilVal, at, false
	}
	return cv, at, true
}

func (a *attrs) fail(at *hcl.Attribute, detail string) {
	a.diags = append(a.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", at.Name),
		Detail:   fmt.Sprintf("Invalid value for %s.%s. %s", a.block, at.Name, detail),
		Subject:  at.Expr.Range().Ptr(),
	})
}

func (a *attrs) str(name string, dst *string, allowSensitive bool) bool {
	v, _, ok := a.value(name, cty.String, allowSensitive)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (a *attrs) oneOf(name string, dst *string, allowed ...string) {
	var s string
	if !a.str(name, &s, false) {
		return
	}
	for _, x := range allowed {
		if s == x {
			*dst = s
			return
		}
	}
	a.fail(a.content.Attributes[name], fmt.Sprintf("%q is not one of %q.", s, allowed))
}

func (a *attrs) integer(name string, dst *int, minimum int) {
	v, at, ok := a.value(name, cty.Number, false)
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		a.fail(at, "A whole number is required.")
		return
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31 {
		a.fail(at, "The number is too large.")
		return
	}
	if i < int64(minimum) {
		a.fail(at, fmt.Sprintf("The number must be at least %d.", minimum))
		return
	}
	*dst = int(i)
}

func (a *attrs) boolPtr(name string, dst **bool) {
	v, _, ok := a.value(name, cty.Bool, false)
	if ok {
		b := v.True()
		*dst = &b
	}
}

func (a *attrs) boolean(name string, dst *bool) {
	v, _, ok := a.value(name, cty.Bool, false)
	if ok {
		*dst = v.True()
	}
}

func (a *attrs) duration(name string, dst *time.Duration) {
	var s string
	if !a.str(name, &s, false) {
		return
	}
	d, err := ParseDuration(s)
	if err != nil {
		a.fail(a.content.Attributes[name], fmt.Sprintf("A duration such as \"90s\", \"30m\", \"6h\" or \"1d12h\" is required, not %q.", s))
		return
	}
	*dst = d
}

func (a *attrs) strings(name string, dst *[]string) {
	v, _, ok := a.value(name, cty.List(cty.String), false)
	if !ok {
		return
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			a.fail(a.content.Attributes[name], "Elements must not be null.")
			return
		}
		out = append(out, e.AsString())
	}
	*dst = out
}
