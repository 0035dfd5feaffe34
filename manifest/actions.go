package manifest

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Action is an action block: something an apply does that makes no host
// (an AWX workflow or job template, a command in a one-off container, a
// command on the runner), after the hosts it refers to are ready. Its
// inputs are kept as expressions and resolved by Config.ResolveAction.
type Action struct {
	Name string
	// Provider is the resolved "type.instance" of a provider that runs
	// actions; empty with Local.
	Provider, ProviderType, Instance string
	// Step is what runs on apply; OnDestroy (nil: nothing) runs when the
	// environment is destroyed, before the hosts it refers to go.
	Step      ActionStep
	OnDestroy *ActionStep
	// When, if set, is a condition: the action runs only where it holds.
	When hcl.Expression
	// Timeout bounds one attempt; 0: none.
	Timeout time.Duration
	// Attempts is how often the action is tried (at least 1), Delay the
	// wait between attempts.
	Attempts int
	Delay    time.Duration
	// DependsOn are the blocks its expressions refer to: "host.NAME" and
	// "action.NAME", sorted.
	DependsOn []string
	DeclRange hcl.Range
}

// ActionStep is what an action runs: provider args (and a command, for
// container providers), or a local command line.
type ActionStep struct {
	Args      hcl.Expression // object, or nil
	Command   hcl.Expression // list of strings, or nil
	Local     hcl.Expression // list of strings, or nil
	Artifacts string         // AWX: "", "last" or "merge"
	DeclRange hcl.Range
}

// ResolvedStep is an ActionStep evaluated: JSON-shaped args, command
// lines.
type ResolvedStep struct {
	Args      map[string]any `json:"args,omitempty"`
	Command   []string       `json:"command,omitempty"`
	Local     []string       `json:"local,omitempty"`
	Artifacts string         `json:"artifacts,omitempty"`
}

// Output is an output block: a value an apply saves for `broker output`.
type Output struct {
	Name        string
	Value       hcl.Expression
	Sensitive   bool
	Description string
	DeclRange   hcl.Range
}

// ActionValues is what expressions read of an action that ran:
// action.NAME.result (the provider's result: AWX artifacts, a command's
// stdout) and action.NAME.status (exit status).
type ActionValues map[string]any

// UnknownAction stands for an action that runs in this apply: what reads
// it is known only then.
func UnknownAction() ActionValues { return ActionValues{unknownMark: true} }

var actionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "provider"}, {Name: "args"}, {Name: "command"}, {Name: "local"}, {Name: "artifacts"},
		{Name: "when"}, {Name: "timeout"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retry"}, {Type: "on_destroy"}},
}

var stepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "args"}, {Name: "command"}, {Name: "local"}, {Name: "artifacts"}},
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "attempts"}, {Name: "delay"}},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}, {Name: "sensitive"}, {Name: "description"}},
}

// blockRef is one host.NAME or action.NAME reference.
type blockRef struct {
	to  string // "host.NAME" or "action.NAME"
	rng hcl.Range
}

func (l *loader) decodeActions(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Action{}
	for _, b := range blocks {
		a := &Action{Name: b.Labels[0], Attempts: 1, DeclRange: b.DefRange}
		if !hclsyntax.ValidIdentifier(a.Name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid action name",
				Detail:   "An action name must be an identifier (letters, digits, underscores and dashes), as it is used in action.NAME references.",
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if first, ok := seen[a.Name]; ok {
			diags = append(diags, duplicate("action", a.Name, first.DeclRange, b.DefRange))
			continue
		}
		seen[a.Name] = a
		content, d := b.Body.Content(actionSchema)
		diags = append(diags, d...)
		if content == nil {
			continue
		}
		diags = append(diags, l.decodeAction(a, b, content)...)
		l.cfg.Actions = append(l.cfg.Actions, a)
	}
	return diags
}

func (l *loader) decodeAction(a *Action, b *hcl.Block, content *hcl.BodyContent) hcl.Diagnostics {
	at := &attrs{l: l, content: content, block: "action"}
	for _, name := range []string{"provider", "timeout", "artifacts"} {
		if x, ok := content.Attributes[name]; ok {
			at.diags = append(at.diags, checkStaticRefs(x.Expr, name)...)
		}
	}
	var providerRef string
	at.str("provider", &providerRef, false)
	at.duration("timeout", &a.Timeout)
	diags := at.diags
	if x, ok := content.Attributes["provider"]; ok && providerRef != "" {
		p, d := l.resolveProvider(providerRef, x.Expr.Range())
		diags = append(diags, d...)
		if p != nil {
			a.Provider = p.Ref()
			a.ProviderType, a.Instance = p.Type, p.Instance
		}
	}
	a.Step, diags = l.decodeStep(a, content, b.DefRange, false, diags)
	if x, ok := content.Attributes["when"]; ok {
		a.When = x.Expr
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "retry":
			rc, d := blk.Body.Content(retrySchema)
			diags = append(diags, d...)
			ra := &attrs{l: l, content: rc, block: "retry"}
			ra.integer("attempts", &a.Attempts, 1)
			ra.duration("delay", &a.Delay)
			diags = append(diags, ra.diags...)
		case "on_destroy":
			if a.OnDestroy != nil {
				diags = append(diags, duplicate("on_destroy", a.Name, a.OnDestroy.DeclRange, blk.DefRange))
				continue
			}
			sc, d := blk.Body.Content(stepSchema)
			diags = append(diags, d...)
			var s ActionStep
			s, diags = l.decodeStep(a, sc, blk.DefRange, true, diags)
			a.OnDestroy = &s
		}
	}
	return diags
}

