// Package etcd is the shared state backend: many runners (machines, CI
// executors) keep one inventory in an etcd cluster, take turns on an
// environment through etcd locks that die with their holder's session,
// and elect one reaper among them.
//
// # Key layout
//
// Every key is under Config.Prefix (default "/broker"; written P below).
// Names chosen by users (environments, ids, pools, members, election
// names) are path-escaped (url.PathEscape), so "with/slash" is one segment
// and no name can reach into another's keys.
//
//	P/meta/schema_version        "1": refused when newer than this build
//	P/hosts/<id>                 JSON of state.Host plus "v": schema version
//	P/intents/<id>               JSON of state.Intent plus "v"
//	P/env/<env>/serial           the environment's write counter (see Serials)
//	P/env/<env>/serial-base      decimal offset of the counter (set by migrate)
//	P/env/<env>/h/<id>           "" index: a host record of the environment
//	P/env/<env>/i/<id>           "" index: an intent of the environment
//	P/pools/<pool>/<member>      holder of a reserved pool member
//	P/locks/<env>/<lease>        lock requests, one per session: "" exclusive, "shared"
//	P/holders/<env>/<lease>      JSON state.LockInfo of that session's holder
//	P/elections/<name>/<lease>   concurrency.Election keys; value: JSON LockInfo
//
// # Writes
//
// A write call (Put, Delete, the intent calls, or Apply with a mixed
// state.Batch) reads the records it touches, then commits one Txn that
// compares each record's mod revision with what it read, writes records
// and index keys, and bumps the serial of each touched environment once.
// When another runner changed one of the records in between, the compare
// fails and the call reads and tries again: records are compare-and-swap,
// never last-writer-wins over a stale read. A batch larger than etcd's
// limit of operations per Txn (--max-txn-ops, 128 by default;
// Config.MaxTxnOps) is split into several Txns; the serial bumps ride in
// the last one, so a saved plan made from a half-written batch is stale
// once the batch is complete.
//
// # Serials
//
// An environment's serial is the version of its serial key (etcd counts
// the puts to a key) plus the serial-base offset. A bump is a blind put in
// the write's Txn, so runners writing the same environment never conflict
// over the counter, and it still counts exactly one per write call.
//
// # Locks, reservations, elections
//
// An environment lock is a reader-writer lock on P/locks/<env> in a
// session of its own (a lease with Config.LockTTL, 30s by default, kept
// alive while the holder lives). A request puts P/locks/<env>/<lease>
// ("" for the exclusive form, as concurrency.Mutex does, "shared" for the
// shared form) and waits for the deletion of the older keys it conflicts
// with: all of them when exclusive, the exclusive ones when shared. So
// requests are served in creation order and a queued apply holds back the
// checkouts that come after it. The holder's LockInfo is written to
// P/holders/<env>/<lease> with the same lease before the lock is asked
// for, so a waiter finds the owner's key (the oldest under the prefix) and
// reads its holder note. A holder that dies stops renewing its lease and
// etcd deletes both keys when the TTL runs out; the next waiter proceeds.
//
// Reserve takes a pool member with a Txn that succeeds only if the
// member's key does not exist (create revision 0): two runners can never
// hold the same member.
//
// The Elector is concurrency.Election on P/elections/<name>, one session
// per campaign; Leadership.Done is the session's Done.
//
// # Failures
//
// The client is given every endpoint and fails over between them; each
// request has its own timeout (Config.RequestTimeout), and writes that
// fail with an unavailable or leaderless cluster are retried until it runs
// out. Errors that reach the caller are *Error, naming the endpoints, with
// a Hint for the command line. Since intents are written before provider
// calls, a run cut off by a lost quorum leaks nothing: the next apply
// reconciles.
//
// Package etcd must not call providers.
package etcd
