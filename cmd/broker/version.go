package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"

	"github.com/alecthomas/kong"

	"github.com/labbroker/broker/internal/app"
)

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints.
func (VersionCmd) Run(g *Globals) error {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "dev+" + s.Value[:12]
				}
			}
		}
	}
	fmt.Fprintf(g.stdout, "broker %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	// Where broker looks for its files, as the Python broker's --version
	// shows them.
	dir, err := app.Directory(g.BrokerDirectory, g.lookupEnv)
	if err != nil {
		return nil
	}
	settings := filepath.Join(dir, app.SettingsFile)
	if _, err := os.Stat(settings); err != nil {
		if py := filepath.Join(dir, app.PythonSettingsFile); fileExists(py) {
			settings = py + " (the Python broker's, read in place)"
		}
	}
	fmt.Fprintf(g.stdout, "Broker Directory  %s\nSettings File     %s\nLog File          %s\n",
		dir, settings, filepath.Join(dir, "logs", "broker.log"))
	if py := filepath.Join(dir, app.PythonInventoryFile); fileExists(py) {
		fmt.Fprintf(g.stdout, "Inventory File    %s (the Python broker's; its hosts are adopted into the state)\n", py)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// versionFlag turns `broker --version` (the Python broker's) into `broker
// version`: when args hold --version and no command, the flag is replaced
// by the command.
func versionFlag(args []string, root *kong.Node) []string {
	i := slices.Index(args, "--version")
	if i < 0 || (slices.Contains(args, "--") && slices.Index(args, "--") < i) {
		return args
	}
	for _, a := range args {
		for _, c := range root.Children {
			if c.Type == kong.CommandNode && c.Name == a {
				return args
			}
		}
	}
	out := append(append([]string{}, args[:i]...), args[i+1:]...)
	return append(out, "version")
}