// decodeStep reads args, command, local and artifacts, and checks that
// the step says what to run with what. An on_destroy step may run a local
// command though its action has a provider.
func (l *loader) decodeStep(a *Action, content *hcl.BodyContent, rng hcl.Range, onDestroy bool, diags hcl.Diagnostics) (ActionStep, hcl.Diagnostics) {
	s := ActionStep{DeclRange: rng}
	if x, ok := content.Attributes["args"]; ok {
		s.Args = x.Expr
	}
	if x, ok := content.Attributes["command"]; ok {
		s.Command = x.Expr
	}
	if x, ok := content.Attributes["local"]; ok {
		s.Local = x.Expr
	}
	at := &attrs{l: l, content: content, block: "action"}
	at.oneOf("artifacts", &s.Artifacts, "last", "merge")
	diags = append(diags, at.diags...)
	fail := func(detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid action", Detail: detail, Subject: rng.Ptr()})
	}
	switch {
	case s.Local != nil && a.Provider != "" && !onDestroy:
		fail(fmt.Sprintf("The action %q has both a provider and local: local = [ … ] runs on the runner, without a provider.", a.Name))
	case s.Local == nil && a.Provider == "" && !diags.HasErrors():
		fail(fmt.Sprintf("The action %q needs provider = \"type.instance\" (with args or command) or local = [ … ].", a.Name))
	case s.Local != nil && (s.Args != nil || s.Command != nil):
		fail(fmt.Sprintf("The action %q runs a local command: args and command are for a provider.", a.Name))
	}
	return s, diags
}

func (l *loader) decodeOutputs(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Output{}
	for _, b := range blocks {
		o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
		if first, ok := seen[o.Name]; ok {
			diags = append(diags, duplicate("output", o.Name, first.DeclRange, b.DefRange))
			continue
		}
		seen[o.Name] = o
		content, d := b.Body.Content(outputSchema)
		diags = append(diags, d...)
		if content == nil {
			continue
		}
		a := &attrs{l: l, content: content, block: "output"}
		a.boolean("sensitive", &o.Sensitive)
		a.str("description", &o.Description, false)
		diags = append(diags, a.diags...)
		if x, ok := content.Attributes["value"]; ok {
			o.Value = x.Expr
		}
		l.cfg.Outputs = append(l.cfg.Outputs, o)
	}
	return diags
}

