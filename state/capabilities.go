package state

import "context"

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
