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
// A provider type declares its settings and its arguments once, as
// schemas (package providers/schema): Register derives from them the
// hcldec spec and argument type the manifest decoder is handed, so that bad
// input is caught by `broker validate` with the value's source range,
// before any provider is called; Type.CheckArgs gives command-line
// arguments the same check; HelpOf turns them into `broker providers`
// help. A provider decodes its settings and arguments with the same
// schema, never by reading cty values by hand.
//
// The package also owns the vocabulary providers and state share: broker's
// labels (LabelID, …) and the transports (TransportSSH, …), which state
// re-exports and stores as they are.
//
// Package providers and its sub-packages must not import state or print,
// nor name the instance in their errors (the caller that chose the
// instance does). A provider that reserves pool members does so through
// the Reservations interface, which state.Store satisfies.
package providers
