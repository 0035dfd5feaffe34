// Package rpc is `broker rpc`: JSON-RPC 2.0 over a pair of pipes, one
// JSON object per line, serving the Go library (the module root) to
// programs in other languages (the Python package in python/).
//
// A Server holds one broker.Client for its life, and with it one pooled
// session per host (SSH connection or docker-exec client), so a command on
// a warm host costs a channel, not a handshake. Requests are served
// concurrently; each response carries its request's id and may come out
// of order. When the input ends the server waits for the checkouts,
// check-ins and extends under way (so the state records what they did),
// cancels commands and file copies, closes the sessions and returns:
// it checks nothing in on its own. Hosts stay recorded like any checkout,
// for `broker checkin`, `broker destroy` and `broker reap`.
//
// Errors are JSON-RPC error objects whose data holds the hint (what to do)
// and a kind. Messages pass through the App's secret mask; params are
// never logged.
//
// The methods, their params and results are documented in the README
// ("Python", "The rpc protocol") and in methods.go.
package rpc
