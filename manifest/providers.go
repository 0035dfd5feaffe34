package manifest

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// providerReserved are the provider block's own attributes; everything
// else belongs to the type's settings spec.
var providerReserved = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "max_concurrency"}, {Name: "max_lease"}, {Name: "override_envars"}},
}

func (l *loader) schema(typeName string) (ProviderSchema, bool) {
	if l.opts.Schemas == nil {
		return ProviderSchema{}, false
	}
	s, ok := l.opts.Schemas(typeName)
	if ok && s.Type == "" {
		s.Type = typeName
	}
	return s, ok
}

func (l *loader) unknownType(typeName string, rng hcl.Range) *hcl.Diagnostic {
	var names []string
	if l.opts.SchemaNames != nil {
		names = l.opts.SchemaNames()
	}
	detail := fmt.Sprintf("There is no provider type %q.", typeName)
	if len(names) > 0 {
		detail += didYouMean(typeName, names) + " Known types: " + strings.Join(names, ", ") + "."
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown provider type", Detail: detail, Subject: rng.Ptr()}
}

func (l *loader) decodeProviders(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Provider{}
	defaults := map[string]*Provider{}
	for _, b := range blocks {
		typeName, inst := b.Labels[0], b.Labels[1]
		sch, ok := l.schema(typeName)
		if !ok {
			diags = append(diags, l.unknownType(typeName, b.LabelRanges[0]))
			continue
		}
		if err := CheckInstanceName(inst); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid provider instance name",
				Detail:   detail(err),
				Subject:  b.LabelRanges[1].Ptr(),
			})
			continue
		}
		p := &Provider{Type: sch.Type, TypeName: typeName, Instance: inst, DeclRange: b.DefRange, TypeRange: b.LabelRanges[0]}
		if first, ok := seen[p.Ref()]; ok {
			diags = append(diags, duplicate("provider", p.Ref(), first.DeclRange, b.DefRange))
			continue
		}
		seen[p.Ref()] = p
		content, remain, d := b.Body.PartialContent(providerReserved)
		diags = append(diags, d...)
		a := &attrs{l: l, content: content, block: "provider"}
		a.boolean("default", &p.Default)
		a.boolean("override_envars", &p.OverrideEnvars)
		a.integer("max_concurrency", &p.MaxConcurrency, 0)
		a.maxLease(p)
		diags = append(diags, a.diags...)
		spec := sch.Settings
		if spec == nil {
			spec = hcldec.ObjectSpec{}
		}
		// Settings are the one place sensitive values may go: the
		// provider needs its token. Marks are dropped here because
		// providers read plain values; the schema's Sensitive list tells
		// renderers what to hide.
		//
		// An environment variable a setting reads with env() and that is
		// not set is needed only when the instance is used: it decodes as
		// unknown and is noted in p.Unset, so that the rest of the file
		// (other instances, nicks, hosts) works without it.
		var unset []string
		l.unsetEnv = &unset
		val, d := hcldec.Decode(remain, spec, l.ctx)
		l.unsetEnv = nil
		diags = append(diags, d...)
		p.Unset = unsetVars(b.Body, unset, b.DefRange)
		p.Settings, _ = val.UnmarkDeep()
		p.Settings = passMaxLease(p.Settings, p)
		if p.Default {
			if first, ok := defaults[p.Type]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate default provider",
					Detail: fmt.Sprintf("Both %s (%s) and %s are marked default = true; at most one instance of a type may be the default.",
						first.Ref(), rangeAt(first.DeclRange), p.Ref()),
					Subject: content.Attributes["default"].Expr.Range().Ptr(),
				})
			} else {
				defaults[p.Type] = p
			}
		}
		l.cfg.Providers = append(l.cfg.Providers, p)
	}
	return diags
}

