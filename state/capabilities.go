package state

import (
	"context"
	"time"
)

// Optional capabilities of a Store. A caller checks for one with a type
// assertion and says what it cannot do when the backend lacks it; a
// wrapper such as Batcher hides them (assert on the backend itself).

// LockHolder is implemented by backends that can say who holds an
// environment's lock without taking it (etcd). `broker state list` shows
// the holder.
type LockHolder interface {
	// LockHolder reports who holds env's lock, and whether anyone does.
	LockHolder(ctx context.Context, env string) (LockInfo, bool, error)
}

// ForceUnlocker is implemented by backends whose locks can outlive their
// holder for a while (etcd: until the session's lease runs out). A bbolt
// lock is an flock the kernel releases with its process, so there is
// nothing to break.
type ForceUnlocker interface {
	LockHolder
	// ForceUnlock breaks env's lock, also when a live process holds it
	// (that process's lock reports itself lost). It returns the holder it
	// removed, and false when the lock was free.
	ForceUnlock(ctx context.Context, env string) (LockInfo, bool, error)
}

// PoolLister is implemented by backends that can list the pools that have
// reservations, so that Copy needs no pool names.
type PoolLister interface {
	// Pools lists the pools with at least one reserved member.
	Pools(ctx context.Context) ([]string, error)
}

// SerialSetter is implemented by backends whose serials can be set (etcd),
// so that Copy carries serials over and plans saved before still apply. A
// backend without it counts its own writes from zero.
type SerialSetter interface {
	// SetSerial sets env's serial to n; later writes count on from n. It
	// refuses to move a serial backwards, which would let a stale saved
	// plan apply.
	SetSerial(ctx context.Context, env string, n uint64) error
}

// Identifier is implemented by backends that give the state a stable
// identity: a random id made once per state (a bbolt file, an etcd
// prefix) and kept for its life. Broker labels everything it creates with
// it (providers.LabelState), so that `reap` takes only this state's
// resources for orphans and leaves other states' (other broker
// directories on a shared engine) alone.
type Identifier interface {
	// Identity returns the state's id, making it on first use.
	Identity(ctx context.Context) (string, error)
}

// IdentitySetter is implemented by backends whose identity can be set, so
// that Copy (`broker state migrate`) carries it over: the resources the
// source's broker made stay this state's in the target.
type IdentitySetter interface {
	Identifier
	// SetIdentity replaces the state's id.
	SetIdentity(ctx context.Context, id string) error
}

// Value kinds.
const (
	// KindOutput is an output block's value.
	KindOutput = "output"
	// KindAction is an action block's result.
	KindAction = "action"
)

// Value is a named value an apply keeps for an environment: an output
// (KindOutput) or the result of an action (KindAction). It holds no
// secret: the manifest refuses sensitive values there; Sensitive only
// hides a value from listings.
type Value struct {
	Environment string `json:"environment"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	// Value is JSON-shaped.
	Value     any  `json:"value,omitempty"`
	Sensitive bool `json:"sensitive,omitempty"`
	// Digest identifies what the value was made from (an action's
	// inputs), so that a plan can tell whether they changed.
	Digest string `json:"digest,omitempty"`
	// Status is an action's outcome: "done" or "failed"; Error says why.
	Status  string    `json:"status,omitempty"`
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated"`
}

// ValueStore is implemented by backends that keep named values per
// environment (outputs, action results). Writes of values do not bump
// the environment's serial: hosts are what a saved plan is checked
// against.
type ValueStore interface {
	// PutValues inserts or replaces values by environment, kind and name;
	// it sets Updated.
	PutValues(ctx context.Context, vals ...Value) error
	// Values lists env's values of kind ("": every kind), by kind then
	// name.
	Values(ctx context.Context, env, kind string) ([]Value, error)
	// DeleteValues removes env's values of kind with the names; with no
	// names, every value of the kind.
	DeleteValues(ctx context.Context, env, kind string, names ...string) error
}
