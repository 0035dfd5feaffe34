// Package statetest is the suite every state.Store backend must pass:
// records and their ordering, copies, serials, environments, intents,
// locks, pool reservations and concurrent use; and the optional
// capabilities (LockHolder, ForceUnlocker, PoolLister, SerialSetter) on
// every backend that implements them, skipping, with the reason, those a
// backend lacks. RunCopy tests state.Copy between two backends.
//
// Backends run it from their own tests with a function that opens a fresh,
// empty store. Package statetest must not know any backend.
package statetest
