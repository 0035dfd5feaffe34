// Command broker checks hosts out of the services that lend them (Docker and
// Podman engines, Ansible Tower/AWX, pools of lab machines), runs commands on
// them, and checks them in again. See README.md.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:]))
}