// resolveProvider finds the instance a "type.instance" or "type"
// reference names. A bare type with no instance at all gets an implicit
// "default" instance when its settings are all optional.
func (l *loader) resolveProvider(ref string, rng hcl.Range) (*Provider, hcl.Diagnostics) {
	typeName, inst, _ := strings.Cut(ref, ".")
	sch, ok := l.schema(typeName)
	if !ok {
		return nil, hcl.Diagnostics{l.unknownType(typeName, rng)}
	}
	var own, known []*Provider
	for _, p := range l.cfg.Providers {
		if p.Type == sch.Type {
			own = append(own, p)
		}
	}
	for _, p := range l.opts.KnownProviders {
		if p.Type == sch.Type && l.ownProvider(p.Ref()) == nil {
			known = append(known, p)
		}
	}
	all := append(append([]*Provider(nil), own...), known...)
	if inst != "" {
		var names []string
		for _, p := range all {
			if p.Instance == inst {
				return p, nil
			}
			names = append(names, p.Instance)
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown provider instance",
			Detail: fmt.Sprintf("No provider %q %q is declared here or in the settings.%s",
				sch.Type, inst, didYouMean(inst, names)),
			Subject: rng.Ptr(),
		}}
	}
	for _, list := range [][]*Provider{own, known} {
		for _, p := range list {
			if p.Default {
				return p, nil
			}
		}
	}
	switch len(all) {
	case 1:
		return all[0], nil
	case 0:
		var settings cty.Value
		if sch.Settings != nil {
			v, d := hcldec.Decode(hcl.EmptyBody(), sch.Settings, nil)
			if d.HasErrors() {
				return nil, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "No provider instance",
					Detail: fmt.Sprintf("No %s provider is declared, and one cannot be made up because the type has required settings. Declare provider %q \"NAME\" { … }.",
						sch.Type, sch.Type),
					Subject: rng.Ptr(),
				}}
			}
			settings = v
		}
		p := &Provider{Type: sch.Type, TypeName: typeName, Instance: "default", Settings: settings, DeclRange: rng, TypeRange: rng, Implicit: true}
		l.cfg.Providers = append(l.cfg.Providers, p)
		return p, nil
	}
	var refs []string
	for _, p := range all {
		refs = append(refs, p.Ref())
	}
	sort.Strings(refs)
	return nil, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Ambiguous provider",
		Detail: fmt.Sprintf("There are several %s providers (%s) and none is default = true; name one as \"type.instance\".",
			sch.Type, strings.Join(refs, ", ")),
		Subject: rng.Ptr(),
	}}
}

func (l *loader) ownProvider(ref string) *Provider {
	for _, p := range l.cfg.Providers {
		if p.Ref() == ref {
			return p
		}
	}
	return nil
}

var nickSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "provider", Required: true}, {Name: "args"}},
}

func (l *loader) decodeNicks(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Nick{}
	for _, b := range blocks {
		n := &Nick{Name: b.Labels[0], DeclRange: b.DefRange}
		if first, ok := seen[n.Name]; ok {
			diags = append(diags, duplicate("nick", n.Name, first.DeclRange, b.DefRange))
			continue
		}
		seen[n.Name] = n
		content, d := b.Body.Content(nickSchema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["provider"]; ok {
			ref, d := l.evalString(a.Expr, "provider")
			diags = append(diags, d...)
			if !d.HasErrors() {
				p, d := l.resolveProvider(ref, a.Expr.Range())
				diags = append(diags, d...)
				if p != nil {
					n.Provider = p.Ref()
				}
			}
		}
		n.args = cty.EmptyObjectVal
		if a, ok := content.Attributes["args"]; ok {
			n.argsExpr = a.Expr
			v, d := l.evalArgs(a, "args")
			diags = append(diags, d...)
			if v != cty.NilVal {
				n.args = v
			}
		}
		if m, err := toJSONShaped(n.args); err == nil {
			n.Args, _ = m.(map[string]any)
		}
		l.cfg.Nicks = append(l.cfg.Nicks, n)
	}
	return diags
}

// checkStaticRefs refuses references that only exist once hosts do.
func checkStaticRefs(expr hcl.Expression, what string) hcl.Diagnostics {
	return checkRefsExcept(expr, what, nil)
}

// checkRefsExcept is checkStaticRefs allowing the roots ctx defines
// (count and each while a host's instances are decoded).
func checkRefsExcept(expr hcl.Expression, what string, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		if ctx != nil {
			if _, ok := ctx.Variables[tr.RootName()]; ok {
				continue
			}
		}
		switch tr.RootName() {
		case "action":
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in " + what,
				Detail:   fmt.Sprintf("%s cannot refer to action: actions run after the hosts they refer to. Refer to an action's result in another action or in an output.", what),
				Subject:  tr.SourceRange().Ptr(),
			})
		case "each":
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in " + what,
				Detail:   fmt.Sprintf("%s cannot refer to each: each.key and each.value exist only in a host block with for_each.", what),
				Subject:  tr.SourceRange().Ptr(),
			})
		case "host", "self", "count":
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in " + what,
				Detail: fmt.Sprintf("%s cannot refer to %s: it is evaluated when the plan is made, before any host exists. Only var.*, local.* and functions may be used; refer to hosts in setup, teardown or connection.",
					what, tr.RootName()),
				Subject: tr.SourceRange().Ptr(),
			})
		}
	}
	return diags
}

