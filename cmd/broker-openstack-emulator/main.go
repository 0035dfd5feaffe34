// Command broker-openstack-emulator serves the OpenStack API emulator of
// providers/openstack/ostest (Keystone v3, Nova, Glance, Neutron) on
// 127.0.0.1 for demos and manual tests of broker's openstack provider. Its
// servers are not machines, and it keeps everything in memory.
//
//	broker-openstack-emulator --listen 127.0.0.1:5000 --build-polls 3
//
// It prints the auth URL (the provider's auth_url), then serves until
// interrupted. User admin, password secret-password, project demo; the
// application credential appcred-1 with secret appcred-secret. Images
// cirros and rhel-9.4, flavors m1.small and m1.large, networks private and
// the external public, key pair default.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/labbroker/broker/providers/openstack/ostest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "broker-openstack-emulator: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("broker-openstack-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	password := fs.String("password", ostest.DefaultPassword, "password of the user admin")
	polls := fs.Int("build-polls", 3, "polls a new server answers BUILD before ACTIVE")
	quota := fs.Int("quota", 0, "servers the project may have (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	e, err := ostest.Start(ostest.Options{Listen: *listen, Password: *password, BuildPolls: *polls})
	if err != nil {
		return err
	}
	defer e.Close()
	e.SetQuota(*quota)
	fmt.Println(e.AuthURL())
	fmt.Fprintf(os.Stderr, "broker-openstack-emulator: serving Keystone v3 at %s (user %s, project %s); interrupt to stop\n", e.AuthURL(), ostest.DefaultUsername, ostest.DefaultProject)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
