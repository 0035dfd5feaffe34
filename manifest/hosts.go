package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var hostSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "nick"}, {Name: "provider"}, {Name: "args"}, {Name: "count"}, {Name: "for_each"},
		{Name: "lease"}, {Name: "renew_before"}, {Name: "labels"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "setup"}, {Type: "teardown"}, {Type: "connection"}},
}

var setupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "run"}, {Name: "script"}, {Name: "timeout"}, {Name: "wait_for"}, {Name: "on_failure"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "upload"}},
}

var uploadSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source", Required: true}, {Name: "destination", Required: true}, {Name: "mode"},
	},
}

var teardownSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "run"}, {Name: "timeout"}},
}

var connectionAttrs = []string{"user", "port", "password", "private_key_file", "known_hosts_file", "agent", "bastion", "timeout"}

// hostRef is one host.NAME reference inside a host's kept expressions.
type hostRef struct {
	to  string
	rng hcl.Range
}

// keptExpr is an expression evaluated per instance later, checked now.
type keptExpr struct {
	host *Host // nil for hooks
	expr hcl.Expression
	what string
	want cty.Type // cty.String or cty.List(cty.String)
	// sensitiveOK is true for connection.password.
	sensitiveOK bool
	// refsOnly: only its host references are checked here (args and
	// labels, checked by checkDynamic).
	refsOnly bool
}

func (l *loader) decodeHosts(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Host{}
	var kept []keptExpr
	for _, b := range blocks {
		h := &Host{Name: b.Labels[0], Count: 1, Lease: l.opts.DefaultLease, DeclRange: b.DefRange}
		if !hclsyntax.ValidIdentifier(h.Name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid host name",
				Detail:   "A host name must start with a letter or underscore and have only letters, digits, underscores and dashes, as it is used in host.NAME references.",
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if first, ok := seen[h.Name]; ok {
			diags = append(diags, duplicate("host", h.Name, first.DeclRange, b.DefRange))
			continue
		}
		seen[h.Name] = h
		content, d := b.Body.Content(hostSchema)
		diags = append(diags, d...)
		k, d := l.decodeHost(h, content)
		diags = append(diags, d...)
		kept = append(kept, k...)
		l.cfg.Hosts = append(l.cfg.Hosts, h)
	}
	total := 0
	for _, h := range l.cfg.Hosts {
		total += h.Count
		if total > MaxHosts {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Too many hosts",
				Detail:   fmt.Sprintf("With the host %q the manifest describes %d hosts; a manifest may describe at most %d.", h.Name, total, MaxHosts),
				Subject:  h.DeclRange.Ptr(),
			})
			return diags
		}
	}
	diags = append(diags, l.checkHostRefs(kept, seen)...)
	if diags.HasErrors() {
		return diags
	}
	diags = append(diags, l.checkKept(kept)...)
	return append(diags, l.checkDynamic()...)
}