// evalArgs evaluates an args attribute to an object or map without
// sensitive values. NilVal: an error was reported.
func (l *loader) evalArgs(a *hcl.Attribute, what string) (cty.Value, hcl.Diagnostics) {
	if diags := checkRefsExcept(a.Expr, what, l.ctx); diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := a.Expr.Value(l.ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !v.IsWhollyKnown() && !refersTo(a.Expr, "host") {
		return cty.NilVal, diags
	}
	if d := sensitiveDiag(v, what, "would be stored in state", a.Expr.Range()); d != nil {
		return cty.NilVal, append(diags, d)
	}
	if !v.IsKnown() {
		return v, diags
	}
	if v.IsNull() {
		return cty.EmptyObjectVal, diags
	}
	if t := v.Type(); !t.IsObjectType() && !t.IsMapType() {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("The %s must be an object such as { image = \"…\" }, not %s.", what, t.FriendlyName()),
			Subject:  a.Expr.Range().Ptr(),
		})
	}
	return v, diags
}

// checkArgs runs the provider's check of a host's merged args. Each
// problem points at the item that sets the argument: in the host's args,
// else in its nick's, else at the host's args (a required argument that
// is missing). A nick's problem shared by several hosts is reported once.
func (l *loader) checkArgs(h *Host, nick *Nick, at *hcl.Attribute, val cty.Value) hcl.Diagnostics {
	if h.ProviderType == "" {
		return nil
	}
	sch, ok := l.schema(h.ProviderType)
	if !ok || sch.CheckArgs == nil {
		return nil
	}
	g, err := toJSONShaped(val)
	if err != nil {
		return nil // reported when the args are recorded
	}
	m, _ := g.(map[string]any)
	var diags hcl.Diagnostics
	for _, err := range sch.CheckArgs(m) {
		rng := h.DeclRange
		if at != nil {
			rng = at.Expr.Range()
		}
		var named interface{ Field() string }
		if errors.As(err, &named) {
			if r, ok := argItemRange(at, named.Field()); ok {
				rng = r
			} else if nick != nil {
				if r, ok := argItemRange(&hcl.Attribute{Expr: nick.argsExpr}, named.Field()); ok {
					rng = r
				}
			}
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid args for " + h.ProviderType,
			Detail:   sentence(err.Error()),
			Subject:  rng.Ptr(),
		}
		key := rng.String() + "\x00" + d.Detail
		if l.argDiags[key] {
			continue
		}
		if l.argDiags == nil {
			l.argDiags = map[string]bool{}
		}
		l.argDiags[key] = true
		diags = append(diags, d)
	}
	return diags
}

