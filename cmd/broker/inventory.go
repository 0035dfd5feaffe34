package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// InventoryCmd lists recorded hosts.
type InventoryCmd struct {
	Details  bool          `help:"Show every field of every host, as YAML keyed by inventory index (the Python broker's keys, then broker's)."`
	List     bool          `help:"Print host names only, one per line (hostname, else name)."`
	JSON     bool          `name:"json" help:"Print the hosts as JSON (same as --format json)."`
	Format   string        `enum:"table,json,yaml,ansible,ssh-config" default:"table" help:"Output format: ${enum}. ssh-config and ansible log in as broker does and check the host keys pinned in the records (written to <broker directory>/ssh/known_hosts)."`
	Filter   string        `placeholder:"EXPR" help:"Only hosts matching this filter expression, e.g. 'provider == \"docker\"' (the Python broker's 'hostname<test' form is accepted too)."`
	Sync     string        `placeholder:"PROVIDER[:USER][::INSTANCE]" help:"First ask the provider what it holds, update the records it knows and add the hosts it does not (to \"default\" or --environment), as the Python broker does (e.g. AnsibleTower, AnsibleTower:alice, Container::remote)."`
	Expiring time.Duration `placeholder:"DURATION" help:"Only hosts whose lease ends within this (e.g. 1h); highlighted in the table."`
	Fields   []string      `placeholder:"TITLE:FIELD|FALLBACK" help:"Table columns (overrides the settings' inventory { fields }), e.g. --fields 'Host:hostname|name' --fields Provider:provider_ref."`
	Import   []string      `arg:"" optional:"" name:"import" placeholder:"import FILE" help:"'import FILE' adopts a Python broker inventory.yaml into the environment \"default\" (or --environment)."`
}

// Help is shown by `broker inventory --help`.
func (c *InventoryCmd) Help() string {
	return `Lists the hosts broker holds, in every environment unless --environment
is given. The Id column is the inventory index other commands accept
(broker checkin 0, broker extend 1 3).

  broker inventory
  broker inventory --details --filter 'hostname<test'
  broker inventory --sync AnsibleTower:alice
  broker inventory --sync Container::remote
  broker inventory --expiring 1h
  broker inventory --format ansible > hosts.yaml     # ansible -i hosts.yaml all -m raw -a uptime
  broker inventory --format ssh-config > ssh_config  # ssh -F ssh_config NAME
  broker --output-file inventory.json inventory
  broker inventory import ~/broker/inventory.yaml`
}

// Run lists.
func (c *InventoryCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "inventory")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	if len(c.Import) > 0 {
		if len(c.Import) != 2 || c.Import[0] != "import" {
			return app.Hint(fmt.Errorf("unexpected argument %q", strings.Join(c.Import, " ")), "the only argument inventory takes is: import FILE")
		}
		return c.importFile(ctx, g, a, c.Import[1])
	}
	if c.Sync != "" {
		if err := c.sync(ctx, g, a); err != nil {
			return err
		}
	}
	hosts, err := inventoryHosts(ctx, g, a, c.Filter)
	if err != nil {
		return err
	}
	if c.Expiring > 0 {
		var keep []state.Host
		now := a.Now()
		for _, h := range hosts {
			if !h.Lease.Expires.IsZero() && h.Lease.Remaining(now) <= c.Expiring {
				keep = append(keep, h)
			}
		}
		hosts = keep
	}
	if hosts == nil {
		hosts = []state.Host{}
	}
	if err := writeOutput(g, map[string]any{"inventory": views.PythonHosts(hosts)}); err != nil {
		return err
	}
	format := c.Format
	if c.JSON {
		format = "json"
	}
	if c.List {
		var spec string
		if inv := a.Settings.Inventory; inv != nil {
			spec = inv.ListVars
		}
		for i := range hosts {
			name := listName(hosts[i])
			if spec != "" {
				name = cmp.Or(views.ListValue(&hosts[i], i, spec), name)
			}
			fmt.Fprintln(g.stdout, name)
		}
		return nil
	}
	if c.Details && format == "table" {
		return views.InventoryPythonDetails(g.stdout, hosts)
	}
	if len(hosts) == 0 && format == "table" {
		fmt.Fprintln(g.stdout, "No hosts found in inventory.")
		return nil
	}
	switch format {
	case "json":
		return views.InventoryJSON(g.stdout, hosts)
	case "yaml":
		return views.InventoryYAML(g.stdout, hosts)
	case "ansible", "ssh-config":
		return connectInventory(g, a, format, hosts)
	}
	fields := c.Fields
	if inv := a.Settings.Inventory; inv != nil && len(fields) == 0 {
		fields = inv.Fields
	}
	return views.InventoryTable(g.stdout, hosts, views.InventoryOptions{Fields: fields, Details: c.Details, Color: g.color(g.stdout), Now: a.Now(), Expiring: c.Expiring})
}

