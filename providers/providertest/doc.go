// Package providertest holds a hand-written fake provider for tests of the
// packages that drive providers (executor, planner, the CLI).
//
// The fake records every call (XCalled, XRequests) and lets a test replace
// any method with a function (XFn), which may block on a channel the test
// controls: that is how tests order concurrent work without sleeping. With
// no function set, the fake behaves like a small provider that keeps its
// hosts in memory.
//
// Conformance is the suite every provider that makes hosts should pass,
// run by each provider's tests against its real service or an emulator.
//
// It must not be imported by non-test code, and it knows nothing of state
// or plans.
package providertest
