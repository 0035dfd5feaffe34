package planner

import (
	"fmt"
	"time"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// ReapInput is what a reap round judges one environment by.
type ReapInput struct {
	Environment string
	// Records and Intents are the environment's (others are ignored).
	Records []state.Host
	Intents []state.Intent
	// Now is the time leases and intents are judged against.
	Now time.Time
	// IntentGrace: intents updated less than this long ago are left
	// alone, since their run may still be going.
	IntentGrace time.Duration
}

// Reap is what a reap round does in one environment.
type Reap struct {
	// Plan checks in every expired record, finishes the interrupted
	// check-ins of records that are releasing or expired, and cleans up
	// after the other stale intents. Its changes are all destroys.
	Plan *Plan
	// Expired are the records whose lease is over; Stale the intents
	// older than the grace, in the order given.
	Expired []state.Host
	Stale   []state.Intent
}

// ReapPlan decides what reap does in in.Environment. Unlike Make it works
// on every record, with an address or not (an imperative checkout expires
// too), and it never creates. The Plan's changes are in record order, then
// intent order.
func ReapPlan(in ReapInput) *Reap {
	out := &Reap{Plan: &Plan{FormatVersion: FormatVersion, Environment: in.Environment, Created: in.Now}}
	byID := map[string]*state.Host{}
	for i := range in.Records {
		byID[in.Records[i].ID] = &in.Records[i]
	}
	// Stale check-in intents finish with their record's check-in.
	finishing := map[string]state.Intent{}
	var cleanups []Change
	for _, it := range in.Intents {
		if it.Environment != in.Environment || in.Now.Sub(it.Updated) < in.IntentGrace {
			continue
		}
		out.Stale = append(out.Stale, it)
		if r, ok := byID[it.HostID]; ok && it.Op == state.OpDestroy && r.Environment == in.Environment {
			if r.Status == state.StatusReleasing || Expired(r.Lease.Expires, in.Now) {
				finishing[r.ID] = it
			}
			continue
		}
		// A create's leftovers (or a check-in's whose record is gone) are
		// found by the intent's label and checked in, as Make's cleanup
		// changes are.
		cleanups = append(cleanups, cleanup(it, ReasonCleanup))
	}
	for _, r := range in.Records {
		if r.Environment != in.Environment {
			continue
		}
		it, finish := finishing[r.ID]
		expired := Expired(r.Lease.Expires, in.Now)
		if !expired && !finish {
			continue
		}
		c := Change{Action: Destroy, Address: r.Address, Before: ptr(r)}
		if expired {
			out.Expired = append(out.Expired, r)
			c.Reason = Reason{Kind: ReasonLeaseExpired, Left: r.Lease.Expires.Sub(in.Now)}
		}
		if finish {
			c.Resume = ptr(it)
			if c.Reason.Is(ReasonNone) {
				c.Reason = Because(ReasonFinishCheckin, "")
			}
		}
		out.Plan.Changes = append(out.Plan.Changes, c)
	}
	// Expired hosts that depend on others go first, as in destroy.
	OrderDestroys(out.Plan.Changes, nil)
	out.Plan.Changes = append(out.Plan.Changes, cleanups...)
	return out
}

// Listed is a resource a provider instance listed (providers.Syncer).
type Listed struct {
	Provider, Instance string
	Info               providers.HostInfo
}

// Owner says which state a listed resource belongs to, by its
// broker.state label.
type Owner int

const (
	// OwnerThis: labelled with this state's identity (or this state has
	// none to compare with). Such a resource that no record knows is an
	// orphan, which reap removes with --orphans.
	OwnerThis Owner = iota
	// OwnerForeign: labelled with another state's identity: another broker
	// directory or etcd prefix made it, and only that state knows whether
	// it is in use.
	OwnerForeign
	// OwnerUnknown: broker's labels but no broker.state (made by a broker
	// that gave states no identity). Whose it is cannot be told, so it is
	// treated as foreign.
	OwnerUnknown
)

var ownerNames = [...]string{"this", "foreign", "unknown"}

func (o Owner) String() string {
	if int(o) < len(ownerNames) && o >= 0 {
		return ownerNames[o]
	}
	return fmt.Sprintf("Owner(%d)", int(o))
}

// Orphan is a listed resource carrying broker's labels that no record or
// intent of this state knows. Only those of Owner OwnerThis are this
// state's orphans; the others are foreign, listed apart and removed only
// when asked for explicitly.
type Orphan struct {
	Listed
	// Age is how long ago it was made; 0 when the provider does not say.
	Age time.Duration
	// Owner is OwnerThis, OwnerForeign or OwnerUnknown.
	Owner Owner
}

// Foreign reports whether the resource is not this state's.
func (o Orphan) Foreign() bool { return o.Owner != OwnerThis }

// State is the broker.state label the resource carries ("" for none).
func (o Orphan) State() string { return o.Info.Labels[providers.LabelState] }

// ID is the broker.id label the orphan carries.
func (o Orphan) ID() string { return o.Info.Labels[providers.LabelID] }

// OrphanInput is what orphans are judged by.
type OrphanInput struct {
	// Listed are the resources the providers listed.
	Listed []Listed
	// Records and Intents are every environment's, read after the
	// listing: a checkout finishing in between writes its intent before
	// its resource exists, so it is never taken for an orphan.
	Records []state.Host
	Intents []state.Intent
	// User is whose resources count (label broker.user), unless AllUsers.
	User     string
	AllUsers bool
	// Environment, if set, limits orphans to those labelled with it.
	Environment string
	// State is this state's identity (label broker.state); "" when the
	// backend has none, and then every resource counts as this state's.
	State string
	Now   time.Time
}

// Orphans picks the orphans out of in.Listed, in its order. Resources
// without broker's broker.id label are never orphans; nor are other
// users' (unless AllUsers), nor those a record or intent knows by id,
// intent label or provider id. A resource listed by two instances of one
// type (two instances on one engine) is one orphan. Each is told whose it
// is (Owner): only those labelled with in.State are this state's.
func Orphans(in OrphanInput) []Orphan {
	// Empty ids are never keys: they would make every resource lacking
	// that label known.
	known := map[string]bool{}
	knownPID := map[[2]string]bool{}
	know := func(ids ...string) {
		for _, id := range ids {
			if id != "" {
				known[id] = true
			}
		}
	}
	knowPID := func(typ, pid string) {
		if pid != "" {
			knownPID[[2]string{typ, pid}] = true
		}
	}
	for _, r := range in.Records {
		know(r.ID)
		knowPID(r.Provider, r.ProviderID)
	}
	for _, it := range in.Intents {
		know(it.HostID, it.ID)
		knowPID(it.Provider, it.ProviderID)
	}
	seen := map[[2]string]bool{}
	var out []Orphan
	for _, c := range in.Listed {
		l := c.Info.Labels
		id := l[providers.LabelID]
		pid := [2]string{c.Provider, c.Info.ProviderID}
		switch {
		case id == "": // not broker's: never touched
			continue
		case !in.AllUsers && l[providers.LabelUser] != in.User: // another user's, or nobody's
			continue
		case in.Environment != "" && l[providers.LabelEnvironment] != in.Environment:
			continue
		case known[id] || known[l[providers.LabelIntent]] || knownPID[pid]:
			continue
		case seen[pid]:
			continue
		}
		seen[pid] = true
		o := Orphan{Listed: c}
		switch st := l[providers.LabelState]; {
		case in.State == "" || st == in.State:
		case st == "":
			o.Owner = OwnerUnknown
		default:
			o.Owner = OwnerForeign
		}
		if !c.Info.Created.IsZero() {
			o.Age = in.Now.Sub(c.Info.Created)
		}
		out = append(out, o)
	}
	return out
}