func (l *loader) decodeHost(h *Host, content *hcl.BodyContent) ([]keptExpr, hcl.Diagnostics) {
	a := &attrs{l: l, content: content, block: "host"}
	for _, name := range []string{"count", "lease", "renew_before", "nick", "provider"} {
		if at, ok := content.Attributes[name]; ok {
			a.diags = append(a.diags, checkStaticRefs(at.Expr, name)...)
		}
	}
	if a.diags.HasErrors() {
		return nil, a.diags
	}
	a.integer("count", &h.Count, 0)
	if h.Count > MaxCount {
		a.fail(content.Attributes["count"], fmt.Sprintf("A host block may have at most %d instances, not %d.", MaxCount, h.Count))
		h.Count = 1
	}
	var eachVals map[string]cty.Value
	if at, ok := content.Attributes["for_each"]; ok {
		if ct, ok := content.Attributes["count"]; ok {
			a.diags = append(a.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Both count and for_each",
				Detail:   fmt.Sprintf("A host block takes count or for_each, not both (count is set at %s).", rangeAt(ct.Range)),
				Subject:  at.NameRange.Ptr(),
			})
			return nil, a.diags
		}
		eachVals = l.decodeForEach(a, at)
		if a.diags.HasErrors() {
			return nil, a.diags
		}
		h.ForEach = true
		h.Count = len(eachVals)
	}
	var lease string
	if a.str("lease", &lease, false) {
		h.LeaseRange = content.Attributes["lease"].Expr.Range()
		if lease == "none" {
			h.Lease, h.LeaseNone = 0, true
		} else {
			a.duration("lease", &h.Lease)
		}
	}
	a.duration("renew_before", &h.RenewBefore)
	if at, ok := content.Attributes["renew_before"]; ok {
		h.RenewBeforeRange = at.Expr.Range()
	}
	a.str("nick", &h.Nick, false)
	var providerRef string
	a.str("provider", &providerRef, false)
	diags := a.diags

	var nick *Nick
	if at, ok := content.Attributes["nick"]; ok && h.Nick != "" {
		nick = l.nick(h.Nick)
		if nick == nil {
			var names []string
			for _, n := range l.cfg.Nicks {
				names = append(names, n.Name)
			}
			for _, n := range l.opts.KnownNicks {
				names = append(names, n.Name)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown nick",
				Detail:   fmt.Sprintf("No nick %q is declared here or in the settings.%s", h.Nick, didYouMean(h.Nick, names)),
				Subject:  at.Expr.Range().Ptr(),
			})
		} else {
			h.Provider = nick.Provider
		}
	}
	if at, ok := content.Attributes["provider"]; ok && providerRef != "" {
		p, d := l.resolveProvider(providerRef, at.Expr.Range())
		diags = append(diags, d...)
		if p != nil {
			if nick != nil && nick.Provider != "" && nick.Provider != p.Ref() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Conflicting provider",
					Detail: fmt.Sprintf("The host names provider %s, but its nick %q (%s) uses %s.",
						p.Ref(), nick.Name, rangeAt(nick.DeclRange), nick.Provider),
					Subject: at.Expr.Range().Ptr(),
				})
			}
			h.Provider = p.Ref()
		}
	}
	_, hasNick := content.Attributes["nick"]
	_, hasProvider := content.Attributes["provider"]
	if !hasNick && !hasProvider {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing provider",
			Detail:   fmt.Sprintf("The host %q needs nick = \"…\" or provider = \"type.instance\".", h.Name),
			Subject:  h.DeclRange.Ptr(),
		})
	}
	if h.Provider != "" {
		h.ProviderType, h.Instance, _ = strings.Cut(h.Provider, ".")
		if sch, ok := l.schema(h.ProviderType); ok {
			h.InPlace = sch.InPlace
		}
	}

	kept, d := l.decodeInstances(h, nick, content, eachVals)
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		var k []keptExpr
		var d hcl.Diagnostics
		switch b.Type {
		case "setup":
			if h.Setup != nil {
				d = hcl.Diagnostics{duplicate("setup", h.Name, h.Setup.DeclRange, b.DefRange)}
				break
			}
			k, d = l.decodeSetup(h, b)
		case "teardown":
			if h.Teardown != nil {
				d = hcl.Diagnostics{duplicate("teardown", h.Name, h.Teardown.DeclRange, b.DefRange)}
				break
			}
			k, d = l.decodeTeardown(h, b)
		case "connection":
			if h.Connection != nil {
				d = hcl.Diagnostics{duplicate("connection", h.Name, h.Connection.DeclRange, b.DefRange)}
				break
			}
			k, d = l.decodeConnection(h, b)
		}
		diags = append(diags, d...)
		kept = append(kept, k...)
	}
	return kept, diags
}

