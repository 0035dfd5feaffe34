package main

import (
	"cmp"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// providerArgFlags are the flags of commands that take provider arguments.
type providerArgFlags struct {
	Provider string `placeholder:"TYPE[.INSTANCE]" help:"Provider to use (sim, docker, awx, static, or an alias such as AnsibleTower, Container). Default: the nick's, one implied by the arguments (workflow: awx; image: docker; job_xml or job_id: beaker; hostgroup: foreman), or the only one in the settings."`
	Nick     string `short:"n" help:"Use a nick (named recipe) from the settings file."`
	ArgsFile string `name:"args-file" placeholder:"FILE" help:"JSON or YAML file whose top-level keys become provider arguments."`
}

func (f *providerArgFlags) raw() []rawFlag {
	return []rawFlag{
		{names: []string{"--provider"}, set: setString(&f.Provider)},
		{names: []string{"--nick", "-n"}, set: setString(&f.Nick)},
		{names: []string{"--args-file"}, set: setString(&f.ArgsFile)},
	}
}

// spec merges the arguments: args file < command line.
func (f *providerArgFlags) spec(r *rawResult) (app.CheckoutSpec, error) {
	s := app.CheckoutSpec{Provider: f.Provider, Nick: f.Nick, Args: map[string]any{}}
	if f.ArgsFile != "" {
		m, err := app.ReadArgsFile(f.ArgsFile)
		if err != nil {
			return s, fmt.Errorf("--args-file: %w", err)
		}
		maps.Copy(s.Args, m)
	}
	maps.Copy(s.Args, r.Args)
	if len(r.Instances) > 1 {
		return s, fmt.Errorf("instances of several providers named (%v): name one", r.Instances)
	}
	for t, inst := range r.Instances {
		if s.Provider != "" {
			pt, _, _ := strings.Cut(s.Provider, ".")
			if bt, ok := providers.Lookup(pt); !ok || bt.Name != t {
				return s, fmt.Errorf("--provider %s and --%s %s disagree", s.Provider, t, inst)
			}
		}
		s.Provider, s.Instance = t, inst
	}
	return s, nil
}

// CheckoutCmd checks hosts out, as the Python broker's command line does.
type CheckoutCmd struct {
	providerArgFlags
	imperativeFlags
	reportFlags
	Count          int      `short:"c" help:"How many hosts to check out (default 1, or the count an --args-file gives)."`
	ProviderLabels []string `short:"l" name:"provider-labels" placeholder:"K=V,…" help:"Labels recorded with the hosts and put on what the provider makes (AWX labels on the job, broker.K labels on a container), e.g. -l team=qe,purpose=ci; a bare K is a label without value."`
	Lease          string   `placeholder:"DURATION" help:"Lease of the hosts (e.g. 4h, 1d); 'broker reap' checks in expired ones."`
	Args           []string `arg:"" optional:"" passthrough:"" name:"provider-args" help:"Provider arguments: --key value, --key=value or key=value."`
}

// Help is shown by `broker checkout --help`.
func (c *CheckoutCmd) Help() string {
	return `Checks hosts out of a provider and records them in the environment
"default" (or --environment), without a manifest address. Any other
--key value (or --key=value, or key=value) is a provider argument, named as
written (--workflow-arg1 is workflow-arg1, as the Python broker sends it;
names a provider declares take underscores: --container-host). A last
--flag with no value is dropped, as the Python broker drops it. A value
naming an existing .json/.yaml/.yml file is read as the argument's value;
--args-file holds a map of arguments, or a list of maps merged in order,
and may give the count. --TYPE INSTANCE picks the instance
of a provider (--AnsibleTower testing, --docker remote).

  broker checkout --nick rhel7 --count 3
  broker checkout --workflow deploy-rhel --deploy-rhel-version 9.4
  broker checkout --nick rhel7 --AnsibleTower testing
  broker checkout --nick rhel7 --args-file args.json --extra extra.yaml
  broker checkout --provider docker --image broker-busybox:latest -l team=qe
  broker --output-file out.json checkout --nick rhel7

The hosts are printed, and with --output-file written as JSON.`
}

func (c *CheckoutCmd) raw() []rawFlag {
	return append(c.providerArgFlags.raw(),
		rawFlag{names: []string{"--count", "-c"}, set: setInt(&c.Count)},
		rawFlag{names: []string{"--provider-labels", "-l", "--labels", "--label"}, set: appendString(&c.ProviderLabels)},
		rawFlag{names: []string{"--lease"}, set: setString(&c.Lease)},
		rawFlag{names: []string{"--report"}, set: appendString(&c.Report)},
		rawFlag{names: []string{"--background", "-b"}, bool: true, set: setBool(&c.Background)},
		rawFlag{names: []string{"--sequential"}, bool: true, set: setBool(&c.Sequential)},
		rawFlag{names: []string{"--lock-timeout"}, set: func(v string) error {
			d, err := time.ParseDuration(v)
			c.LockTimeout = d
			return err
		}},
	)
}

// Run checks out.
func (c *CheckoutCmd) Run(g *Globals, ctx *interruptContext, kctx *kong.Context) error {
	r, err := parseRaw(c.Args, append(c.raw(), g.globalRaw()...))
	if err != nil {
		return app.Hint(err, "run `broker checkout --help` for the accepted forms")
	}
	if r.Help {
		return kctx.PrintUsage(false)
	}
	r.dropTrailingBare(g)
	if len(r.Positionals) > 0 {
		return app.Hint(fmt.Errorf("unexpected argument %q", r.Positionals[0]), "provider arguments are --key value or key=value")
	}
	if c.Background && !g.inBackground() {
		return g.background("checkout")
	}
	return g.finishBackground("checkout", c.run(g, ctx, r))
}

func (c *CheckoutCmd) run(g *Globals, ctx *interruptContext, r *rawResult) error {
	spec, err := c.spec(r)
	if err != nil {
		return err
	}
	if spec.Labels, err = parseLabels(c.ProviderLabels); err != nil {
		return err
	}
	if c.Lease != "" {
		if spec.Lease, err = parseLease(c.Lease); err != nil {
			return err
		}
	}
	if c.Count < 0 {
		return fmt.Errorf("--count must be 1 or more, not %d", c.Count)
	}
	// 0: the args file's count, else 1 (app.ResolveCheckout).
	spec.Count = c.Count
	a, err := g.open(ctx, "checkout")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	o, finish, err := runOptions(ctx, g, c.imperativeFlags, &c.reportFlags, "checkout", imperativeEnvironment(g))
	if err != nil {
		return err
	}
	res, err := a.Checkout(ctx, app.CheckoutRequest{Spec: spec, Environment: imperativeEnvironment(g), RunOptions: o})
	if ferr := finish(); ferr != nil && err == nil {
		err = ferr
	}
	if res == nil {
		return err
	}
	hosts := res.Hosts()
	printHosts(g, hosts, a.Now())
	if werr := writeOutput(g, checkoutOutput(a, spec, hosts)); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return opError(res, "checkout")
}

// parseLease reads a --lease flag as a manifest reads a lease attribute
// (manifest.ParseDuration: Go durations plus days, 1.5d = 36h).
func parseLease(s string) (time.Duration, error) {
	d, err := manifest.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, app.Hint(fmt.Errorf("lease %q: want a positive duration", s), "e.g. 4h, 90m, 1d12h or 1.5d")
	}
	return d, nil
}

// checkoutOutput is what the Python broker writes to --output-file for a
// checkout: the provider (its Python name), the action, the arguments
// (the nick's merged in, as the hosts record them) and the hosts.
func checkoutOutput(a *app.App, spec app.CheckoutSpec, hosts []state.Host) map[string]any {
	typ, _, _ := strings.Cut(spec.Provider, ".")
	if t, ok := providers.Lookup(typ); ok {
		typ = t.Name
	}
	args := map[string]any{}
	maps.Copy(args, spec.Args)
	if spec.Nick != "" {
		args["nick"] = spec.Nick
	}
	if r, err := a.ResolveCheckout(spec); err == nil {
		typ = r.Provider
		args = map[string]any{}
		maps.Copy(args, r.Args)
	}
	if len(hosts) > 0 {
		typ = hosts[0].Provider
		args = map[string]any{}
		maps.Copy(args, hosts[0].Recipe)
	}
	out := hostsOutput(hosts)
	out["provider"] = filter.PythonProvider(typ)
	out["action"] = cmp.Or(pythonActions[typ], "checkout")
	out["arguments"] = args
	return out
}