// checkActionsAndOutputs checks the references of actions and outputs
// (to hosts and actions that exist, without cycles between actions),
// fills Action.DependsOn, and evaluates every expression with the hosts
// and actions unknown.
func (l *loader) checkActionsAndOutputs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	hosts := map[string]bool{}
	for _, h := range l.cfg.Hosts {
		hosts[h.Name] = true
	}
	actions := map[string]*Action{}
	for _, a := range l.cfg.Actions {
		actions[a.Name] = a
	}
	refs := map[string][]blockRef{}
	check := func(from string, exprs ...hcl.Expression) {
		for _, e := range exprs {
			if e == nil {
				continue
			}
			for _, tr := range e.Variables() {
				root := tr.RootName()
				if root != "host" && root != "action" {
					continue
				}
				name, ok := refName(tr)
				var known []string
				exists := false
				if root == "host" {
					exists, known = hosts[name], sortedKeys(hosts)
				} else {
					_, exists = actions[name]
					known = sortedKeys(actions)
				}
				switch {
				case !ok:
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + root + " reference",
						Detail: fmt.Sprintf("A reference has the form %s.NAME….", root), Subject: tr.SourceRange().Ptr()})
				case !exists:
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared " + root,
						Detail:  fmt.Sprintf("There is no %s %q in this manifest.%s", root, name, didYouMean(name, known)),
						Subject: tr.SourceRange().Ptr()})
				case from == "action."+name:
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Self-referential action",
						Detail: fmt.Sprintf("The action %q refers to its own result.", name), Subject: tr.SourceRange().Ptr()})
				case from != "":
					refs[from] = append(refs[from], blockRef{to: root + "." + name, rng: tr.SourceRange()})
				}
			}
		}
	}
	for _, a := range l.cfg.Actions {
		exprs := []hcl.Expression{a.When, a.Step.Args, a.Step.Command, a.Step.Local}
		if a.OnDestroy != nil {
			exprs = append(exprs, a.OnDestroy.Args, a.OnDestroy.Command, a.OnDestroy.Local)
		}
		check("action."+a.Name, exprs...)
		seen := map[string]bool{}
		for _, r := range refs["action."+a.Name] {
			if !seen[r.to] {
				seen[r.to] = true
				a.DependsOn = append(a.DependsOn, r.to)
			}
		}
		sort.Strings(a.DependsOn)
	}
	for _, o := range l.cfg.Outputs {
		check("", o.Value)
	}
	if diags.HasErrors() {
		return diags
	}
	diags = append(diags, actionCycles(l.cfg.Actions, refs)...)
	if diags.HasErrors() {
		return diags
	}
	ctx := l.valuesContext(cty.ObjectVal(l.unknownHosts(unknownHostValue())), l.unknownActions())
	for _, a := range l.cfg.Actions {
		if a.When != nil {
			diags = append(diags, checkValue(keptExpr{expr: a.When, what: "when", want: cty.Bool}, ctx)...)
		}
		for _, s := range []*ActionStep{&a.Step, a.OnDestroy} {
			if s == nil {
				continue
			}
			_, _, d := resolveStep(s, ctx)
			diags = append(diags, d...)
		}
	}
	for _, o := range l.cfg.Outputs {
		diags = append(diags, checkValue(keptExpr{expr: o.Value, what: "output " + o.Name, want: cty.DynamicPseudoType}, ctx)...)
	}
	return diags
}

// actionCycles reports actions that wait for each other.
func actionCycles(actions []*Action, refs map[string][]blockRef) hcl.Diagnostics {
	var diags hcl.Diagnostics
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = 1
		path = append(path, name)
		for _, r := range refs[name] {
			if !strings.HasPrefix(r.to, "action.") {
				continue
			}
			switch state[r.to] {
			case 1:
				i := 0
				for path[i] != r.to {
					i++
				}
				chain := append(append([]string{}, path[i:]...), r.to)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Dependency cycle between actions",
					Detail:   fmt.Sprintf("The actions refer to each other in a cycle (%s), so none could start.", strings.Join(chain, " → ")),
					Subject:  r.rng.Ptr(),
				})
			case 0:
				visit(r.to)
			}
		}
		path = path[:len(path)-1]
		state[name] = 2
	}
	for _, a := range actions {
		if state["action."+a.Name] == 0 {
			visit("action." + a.Name)
		}
	}
	return diags
}

func (l *loader) unknownActions() cty.Value {
	m := map[string]cty.Value{}
	for _, a := range l.cfg.Actions {
		m[a.Name] = actionValue(UnknownAction())
	}
	return cty.ObjectVal(m)
}

// valuesContext is the context of action and output expressions.
func (l *loader) valuesContext(hosts, actions cty.Value) *hcl.EvalContext {
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"host": hosts, "action": actions}
	return ctx
}

// actionValue is the object action.NAME.
func actionValue(v ActionValues) cty.Value {
	if _, ok := v[unknownMark]; ok {
		return cty.ObjectVal(map[string]cty.Value{"result": cty.DynamicVal, "status": cty.UnknownVal(cty.Number)})
	}
	res := cty.EmptyObjectVal
	if r, ok := v["result"]; ok && r != nil {
		res = FromGo(r)
	}
	status := cty.NumberIntVal(0)
	if s, ok := v["status"].(float64); ok {
		status = cty.NumberFloatVal(s)
	} else if s, ok := v["status"].(int); ok {
		status = cty.NumberIntVal(int64(s))
	}
	return cty.ObjectVal(map[string]cty.Value{"result": res, "status": status})
}

func actionsValue(actions map[string]ActionValues) cty.Value {
	m := map[string]cty.Value{}
	for k, v := range actions {
		m[k] = actionValue(v)
	}
	return cty.ObjectVal(m)
}

