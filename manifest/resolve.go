package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Provider finds a provider instance by "type.instance", among the
// manifest's own (including implicit ones) and then the known ones.
func (c *Config) Provider(ref string) *Provider {
	for _, list := range [][]*Provider{c.Providers, c.knownProviders} {
		for _, p := range list {
			if p.Ref() == ref {
				return p
			}
		}
	}
	return nil
}

// AllProviders lists the provider instances a manifest can use: its own
// (including implicit ones), then the known ones (the settings') it does
// not redeclare.
func (c *Config) AllProviders() []*Provider {
	out := append([]*Provider(nil), c.Providers...)
	for _, p := range c.knownProviders {
		if !slices.ContainsFunc(c.Providers, func(q *Provider) bool { return q.Ref() == p.Ref() }) {
			out = append(out, p)
		}
	}
	return out
}

// Nick finds a nick by name, the manifest's own first.
func (c *Config) Nick(name string) *Nick {
	for _, list := range [][]*Nick{c.Nicks, c.knownNicks} {
		for _, n := range list {
			if n.Name == name {
				return n
			}
		}
	}
	return nil
}

// HostBlock finds a host block by name.
func (c *Config) HostBlock(name string) *Host {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// instanceContext is the context of one host instance's expressions.
// index is the instance's place in h.Instances (count.index; for
// for_each instances, each.key and each.value come from it).
func (c *Config) instanceContext(h *Host, index int, self HostValues, hosts map[string][]HostValues) *hcl.EvalContext {
	ctx := c.baseContext().NewChild()
	in := &Instance{Index: index}
	if h != nil && index >= 0 && index < len(h.Instances) {
		in = h.Instances[index]
	}
	ctx.Variables = instanceVars(h, in)
	ctx.Variables["self"] = hostValue(self)
	ctx.Variables["host"] = cty.ObjectVal(hostsValue(hosts))
	return ctx
}

func (c *Config) baseContext() *hcl.EvalContext {
	if c.evalCtx == nil {
		// A Config built by hand rather than loaded: still give the
		// Resolve methods var and local, with no functions.
		return &hcl.EvalContext{Variables: map[string]cty.Value{
			"var": cty.EmptyObjectVal, "local": cty.ObjectVal(c.Locals),
		}}
	}
	return c.evalCtx
}

func resolveStrings(expr hcl.Expression, ctx *hcl.EvalContext, what string) ([]string, hcl.Diagnostics) {
	if expr == nil {
		return nil, nil
	}
	v, diags := resolveValue(expr, ctx, what, cty.List(cty.String), false)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + what, Detail: "Commands must not be null.", Subject: expr.Range().Ptr()})
		}
		out = append(out, e.AsString())
	}
	return out, diags
}

func resolveString(expr hcl.Expression, ctx *hcl.EvalContext, what string, sensitiveOK bool) (string, hcl.Diagnostics) {
	if expr == nil {
		return "", nil
	}
	v, diags := resolveValue(expr, ctx, what, cty.String, sensitiveOK)
	if diags.HasErrors() || v.IsNull() {
		return "", diags
	}
	return v.AsString(), diags
}

func resolveValue(expr hcl.Expression, ctx *hcl.EvalContext, what string, want cty.Type, sensitiveOK bool) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !sensitiveOK {
		if d := sensitiveDiag(v, what, "would be shown in logs and events", expr.Range()); d != nil {
			return cty.NilVal, append(diags, d)
		}
	}
	v, _ = v.UnmarkDeep()
	cv, err := convert.Convert(v, want)
	if err == nil && !cv.IsWhollyKnown() {
		err = fmt.Errorf("value is not known")
	}
	if err != nil {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("A %s is required: %s.", want.FriendlyName(), err),
			Subject:  expr.Range().Ptr(),
		})
	}
	return cv, diags
}

// fileDir is the directory relative paths in a file resolve against.
func (c *Config) fileDir(filename string) string {
	if filepath.IsAbs(filename) {
		return filepath.Dir(filename)
	}
	return filepath.Join(c.srcBase, filepath.Dir(filename))
}

// ResolveSetup evaluates h's setup for instance index. self is that
// instance; hosts holds the instances of the hosts h depends on (and may
// hold others). A nil setup resolves to nil.
func (c *Config) ResolveSetup(h *Host, index int, self HostValues, hosts map[string][]HostValues) (*ResolvedSetup, hcl.Diagnostics) {
	if h == nil || h.Setup == nil {
		return nil, nil
	}
	ctx := c.instanceContext(h, index, self, hosts)
	s := h.Setup
	out := &ResolvedSetup{Timeout: s.Timeout, WaitFor: s.WaitFor, OnFailure: s.OnFailure}
	var diags hcl.Diagnostics
	for _, u := range s.Uploads {
		src, d := resolveString(u.Source, ctx, "upload.source", false)
		diags = append(diags, d...)
		dst, d := resolveString(u.Destination, ctx, "upload.destination", false)
		diags = append(diags, d...)
		if src != "" && !filepath.IsAbs(src) {
			src = filepath.Join(c.fileDir(u.DeclRange.Filename), src)
		}
		var mode os.FileMode
		if u.Mode != "" {
			m, err := parseMode(u.Mode)
			if err == nil {
				mode = os.FileMode(m)
			}
		}
		out.Uploads = append(out.Uploads, ResolvedUpload{Source: src, Destination: dst, Mode: mode})
	}
	run, d := resolveStrings(s.Run, ctx, "setup.run")
	diags = append(diags, d...)
	out.Run = run
	script, d := resolveString(s.Script, ctx, "setup.script", false)
	diags = append(diags, d...)
	out.Script = script
	return out, diags
}