// parseSync reads PROVIDER[:USER][::INSTANCE].
func parseSync(s string) (typ, user, inst string) {
	head, inst, _ := strings.Cut(s, "::")
	typ, user, _ = strings.Cut(head, ":")
	return typ, user, inst
}

// sync merges what a provider lists into the state (app.Sync) and says
// what it found.
func (c *InventoryCmd) sync(ctx context.Context, g *Globals, a *app.App) error {
	typ, user, inst := parseSync(c.Sync)
	env := imperativeEnvironment(g)
	res, err := a.Sync(ctx, app.SyncRequest{Provider: typ, Instance: inst, User: user, Add: true, Environment: env})
	if err != nil {
		return fmt.Errorf("--sync %s: %w", c.Sync, err)
	}
	g.note("synced %s.%s: %d host(s) at the provider, %d known to the state, %d added", res.Provider, res.Instance, res.Listed, len(res.Updated), len(res.Added))
	for _, h := range res.Added {
		g.note("added %s (%s.%s %s) to environment %q", listName(h), res.Provider, res.Instance, h.ProviderID, env)
	}
	for _, info := range res.OtherState {
		g.note("not added: %s, made by another broker state (broker.id %s); that state checks it in, or `broker reap --orphans` if none does", firstOf(info.Hostname, info.Name, info.ProviderID), info.Labels[providers.LabelID])
	}
	for _, h := range res.Elsewhere {
		g.note("not added: %s, recorded under %s.%s", listName(h), h.Provider, h.Instance)
	}
	for _, h := range res.Unlisted {
		g.note("recorded but not listed by %s.%s (gone, or another user's): %s; kept", res.Provider, res.Instance, listName(h))
	}
	return nil
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// importFile adopts a Python broker inventory file.
func (c *InventoryCmd) importFile(ctx context.Context, g *Globals, a *app.App, path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	env := imperativeEnvironment(g)
	res, err := a.ImportInventory(ctx, src, env)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, h := range res.Skipped {
		g.warn("%s is already in the state; skipped", listName(h))
	}
	for _, u := range res.Unsupported {
		g.warn("%s: %s; not imported", path, u)
	}
	fmt.Fprintf(g.stdout, "imported %d host(s) into environment %q\n", len(res.Added), env)
	if len(res.Unsupported) > 0 {
		fmt.Fprintf(g.stdout, "left out %d host(s) this build cannot manage\n", len(res.Unsupported))
	}
	return writeOutput(g, map[string]any{"command": "inventory import", "hosts": views.PythonHosts(res.Added)})
}

// connectInventory prints an inventory another program connects with
// (format ssh-config or ansible), warning about hosts it cannot reach
// without their manifest.
func connectInventory(g *Globals, a *app.App, format string, hosts []state.Host) error {
	eps, err := a.Endpoints(hosts)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if ep.Err != nil {
			g.warn("%v", ep.Err)
		}
	}
	if format == "ansible" {
		return views.AnsibleInventory(g.stdout, eps)
	}
	return views.SSHConfig(g.stdout, eps)
}

// listName is a host's name in listings meant for other programs (--list,
// ssh-config, Ansible): its hostname first, as the Python broker lists
// hosts, then its name, address or id. Messages use state.Host.Label.
func listName(h state.Host) string {
	return firstOf(h.Hostname, h.Name, h.Address, h.ID)
}
