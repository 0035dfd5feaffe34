package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/etcd"
)

// StateCmd: Operate on the state: migrate between backends, show, list, remove records.
type StateCmd struct {
	List    StateListCmd    `cmd:"" help:"List environments with their host and intent counts, serials and lock holders."`
	Show    StateShowCmd    `cmd:"" help:"Print one host's record exactly as stored (JSON), by id or address."`
	Rm      StateRmCmd      `cmd:"" help:"Forget host records WITHOUT checking the hosts in."`
	Unlock  StateUnlockCmd  `cmd:"" help:"Break an environment's lock left by a runner that cannot release it."`
	Migrate StateMigrateCmd `cmd:"" help:"Copy the whole state from one backend to another (bolt file <-> etcd)."`
}

// Help explains the state for newcomers.
func (c *StateCmd) Help() string {
	return `broker keeps its records (the hosts it checked out, intents of calls in
flight, pool reservations, per-environment serials and locks) in a state
backend: a bbolt file (state.db in the broker directory) by default, or an
etcd cluster shared by many runners when broker.hcl says

  state {
    backend   = "etcd"
    endpoints = ["https://etcd1.lab:2379", "https://etcd2.lab:2379"]
    prefix    = "/broker/mylab"
  }

These commands look at and repair the state itself. They never contact a
provider: to give hosts back, use 'broker destroy' or 'broker checkin'.

  broker state list                         # environments, counts, serials, locks
  broker state show host.web[0] -e ui       # one record as stored
  broker state rm 01J…                      # forget a record (host NOT checked in)
  broker state unlock ui                    # break a dead runner's lock
  broker state migrate --from bolt --to etcd`
}

// openStore opens the configured backend for a state subcommand.
func (g *Globals) openStore(ctx context.Context, command string) (*app.App, state.Store, error) {
	a, err := g.open(ctx, command)
	if err != nil {
		return nil, nil, printDiagnostics(g, err)
	}
	st, err := a.Store(ctx)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, st, nil
}

// StateListCmd lists environments.
type StateListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Help for state list.
func (c *StateListCmd) Help() string {
	return `Lists every environment that holds host records or intents, with the
number of each, the environment's serial (its write counter: a saved plan
applies only against the serial it was made from) and, on etcd, who holds
its lock. --environment (-e) limits the list to one environment.

Intents left behind mean a run was cut off; the next 'broker plan' of that
environment shows what it will resume or clean up.`
}

type envSummary struct {
	Environment string          `json:"environment"`
	Hosts       int             `json:"hosts"`
	Intents     int             `json:"intents"`
	Serial      uint64          `json:"serial"`
	LockedBy    *state.LockInfo `json:"locked_by,omitempty"`
}

// lockHolder is implemented by backends that can say who holds a lock
// without taking it (etcd).
type lockHolder interface {
	LockHolder(ctx context.Context, env string) (state.LockInfo, bool, error)
}

