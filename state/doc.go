// Package state owns broker's records: the hosts it has checked out, the
// intents it writes before every provider call that creates or destroys
// something, per-environment locks, per-environment serials, and the
// reservations of pool members.
//
// The Store interface is implemented by backends in sub-packages
// (state/bolt, the embedded default; state/etcd, shared by many runners).
// Every backend passes the same suite, state/statetest.
//
// What only some backends can do is a small optional interface, checked by
// type assertion and declared here with the backends' compile-time
// assertions beside their methods: LockHolder (who holds a lock, without
// taking it), ForceUnlocker (break a lock that outlives its holder),
// PoolLister and SerialSetter. Copy moves a whole state from one backend
// to another with them (`broker state migrate`); it reports what the
// backends could not carry over instead of printing it.
//
// # Writing many records
//
// Put, Delete and the intent calls take many values, and a backend that
// can apply mixed writes in one transaction implements Writer. Batcher
// wraps any Store and coalesces concurrent writes from many goroutines into
// one transaction per round (group commit, no timers), so that an apply of
// 1,000 hosts does not pay for 1,000 fsyncs. A record at fault is reported
// as *RecordError, which lets the Batcher fail only that record's caller.
//
// Package state must not call providers: a provider's reservations go
// through the small providers.Reservations interface that Store satisfies.
// It imports package providers only for the vocabulary both share (the
// Transport* names, which providers report and records store).
//
// # Locks
//
// Every environment has one lock with two forms. plan-and-apply, destroy,
// reap, import, taint and state repair take it exclusive: they read the
// whole environment, judge its intents (a leftover intent is a run that
// died) and write what they decided, so nobody else may change the
// environment meanwhile. Imperative checkouts, check-ins, extends and
// duplicates take it shared: each writes only its own intents and records,
// in short transactions (intent, provider call, record), so any number of
// them run side by side, and none runs while an exclusive holder does.
// Since a shared holder keeps the lock for its whole provider call, an
// exclusive holder never sees the intent of an imperative run still in
// flight, and never takes it for a leftover.
//
// Waiters are served in turn: once an exclusive waiter queues, later
// shared requests wait behind it, so an apply is not starved by a stream
// of parallel test workers, and those workers go on once it is done.
//
// # Intents
//
// An intent is written before a provider is asked to create or destroy
// something, updated as the provider reports ids (a checkpoint), and removed
// when the host's record is final. A run that is killed leaves its intents
// behind; the next run finds them and either resumes the checkout (the
// provider adopts what carries the intent's label) or cleans up. This is how
// a SIGKILL or a lost connection leaks nothing.
package state
