package views

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/labbroker/broker/planner"
)

// PlanView renders a plan.
type PlanView interface {
	Plan(p *planner.Plan) error
}

// NewPlanHuman renders plans for a terminal, Terraform-style: a legend,
// one block per change with its attributes and reason, then a summary.
// With color false the output has no escape codes at all.
func NewPlanHuman(w io.Writer, color bool) PlanView {
	return &planHuman{w: w, p: painter(color)}
}

// NewPlanJSON renders a plan as one JSON document (the planner's
// encoding, the same as a saved plan's "plan").
func NewPlanJSON(w io.Writer) PlanView { return &planJSON{w: w} }

type planJSON struct{ w io.Writer }

func (v *planJSON) Plan(p *planner.Plan) error {
	enc := json.NewEncoder(v.w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

type planHuman struct {
	w io.Writer
	p painter
}

var actionColor = map[planner.Action]string{
	planner.Create:  green,
	planner.Extend:  yellow,
	planner.Destroy: red,
	planner.Replace: magenta,
	planner.Run:     cyan,
}

var legendText = map[planner.Action]string{
	planner.Create:  "check out",
	planner.Extend:  "extend the lease",
	planner.Destroy: "check in",
	planner.Replace: "check in, then check out again",
	planner.Run:     "run an action",
}

var legendOrder = []planner.Action{planner.Create, planner.Extend, planner.Replace, planner.Destroy, planner.Run}

func (v *planHuman) symbol(a planner.Action) string {
	return v.p.paint(actionColor[a], fmt.Sprintf("%3s", a.Symbol()))
}

func (v *planHuman) Plan(p *planner.Plan) error {
	bw := bufio.NewWriter(v.w)
	counts := p.Counts()
	labels, recipes := 0, 0
	for _, c := range p.Changes {
		if c.UpdateLabels {
			labels++
		}
		if c.UpdateRecipe {
			recipes++
		}
	}
	if !p.HasChanges() {
		fmt.Fprintf(bw, "%s Environment %q matches the manifest.\n", v.p.paint(bold, "No changes."), p.Environment)
		if labels > 0 {
			fmt.Fprintf(bw, "Labels of %s will be updated in the state.\n", plural(labels, "host", "hosts"))
		}
		if recipes > 0 {
			fmt.Fprintf(bw, "Arguments taken in place of %s will be updated in the state.\n", plural(recipes, "host", "hosts"))
		}
		return bw.Flush()
	}

	fmt.Fprintf(bw, "broker will make these changes to environment %q:\n", p.Environment)
	for _, a := range legendOrder {
		if counts[a] > 0 {
			fmt.Fprintf(bw, "  %s %s\n", v.symbol(a), legendText[a])
		}
	}
	for _, c := range p.Changes {
		if c.Action == planner.NoOp {
			continue
		}
		bw.WriteString("\n")
		v.change(bw, c)
	}
	bw.WriteString("\n")
	runs := ""
	if n := counts[planner.Run]; n > 0 {
		runs = fmt.Sprintf(", %s to run", plural(n, "action", "actions"))
	}
	fmt.Fprintf(bw, "%s %d to check out, %d to extend, %d to check in, %d to replace%s.\n",
		v.p.paint(bold, "Plan:"), counts[planner.Create], counts[planner.Extend], counts[planner.Destroy], counts[planner.Replace], runs)
	if labels > 0 {
		fmt.Fprintf(bw, "Labels of %s will be updated in the state.\n", plural(labels, "host", "hosts"))
	}
	return bw.Flush()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// attr is one `key = value` line of a change.
type attr struct{ key, val string }

func (v *planHuman) change(w *bufio.Writer, c planner.Change) {
	title := c.Address
	if title == "" && c.Before != nil {
		title = c.Before.ID
	}
	if c.Act != nil {
		title = "run " + title
	}
	fmt.Fprintf(w, "%s %s\n", v.symbol(c.Action), v.p.paint(bold, title))
	var attrs []attr
	switch c.Action {
	case planner.Run:
		attrs = actionAttrs(c.Act)
	case planner.Create:
		attrs = desiredAttrs(c.After)
		if c.Resume != nil {
			attrs = append(attrs, attr{"resume", fmt.Sprintf("%q", c.Resume.ID)})
		}
	case planner.Extend:
		if c.Before != nil {
			attrs = append(attrs, recordAttrs(c)...)
		}
		if c.After != nil {
			attrs = append(attrs, attr{"lease", hclValue(c.After.Lease)})
		}
	case planner.Replace:
		attrs = replaceAttrs(c)
	case planner.Destroy:
		if c.Before != nil {
			attrs = recordAttrs(c)
		} else if c.Resume != nil {
			attrs = []attr{
				{"provider", fmt.Sprintf("%q", c.Resume.Provider+"."+c.Resume.Instance)},
				{"intent", fmt.Sprintf("%q", c.Resume.ID)},
			}
			if c.Resume.ProviderID != "" {
				attrs = append(attrs, attr{"provider_id", fmt.Sprintf("%q", c.Resume.ProviderID)})
			}
		}
	}
	if c.UpdateLabels && c.After != nil && c.Before != nil && c.Action != planner.Create {
		attrs = append(attrs, attr{"labels", hclValue(c.Before.Labels) + " -> " + hclValue(c.After.Labels)})
	}
	if len(c.DependsOn) > 0 {
		attrs = append(attrs, attr{"depends_on", hclValue(c.DependsOn)})
	}
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.key))
	}
	for _, a := range attrs {
		fmt.Fprintf(w, "        %-*s = %s\n", width, a.key, a.val)
	}
	if r := ReasonText(c.Reason); r != "" {
		fmt.Fprintf(w, "        # %s\n", r)
	}
}

