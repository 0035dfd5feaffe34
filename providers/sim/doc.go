// Package sim is the simulated provider (type "sim", alias
// "TestProvider"): it lends hosts that exist only as records in its own
// small bbolt file, so manifests, plans, applies, crashes and resumes can
// be exercised anywhere, without a service.
//
// The file (default <broker directory>/sim/<instance>.db, or the path
// setting) is opened for each operation and closed again, like the state
// file, so that several broker processes can share one simulated lab.
// Hosts carry the request's labels, so that resume (by the broker.intent
// label) and sync (by labels and broker.user) behave as with a real
// provider. Latency and failures can be injected: a failure rate drawn
// from a seeded generator, and addresses whose checkout always fails.
// Addresses in 192.0.2.0/24 (TEST-NET-1) are never contacted.
//
// Settings are declared once in settings.go (SettingsSchema); arguments
// are open (ArgsSchema documents os and memory, which become facts; any
// other is kept in the recipe).
//
// Package sim must not import state (providers do not), print, or reach
// the network.
package sim