// resolveStep evaluates a step in ctx; unknown names what is not known
// yet ("args", "command", "local").
func resolveStep(s *ActionStep, ctx *hcl.EvalContext) (ResolvedStep, []string, hcl.Diagnostics) {
	out := ResolvedStep{Artifacts: s.Artifacts}
	var unknown []string
	var diags hcl.Diagnostics
	if s.Args != nil {
		v, d := s.Args.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if sd := sensitiveDiag(v, "action args", "would be shown in plans and logs", s.Args.Range()); sd != nil {
				return out, nil, append(diags, sd)
			}
			if v.IsKnown() && !v.IsNull() && (v.Type().IsObjectType() || v.Type().IsMapType()) && !v.IsWhollyKnown() {
				// Known keys are shown; the others are named.
				known := map[string]cty.Value{}
				for it := v.ElementIterator(); it.Next(); {
					k, e := it.Element()
					if e.IsWhollyKnown() {
						known[k.AsString()] = e
					} else {
						unknown = append(unknown, "args."+k.AsString())
					}
				}
				sort.Strings(unknown)
				v = cty.ObjectVal(known)
			}
			switch {
			case !v.IsWhollyKnown():
				unknown = append(unknown, "args")
			case v.IsNull():
			case !v.Type().IsObjectType() && !v.Type().IsMapType():
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid action args",
					Detail: fmt.Sprintf("The args must be an object such as { workflow = \"…\" }, not %s.", v.Type().FriendlyName()), Subject: s.Args.Range().Ptr()})
			default:
				g, err := toJSONShaped(v)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid action args", Detail: err.Error(), Subject: s.Args.Range().Ptr()})
				} else if m, ok := g.(map[string]any); ok {
					out.Args = m
				}
			}
		}
	}
	for _, x := range []struct {
		expr hcl.Expression
		name string
		dst  *[]string
	}{{s.Command, "command", &out.Command}, {s.Local, "local", &out.Local}} {
		if x.expr == nil {
			continue
		}
		v, d := x.expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if sd := sensitiveDiag(v, "action "+x.name, "would be shown in plans and logs", x.expr.Range()); sd != nil {
			diags = append(diags, sd)
			continue
		}
		if !v.IsWhollyKnown() {
			unknown = append(unknown, x.name)
			continue
		}
		cv, err := convert.Convert(v, cty.List(cty.String))
		if err != nil || cv.IsNull() {
			msg := "null"
			if err != nil {
				msg = err.Error()
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid action " + x.name,
				Detail: fmt.Sprintf("A list of strings is required: %s.", msg), Subject: x.expr.Range().Ptr()})
			continue
		}
		for it := cv.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid action " + x.name,
					Detail: "Items must not be null.", Subject: x.expr.Range().Ptr()})
				break
			}
			*x.dst = append(*x.dst, e.AsString())
		}
	}
	return out, unknown, diags
}

// ResolveAction evaluates an action's condition and step (OnDestroy when
// destroy is true) with the hosts and the results of other actions as
// they are. run is false when the condition is known and false. unknown
// names what is not known yet ("when", "args", "command", "local").
func (c *Config) ResolveAction(a *Action, destroy bool, hosts map[string][]HostValues, actions map[string]ActionValues) (step ResolvedStep, run bool, unknown []string, diags hcl.Diagnostics) {
	ctx := c.baseContext().NewChild()
	ctx.Variables = map[string]cty.Value{"host": cty.ObjectVal(hostsValue(hosts)), "action": actionsValue(actions)}
	run = true
	if a.When != nil {
		v, d := a.When.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return step, false, nil, diags
		}
		v, _ = v.UnmarkDeep()
		switch cv, err := convert.Convert(v, cty.Bool); {
		case err != nil || cv.IsNull():
			return step, false, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid when",
				Detail: "A bool is required.", Subject: a.When.Range().Ptr()})
		case !cv.IsKnown():
			unknown = append(unknown, "when")
		case cv.False():
			return step, false, nil, diags
		}
	}
	s := &a.Step
	if destroy {
		if a.OnDestroy == nil {
			return step, false, nil, diags
		}
		s = a.OnDestroy
	}
	step, u, d := resolveStep(s, ctx)
	return step, run, append(unknown, u...), append(diags, d...)
}

// ResolveOutput evaluates an output with the hosts and action results as
// recorded. The value is JSON-shaped; an unknown value is an error.
func (c *Config) ResolveOutput(o *Output, hosts map[string][]HostValues, actions map[string]ActionValues) (any, hcl.Diagnostics) {
	ctx := c.baseContext().NewChild()
	ctx.Variables = map[string]cty.Value{"host": cty.ObjectVal(hostsValue(hosts)), "action": actionsValue(actions)}
	v, diags := o.Value.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if d := sensitiveDiag(v, "output "+o.Name, "would be stored in state", o.Value.Range()); d != nil {
		return nil, append(diags, d)
	}
	if !v.IsWhollyKnown() {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown output value",
			Detail: fmt.Sprintf("The output %q refers to something not known yet.", o.Name), Subject: o.Value.Range().Ptr()})
	}
	g, err := toJSONShaped(v)
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid output value",
			Detail: err.Error(), Subject: o.Value.Range().Ptr()})
	}
	return g, diags
}

// Action finds an action block by name.
func (c *Config) Action(name string) *Action {
	for _, a := range c.Actions {
		if a.Name == name {
			return a
		}
	}
	return nil
}