func desiredAttrs(d *planner.Desired) []attr {
	if d == nil {
		return nil
	}
	as := []attr{{"provider", fmt.Sprintf("%q", d.Provider+"."+d.Instance)}}
	if d.Nick != "" {
		as = append(as, attr{"nick", fmt.Sprintf("%q", d.Nick)})
	}
	keys := sortedKeys(d.Args)
	unknown := map[string]bool{}
	for _, u := range d.Unknown {
		if k, ok := strings.CutPrefix(u, "args."); ok {
			keys = append(keys, k)
			unknown[k] = true
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if unknown[k] {
			as = append(as, attr{argKey(k), knownAfter})
			continue
		}
		as = append(as, attr{argKey(k), hclValue(d.Args[k])})
	}
	if slices.Contains(d.Unknown, "args") {
		as = append(as, attr{"args", knownAfter})
	}
	if d.Lease > 0 {
		as = append(as, attr{"lease", hclValue(d.Lease)})
	}
	if len(d.Labels) > 0 {
		as = append(as, attr{"labels", hclValue(d.Labels)})
	}
	for _, u := range d.Unknown {
		if strings.HasPrefix(u, "labels") {
			as = append(as, attr{u, knownAfter})
		}
	}
	return as
}

// knownAfter stands for a value that refers to a host not checked out
// yet.
const knownAfter = "(known after checkout)"

// actionAttrs shows what an action runs.
func actionAttrs(r *planner.ActionRun) []attr {
	if r == nil {
		return nil
	}
	var as []attr
	if r.Provider != "" {
		as = append(as, attr{"provider", fmt.Sprintf("%q", r.Provider+"."+r.Instance)})
	}
	if r.OnDestroy {
		as = append(as, attr{"step", `"on_destroy"`})
	}
	for _, k := range sortedKeys(r.Step.Args) {
		as = append(as, attr{argKey(k), hclValue(r.Step.Args[k])})
	}
	if r.Step.Command != nil {
		as = append(as, attr{"command", hclValue(r.Step.Command)})
	}
	if r.Step.Local != nil {
		as = append(as, attr{"local", hclValue(r.Step.Local)})
	}
	for _, u := range r.Unknown {
		as = append(as, attr{u, knownAfter})
	}
	return as
}

// recordAttrs names the host being changed: what a person recognises.
func recordAttrs(c planner.Change) []attr {
	r := c.Before
	as := []attr{{"provider", fmt.Sprintf("%q", r.Provider+"."+r.Instance)}}
	if r.Hostname != "" {
		as = append(as, attr{"hostname", fmt.Sprintf("%q", r.Hostname)})
	}
	if r.ProviderID != "" {
		as = append(as, attr{"provider_id", fmt.Sprintf("%q", r.ProviderID)})
	}
	return as
}

// replaceAttrs shows what changes: provider, instance and the arguments
// that differ, old -> new.
func replaceAttrs(c planner.Change) []attr {
	as := recordAttrs(c)
	if c.After == nil {
		return as
	}
	r, d := c.Before, c.After
	if r.Provider != d.Provider || r.Instance != d.Instance {
		as[0].val = fmt.Sprintf("%q -> %q", r.Provider+"."+r.Instance, d.Provider+"."+d.Instance)
	}
	keys := planner.ChangedKeys(r.Recipe, d.Args)
	slices.Sort(keys)
	for _, k := range keys {
		old, ok := r.Recipe[k]
		ov := hclValue(old)
		if !ok {
			ov = "(none)"
		}
		nv, ok := d.Args[k]
		nvs := hclValue(nv)
		switch {
		case slices.Contains(d.Unknown, "args."+k) || slices.Contains(d.Unknown, "args"):
			nvs = knownAfter
		case !ok:
			nvs = "(none)"
		}
		as = append(as, attr{argKey(k), ov + " -> " + nvs})
	}
	return as
}

// used by tests to check for stray escape codes
func hasEscape(s string) bool { return strings.ContainsRune(s, '\x1b') }

// argKey is args.KEY, or args["KEY"] when KEY is not an identifier.
func argKey(k string) string {
	if q := hclKey(k); q != k {
		return "args[" + q + "]"
	}
	return "args." + k
}
