package main

import (
	"time"

	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
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

// openApp opens the app for a state subcommand; the operations open the
// configured backend themselves.
func (g *Globals) openApp(ctx context.Context, command string) (*app.App, error) {
	a, err := g.open(ctx, command)
	if err != nil {
		return nil, printDiagnostics(g, err)
	}
	return a, nil
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

// Run lists.
func (c *StateListCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.openApp(ctx, "state list")
	if err != nil {
		return err
	}
	defer a.Close()
	envs, err := a.StateList(ctx, app.StateListRequest{Environment: g.Environment})
	if err != nil {
		return err
	}
	out := make([]envSummary, 0, len(envs))
	for _, e := range envs {
		out = append(out, envSummary{Environment: e.Environment, Hosts: e.Hosts, Intents: e.Intents, Serial: e.Serial, LockedBy: e.LockedBy})
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
	a, err := g.openApp(ctx, "state show")
	if err != nil {
		return err
	}
	defer a.Close()
	rec, err := a.StateShow(ctx, app.StateShowRequest{Environment: g.Environment, Target: c.Host})
	if err != nil {
		return err
	}
	type shown struct {
		state.Host
		Intents []state.Intent `json:"intents,omitempty"`
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(shown{Host: rec.Host, Intents: rec.Intents})
}

// StateRmCmd forgets records.
type StateRmCmd struct {
	Hosts []string `arg:"" placeholder:"ID|ADDRESS" help:"Records to forget: ids, or addresses (host.web[0]) with --environment."`
	Yes   bool     `name:"yes" short:"y" help:"Do not ask for confirmation (needed when stdin is not a terminal)."`
	lockFlags
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
	a, err := g.openApp(ctx, "state rm")
	if err != nil {
		return err
	}
	defer a.Close()
	found, err := a.StateFind(ctx, app.StateFindRequest{Environment: g.Environment, Targets: c.Hosts})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "broker will forget these records (the hosts are NOT checked in):")
	for _, h := range found {
		fmt.Fprintf(g.stdout, "  - %s  %s  %s  %s.%s %s\n", h.ID, h.Environment, stateDash(h.Address), h.Provider, h.Instance, stateDash(h.Hostname))
	}
	if ok, err := confirm(g, c.Yes, fmt.Sprintf("Forget %d records?", len(found)), "pass --yes to remove them without asking"); err != nil || !ok {
		if err == nil {
			fmt.Fprintln(g.stdout, "Nothing was changed.")
		}
		return err
	}
	res, err := a.StateRm(ctx, app.StateRmRequest{Hosts: found, LockTimeout: c.LockTimeout, OnLockWait: lockWaiter(g, c.LockTimeout)})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Removed %d records from the state. The hosts were NOT checked in: they stay with their provider.\n", res.Removed)
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
	Env         string        `arg:"" name:"environment" placeholder:"ENV" help:"The environment whose lock to break."`
	Yes         bool          `name:"yes" short:"y" help:"Do not ask for confirmation."`
	LockTimeout time.Duration `name:"lock-timeout" default:"0s" placeholder:"DURATION" help:"On a backend whose locks end only with their process (bbolt), how long to wait for the holder to end before reporting it."`
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

// Run unlocks.
func (c *StateUnlockCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.openApp(ctx, "state unlock")
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.StateUnlock(ctx, app.StateUnlockRequest{
		Environment: c.Env,
		LockTimeout: c.LockTimeout,
		OnLockWait:  lockWaiter(g, c.LockTimeout),
		Confirm: func(holder state.LockInfo) (bool, error) {
			fmt.Fprintf(g.stdout, "Environment %q is locked by %s.\n", c.Env, holder)
			return confirm(g, c.Yes, "Break this lock? If that runner is still alive it loses the lock.", "pass --yes to break it without asking")
		},
	})
	switch {
	case err != nil:
		return err
	case !res.Held:
		fmt.Fprintf(g.stdout, "Environment %q is not locked.\n", c.Env)
	case !res.Broken:
		fmt.Fprintln(g.stdout, "Nothing was changed.")
	default:
		fmt.Fprintf(g.stdout, "Unlocked environment %q.\n", c.Env)
	}
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

  # first, add the etcd state block to broker.hcl (endpoints, prefix, tls, user)
  broker state migrate --from bolt:~/.broker/state.db --to etcd
  broker state list          # now reads etcd

Run it while no broker applies (migrate takes no locks across backends).
The target must be empty unless --force. Serials on an etcd target are set
to the source's, so plans saved before the move still apply; a bolt target
counts its own writes, so plans saved before must be made again.`
}

// Run migrates.
func (c *StateMigrateCmd) Run(g *Globals, ctx *interruptContext) error {
	a, err := g.openApp(ctx, "state migrate")
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.StateMigrate(ctx, app.StateMigrateRequest{From: c.From, To: c.To, Force: c.Force, Pools: c.Pools})
	if err != nil {
		return err
	}
	if !res.PoolsListed && len(c.Pools) == 0 {
		g.note("%s cannot list its pools: pass --pool NAME for each pool whose reservations to copy", res.Source)
	}
	for _, r := range res.Kept {
		g.warn("pool %q member %q is already reserved in the target; left as it is", r.Pool, r.Member)
	}
	if !res.SerialsCopied {
		g.note("serials of %s count its own writes: make plans saved before the migration again", res.Target)
	}
	if !res.IdentityCopied {
		g.note("%s keeps its own identity: what broker made under %s is foreign to it (reap lists it apart)", res.Target, res.Source)
	}
	fmt.Fprintf(g.stdout, "Copied %d host records, %d intents and %d reservations in %d environments from %s to %s.\n",
		res.Hosts, res.Intents, res.Reservations, res.Environments, res.Source, res.Target)
	return nil
}
