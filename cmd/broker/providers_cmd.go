package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/providers"
)

// ProvidersCmd lists providers, their actions and arguments.
type ProvidersCmd struct {
	Provider string   `placeholder:"TYPE[.INSTANCE]" help:"A provider (or alias, e.g. AnsibleTower) to describe."`
	JSON     bool     `name:"json" help:"Print the description as JSON."`
	File     string   `short:"f" placeholder:"PATH" help:"Manifest: list the provider instances it declares and uses (with the settings' ones), or describe a provider as the manifest configures it."`
	Rest     []string `arg:"" optional:"" passthrough:"" name:"provider-and-listing" help:"PROVIDER [--LISTING | --ITEM NAME] [--results-filter EXPR] [--results-limit N], e.g. AnsibleTower --workflows, AnsibleTower --workflow remove-vm."`
	// Set from Rest.
	resultsFilter string
	resultsLimit  string
}

// Help is shown by `broker providers --help`.
func (c *ProvidersCmd) Help() string {
	return `Without a provider: lists the provider types broker knows, with their
aliases. With one: what it can do and the arguments of its actions; a
listing flag asks the provider's service (AWX workflows, job templates,
inventories), an item flag describes one of them.

  broker providers
  broker providers -f lab.hcl
  broker providers AnsibleTower --help
  broker providers AnsibleTower --workflows
  broker providers AnsibleTower --workflow remove-vm
  broker providers awx.testing --job-templates
  broker providers AnsibleTower --templates --results-filter '"rhel-9" in @res'
  broker providers AnsibleTower --workflows --results-filter '@res[-1]' --results-limit 5
  broker providers docker
  broker providers Container --container-hosts
  broker providers Container --container-host broker-sshd:bookworm

--results-filter narrows a listing as the Python broker's does: stages
separated by |, each either a position (@res[-1], @res[:3], @res[::2]) or a
condition on each name ("rhel" in @res, @res.startswith("deploy"),
and/or/not); --results-limit N keeps the first N (AWX's default: the
results_limit setting, 0 for all).`
}

// Run describes.
func (c *ProvidersCmd) Run(g *Globals, ctx *interruptContext, kctx *kong.Context) error {
	r, err := parseRaw(c.Rest, []rawFlag{
		{names: []string{"--json"}, bool: true, set: setBool(&c.JSON)},
		{names: []string{"--provider"}, set: setString(&c.Provider)},
		{names: []string{"--file", "-f"}, set: setString(&c.File)},
		{names: []string{"--results-filter"}, set: setString(&c.resultsFilter)},
		{names: []string{"--results-limit"}, set: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Errorf("%q is not a whole number, 0 or more", v)
			}
			c.resultsLimit = v
			return nil
		}},
	})
	if err != nil {
		return err
	}
	if len(r.Positionals) > 0 && c.Provider == "" {
		c.Provider, r.Positionals = r.Positionals[0], r.Positionals[1:]
	}
	if len(r.Positionals) > 0 {
		return fmt.Errorf("unexpected argument %q", r.Positionals[0])
	}
	if c.Provider == "" {
		if r.Help {
			return kctx.PrintUsage(false)
		}
		if c.File != "" {
			return c.instances(ctx, g)
		}
		return c.list(g)
	}
	typ, inst, _ := cutType(c.Provider)
	t, ok := providers.Lookup(typ)
	if !ok {
		return app.Hint(fmt.Errorf("unknown provider %q", typ), "known providers: "+strings.Join(providers.Names(), ", "))
	}
	for pt, pi := range r.Instances {
		if pt == t.Name {
			inst = pi
			delete(r.Instances, pt)
		}
	}
	req := providers.DescribeRequest{Query: map[string]string{}}
	if c.resultsFilter != "" {
		req.Query[providers.QueryResultsFilter] = c.resultsFilter
	}
	if c.resultsLimit != "" {
		req.Query[providers.QueryResultsLimit] = c.resultsLimit
	}
	keys := make([]string, 0, len(r.Args))
	for k := range r.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(r.Args[k])
		if req.Listing != "" {
			return fmt.Errorf("ask for one listing or item at a time (got --%s and --%s)", strings.ReplaceAll(req.Listing, "_", "-"), strings.ReplaceAll(k, "_", "-"))
		}
		req.Listing = k
		if v != "true" {
			req.Item = v
		}
	}
	a, err := g.open(ctx, "providers")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	cfg, err := scopeToManifest(g, a, c.File)
	if err != nil {
		return err
	}
	if inst == "" {
		if inst, err = a.DefaultInstance(cfg, t.Name); err != nil {
			return err
		}
	}
	p, perr := a.Provider(ctx, cfg, t.Name, inst)
	if perr != nil {
		if req.Listing != "" {
			return perr
		}
		// No configured instance: say what the type is without its service.
		return c.describeType(g, t, perr)
	}
	resp, err := p.Describe(ctx, req)
	if err != nil {
		return err
	}
	if !resp.Selected && len(req.Query) > 0 {
		if resp.Items, err = providers.SelectQuery(resp.Items, req.Query, 0); err != nil {
			return err
		}
	}
	if c.JSON {
		if req.Listing == "" {
			resp.Settings = providers.HelpOf(t.SettingsSchema)
		}
		return printJSON(g, resp)
	}
	c.print(g, t, inst, resp, req)
	if req.Listing == "" {
		printSettings(g, t)
	}
	return nil
}

