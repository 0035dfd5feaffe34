// Package app wires broker's packages together for one process: it finds
// the broker directory, reads the settings file, opens the state backend,
// loads manifests with the registered providers' schemas, makes provider
// instances, and runs plan and apply under the environment's lock.
//
// The command line (cmd/broker) and the Go library (the module root) both
// work through App, so there is one implementation of every workflow. App
// holds no presentation: it returns values and emits executor events; the
// callers render them.
//
// Janitor (janitor.go, reap.go) runs reap rounds, once or watching with
// leader election, and Sync (sync.go) merges what a provider lists into
// the state. What they decide is planner's (ReapPlan, Orphans); they do
// the provider calls, locks and writes, and report through events.
package app