// decodeForEach evaluates for_each: a map or object (each.key, each.value)
// or a set or list of strings (each.key = each.value). It must be known
// when the plan is made, as its keys are the instances' addresses.
func (l *loader) decodeForEach(a *attrs, at *hcl.Attribute) map[string]cty.Value {
	for _, tr := range at.Expr.Variables() {
		switch root := tr.RootName(); root {
		case "host", "self", "action", "count", "each":
			a.diags = append(a.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid for_each argument",
				Detail: fmt.Sprintf("for_each refers to %s, whose value is not known until apply; for_each must be known when the plan is made, because its keys name the instances (host.NAME[\"KEY\"]). Use var.*, local.* and functions.",
					root),
				Subject: tr.SourceRange().Ptr(),
			})
		}
	}
	if a.diags.HasErrors() {
		return nil
	}
	v, diags := at.Expr.Value(l.ctx)
	a.diags = append(a.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	fail := func(detail string) map[string]cty.Value {
		a.diags = append(a.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument", Detail: detail, Subject: at.Expr.Range().Ptr()})
		return nil
	}
	if !v.IsWhollyKnown() {
		return fail("The for_each value is not known when the plan is made (it reads something only known at apply); its keys name the instances, so they must be known now.")
	}
	if v.IsNull() {
		return fail("for_each must be a map or a set of strings, not null.")
	}
	if v.IsMarked() {
		return fail("for_each must not be sensitive: its keys are the instances' addresses, shown in plans and recorded in state.")
	}
	out := map[string]cty.Value{}
	t := v.Type()
	switch {
	case t.IsMapType() || t.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = e
		}
	case t.IsSetType() || t.IsListType() || t.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsMarked() {
				return fail("for_each must not hold sensitive values: its keys are the instances' addresses.")
			}
			s, err := convert.Convert(e, cty.String)
			if err != nil || s.IsNull() {
				return fail(fmt.Sprintf("A set for for_each must hold strings, not %s.", e.Type().FriendlyName()))
			}
			if _, dup := out[s.AsString()]; dup && !t.IsSetType() {
				return fail(fmt.Sprintf("The key %q is in the list twice; each key names one instance.", s.AsString()))
			}
			out[s.AsString()] = s
		}
	default:
		return fail(fmt.Sprintf("for_each must be a map or a set of strings, not %s.", t.FriendlyName()))
	}
	if len(out) > MaxCount {
		return fail(fmt.Sprintf("A host block may have at most %d instances, not %d.", MaxCount, len(out)))
	}
	return out
}

// decodeInstances decodes the block's labels and args, and makes its
// instances. Labels and args that use count.index or each are evaluated
// once per instance; others once for all. Labels and args that refer to
// other hosts are kept (Host.Dynamic) and evaluated when those are known:
// here only checked, with every host unknown.
func (l *loader) decodeInstances(h *Host, nick *Nick, content *hcl.BodyContent, eachVals map[string]cty.Value) ([]keptExpr, hcl.Diagnostics) {
	keys := sortedKeys(eachVals)
	for i := 0; i < h.Count; i++ {
		in := &Instance{Index: i}
		if h.ForEach {
			in.Key, in.Each = keys[i], eachVals[keys[i]]
		}
		h.Instances = append(h.Instances, in)
	}
	labelsAt, argsAt := content.Attributes["labels"], content.Attributes["args"]
	h.nick, h.labelsAt, h.argsAt = nick, labelsAt, argsAt
	var kept []keptExpr
	for _, at := range []*hcl.Attribute{labelsAt, argsAt} {
		if at != nil && refersTo(at.Expr, "host") {
			h.Dynamic = true
			kept = append(kept, keptExpr{host: h, expr: at.Expr, what: at.Name, want: cty.DynamicPseudoType, refsOnly: true})
		}
	}
	perInstance := h.Dynamic || usesInstance(labelsAt) || usesInstance(argsAt)
	if !perInstance {
		var diags hcl.Diagnostics
		h.Args, h.Labels, _, diags = l.instanceValues(h, l.ctx)
		for _, in := range h.Instances {
			in.Args, in.Labels = h.Args, h.Labels
		}
		return kept, diags
	}
	base := l.ctx
	insts := h.Instances
	if len(insts) == 0 {
		// Nothing to evaluate per instance: still check the expressions.
		insts = []*Instance{{Each: cty.DynamicVal}}
	}
	var hosts cty.Value
	if h.Dynamic {
		// Checked with every host unknown once all blocks are known.
		l.dynamic = append(l.dynamic, h)
		return kept, nil
	}
	_ = hosts
	for i, in := range insts {
		ctx := base.NewChild()
		ctx.Variables = instanceVars(h, in)
		args, labels, _, diags := l.instanceValues(h, ctx)
		if diags.HasErrors() {
			return kept, diags
		}
		in.Args, in.Labels = args, labels
		if i == 0 {
			h.Args, h.Labels = args, labels
		}
	}
	if len(h.Instances) == 0 {
		h.Args, h.Labels = map[string]any{}, nil
	}
	return kept, nil
}

