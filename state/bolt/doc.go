// Package bolt is the embedded state backend: one bbolt file
// ($BROKER_DIRECTORY/state.db) plus a directory of per-environment lock
// files beside it.
//
// # One open per operation
//
// bbolt holds an flock on the whole file for as long as it is open
// (exclusive for writers, shared for readers). A process that kept the
// file open during a 20-minute apply would block every other broker
// process on the machine, even `broker inventory`. So a Store holds no
// file: each operation opens the file (with Options.OpenTimeout), runs one
// transaction and closes it. Values are copied out before the close, and
// encoding and decoding happen outside the transaction so that the file
// is held only for the reads and writes themselves. Many writes are
// coalesced into one transaction by state.Batcher through Apply.
//
// An open that times out becomes an error saying that another broker
// process holds the file, naming the last writer (pid, user, machine and
// subcommand, never its command line, which may hold secrets), which every
// writer notes in <path>.holder.
//
// # Locks
//
// Environment locks are not in bbolt (its flock is per file and would be
// the whole state); they are flock(2) on <LockDir>/env-<name>.lock, which
// the kernel releases when the holder dies, however it dies: LOCK_EX for
// the exclusive form (apply, destroy…), LOCK_SH for the shared one
// (imperative checkouts). A gate file beside it, held by an exclusive
// request while it waits, makes later shared requests queue behind it;
// shared holders leave their notes in readers-<name>/, one flocked file
// each. See Store.Lock.
//
// # Schema
//
// The file records its schema version in meta. A file from an older
// build is migrated in the first write transaction that opens it; a file
// from a newer build is refused.
//
// Package bolt must not call providers or hold the file between
// operations.
package bolt
