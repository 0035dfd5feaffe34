package sim

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Operations whose failure can be injected.
const (
	OpCheckout = "checkout"
	OpCheckin  = "checkin"
	OpExtend   = "extend"
	OpSync     = "sync"
)

var allOps = []string{OpCheckout, OpCheckin, OpExtend, OpSync}

// Settings are a sim instance's settings.
type Settings struct {
	// Latency is how long each checkout takes: half before the host is
	// written, half after, so that a kill can land on either side.
	Latency time.Duration
	// FailRate is the chance (0..1) that an operation of FailOn fails.
	FailRate float64
	// FailOn lists the operations FailRate applies to; all when empty.
	FailOn []string
	// FailAddresses are addresses whose checkout always fails.
	FailAddresses []string
	// Seed seeds the failure draws, so that a run's failures repeat.
	Seed int64
	// Path is the sim file; default <directory>/sim/<instance>.db.
	Path string
	// MaxLease caps leases; zero: no cap.
	MaxLease time.Duration
}

// SettingsSpec is the provider block's schema. Values are checked here,
// so that `broker validate` points at a bad one.
func SettingsSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"latency": &hcldec.ValidateSpec{
			Wrapped: &hcldec.DefaultSpec{
				Primary: &hcldec.AttrSpec{Name: "latency", Type: cty.String},
				Default: &hcldec.LiteralSpec{Value: cty.StringVal("0s")},
			},
			Func: validateDuration("latency"),
		},
		"fail_rate": &hcldec.ValidateSpec{
			Wrapped: &hcldec.DefaultSpec{
				Primary: &hcldec.AttrSpec{Name: "fail_rate", Type: cty.Number},
				Default: &hcldec.LiteralSpec{Value: cty.Zero},
			},
			Func: validateRate,
		},
		"fail_on": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "fail_on", Type: cty.List(cty.String)},
			Func:    validateOps,
		},
		"fail_addresses": &hcldec.AttrSpec{Name: "fail_addresses", Type: cty.List(cty.String)},
		"seed":           &hcldec.AttrSpec{Name: "seed", Type: cty.Number},
		"path":           &hcldec.AttrSpec{Name: "path", Type: cty.String},
		"max_lease": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "max_lease", Type: cty.String},
			Func:    validateDuration("max_lease"),
		},
	}
}

func known(v cty.Value) bool { return v.IsKnown() && !v.IsNull() }

func validateDuration(name string) func(cty.Value) hcl.Diagnostics {
	return func(v cty.Value) hcl.Diagnostics {
		if !known(v) {
			return nil
		}
		if d, err := time.ParseDuration(v.AsString()); err != nil || d < 0 {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid duration",
				Detail:   fmt.Sprintf("%s must be a duration such as \"200ms\" or \"2h\", not %q.", name, v.AsString()),
			}}
		}
		return nil
	}
}

func validateRate(v cty.Value) hcl.Diagnostics {
	if !known(v) {
		return nil
	}
	f, _ := v.AsBigFloat().Float64()
	if f < 0 || f > 1 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid failure rate",
			Detail:   fmt.Sprintf("fail_rate must be between 0 and 1, not %g.", f),
		}}
	}
	return nil
}

func validateOps(v cty.Value) hcl.Diagnostics {
	if !known(v) || !v.IsWhollyKnown() {
		return nil
	}
	var diags hcl.Diagnostics
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !slices.Contains(allOps, e.AsString()) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid operation",
				Detail:   fmt.Sprintf("fail_on takes %q, %q, %q and %q.", OpCheckout, OpCheckin, OpExtend, OpSync),
			})
		}
	}
	return diags
}

// ParseSettings reads a value decoded with SettingsSpec. cty.NilVal or
// null gives the defaults.
func ParseSettings(v cty.Value) (Settings, error) {
	var s Settings
	if v == cty.NilVal || v.IsNull() {
		return s, nil
	}
	if !v.IsWhollyKnown() {
		return s, fmt.Errorf("sim settings are not known yet")
	}
	if !v.Type().IsObjectType() {
		return s, fmt.Errorf("sim settings: want an object, got %s", v.Type().FriendlyName())
	}
	attr := func(name string) cty.Value {
		if !v.Type().HasAttribute(name) {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return v.GetAttr(name)
	}
	dur := func(name string, into *time.Duration) error {
		a := attr(name)
		if a.IsNull() {
			return nil
		}
		d, err := time.ParseDuration(a.AsString())
		if err != nil {
			return fmt.Errorf("sim setting %s: %w", name, err)
		}
		if d < 0 {
			return fmt.Errorf("sim setting %s: negative duration %s", name, d)
		}
		*into = d
		return nil
	}
	if err := dur("latency", &s.Latency); err != nil {
		return s, err
	}
	if err := dur("max_lease", &s.MaxLease); err != nil {
		return s, err
	}
	if a := attr("fail_rate"); !a.IsNull() {
		s.FailRate, _ = a.AsBigFloat().Float64()
		if s.FailRate < 0 || s.FailRate > 1 {
			return s, fmt.Errorf("sim setting fail_rate: %g is not between 0 and 1", s.FailRate)
		}
	}
	for name, into := range map[string]*[]string{"fail_on": &s.FailOn, "fail_addresses": &s.FailAddresses} {
		if a := attr(name); !a.IsNull() {
			if err := gocty.FromCtyValue(a, into); err != nil {
				return s, fmt.Errorf("sim setting %s: %w", name, err)
			}
		}
	}
	for _, op := range s.FailOn {
		if !slices.Contains(allOps, op) {
			return s, fmt.Errorf("sim setting fail_on: unknown operation %q", op)
		}
	}
	if a := attr("seed"); !a.IsNull() {
		i, acc := a.AsBigFloat().Int64()
		if acc != big.Exact {
			return s, fmt.Errorf("sim setting seed: %s is not a whole number", a.AsBigFloat().String())
		}
		s.Seed = i
	}
	if a := attr("path"); !a.IsNull() {
		s.Path = a.AsString()
	}
	return s, nil
}