// checkDynamic evaluates the args and labels of blocks that refer to
// other hosts, every host unknown, so that a bad function call or a
// wrong type is found at validate time.
func (l *loader) checkDynamic() hcl.Diagnostics {
	hosts := cty.ObjectVal(l.unknownHosts(unknownHostValue()))
	for _, h := range l.dynamic {
		insts := h.Instances
		if len(insts) == 0 {
			insts = []*Instance{{Each: cty.DynamicVal}}
		}
		for i, in := range insts {
			ctx := l.ctx.NewChild()
			ctx.Variables = instanceVars(h, in)
			ctx.Variables["host"] = hosts
			args, labels, unknown, diags := l.instanceValues(h, ctx)
			if diags.HasErrors() {
				return diags
			}
			in.Args, in.Labels, in.Unknown = args, labels, unknown
			if i == 0 {
				h.Args, h.Labels = args, labels
			}
		}
		if len(h.Instances) == 0 {
			h.Args, h.Labels = map[string]any{}, nil
		}
	}
	return nil
}

// instanceValues evaluates a block's args and labels in ctx. Values
// that are not known (they refer to hosts not checked out yet) are left
// out and named in unknown ("args.KEY", "labels.KEY"; "args" or "labels"
// when the whole value is unknown).
func (l *loader) instanceValues(h *Host, ctx *hcl.EvalContext) (args map[string]any, labels map[string]string, unknown []string, diags hcl.Diagnostics) {
	saved := l.ctx
	l.ctx = ctx
	defer func() { l.ctx = saved }()
	if h.labelsAt != nil {
		labels, unknown, diags = l.decodeLabels(h.labelsAt)
		if diags.HasErrors() {
			return nil, nil, nil, diags
		}
	}
	args, u, d := l.decodeHostArgs(h, h.nick, h.argsAt)
	diags = append(diags, d...)
	return args, labels, append(unknown, u...), diags
}

// usesInstance tells whether an attribute refers to count or each.
func usesInstance(at *hcl.Attribute) bool {
	if at == nil {
		return false
	}
	for _, tr := range at.Expr.Variables() {
		if r := tr.RootName(); r == "count" || r == "each" {
			return true
		}
	}
	return false
}

// instanceVars are count.index, and with for_each each.key and
// each.value, of one instance.
func instanceVars(h *Host, in *Instance) map[string]cty.Value {
	vars := map[string]cty.Value{
		"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(in.Index))}),
	}
	if h != nil && h.ForEach {
		each := in.Each
		if each == cty.NilVal {
			each = cty.DynamicVal
		}
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.Key), "value": each})
	}
	return vars
}

func (l *loader) nick(name string) *Nick {
	for _, n := range l.cfg.Nicks {
		if n.Name == name {
			return n
		}
	}
	for _, n := range l.opts.KnownNicks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (l *loader) decodeLabels(at *hcl.Attribute) (map[string]string, []string, hcl.Diagnostics) {
	v, diags := l.evalArgs(at, "labels")
	if v == cty.NilVal {
		return nil, nil, diags
	}
	if !v.IsKnown() {
		return nil, []string{"labels"}, diags
	}
	labels := map[string]string{}
	var unknown []string
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if !e.IsKnown() {
			unknown = append(unknown, "labels."+k.AsString())
			continue
		}
		if e.IsNull() || e.Type() != cty.String {
			what := "null"
			if !e.IsNull() {
				what = "a " + e.Type().FriendlyName()
			}
			return nil, nil, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid labels",
				Detail:   fmt.Sprintf("The label %q is %s; label values must be strings (quote them).", k.AsString(), what),
				Subject:  at.Expr.Range().Ptr(),
			})
		}
		labels[k.AsString()] = e.AsString()
	}
	return labels, unknown, diags
}

