package manifest

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// HookEvents are the points of a host's life a hook can run at.
var HookEvents = []string{"after_checkout", "after_setup", "before_checkin", "on_failure"}

var hookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "on", Required: true}, {Name: "when"}, {Name: "run"}, {Name: "local"},
	},
}

func (l *loader) decodeHooks(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Hook{}
	ctx := l.hookCheckContext()
	for _, b := range blocks {
		hk := &Hook{Name: b.Labels[0], DeclRange: b.DefRange}
		if first, ok := seen[hk.Name]; ok {
			diags = append(diags, duplicate("hook", hk.Name, first.DeclRange, b.DefRange))
			continue
		}
		seen[hk.Name] = hk
		content, d := b.Body.Content(hookSchema)
		diags = append(diags, d...)
		if at, ok := content.Attributes["on"]; ok {
			diags = append(diags, l.decodeHookEvents(hk, at)...)
		}
		if at, ok := content.Attributes["when"]; ok {
			hk.WhenRange = at.Expr.Range()
			s, d := l.evalString(at.Expr, "when")
			diags = append(diags, d...)
			hk.When = s
		}
		_, hasRun := content.Attributes["run"]
		_, hasLocal := content.Attributes["local"]
		if at, ok := content.Attributes["run"]; ok {
			hk.Run = at.Expr
			diags = append(diags, checkValue(keptExpr{expr: at.Expr, what: "hook.run", want: cty.List(cty.String)}, ctx)...)
		}
		if at, ok := content.Attributes["local"]; ok {
			hk.Local = at.Expr
			diags = append(diags, checkValue(keptExpr{expr: at.Expr, what: "hook.local", want: cty.List(cty.String)}, ctx)...)
		}
		if !hasRun && !hasLocal {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing hook commands",
				Detail:   fmt.Sprintf("The hook %q needs run = [ … ] (on the host) or local = [ … ] (on the runner).", hk.Name),
				Subject:  b.DefRange.Ptr(),
			})
		}
		l.cfg.Hooks = append(l.cfg.Hooks, hk)
	}
	return diags
}

func (l *loader) decodeHookEvents(hk *Hook, at *hcl.Attribute) hcl.Diagnostics {
	elems, diags := hcl.ExprList(at.Expr)
	if diags.HasErrors() {
		return diags
	}
	for _, e := range elems {
		s, d := l.evalString(e, "hook event")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		ok := false
		for _, ev := range HookEvents {
			ok = ok || ev == s
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown hook event",
				Detail:   fmt.Sprintf("%q is not a hook event.%s Events: %q.", s, didYouMean(s, HookEvents), HookEvents),
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		hk.On = append(hk.On, s)
	}
	return diags
}

// hookCheckContext is a hook's context with every host value unknown.
func (l *loader) hookCheckContext() *hcl.EvalContext {
	m := l.unknownHosts(cty.DynamicVal)
	for k := range hostValueAttrs {
		m[k] = cty.DynamicVal
	}
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"self": cty.DynamicVal, "host": cty.ObjectVal(m)}
	return ctx
}
