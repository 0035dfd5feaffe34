package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/labbroker/broker"
)

// tempDir is a fresh broker directory, so that the examples' output does
// not depend on what an earlier run left.
func tempDir() string {
	d, err := os.MkdirTemp("", "broker-example-")
	if err != nil {
		panic(err)
	}
	return d
}

// A checkout from the sim provider, which pretends: its hosts exist only
// in a file of the broker directory.
func ExampleClient_Checkout() {
	ctx := context.Background()
	dir := tempDir()
	defer os.RemoveAll(dir)

	c, err := broker.Open(ctx, broker.Options{Directory: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	host, err := c.Checkout(ctx, broker.Provider("sim"), broker.Args{"os": "fedora"}, broker.Lease(2*time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(host.Provider, host.Environment, host.Facts["os"])
	fmt.Println(host.IP)

	if err := c.Checkin(ctx, host); err != nil {
		fmt.Println(err)
	}
	left, _ := c.Inventory(ctx, "")
	fmt.Println(len(left), "hosts left")
	// Output:
	// sim.default default fedora
	// 192.0.2.1
	// 0 hosts left
}

// Settings given as text: a nick that names a provider and its arguments.
func ExampleOpen() {
	ctx := context.Background()
	dir := tempDir()
	defer os.RemoveAll(dir)

	c, err := broker.Open(ctx, broker.Options{
		Directory:   dir,
		Environment: "example",
		Settings: `
provider "sim" "lab" {}
nick "rhel9" {
  provider = "sim.lab"
  args     = { os = "rhel-9.4" }
}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	hosts, err := c.CheckoutN(ctx, 2, broker.Nick("rhel9"), broker.Labels{"role": "client"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Checkin(ctx, hosts...)
	for _, h := range hosts {
		fmt.Println(h.Provider, h.Environment, h.Labels["role"], h.Facts["os"])
	}
	// Output:
	// sim.lab example client rhel-9.4
	// sim.lab example client rhel-9.4
}

// Setup runs after the checkout, Teardown before the check-in: the Go form
// of the Python broker's Host classes with setup and teardown methods.
func ExampleSetup() {
	ctx := context.Background()
	dir := tempDir()
	defer os.RemoveAll(dir)
	c, err := broker.Open(ctx, broker.Options{Directory: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	host, err := c.Checkout(ctx, broker.Provider("sim"),
		broker.Setup(func(ctx context.Context, h *broker.Host) error {
			fmt.Println("setup of", h.IP)
			return nil
		}),
		broker.Teardown(func(ctx context.Context, h *broker.Host) error {
			fmt.Println("teardown of", h.IP)
			return nil
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("testing", host.IP)
	if err := c.Checkin(ctx, host); err != nil {
		fmt.Println(err)
	}
	// Output:
	// setup of 192.0.2.1
	// testing 192.0.2.1
	// teardown of 192.0.2.1
}

// A whole manifest applied, its hosts selected with a filter, destroyed.
func ExampleClient_Apply() {
	ctx := context.Background()
	dir := tempDir()
	defer os.RemoveAll(dir)
	manifest := filepath.Join(dir, "lab.hcl")
	err := os.WriteFile(manifest, []byte(`
environment = "example-lab"
provider "sim" "lab" {}
host "server" {
  provider = "sim.lab"
  labels   = { role = "server" }
}
host "client" {
  provider = "sim.lab"
  count    = 2
  labels   = { role = "client" }
}
`), 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := broker.Open(ctx, broker.Options{Directory: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	env, err := c.Apply(ctx, manifest)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Name)
	for _, h := range env.Hosts(`labels.role == "client"`) {
		fmt.Println(h.Address)
	}
	if err := c.Destroy(ctx, env); err != nil {
		fmt.Println(err)
	}
	left, _ := c.Inventory(ctx, `environment == "example-lab"`)
	fmt.Println(len(left), "hosts left")
	// Output:
	// example-lab
	// host.client[0]
	// host.client[1]
	// 0 hosts left
}

// A Result whose Err is set: sim hosts have no transport, so no command
// can run on them. Status is -1 then.
func ExampleHost_Run() {
	ctx := context.Background()
	dir := tempDir()
	defer os.RemoveAll(dir)
	c, err := broker.Open(ctx, broker.Options{Directory: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	host, err := c.Checkout(ctx, broker.Provider("sim"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Checkin(ctx, host)

	res := host.Run(ctx, "hostname")
	fmt.Println(res.Status, res.OK(), res.Err != nil)
	// Output:
	// -1 false true
}