// decodeHostArgs lays the host's args over the nick's (shallow, host
// wins), converts them to the provider's Args type and shapes them as
// JSON for recording. Arguments not known yet are left out and named in
// unknown; the provider's check then waits until they are.
func (l *loader) decodeHostArgs(h *Host, nick *Nick, at *hcl.Attribute) (map[string]any, []string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	merged := map[string]cty.Value{}
	if nick != nil {
		na := nick.args
		if na == cty.NilVal {
			na = FromGo(nick.Args)
		}
		if !na.IsNull() {
			for it := na.ElementIterator(); it.Next(); {
				k, e := it.Element()
				merged[k.AsString()] = e
			}
		}
	}
	rng := h.DeclRange
	if at != nil {
		rng = at.Expr.Range()
		v, d := l.evalArgs(at, "args")
		diags = append(diags, d...)
		if v == cty.NilVal {
			return nil, nil, diags
		}
		if !v.IsKnown() {
			return map[string]any{}, []string{"args"}, diags
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			merged[k.AsString()] = e
		}
	}
	val := cty.ObjectVal(merged)
	known := val.IsWhollyKnown()
	if known {
		if d := l.checkArgs(h, nick, at, val); d.HasErrors() {
			return nil, nil, append(diags, d...)
		}
	}
	if h.ProviderType != "" {
		if sch, ok := l.schema(h.ProviderType); ok && sch.Args != cty.NilType {
			cv, err := convert.Convert(val, sch.Args)
			if err != nil {
				return nil, nil, append(diags, convertDiag(err, "Invalid args", "args for "+h.ProviderType, rng))
			}
			val = cv
		}
	}
	var unknown []string
	if !known && val.Type().IsObjectType() {
		m := map[string]cty.Value{}
		for k, e := range val.AsValueMap() {
			if e.IsWhollyKnown() {
				m[k] = e
			} else {
				unknown = append(unknown, "args."+k)
			}
		}
		sort.Strings(unknown)
		val = cty.ObjectVal(m)
	}
	g, err := toJSONShaped(val)
	if err != nil {
		return nil, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid args", Detail: fmt.Sprintf("The args cannot be recorded: %s.", err), Subject: rng.Ptr()})
	}
	args, ok := g.(map[string]any)
	if !ok {
		args = map[string]any{}
	}
	return args, unknown, diags
}

func (l *loader) decodeSetup(h *Host, b *hcl.Block) ([]keptExpr, hcl.Diagnostics) {
	s := &Setup{OnFailure: "taint", DeclRange: b.DefRange}
	h.Setup = s
	content, diags := b.Body.Content(setupSchema)
	a := &attrs{l: l, content: content, block: "setup"}
	a.duration("timeout", &s.Timeout)
	a.oneOf("wait_for", &s.WaitFor, "ssh", "none")
	a.oneOf("on_failure", &s.OnFailure, "taint", "keep")
	diags = append(diags, a.diags...)
	var kept []keptExpr
	if at, ok := content.Attributes["run"]; ok {
		s.Run = at.Expr
		kept = append(kept, keptExpr{host: h, expr: at.Expr, what: "setup.run", want: cty.List(cty.String)})
	}
	if at, ok := content.Attributes["script"]; ok {
		s.Script = at.Expr
		kept = append(kept, keptExpr{host: h, expr: at.Expr, what: "setup.script", want: cty.String})
	}
	for _, ub := range content.Blocks {
		u := &Upload{DeclRange: ub.DefRange}
		uc, d := ub.Body.Content(uploadSchema)
		diags = append(diags, d...)
		if at, ok := uc.Attributes["source"]; ok {
			u.Source = at.Expr
			kept = append(kept, keptExpr{host: h, expr: at.Expr, what: "upload.source", want: cty.String})
			if !dynamicRefs(at.Expr) {
				diags = append(diags, l.checkUploadSource(u)...)
			}
		}
		if at, ok := uc.Attributes["destination"]; ok {
			u.Destination = at.Expr
			kept = append(kept, keptExpr{host: h, expr: at.Expr, what: "upload.destination", want: cty.String})
		}
		ua := &attrs{l: l, content: uc, block: "upload"}
		if ua.str("mode", &u.Mode, false) {
			if _, err := parseMode(u.Mode); err != nil {
				ua.fail(uc.Attributes["mode"], fmt.Sprintf("An octal file mode such as \"0644\" is required, not %q.", u.Mode))
			}
		}
		diags = append(diags, ua.diags...)
		if u.Source != nil && u.Destination != nil {
			s.Uploads = append(s.Uploads, u)
		}
	}
	return kept, diags
}

// checkUploadSource reports an upload whose source, known without any
// host, does not exist: found at validate time rather than after hosts
// were checked out.
func (l *loader) checkUploadSource(u *Upload) hcl.Diagnostics {
	v, diags := u.Source.Value(l.ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.ContainsMarked() {
		return nil // reported by checkKept
	}
	v, err := convert.Convert(v, cty.String)
	if err != nil {
		return nil // reported by checkKept
	}
	src := v.AsString()
	p := src
	if !filepath.IsAbs(p) {
		p = filepath.Join(l.cfg.fileDir(u.DeclRange.Filename), p)
	}
	if _, err := os.Stat(p); err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing upload source",
			Detail:   fmt.Sprintf("Cannot read the upload source %s: %s.", src, osErrText(err)),
			Subject:  u.Source.Range().Ptr(),
		}}
	}
	return nil
}

