// Package executor applies a plan: it walks the plan's changes in
// dependency order, with bounded parallelism (overall and per provider
// instance), writes an intent before every provider call that creates or
// destroys something, retries temporary provider errors, runs the setup
// and teardown callbacks it is given, records outcomes in the state, and
// reports everything as events.
//
// The walk is a small dependency graph plus two limits (Parallelism and
// per-instance MaxConcurrency) enforced by one dispatcher goroutine, so a
// change waiting for a busy provider instance never holds a slot another
// instance could use. A failed change skips its dependants only.
//
// Interrupts come in two stages: closing Options.Stop stops scheduling
// (unstarted changes are skipped, in-flight ones finish and are recorded);
// cancelling the context cancels the provider calls, and whatever happened
// is still written, with a context that is not cancelled. An intent whose
// outcome is unknown stays in the state for the next run to resume or
// clean up.
//
// Package executor must not parse HCL and must not print: progress leaves
// as events to an Observer. It does not take the environment's lock (the
// caller holds it) and does not check the plan's state serial.
package executor