// ResolveTeardown evaluates h's teardown for instance index.
func (c *Config) ResolveTeardown(h *Host, index int, self HostValues, hosts map[string][]HostValues) (*ResolvedTeardown, hcl.Diagnostics) {
	if h == nil || h.Teardown == nil {
		return nil, nil
	}
	ctx := c.instanceContext(h, index, self, hosts)
	run, diags := resolveStrings(h.Teardown.Run, ctx, "teardown.run")
	return &ResolvedTeardown{Run: run, Timeout: h.Teardown.Timeout}, diags
}

// ResolveConnection returns h's connection with the attributes that
// refer to hosts evaluated for instance index; nil when h has none.
func (c *Config) ResolveConnection(h *Host, index int, self HostValues, hosts map[string][]HostValues) (*Connection, hcl.Diagnostics) {
	if h == nil || h.Connection == nil {
		return nil, nil
	}
	out := *h.Connection
	content := &hcl.BodyContent{Attributes: hcl.Attributes{}}
	for name, e := range h.Connection.Exprs {
		if dynamicRefs(e) {
			content.Attributes[name] = &hcl.Attribute{Name: name, Expr: e, Range: e.Range(), NameRange: e.Range()}
		}
	}
	if len(content.Attributes) == 0 {
		return &out, nil
	}
	l := &loader{ctx: c.instanceContext(h, index, self, hosts), cfg: c}
	return &out, fillConnection(&out, &attrs{l: l, content: content, block: "connection"})
}

// ResolveHook evaluates a hook's commands for one host instance. In hook
// expressions self and host both name the instance the hook runs for
// (host.hostname reads as "the host"), and host.NAME[i] still reaches
// the other hosts; an attribute of the instance wins over a host block of
// the same name.
func (c *Config) ResolveHook(hk *Hook, self HostValues, hosts map[string][]HostValues) (run, local []string, diags hcl.Diagnostics) {
	if hk == nil {
		return nil, nil, nil
	}
	m := hostsValue(hosts)
	sv := hostValue(self)
	for k, v := range sv.AsValueMap() {
		m[k] = v
	}
	ctx := c.baseContext().NewChild()
	ctx.Variables = map[string]cty.Value{"self": sv, "host": cty.ObjectVal(m)}
	run, d := resolveStrings(hk.Run, ctx, "hook.run")
	diags = append(diags, d...)
	local, d = resolveStrings(hk.Local, ctx, "hook.local")
	diags = append(diags, d...)
	return run, local, diags
}

// ResolveInstance evaluates the args and labels of instance index of a
// Dynamic block (one whose args or labels refer to other hosts), with
// hosts holding the instances it refers to. An instance that is
// UnknownHost (being created or replaced) leaves what reads it unknown:
// those args and labels are left out and named in unknown ("args.KEY",
// "labels.KEY"). For a block that is not Dynamic it returns the
// instance's decoded values.
func (c *Config) ResolveInstance(h *Host, index int, hosts map[string][]HostValues) (args map[string]any, labels map[string]string, unknown []string, diags hcl.Diagnostics) {
	if h == nil || index < 0 || index >= len(h.Instances) {
		return nil, nil, nil, nil
	}
	in := h.Instances[index]
	if !h.Dynamic {
		return in.Args, in.Labels, nil, nil
	}
	ctx := c.baseContext().NewChild()
	ctx.Variables = instanceVars(h, in)
	ctx.Variables["host"] = cty.ObjectVal(hostsValue(hosts))
	l := &loader{ctx: ctx, cfg: c, opts: Options{Schemas: c.schemas}}
	return l.instanceValues(h, ctx)
}

// PasswordSource says where c's password comes from without its value:
// the variables its expression reads ("var.lab_password"), else the env
// variable an env("NAME") call reads ("env(\"NAME\")"), else "a literal";
// "" when c has no password.
func (c *Connection) PasswordSource() string {
	e, ok := c.Exprs["password"]
	if !ok || e == nil {
		return ""
	}
	var names []string
	for _, tr := range e.Variables() {
		name := tr.RootName()
		if len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				name += "." + a.Name
			}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		return strings.Join(names, ", ")
	}
	if call, ok := e.(*hclsyntax.FunctionCallExpr); ok && call.Name == "env" && len(call.Args) == 1 {
		if v, diags := call.Args[0].Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			return fmt.Sprintf("env(%q)", v.AsString())
		}
	}
	return "a literal"
}