func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q", s)
	}
	return uint32(m), nil
}

func (l *loader) decodeTeardown(h *Host, b *hcl.Block) ([]keptExpr, hcl.Diagnostics) {
	t := &Teardown{DeclRange: b.DefRange}
	h.Teardown = t
	content, diags := b.Body.Content(teardownSchema)
	a := &attrs{l: l, content: content, block: "teardown"}
	a.duration("timeout", &t.Timeout)
	diags = append(diags, a.diags...)
	if at, ok := content.Attributes["run"]; ok {
		t.Run = at.Expr
		return []keptExpr{{host: h, expr: at.Expr, what: "teardown.run", want: cty.List(cty.String)}}, diags
	}
	return nil, diags
}

// dynamicRefs tells whether expr needs a host instance to be evaluated.
func dynamicRefs(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		switch tr.RootName() {
		case "host", "self", "count", "each":
			return true
		}
	}
	return false
}

func (l *loader) decodeConnection(h *Host, b *hcl.Block) ([]keptExpr, hcl.Diagnostics) {
	c := &Connection{DeclRange: b.DefRange, Exprs: map[string]hcl.Expression{}}
	h.Connection = c
	schema := &hcl.BodySchema{}
	for _, n := range connectionAttrs {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, diags := b.Body.Content(schema)
	var kept []keptExpr
	static := &hcl.BodyContent{Attributes: hcl.Attributes{}}
	for name, at := range content.Attributes {
		c.Exprs[name] = at.Expr
		if dynamicRefs(at.Expr) {
			want := cty.String
			switch name {
			case "port":
				want = cty.Number
			case "agent":
				want = cty.Bool
			}
			kept = append(kept, keptExpr{host: h, expr: at.Expr, what: "connection." + name, want: want, sensitiveOK: name == "password"})
			continue
		}
		static.Attributes[name] = at
	}
	diags = append(diags, fillConnection(c, &attrs{l: l, content: static, block: "connection"})...)
	return kept, diags
}

// fillConnection decodes the attributes a holds into c.
func fillConnection(c *Connection, a *attrs) hcl.Diagnostics {
	a.str("user", &c.User, false)
	a.integer("port", &c.Port, 0)
	a.str("password", &c.Password, true)
	a.str("private_key_file", &c.PrivateKeyFile, false)
	a.str("known_hosts_file", &c.KnownHostsFile, false)
	a.boolPtr("agent", &c.Agent)
	a.str("bastion", &c.Bastion, false)
	a.duration("timeout", &c.Timeout)
	return a.diags
}

// checkHostRefs checks host.NAME references in kept expressions, fills
// DependsOn and refuses self-references and cycles.
func (l *loader) checkHostRefs(kept []keptExpr, hosts map[string]*Host) hcl.Diagnostics {
	var diags hcl.Diagnostics
	refs := map[string][]hostRef{}
	for _, k := range kept {
		for _, tr := range k.expr.Variables() {
			if tr.RootName() != "host" {
				continue
			}
			name, ok := refName(tr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid host reference",
					Detail:   "A host reference has the form host.NAME[INDEX].ATTRIBUTE.",
					Subject:  tr.SourceRange().Ptr(),
				})
				continue
			}
			if _, ok := hosts[name]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared host",
					Detail:   fmt.Sprintf("There is no host %q in this manifest.%s", name, didYouMean(name, sortedKeys(hosts))),
					Subject:  tr.SourceRange().Ptr(),
				})
				continue
			}
			if name == k.host.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Self-referential host",
					Detail:   fmt.Sprintf("The host %q refers to itself; use self.ATTRIBUTE for the instance being set up.", name),
					Subject:  tr.SourceRange().Ptr(),
				})
				continue
			}
			refs[k.host.Name] = append(refs[k.host.Name], hostRef{to: name, rng: tr.SourceRange()})
		}
	}
	for _, h := range l.cfg.Hosts {
		seen := map[string]bool{}
		for _, r := range refs[h.Name] {
			if !seen[r.to] {
				seen[r.to] = true
				h.DependsOn = append(h.DependsOn, r.to)
			}
		}
		sort.Strings(h.DependsOn)
	}
	l.hostRefs = refs
	return append(diags, findCycles(l.cfg.Hosts, refs)...)
}