// argItemRange finds the item of an object constructor ({ key = value })
// that sets key, from the key to the end of the value.
func argItemRange(at *hcl.Attribute, key string) (hcl.Range, bool) {
	if at == nil {
		return hcl.Range{}, false
	}
	oc, ok := at.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return hcl.Range{}, false
	}
	for _, it := range oc.Items {
		k, d := it.KeyExpr.Value(nil)
		if d.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			continue
		}
		if k.AsString() == key {
			return hcl.RangeBetween(it.KeyExpr.Range(), it.ValueExpr.Range()), true
		}
	}
	return hcl.Range{}, false
}

// sentence makes an error message a diagnostic's sentence.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// unsetVars finds where a provider block reads the unset variables names:
// each env("NAME") call without a default, with the setting it is in.
// A body that is not native syntax (JSON) points at the block.
func unsetVars(body hcl.Body, names []string, block hcl.Range) []UnsetVar {
	if len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []UnsetVar
	seen := map[string]bool{}
	if sb, ok := body.(*hclsyntax.Body); ok {
		_ = hclsyntax.VisitAll(sb, func(n hclsyntax.Node) hcl.Diagnostics {
			at, ok := n.(*hclsyntax.Attribute)
			if !ok {
				return nil
			}
			_ = hclsyntax.VisitAll(at.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				call, ok := n.(*hclsyntax.FunctionCallExpr)
				if !ok || call.Name != "env" || len(call.Args) != 1 {
					return nil
				}
				v, d := call.Args[0].Value(nil)
				if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String || !want[v.AsString()] {
					return nil
				}
				out = append(out, UnsetVar{Name: v.AsString(), Setting: at.Name, Range: call.Range()})
				seen[v.AsString()] = true
				return nil
			})
			return nil
		})
	}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, UnsetVar{Name: n, Range: block})
		}
	}
	return out
}

// UnsetVar is an environment variable a provider's setting reads with
// env() and that is not set.
type UnsetVar struct {
	Name string
	// Setting is the attribute that reads it ("" when not known).
	Setting string
	// Range is the env() call (or the provider block).
	Range hcl.Range
}

// UnsetError is using a provider instance whose settings read environment
// variables that are not set. It names them and where they are read,
// never a value.
type UnsetError struct {
	Provider string // type.instance
	Vars     []UnsetVar
}

func (e *UnsetError) Error() string {
	parts := make([]string, 0, len(e.Vars))
	for _, v := range e.Vars {
		where := v.Range.Filename + ":" + fmt.Sprint(v.Range.Start.Line) + ":" + fmt.Sprint(v.Range.Start.Column)
		if v.Setting != "" {
			where += ", setting " + v.Setting
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", v.Name, where))
	}
	noun := "variable"
	if len(e.Vars) > 1 {
		noun = "variables"
	}
	return fmt.Sprintf("provider %s needs the environment %s %s, which is not set", e.Provider, noun, strings.Join(parts, ", "))
}

// Hint says how to give it.
func (e *UnsetError) Hint() string {
	if len(e.Vars) == 0 {
		return ""
	}
	n := e.Vars[0].Name
	return fmt.Sprintf("export %s=… before running broker, or give env() a default: env(%q, \"…\")", n, n)
}

// UnsetErr is nil when every variable p's settings read is set, else an
// *UnsetError: an instance cannot be made from unknown settings.
func (p *Provider) UnsetErr() error {
	if len(p.Unset) == 0 {
		return nil
	}
	return &UnsetError{Provider: p.Ref(), Vars: p.Unset}
}

// UnsetWarnings are p.Unset as warnings, each at the env() call: what
// validate reports.
func (p *Provider) UnsetWarnings() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, v := range p.Unset {
		setting := ""
		if v.Setting != "" {
			setting = " for its " + v.Setting + " setting"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Environment variable not set",
			Detail: fmt.Sprintf("Provider %s reads %s%s, and it is not set. Commands that use %s fail until it is; everything else works without it.",
				p.Ref(), v.Name, setting, p.Ref()),
			Subject: v.Range.Ptr(),
		})
	}
	return diags
}
