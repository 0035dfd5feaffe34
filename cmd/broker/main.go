// Command broker checks hosts out of the services that lend them (Docker and
// Podman engines, Ansible Tower/AWX, pools of lab machines), runs commands on
// them, and checks them in again. See README.md.
package main

import (
	"os"
	"runtime/pprof"
)

func main() {
	// BROKER_CPUPROFILE=FILE writes a CPU profile of the run, for the
	// benchmarks' investigations (see the README's Development section).
	if path := os.Getenv("BROKER_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := Main(os.Args[1:])
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(Main(os.Args[1:]))
}
