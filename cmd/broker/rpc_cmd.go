package main

import (
	"fmt"

	broker "github.com/labbroker/broker"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/rpc"
)

// RPCCmd serves the library over JSON-RPC on stdin and stdout.
type RPCCmd struct{}

// Help is shown by `broker rpc --help`.
func (RPCCmd) Help() string {
	return `Serves broker to programs in other languages (the Python package in
python/ starts it): JSON-RPC 2.0, one JSON object per line, requests on
stdin, responses on stdout, possibly out of order (match them by id).

  echo '{"jsonrpc":"2.0","id":1,"method":"inventory","params":{}}' | broker rpc

Methods: hello, checkout, checkin, extend, inventory, execute, run,
upload, download, read_file, write_file, close (the README's "The rpc
protocol" section has their params and results). One connection per host
is kept for the process's life. When stdin ends, broker rpc finishes the
checkouts and check-ins under way and exits, checking nothing in: the
hosts stay in the inventory for broker checkin, destroy or reap.`
}

// Run serves until stdin ends.
func (RPCCmd) Run(g *Globals, ctx *interruptContext) error {
	for flag, set := range map[string]bool{"--log-level": g.LogLevel != "", "--log-file": g.LogFile != "", "--output-file": g.OutputFile != ""} {
		if set {
			return app.Hint(fmt.Errorf("broker rpc does not take %s", flag),
				"it logs to <broker-directory>/logs/broker.log at the level of the settings' logging block, and answers on stdout")
		}
	}
	c, err := broker.Open(ctx, broker.Options{Directory: g.BrokerDirectory, Environment: g.Environment, Command: "broker rpc"})
	if err != nil {
		return err
	}
	defer c.Close()
	if g.InsecureIgnoreHostKey {
		app.LibraryApp(c).SetInsecureHostKeys(true)
	}
	if err := rpc.New(c, version).Serve(ctx, g.stdin, g.stdout); err != nil {
		return fmt.Errorf("rpc: %w", err)
	}
	return nil
}