// refName is NAME of host.NAME or host["NAME"].
func refName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	switch s := tr[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// findCycles reports each cycle once, at the reference that closes it,
// citing the reference that opened it.
func findCycles(hosts []*Host, refs map[string][]hostRef) hcl.Diagnostics {
	var diags hcl.Diagnostics
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	type step struct {
		host string
		ref  hostRef
	}
	var path []step
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		for _, r := range refs[name] {
			switch state[r.to] {
			case visiting:
				i := 0
				for i < len(path) && path[i].host != r.to {
					i++
				}
				chain := []string{}
				var first hostRef = r
				if i < len(path) {
					first = path[i].ref
				}
				for _, s := range path[i:] {
					chain = append(chain, "host."+s.host)
				}
				chain = append(chain, "host."+name, "host."+r.to)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Dependency cycle between hosts",
					Detail: fmt.Sprintf("The hosts refer to each other in a cycle (%s): the reference at %s and this one wait for each other, so no host could start.",
						strings.Join(chain, " → "), rangeAt(first.rng)),
					Subject: r.rng.Ptr(),
				})
			case 0:
				path = append(path, step{host: name, ref: r})
				visit(r.to)
				path = path[:len(path)-1]
			}
		}
		state[name] = done
	}
	for _, h := range hosts {
		if state[h.Name] == 0 {
			visit(h.Name)
		}
	}
	return diags
}

// checkKept evaluates kept expressions with unknown hosts, so that a bad
// function call, an unknown variable or a sensitive value is found at
// validate time rather than halfway through an apply.
func (l *loader) checkKept(kept []keptExpr) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{
		"self":  cty.DynamicVal,
		"host":  cty.ObjectVal(l.unknownHosts(cty.DynamicVal)),
		"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)}),
	}
	for _, k := range kept {
		if k.refsOnly {
			if refersTo(k.expr, "action") {
				diags = append(diags, checkRefsExcept(k.expr, k.what, ctx)...)
			}
			continue
		}
		kctx := ctx
		if k.host != nil && k.host.ForEach {
			kctx = ctx.NewChild()
			kctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
				"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal,
			})}
		} else if d := checkRefsExcept(k.expr, k.what, ctx); refersTo(k.expr, "each") || refersTo(k.expr, "action") {
			diags = append(diags, d...)
			continue
		}
		diags = append(diags, checkValue(k, kctx)...)
	}
	return diags
}

// refersTo tells whether expr refers to the root variable name.
func refersTo(expr hcl.Expression, name string) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == name {
			return true
		}
	}
	return false
}

// unknownHosts are the host blocks for checking expressions: each a tuple
// of count unknown instances, so that host.NAME[INDEX] past the count is
// an error at validate time, at the index.
func (l *loader) unknownHosts(inst cty.Value) map[string]cty.Value {
	hosts := map[string]cty.Value{}
	for _, h := range l.cfg.Hosts {
		if h.ForEach {
			insts := map[string]cty.Value{}
			for _, in := range h.Instances {
				insts[in.Key] = inst
			}
			hosts[h.Name] = cty.ObjectVal(insts)
			continue
		}
		insts := make([]cty.Value, h.Count)
		for i := range insts {
			insts[i] = inst
		}
		hosts[h.Name] = cty.TupleVal(insts)
	}
	return hosts
}

func checkValue(k keptExpr, ctx *hcl.EvalContext) hcl.Diagnostics {
	v, diags := k.expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	if !k.sensitiveOK {
		if d := sensitiveDiag(v, k.what, "would be shown in logs and events", k.expr.Range()); d != nil {
			return append(diags, d)
		}
	}
	v, _ = v.UnmarkDeep()
	if _, err := convert.Convert(v, k.want); err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + k.what,
			Detail:   fmt.Sprintf("A %s is required: %s.", k.want.FriendlyName(), err),
			Subject:  k.expr.Range().Ptr(),
		})
	}
	return diags
}
