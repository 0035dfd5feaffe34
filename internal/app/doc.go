// Package app is broker's operations layer: one implementation of each
// operation, called by both faces of broker, the command line
// (cmd/broker) and the Go library (the module root), and later `broker
// rpc`. The faces translate flags or options into a request, call the
// operation, and render its result; they build no plan changes and make
// no store calls of their own.
//
// Files by operation, each with its request and result types:
//
//	select.go    Select, Inventory: host references, --all, --filter, environment scope
//	ops.go       Checkout, Checkin, Extend, Duplicate (imperative runs under the shared form of the environment's lock, side by side)
//	execute.go   Execute (provider actions), UnrecordedHost
//	plan.go      Plan, Apply, Destroy of a manifest
//	taint.go     Taint, Untaint, FindHosts (exactly one record per reference)
//	janitor.go, reap.go  Janitor and Reap: reap rounds, once or watching with leader election
//	sync.go      Sync: merge what a provider lists into the state (inventory --sync)
//	import.go    Import (adopt a provider's resource), ImportInventory (a Python inventory file)
//	exec.go      Exec, Copy: commands and files on hosts over their sessions
//	imperative.go ResolveCheckout: the provider instance and nick of a checkout; args files
//	manifest.go, setup.go, lifecycle.go: loading manifests; setup, teardown and hooks
//	library.go   what only the library needs (settings as text, sessions it owns)
//	state.go     StateList, StateFind, StateShow, StateRm, StateUnlock, StateMigrate:
//	             look at and repair the state; the one place above package state that
//	             opens a backend by name ("bolt", "bolt:PATH", "etcd") or uses a
//	             backend's optional capabilities (state.LockHolder, …)
//
// Wiring stays apart from the operations: app.go (directory, settings, log,
// store), providers.go (provider instances: a manifest's block wins for
// that manifest, else the settings'), session.go and sshkey.go (sessions,
// broker's key), settings*.go (broker.hcl and BROKER_* overrides).
//
// Rules live with the data they are about, not here: addresses, check-in,
// extend and checkout changes and plan reasons in planner; host naming
// (state.Host.Label) and records in state; durations and leases in
// manifest. App holds no presentation: it returns values, emits executor
// events, and gets I/O only through callbacks in its Options (Prompt for
// passphrases, Stderr for settings warnings) and requests (Observer,
// Progress). It never reads stdin nor writes to the process's stderr.
package app
