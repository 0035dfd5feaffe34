package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a record or intent does not exist.
var ErrNotFound = errors.New("not found")

// ErrPoolExhausted is returned by Reserve when every candidate is taken.
var ErrPoolExhausted = errors.New("pool exhausted")

// Query selects host records.
type Query struct {
	// Environment limits the result to one environment; empty means all.
	Environment string
}

// LockInfo describes who holds an environment's lock. It is stored beside
// the lock so that a waiting process can name the holder.
type LockInfo struct {
	PID       int       `json:"pid"`
	User      string    `json:"user"`
	Machine   string    `json:"machine"`
	Operation string    `json:"operation"` // apply, destroy, checkout…
	Since     time.Time `json:"since"`
	// Others counts the further holders of a shared lock besides this
	// one, when a waiter found several. It is not stored.
	Others int `json:"-"`
}

func (l LockInfo) String() string {
	s := fmt.Sprintf("%s (pid %d, user %s on %s, since %s)",
		l.Operation, l.PID, l.User, l.Machine, l.Since.Format(time.RFC3339))
	switch l.Others {
	case 0:
	case 1:
		s += " and 1 other"
	default:
		s += fmt.Sprintf(" and %d others", l.Others)
	}
	return s
}

// LockOptions control how Lock waits, and which form of the lock it takes.
type LockOptions struct {
	// Timeout is how long to wait for a held lock; zero means do not wait.
	Timeout time.Duration
	// OnWait, if set, is called once when the lock is found held, with the
	// holder, before waiting.
	OnWait func(holder LockInfo)
	// Shared takes the lock's shared form: any number of shared holders
	// hold it at once, and none while an exclusive holder does. The
	// default is the exclusive form. See "Locks" in the package
	// documentation.
	Shared bool
}

// LockedError is returned when a lock could not be taken in time.
type LockedError struct {
	Environment string
	Holder      LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("environment %q is locked by %s", e.Environment, e.Holder)
}

// Unlocker releases a lock. Calling it twice is harmless.
type Unlocker interface {
	Unlock() error
}

// LossNotifier is implemented by locks that can be lost while held (an
// etcd lock whose session expired when the runner lost the cluster): Lost
// is closed then, and the holder must stop changing the environment,
// because another runner may now hold it.
type LossNotifier interface {
	Lost() <-chan struct{}
}

// Store is broker's state. Implementations are safe for concurrent use by
// many goroutines, and by many processes where the backend allows (bbolt
// files are opened per transaction; etcd is shared by design).
//
// Every write bumps the serial of each environment it touches, once per
// call. Put, Delete and the intent calls take many values at once so that a
// caller writing many hosts pays for one transaction (see Batcher).
type Store interface {
	// Serial is the environment's write counter; 0 for an unknown environment.
	Serial(ctx context.Context, env string) (uint64, error)
	// Environments lists the environments that hold records or intents.
	Environments(ctx context.Context) ([]string, error)

	// Hosts returns the records matching q, ordered by ID.
	Hosts(ctx context.Context, q Query) ([]Host, error)
	// Host returns one record; ErrNotFound if there is none.
	Host(ctx context.Context, id string) (Host, error)
	// Put inserts or replaces records by ID. It sets Updated (and Created
	// when zero).
	Put(ctx context.Context, hosts ...Host) error
	// Delete removes records by ID; unknown ids are ignored.
	Delete(ctx context.Context, ids ...string) error

	// PutIntents inserts or replaces intents by ID.
	PutIntents(ctx context.Context, intents ...Intent) error
	// DeleteIntents removes intents by ID; unknown ids are ignored.
	DeleteIntents(ctx context.Context, ids ...string) error
	// Intents lists intents of one environment, or of all when env is "".
	Intents(ctx context.Context, env string) ([]Intent, error)

	// Lock takes the environment's lock, exclusive or (opts.Shared)
	// shared. It returns *LockedError naming the holder when the lock is
	// still held after opts.Timeout. A lock dies with the process that
	// holds it. Waiters are served in turn: an exclusive waiter keeps
	// shared requests that come after it waiting, so a stream of shared
	// holders cannot starve it.
	Lock(ctx context.Context, env string, info LockInfo, opts LockOptions) (Unlocker, error)

	// Reserve atomically takes one free member of the pool from
	// candidates for holder; ErrPoolExhausted when none is free.
	Reserve(ctx context.Context, pool string, candidates []string, holder string) (string, error)
	// Release frees a member; releasing a free member is harmless.
	Release(ctx context.Context, pool, member string) error
	// Reservations maps the pool's taken members to their holders.
	Reservations(ctx context.Context, pool string) (map[string]string, error)

	// Close releases the backend's resources.
	Close() error
}
