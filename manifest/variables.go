package manifest

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
}

// EnvVarPrefix prefixes environment variables that set manifest variables.
const EnvVarPrefix = "BROKER_VAR_"

// decodeVariables decodes variable blocks and gives each its value:
// default < var files (in order) < BROKER_VAR_<name> < --var.
func (l *loader) decodeVariables(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.varDefs = map[string]*Variable{}
	defaults := map[string]*typeexpr.Defaults{}
	for _, b := range blocks {
		v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
		if !hclsyntax.ValidIdentifier(v.Name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable name",
				Detail:   "A variable name must start with a letter or underscore and have only letters, digits, underscores and dashes.",
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if first, ok := l.varDefs[v.Name]; ok {
			diags = append(diags, duplicate("variable", v.Name, first.DeclRange, b.DefRange))
			continue
		}
		content, d := b.Body.Content(variableSchema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["type"]; ok {
			ty, def, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.Type = ty
				defaults[v.Name] = def
			}
		}
		if a, ok := content.Attributes["description"]; ok {
			d := gohclString(a, &v.Description)
			diags = append(diags, d...)
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if bv, err := convert.Convert(val, cty.Bool); err != nil || bv.IsNull() {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid sensitive", Detail: "sensitive must be true or false.", Subject: a.Expr.Range().Ptr()})
				} else {
					v.Sensitive = bv.True()
				}
			}
		}
		v.Default = cty.NilVal
		if a, ok := content.Attributes["default"]; ok {
			val, d := a.Expr.Value(&hcl.EvalContext{Functions: l.ctx.Functions})
			diags = append(diags, d...)
			if !d.HasErrors() {
				if cv, err := l.convertVar(v, defaults[v.Name], val); err != nil {
					diags = append(diags, convertVarDiag(v, err, a.Expr.Range(), "default"))
				} else {
					v.Default = cv
					v.Value = cv
				}
			}
		}
		l.varDefs[v.Name] = v
		l.cfg.Variables = append(l.cfg.Variables, v)
	}

	for _, name := range sortedKeys(l.opts.Values) {
		if v, ok := l.varDefs[name]; ok {
			if cv, err := l.convertVar(v, defaults[name], l.opts.Values[name]); err == nil {
				v.Value = cv
			}
		}
	}
	for _, f := range l.opts.VarFiles {
		diags = append(diags, l.applyVarFile(f, defaults)...)
	}
	for _, v := range l.cfg.Variables {
		raw, ok := l.lookup(EnvVarPrefix + v.Name)
		if !ok {
			continue
		}
		diags = append(diags, l.applyRaw(v, defaults[v.Name], raw, "environment variable "+EnvVarPrefix+v.Name)...)
	}
	for _, name := range sortedKeys(l.opts.Vars) {
		v, ok := l.varDefs[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail: fmt.Sprintf("A value was given for the variable %q with --var, but the manifest declares no such variable.%s",
					name, didYouMean(name, sortedKeys(l.varDefs))),
			})
			continue
		}
		diags = append(diags, l.applyRaw(v, defaults[name], l.opts.Vars[name], "--var "+name)...)
	}

	vals := map[string]cty.Value{}
	for _, v := range l.cfg.Variables {
		if v.Value == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default: give it a value with --var %s=…, a var file or the environment variable %s%s.",
					v.Name, v.Name, EnvVarPrefix, v.Name),
				Subject: v.DeclRange.Ptr(),
			})
			v.Value = cty.UnknownVal(v.Type)
		}
		if v.Sensitive {
			v.Value = sensitive(v.Value)
			if v.Default != cty.NilVal {
				v.Default = sensitive(v.Default)
			}
		}
		vals[v.Name] = v.Value
	}
	l.ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(vals), "local": cty.EmptyObjectVal}
	return diags
}

