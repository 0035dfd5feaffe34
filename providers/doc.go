// Package providers defines what broker asks of the services that lend it
// hosts: the Provider interface with its request and response structs,
// optional capabilities (Extender, Syncer, Refresher, Executor,
// SessionOpener) checked by type assertion, and the registry of provider
// types by name and alias.
//
// Each provider lives in a sub-package (providers/sim, providers/docker, …)
// and registers itself from an init function; programs import the ones they
// want (cmd/broker imports all of them through providers/all).
//
// A provider declares its settings schema (an hcldec.Spec) and its argument
// type (a cty.Type) so that bad input is caught by `broker validate` with a
// source range, before any provider is called.
//
// Package providers must not import state or print. A provider that
// reserves pool members does so through the Reservations interface, which
// state.Store satisfies.
package providers