// Run lists.
func (c *StateListCmd) Run(g *Globals, ctx *interruptContext) error {
	a, st, err := g.openStore(ctx, "state list")
	if err != nil {
		return err
	}
	defer a.Close()
	envs, err := st.Environments(ctx)
	if err != nil {
		return err
	}
	if g.Environment != "" {
		envs = []string{g.Environment}
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: g.Environment})
	if err != nil {
		return err
	}
	intents, err := st.Intents(ctx, g.Environment)
	if err != nil {
		return err
	}
	out := []envSummary{}
	for _, env := range envs {
		sum := envSummary{Environment: env}
		for _, h := range hosts {
			if h.Environment == env {
				sum.Hosts++
			}
		}
		for _, in := range intents {
			if in.Environment == env {
				sum.Intents++
			}
		}
		if sum.Serial, err = st.Serial(ctx, env); err != nil {
			return err
		}
		if lh, ok := st.(lockHolder); ok {
			info, held, err := lh.LockHolder(ctx, env)
			if err != nil {
				return err
			}
			if held {
				sum.LockedBy = &info
			}
		}
		out = append(out, sum)
	}
	if c.JSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(out) == 0 {
		fmt.Fprintln(g.stderr, "broker: note: the state holds no environments")
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tHOSTS\tINTENTS\tSERIAL\tLOCKED BY")
	for _, s := range out {
		locked := "-"
		if s.LockedBy != nil {
			locked = s.LockedBy.String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", s.Environment, s.Hosts, s.Intents, s.Serial, locked)
	}
	return tw.Flush()
}

// StateShowCmd prints a record.
type StateShowCmd struct {
	Host string `arg:"" placeholder:"ID|ADDRESS" help:"The record's id, or its address (host.web[0]); narrow an address with --environment."`
}

// Help for state show.
func (c *StateShowCmd) Help() string {
	return `Prints the record as the backend stores it, as JSON, with the intents that
refer to it. An address (host.web[0]) exists once per environment: pass
--environment to pick one. 'broker show HOST' prints the same record as a
readable table.`
}

// Run shows.
func (c *StateShowCmd) Run(g *Globals, ctx *interruptContext) error {
	a, st, err := g.openStore(ctx, "state show")
	if err != nil {
		return err
	}
	defer a.Close()
	found, err := findRecords(ctx, st, g.Environment, c.Host)
	if err != nil {
		return err
	}
	if len(found) > 1 {
		return app.Hint(fmt.Errorf("%d records have address %s", len(found), c.Host),
			"pass --environment, or use the id: "+strings.Join(recordIDs(found), ", "))
	}
	h := found[0]
	intents, err := st.Intents(ctx, h.Environment)
	if err != nil {
		return err
	}
	type shown struct {
		state.Host
		Intents []state.Intent `json:"intents,omitempty"`
	}
	v := shown{Host: h}
	for _, in := range intents {
		if in.HostID == h.ID {
			v.Intents = append(v.Intents, in)
		}
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// findRecords resolves an id or an address.
func findRecords(ctx context.Context, st state.Store, env, target string) ([]state.Host, error) {
	h, err := st.Host(ctx, target)
	if err == nil {
		if env != "" && h.Environment != env {
			return nil, fmt.Errorf("record %s is in environment %q, not %q", target, h.Environment, env)
		}
		return []state.Host{h}, nil
	}
	if !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	hosts, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, err
	}
	var found []state.Host
	for _, h := range hosts {
		if h.Address == target {
			found = append(found, h)
		}
	}
	if len(found) == 0 {
		where := "the state"
		if env != "" {
			where = fmt.Sprintf("environment %q", env)
		}
		return nil, app.Hint(fmt.Errorf("no record with id or address %q in %s", target, where),
			"`broker inventory --details` lists ids and addresses")
	}
	return found, nil
}

func recordIDs(hs []state.Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// StateRmCmd forgets records.
type StateRmCmd struct {
	Hosts []string `arg:"" placeholder:"ID|ADDRESS" help:"Records to forget: ids, or addresses (host.web[0]) with --environment."`
	Yes   bool     `name:"yes" short:"y" help:"Do not ask for confirmation (needed when stdin is not a terminal)."`
}

// Help for state rm.
func (c *StateRmCmd) Help() string {
	return `Removes host records from the state and nothing else: the hosts are NOT
checked in. They stay with their provider (a running container, an AWX
host, a reserved lab machine) until its own lease runs out or you remove
them there. Use it for records of hosts that are already gone, or that you
hand over to someone else; to give hosts back, use 'broker destroy' or
'broker checkin'.

rm takes each environment's lock, so it never races an apply.`
}

// Run removes.
func (c *StateRmCmd) Run(g *Globals, ctx *interruptContext) error {
	a, st, err := g.openStore(ctx, "state rm")
	if err != nil {
		return err
	}
	defer a.Close()
	byEnv := map[string][]state.Host{}
	seen := map[string]bool{}
	for _, target := range c.Hosts {
		found, err := findRecords(ctx, st, g.Environment, target)
		if err != nil {
			return err
		}
		for _, h := range found {
			if !seen[h.ID] {
				seen[h.ID] = true
				byEnv[h.Environment] = append(byEnv[h.Environment], h)
			}
		}
	}
	envs := make([]string, 0, len(byEnv))
	for env := range byEnv {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	fmt.Fprintln(g.stdout, "broker will forget these records (the hosts are NOT checked in):")
	for _, env := range envs {
		for _, h := range byEnv[env] {
			fmt.Fprintf(g.stdout, "  - %s  %s  %s  %s.%s %s\n", h.ID, env, stateDash(h.Address), h.Provider, h.Instance, stateDash(h.Hostname))
		}
	}
	if ok, err := confirm(g, c.Yes, fmt.Sprintf("Forget %d records?", len(seen)), "pass --yes to remove them without asking"); err != nil || !ok {
		if err == nil {
			fmt.Fprintln(g.stdout, "Nothing was changed.")
		}
		return err
	}
	removed := 0
	for _, env := range envs {
		lock, err := st.Lock(ctx, env, a.LockInfo("state rm"), state.LockOptions{})
		if err != nil {
			return err
		}
		err = st.Delete(ctx, recordIDs(byEnv[env])...)
		_ = lock.Unlock()
		if err != nil {
			return err
		}
		removed += len(byEnv[env])
	}
	fmt.Fprintf(g.stdout, "Removed %d records from the state. The hosts were NOT checked in: they stay with their provider.\n", removed)
	return nil
}

func stateDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// confirm asks for "yes" on a terminal, unless yes is set.
func confirm(g *Globals, yes bool, question, hint string) (bool, error) {
	if yes {
		return true, nil
	}
	if !isTerminal(g.stdin) {
		return false, app.Hint(errNoConfirm, hint)
	}
	fmt.Fprintf(g.stdout, "\n%s Only 'yes' is accepted: ", question)
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}

// StateUnlockCmd breaks a lock.
type StateUnlockCmd struct {
	Env string `arg:"" name:"environment" placeholder:"ENV" help:"The environment whose lock to break."`
	Yes bool   `name:"yes" short:"y" help:"Do not ask for confirmation."`
}

// Help for state unlock.
func (c *StateUnlockCmd) Help() string {
	return `Breaks an environment's lock. You rarely need it: a lock dies with its
holder. On etcd a runner that died keeps its lock until its session's lease
runs out (state.lock_ttl, 30s by default); unlock frees it at once, and
also takes the lock from a runner that is still alive, which then stops
with an error saying it lost the lock. Make sure the holder it names is
really gone or stuck.

With the bolt file the lock is an flock that the kernel releases when the
holder process exits, so there is nothing to break: unlock says which
process holds it, for you to stop.`
}

// forceUnlocker is implemented by backends whose locks can outlive their
// holder for a while (etcd).
type forceUnlocker interface {
	lockHolder
	ForceUnlock(ctx context.Context, env string) (state.LockInfo, bool, error)
}

// Run unlocks.
func (c *StateUnlockCmd) Run(g *Globals, ctx *interruptContext) error {
	a, st, err := g.openStore(ctx, "state unlock")
	if err != nil {
		return err
	}
	defer a.Close()
	fu, ok := st.(forceUnlocker)
	if !ok {
		// Find out by trying: a free lock is taken and given back at once.
		u, err := st.Lock(ctx, c.Env, a.LockInfo("state unlock"), state.LockOptions{})
		var le *state.LockedError
		switch {
		case errors.As(err, &le):
			return app.Hint(fmt.Errorf("environment %q is locked by %s; this backend's locks end only with their process", c.Env, le.Holder),
				fmt.Sprintf("stop that process (pid %d on %s) and the lock is free", le.Holder.PID, le.Holder.Machine))
		case err != nil:
			return err
		}
		_ = u.Unlock()
		fmt.Fprintf(g.stdout, "Environment %q is not locked.\n", c.Env)
		return nil
	}
	info, held, err := fu.LockHolder(ctx, c.Env)
	if err != nil {
		return err
	}
	if !held {
		fmt.Fprintf(g.stdout, "Environment %q is not locked.\n", c.Env)
		return nil
	}
	fmt.Fprintf(g.stdout, "Environment %q is locked by %s.\n", c.Env, info)
	if ok, err := confirm(g, c.Yes, "Break this lock? If that runner is still alive it loses the lock.", "pass --yes to break it without asking"); err != nil || !ok {
		if err == nil {
			fmt.Fprintln(g.stdout, "Nothing was changed.")
		}
		return err
	}
	if _, _, err := fu.ForceUnlock(ctx, c.Env); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Unlocked environment %q.\n", c.Env)
	return nil
}

// StateMigrateCmd copies a state.
type StateMigrateCmd struct {
	From  string   `name:"from" required:"" placeholder:"BACKEND" help:"Where the state is now: bolt (the broker directory's state.db), bolt:PATH, or etcd (the state block of broker.hcl)."`
	To    string   `name:"to" required:"" placeholder:"BACKEND" help:"Where to copy it: etcd, bolt or bolt:PATH."`
	Force bool     `name:"force" help:"Copy into a target that already holds records (records with the same id are overwritten)."`
	Pools []string `name:"pool" placeholder:"NAME" help:"Copy this pool's reservations (every pool is copied already; this names extra ones)."`
}

// Help for state migrate.
func (c *StateMigrateCmd) Help() string {
	return `Copies every host record, intent and pool reservation, and each
environment's serial, from one backend to another. The source is not
changed. A typical move of one runner's state to a shared etcd:

  1. add the etcd state block to broker.hcl (endpoints, prefix, tls, user)
  2. broker state migrate --from bolt:~/.broker/state.db --to etcd
  3. broker state list          # now reads etcd

Run it while no broker applies (migrate takes no locks across backends).
The target must be empty unless --force. Serials on an etcd target are set
to the source's, so plans saved before the move still apply; a bolt target
counts its own writes, so plans saved before must be made again.`
}

type poolLister interface {
	Pools(ctx context.Context) ([]string, error)
}

type serialSetter interface {
	SetSerial(ctx context.Context, env string, n uint64) error
}

// Run migrates.
func (c *StateMigrateCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.open(ctx, "state migrate")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	if c.From == c.To {
		return fmt.Errorf("--from and --to are the same backend (%s)", c.From)
	}
	src, srcName, err := openBackend(ctx, a, c.From)
	if err != nil {
		return fmt.Errorf("open --from %s: %w", c.From, err)
	}
	defer src.Close()
	dst, dstName, err := openBackend(ctx, a, c.To)
	if err != nil {
		return fmt.Errorf("open --to %s: %w", c.To, err)
	}
	defer dst.Close()
	if srcName == dstName {
		return fmt.Errorf("--from and --to are the same state (%s)", srcName)
	}

	dstHosts, err := dst.Hosts(ctx, state.Query{})
	if err != nil {
		return err
	}
	dstIntents, err := dst.Intents(ctx, "")
	if err != nil {
		return err
	}
	if (len(dstHosts) > 0 || len(dstIntents) > 0) && !c.Force {
		return app.Hint(fmt.Errorf("the target %s already holds %d host records and %d intents", dstName, len(dstHosts), len(dstIntents)),
			"check with `broker state list`; pass --force to copy over them")
	}

	envs, err := src.Environments(ctx)
	if err != nil {
		return err
	}
	hosts, err := src.Hosts(ctx, state.Query{})
	if err != nil {
		return err
	}
	intents, err := src.Intents(ctx, "")
	if err != nil {
		return err
	}
	const chunk = 500
	for i := 0; i < len(hosts); i += chunk {
		if err := dst.Put(ctx, hosts[i:min(i+chunk, len(hosts))]...); err != nil {
			return fmt.Errorf("copy host records: %w", err)
		}
	}
	for i := 0; i < len(intents); i += chunk {
		if err := dst.PutIntents(ctx, intents[i:min(i+chunk, len(intents))]...); err != nil {
			return fmt.Errorf("copy intents: %w", err)
		}
	}

	pools := c.Pools
	if pl, ok := src.(poolLister); ok {
		all, err := pl.Pools(ctx)
		if err != nil {
			return err
		}
		pools = append(pools, all...)
	} else if len(c.Pools) == 0 {
		g.note("%s cannot list its pools: pass --pool NAME for each pool whose reservations to copy", srcName)
	}
	reservations := 0
	done := map[string]bool{}
	for _, pool := range pools {
		if done[pool] {
			continue
		}
		done[pool] = true
		res, err := src.Reservations(ctx, pool)
		if err != nil {
			return err
		}
		for member, holder := range res {
			got, err := dst.Reserve(ctx, pool, []string{member}, holder)
			if errors.Is(err, state.ErrPoolExhausted) {
				g.warn("pool %q member %q is already reserved in the target; left as it is", pool, member)
				continue
			}
			if err != nil {
				return fmt.Errorf("copy reservation of %q in pool %q: %w", member, pool, err)
			}
			_ = got
			reservations++
		}
	}

	if ss, ok := dst.(serialSetter); ok {
		for _, env := range envs {
			n, err := src.Serial(ctx, env)
			if err != nil {
				return err
			}
			cur, err := dst.Serial(ctx, env)
			if err != nil {
				return err
			}
			if err := ss.SetSerial(ctx, env, max(n, cur)); err != nil {
				return err
			}
		}
	} else {
		g.note("serials of %s count its own writes: make plans saved before the migration again", dstName)
	}
	fmt.Fprintf(g.stdout, "Copied %d host records, %d intents and %d reservations in %d environments from %s to %s.\n",
		len(hosts), len(intents), reservations, len(envs), srcName, dstName)
	return nil
}

// openBackend opens "bolt", "bolt:PATH" or "etcd" (the settings' block).
func openBackend(ctx context.Context, a *app.App, spec string) (state.Store, string, error) {
	kind, path, _ := strings.Cut(spec, ":")
	switch kind {
	case "bolt", "bbolt":
		if path == "" {
			path = filepath.Join(a.Dir, "state.db")
		}
		path = expandUserPath(path)
		st, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			return nil, "", err
		}
		return st, "bolt:" + path, nil
	case "etcd":
		if path != "" {
			return nil, "", app.Hint(errors.New("etcd takes no address here"),
				"put endpoints, prefix, tls and credentials in the state block of broker.hcl and write just --to etcd")
		}
		if s := a.Settings.State; s == nil || s.Backend != "etcd" {
			return nil, "", app.Hint(errors.New(`broker.hcl has no state block with backend = "etcd"`),
				`add state { backend = "etcd"  endpoints = ["https://etcd1:2379"]  prefix = "/broker/lab" } to broker.hcl`)
		}
		st, err := a.Store(ctx)
		if err != nil {
			return nil, "", err
		}
		e, ok := st.(*etcd.Store)
		if !ok {
			return nil, "", errors.New("the configured state is not etcd")
		}
		// The App owns this store and closes it; hand out a view whose
		// Close does nothing.
		return noClose{e}, "etcd:" + strings.Join(e.Endpoints(), ",") + e.Prefix(), nil
	}
	return nil, "", app.Hint(fmt.Errorf("unknown backend %q", spec), "use bolt, bolt:PATH or etcd")
}

type noClose struct{ *etcd.Store }

func (noClose) Close() error { return nil }

func expandUserPath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