func (l *loader) convertVar(v *Variable, def *typeexpr.Defaults, val cty.Value) (cty.Value, error) {
	if def != nil {
		val = def.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

func convertVarDiag(v *Variable, err error, rng hcl.Range, from string) *hcl.Diagnostic {
	d := convertDiag(err, "Invalid value for variable", "value", rng)
	d.Detail = fmt.Sprintf("The %s of variable %q does not fit its type %s: %s", from, v.Name, typeexpr.TypeString(v.Type), strings.TrimPrefix(d.Detail, "The value are not valid: "))
	return d
}

// applyRaw sets a variable from a command-line or environment string.
func (l *loader) applyRaw(v *Variable, def *typeexpr.Defaults, raw, from string) hcl.Diagnostics {
	var val cty.Value
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
		val = cty.StringVal(raw)
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), "<value for var."+v.Name+">", hcl.InitialPos)
		if diags.HasErrors() {
			return diags
		}
		var d hcl.Diagnostics
		val, d = expr.Value(nil)
		if d.HasErrors() {
			return d
		}
	}
	cv, err := l.convertVar(v, def, val)
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value from %s does not fit the type %s of variable %q: %s.", from, typeexpr.TypeString(v.Type), v.Name, err),
			Subject:  v.DeclRange.Ptr(),
		}}
	}
	v.Value = cv
	return nil
}

func (l *loader) applyVarFile(path string, defaults map[string]*typeexpr.Defaults) hcl.Diagnostics {
	src, err := ReadRegularFile(path)
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read variables file",
			Detail:   fmt.Sprintf("Cannot read %s: %s.", path, readErrText(err)),
		}}
	}
	if nd := nestingDiag(src, path, strings.HasSuffix(path, ".json")); nd != nil {
		return hcl.Diagnostics{nd}
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if f != nil {
		// For diagnostics only: Sources are the manifest's own files, which
		// a saved plan embeds and decodes again as the manifest.
		l.cfg.Files[path] = f
	}
	if diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, name := range sortedKeys(attrs) {
		a := attrs[name]
		v, ok := l.varDefs[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail:   fmt.Sprintf("The variables file sets %q, but the manifest declares no such variable.%s", name, didYouMean(name, sortedKeys(l.varDefs))),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		val, d := a.Expr.Value(&hcl.EvalContext{Functions: l.ctx.Functions})
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		cv, err := l.convertVar(v, defaults[name], val)
		if err != nil {
			diags = append(diags, convertVarDiag(v, err, a.Expr.Range(), "value"))
			continue
		}
		v.Value = cv
	}
	return diags
}

// gohclString decodes a literal string attribute.
func gohclString(a *hcl.Attribute, dst *string) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	s, d := stringOf(val, a.Name, a.Expr.Range())
	*dst = s
	return d
}

// decodeLocals evaluates every local in dependency order; a cycle is an
// error at each local taking part.
func (l *loader) decodeLocals(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	attrs := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		as, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for _, name := range sortedKeys(as) {
			a := as[name]
			if first, ok := attrs[name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("The local %q was already defined at %s.", name, rangeAt(first.NameRange)),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			attrs[name] = a
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	stateOf := map[string]int{}
	vals := map[string]cty.Value{}
	var visit func(name string, stack []string) hcl.Diagnostics
	visit = func(name string, stack []string) hcl.Diagnostics {
		switch stateOf[name] {
		case done:
			return nil
		case visiting:
			// stack holds the path from the first visit of name.
			i := 0
			for stack[i] != name {
				i++
			}
			cycle := append(append([]string(nil), stack[i:]...), name)
			var ds hcl.Diagnostics
			for _, n := range stack[i:] {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cycle in local values",
					Detail:   fmt.Sprintf("The locals refer to each other in a cycle: local.%s.", strings.Join(cycle, " → local.")),
					Subject:  attrs[n].Expr.Range().Ptr(),
				})
			}
			return ds
		}
		stateOf[name] = visiting
		a := attrs[name]
		var ds hcl.Diagnostics
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			ref, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			if _, ok := attrs[ref.Name]; !ok {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared local value",
					Detail:   fmt.Sprintf("There is no local named %q.%s", ref.Name, didYouMean(ref.Name, sortedKeys(attrs))),
					Subject:  tr.SourceRange().Ptr(),
				})
				continue
			}
			ds = append(ds, visit(ref.Name, append(stack, name))...)
		}
		stateOf[name] = done
		if ds.HasErrors() {
			vals[name] = cty.DynamicVal
			return ds
		}
		l.ctx.Variables["local"] = cty.ObjectVal(vals)
		v, d := a.Expr.Value(l.ctx)
		ds = append(ds, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		vals[name] = v
		return ds
	}
	for _, name := range sortedKeys(attrs) {
		diags = append(diags, visit(name, nil)...)
	}
	l.ctx.Variables["local"] = cty.ObjectVal(vals)
	for k, v := range vals {
		l.cfg.Locals[k] = v
	}
	return diags
}
