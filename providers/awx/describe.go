package awx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/labbroker/broker/providers"
)

// Listings offered by Describe.
var listings = []string{"workflows", "job_templates", "inventories", "templates", "flavors"}

type surveyQuestion struct {
	Variable    string `json:"variable"`
	Name        string `json:"question_name"`
	Description string `json:"question_description"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Default     any    `json:"default"`
	Choices     any    `json:"choices"` // a newline-separated string or a list
}

func (q surveyQuestion) choices() []string {
	switch c := q.Choices.(type) {
	case string:
		var out []string
		for _, s := range strings.Split(c, "\n") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []any:
		var out []string
		for _, s := range c {
			out = append(out, asString(s))
		}
		return out
	}
	return nil
}

func (c *client) survey(ctx context.Context, t *templateInfo) ([]surveyQuestion, error) {
	if !t.SurveyEnabled {
		return nil, nil
	}
	p := t.Related.SurveySpec
	if p == "" {
		p = fmt.Sprintf("%s%d/survey_spec/", templatePath(t.kind()), t.ID)
	}
	var spec struct {
		Spec []surveyQuestion `json:"spec"`
	}
	if err := c.do(ctx, http.MethodGet, p, nil, &spec, reqOpts{}); err != nil {
		return nil, fmt.Errorf("awx: survey of %q: %w", t.Name, err)
	}
	return spec.Spec, nil
}

func templateVars(t *templateInfo) map[string]any {
	return parseVars(t.ExtraVars)
}

func surveyType(t string) string {
	switch t {
	case "integer", "float":
		return "number"
	case "multiselect":
		return "list(string)"
	case "":
		return "string"
	}
	return "string"
}

// argHelp documents a template's arguments: survey questions first, then
// extra vars the survey does not ask.
func argHelp(survey []surveyQuestion, vars map[string]any) []providers.ArgHelp {
	var out []providers.ArgHelp
	seen := map[string]bool{}
	for _, q := range survey {
		seen[q.Variable] = true
		desc := q.Name
		if q.Description != "" && q.Description != q.Name {
			if desc != "" {
				desc += ": "
			}
			desc += q.Description
		}
		if ch := q.choices(); len(ch) > 0 {
			desc += " (one of " + strings.Join(ch, ", ") + ")"
		}
		def := asString(q.Default)
		if def == "" {
			def = asString(vars[q.Variable])
		}
		out = append(out, providers.ArgHelp{Name: q.Variable, Type: surveyType(q.Type), Required: q.Required && def == "", Default: def, Description: strings.TrimSpace(desc)})
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		def := vars[k]
		s := asString(def)
		if _, ok := def.(string); !ok && def != nil {
			if b, err := json.Marshal(def); err == nil {
				s = string(b)
			}
		}
		out = append(out, providers.ArgHelp{Name: k, Type: jsonType(def), Default: s, Description: "extra var"})
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case float64, int:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return "string"
}

// Describe tells what the provider does; with a Listing (workflows,
// job_templates, inventories, templates) it lists those; with an Item
// (Listing "workflow", "job_template" or "inventory") it shows one, with a
// template's survey and extra vars as the action's ArgHelp.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	listing := strings.ToLower(strings.ReplaceAll(req.Listing, "-", "_"))
	if req.Item != "" {
		switch listing {
		case "workflow", "workflows", "":
			return p.describeTemplate(ctx, KindWorkflow, req.Item)
		case "job_template", "job_templates":
			return p.describeTemplate(ctx, KindJobTemplate, req.Item)
		case "inventory", "inventories":
			return p.describeInventory(ctx, req.Item)
		}
		return providers.DescribeResponse{}, fmt.Errorf("awx: no listing %q: %w", req.Listing, providers.ErrNotSupported)
	}
	if listing == "" {
		return p.summary(), nil
	}
	resp, err := p.listing(ctx, listing, req.Listing)
	if err != nil {
		return resp, err
	}
	// The Python broker's --results-filter, then --results-limit (else
	// the setting results_limit).
	if resp.Items, err = providers.SelectQuery(resp.Items, req.Query, int(p.s.ResultsLimit)); err != nil {
		return providers.DescribeResponse{}, err
	}
	resp.Selected = true
	return resp, nil
}

// listing lists workflows, job templates, inventories, or the names a
// listing workflow reports (templates: list-templates, flavors:
// list-flavors), as the Python broker's provider_help.
func (p *Provider) listing(ctx context.Context, listing, asked string) (providers.DescribeResponse, error) {
	switch listing {
	case "workflows", "workflow":
		return p.listTemplates(ctx, KindWorkflow)
	case "job_templates", "job_template":
		return p.listTemplates(ctx, KindJobTemplate)
	case "inventories", "inventory":
		invs, err := listAll[inventoryInfo](ctx, p.c, "inventories/", nil, 0, reqOpts{})
		if err != nil {
			return providers.DescribeResponse{}, fmt.Errorf("awx: list inventories: %w", err)
		}
		resp := providers.DescribeResponse{Summary: "inventories", Listings: listings}
		for _, in := range invs {
			if in.Kind != "" {
				continue // smart and constructed inventories are not launch targets
			}
			resp.Items = append(resp.Items, providers.Item{Name: in.Name, Description: in.Description,
				Detail: map[string]any{"id": float64(in.ID), "total_hosts": float64(in.TotalHosts)}})
		}
		return resp, nil
	case "templates", "flavors":
		workflow, key := "list-"+listing, "list_"+listing
		res, err := p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": workflow}, Artifacts: ArtifactsLast})
		if err != nil {
			return providers.DescribeResponse{}, fmt.Errorf("awx: list %s (workflow %s): %w", listing, workflow, err)
		}
		m, _ := res.Result.(map[string]any)
		do, _ := m["data_out"].(map[string]any)
		var names []string
		for _, v := range asList(do[key]) {
			if s := asString(v); s != "" && !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
		if listing == "templates" {
			sort.Sort(sort.Reverse(sort.StringSlice(names)))
		}
		resp := providers.DescribeResponse{Summary: listing, Listings: listings}
		for _, n := range names {
			resp.Items = append(resp.Items, providers.Item{Name: n})
		}
		return resp, nil
	}
	return providers.DescribeResponse{}, fmt.Errorf("awx: no listing %q (have %s): %w", asked, strings.Join(listings, ", "), providers.ErrNotSupported)
}

func (p *Provider) summary() providers.DescribeResponse {
	control := providers.HelpOf(ArgsSchema)
	for i := range control {
		if control[i].Name == "inventory" {
			control[i].Default = p.s.Inventory
		}
	}
	return providers.DescribeResponse{
		Summary: fmt.Sprintf("AWX at %s (API %s); other arguments are passed as extra vars", p.c.base, p.c.prefix),
		Actions: []providers.Action{
			{Name: "checkout", Summary: "launch a workflow or job template and make hosts from its artifacts", Args: control},
			{Name: "checkin", Summary: fmt.Sprintf("run the release workflow %q with source_vm", p.s.ReleaseWorkflow)},
			{Name: "extend", Summary: fmt.Sprintf("run the extend workflow %q with target_vm", p.s.ExtendWorkflow),
				Args: []providers.ArgHelp{{Name: "new_expire_time", Type: "string", Default: p.s.NewExpireTime, Description: "+seconds or a timestamp"}}},
			{Name: "execute", Summary: "launch a workflow or job template and return its artifacts", Args: control},
			{Name: "sync", Summary: "list the hosts of the inventories named after the user (@ll: all)"},
		},
		Listings: listings,
	}
}

// listTemplates lists the templates the user may launch.
func (p *Provider) listTemplates(ctx context.Context, kind string) (providers.DescribeResponse, error) {
	ts, err := listAll[templateInfo](ctx, p.c, templatePath(kind), nil, 0, reqOpts{})
	if err != nil {
		return providers.DescribeResponse{}, fmt.Errorf("awx: list %ss: %w", kindLabel(kind), err)
	}
	resp := providers.DescribeResponse{Summary: kindLabel(kind) + "s", Listings: listings}
	for _, t := range ts {
		if !t.SummaryFields.UserCapabilities["start"] {
			continue
		}
		resp.Items = append(resp.Items, providers.Item{Name: t.Name, Description: t.Description, Detail: map[string]any{"id": float64(t.ID)}})
	}
	sort.Slice(resp.Items, func(i, j int) bool { return resp.Items[i].Name < resp.Items[j].Name })
	return resp, nil
}

func (p *Provider) inventoryName(ctx context.Context, id *int) string {
	if id == nil {
		return ""
	}
	var in inventoryInfo
	if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("inventories/%d/", *id), nil, &in, reqOpts{}); err != nil {
		return fmt.Sprint(*id)
	}
	return in.Name
}

func (p *Provider) describeTemplate(ctx context.Context, kind, name string) (providers.DescribeResponse, error) {
	t, err := p.c.findTemplate(ctx, kind, name)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	survey, err := p.c.survey(ctx, t)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	vars := templateVars(t)
	help := argHelp(survey, vars)
	inv := p.inventoryName(ctx, t.Inventory)
	detail := map[string]any{
		"name": t.Name, "description": t.Description, "inventory": inv, "extra_vars": vars,
		"can_launch": t.SummaryFields.UserCapabilities["start"],
	}
	if len(survey) > 0 {
		var qs []any
		for _, q := range survey {
			qs = append(qs, map[string]any{"variable": q.Variable, "question": q.Name, "type": q.Type, "required": q.Required, "default": q.Default, "choices": q.choices()})
		}
		detail["survey"] = qs
	}
	return providers.DescribeResponse{
		Summary:  fmt.Sprintf("%s %q: %s", kindLabel(kind), t.Name, t.Description),
		Actions:  []providers.Action{{Name: kind, Summary: t.Description, Args: help}},
		Listings: listings,
		Detail:   detail,
	}, nil
}

func (p *Provider) describeInventory(ctx context.Context, name string) (providers.DescribeResponse, error) {
	id, _, err := p.c.inventoryID(ctx, name)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	var in inventoryInfo
	if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("inventories/%d/", id), nil, &in, reqOpts{}); err != nil {
		return providers.DescribeResponse{}, fmt.Errorf("awx: inventory %q: %w", name, err)
	}
	return providers.DescribeResponse{
		Summary:  fmt.Sprintf("inventory %q: %s", in.Name, in.Description),
		Listings: listings,
		Detail:   map[string]any{"id": float64(in.ID), "name": in.Name, "description": in.Description, "total_hosts": float64(in.TotalHosts)},
	}, nil
}

// ValidateArgs warns about args the target template does not declare in its
// survey or extra vars, and about required survey questions left out. It
// returns warnings, never an error: a template may read vars it does not
// declare.
func (p *Provider) ValidateArgs(ctx context.Context, args map[string]any) []string {
	kind, name, err := target(args)
	if err != nil {
		return []string{err.Error()}
	}
	t, err := p.c.findTemplate(ctx, kind, name)
	if errors.Is(err, ErrNotFound) {
		return []string{fmt.Sprintf("%s %q not found on %s", kindLabel(kind), name, p.c.base)}
	}
	if err != nil {
		return []string{fmt.Sprintf("cannot check the arguments of %s %q: %v", kindLabel(kind), name, err)}
	}
	survey, err := p.c.survey(ctx, t)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the survey of %s %q: %v", kindLabel(kind), name, err)}
	}
	vars := templateVars(t)
	declared := map[string]bool{}
	for k := range vars {
		declared[k] = true
	}
	for _, q := range survey {
		declared[q.Variable] = true
	}
	var warnings []string
	if len(declared) > 0 {
		known := slices.Sorted(func(yield func(string) bool) {
			for k := range declared {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range args {
				if !yield(k) {
					return
				}
			}
		}) {
			if controlArgs[k] || declared[k] || strings.HasPrefix(k, "_broker_") {
				continue
			}
			warnings = append(warnings, fmt.Sprintf("argument %q is not declared by %s %q (it declares %s)", k, kindLabel(kind), name, strings.Join(known, ", ")))
		}
	}
	for _, q := range survey {
		if !q.Required {
			continue
		}
		if _, ok := args[q.Variable]; ok {
			continue
		}
		if asString(q.Default) == "" && asString(vars[q.Variable]) == "" {
			warnings = append(warnings, fmt.Sprintf("%s %q requires argument %q (%s)", kindLabel(kind), name, q.Variable, q.Name))
		}
	}
	for _, q := range survey {
		v, ok := args[q.Variable]
		ch := q.choices()
		if !ok || len(ch) == 0 || q.Type != "multiplechoice" {
			continue
		}
		if s := asString(v); !slices.Contains(ch, s) {
			warnings = append(warnings, fmt.Sprintf("argument %q = %q is not one of %s's choices (%s)", q.Variable, s, name, strings.Join(ch, ", ")))
		}
	}
	return warnings
}