// instances lists the provider instances of the manifest of -f (and of
// the settings), with where each is declared and which host blocks use it.
func (c *ProvidersCmd) instances(ctx *interruptContext, g *Globals) error {
	a, err := g.open(ctx, "providers")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	cfg, err := scopeToManifest(g, a, c.File)
	if err != nil {
		return err
	}
	type row struct {
		Instance string   `json:"instance"`
		Type     string   `json:"type"`
		Declared string   `json:"declared,omitempty"`
		Default  bool     `json:"default"`
		Hosts    []string `json:"hosts"`
	}
	var rows []row
	for _, p := range cfg.AllProviders() {
		r := row{Instance: p.Ref(), Type: p.Type, Default: p.Default, Hosts: []string{}}
		if !p.Implicit {
			r.Declared = fmt.Sprintf("%s:%d", p.DeclRange.Filename, p.DeclRange.Start.Line)
		}
		for _, h := range cfg.Hosts {
			if h.Provider == p.Ref() {
				r.Hosts = append(r.Hosts, fmt.Sprintf("host.%s (%d)", h.Name, h.Count))
			}
		}
		rows = append(rows, r)
	}
	if c.JSON {
		return printJSON(g, rows)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tTYPE\tDEFAULT\tDECLARED\tHOSTS")
	for _, r := range rows {
		def := "-"
		if r.Default {
			def = "yes"
		}
		decl := r.Declared
		if decl == "" {
			decl = "(implicit)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Instance, r.Type, def, decl, dash(strings.Join(r.Hosts, ", ")))
	}
	_ = tw.Flush()
	fmt.Fprintln(g.stdout, "\nbroker providers -f "+c.File+" TYPE.INSTANCE describes one as the manifest configures it.")
	return nil
}

func (c *ProvidersCmd) list(g *Globals) error {
	types := providers.Types()
	if c.JSON {
		var out []map[string]any
		for _, t := range types {
			out = append(out, map[string]any{"name": t.Name, "aliases": t.Aliases, "summary": t.Summary})
		}
		return printJSON(g, out)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tALIASES\tWHAT IT DOES")
	for _, t := range types {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, dash(strings.Join(t.Aliases, ", ")), t.Summary)
	}
	_ = tw.Flush()
	fmt.Fprintln(g.stdout, "\nbroker providers PROVIDER shows a provider's actions and their arguments.")
	return nil
}

// describeType says what a type is and takes from its schemas alone, when
// no instance can be made to ask.
func (c *ProvidersCmd) describeType(g *Globals, t *providers.Type, why error) error {
	if c.JSON {
		out := map[string]any{"name": t.Name, "aliases": t.Aliases, "summary": t.Summary,
			"settings": providers.HelpOf(t.SettingsSchema), "args": providers.HelpOf(t.ArgsSchema)}
		if err := printJSON(g, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "%s: %s\n", t.Name, t.Summary)
		if len(t.Aliases) > 0 {
			fmt.Fprintf(g.stdout, "aliases: %s\n", strings.Join(t.Aliases, ", "))
		}
		if args := providers.HelpOf(t.ArgsSchema); len(args) > 0 {
			fmt.Fprintln(g.stdout, "\ncheckout arguments:")
			printHelp(g, args, "--")
		}
		printSettings(g, t)
	}
	g.note("no usable instance of %s to ask for its actions: %v", t.Name, why)
	return nil
}

// printSettings lists a type's settings from its schema.
func printSettings(g *Globals, t *providers.Type) {
	help := providers.HelpOf(t.SettingsSchema)
	if len(help) == 0 {
		return
	}
	fmt.Fprintf(g.stdout, "\nsettings (provider %q \"NAME\" { … }):\n", t.Name)
	printHelp(g, help, "")
}

// printHelp writes one line per setting or argument: name, type, doc,
// required or default.
func printHelp(g *Globals, help []providers.ArgHelp, prefix string) {
	for _, arg := range help {
		name := arg.Name
		if prefix != "" {
			name = prefix + strings.ReplaceAll(name, "_", "-")
		}
		line := "  " + name
		if arg.Type != "" {
			line += " " + strings.ToUpper(arg.Type)
		}
		var notes []string
		if arg.Description != "" {
			notes = append(notes, arg.Description)
		}
		if arg.Required {
			notes = append(notes, "required")
		}
		if arg.Default != "" {
			notes = append(notes, "default "+arg.Default)
		}
		if len(notes) > 0 {
			line += "  " + strings.Join(notes, "; ")
		}
		fmt.Fprintln(g.stdout, line)
	}
}

func (c *ProvidersCmd) print(g *Globals, t *providers.Type, inst string, resp providers.DescribeResponse, req providers.DescribeRequest) {
	w := g.stdout
	head := t.Name + "." + inst
	if resp.Summary != "" {
		head += ": " + resp.Summary
	}
	fmt.Fprintln(w, head)
	for _, act := range resp.Actions {
		fmt.Fprintf(w, "\n%s  %s\n", act.Name, act.Summary)
		printHelp(g, act.Args, "--")
	}
	if len(resp.Items) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, it := range resp.Items {
			fmt.Fprintf(tw, "%s\t%s\n", it.Name, it.Description)
		}
		_ = tw.Flush()
	}
	if len(resp.Detail) > 0 {
		b, _ := json.MarshalIndent(resp.Detail, "", "  ")
		fmt.Fprintf(w, "\n%s\n", b)
	}
	if req.Listing == "" && len(resp.Listings) > 0 {
		fmt.Fprintln(w, "\nlistings:")
		for _, l := range resp.Listings {
			fmt.Fprintf(w, "  broker providers %s --%s\n", t.Name, strings.ReplaceAll(l, "_", "-"))
		}
	}
}

func printJSON(g *Globals, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.stdout, string(b))
	return err
}
