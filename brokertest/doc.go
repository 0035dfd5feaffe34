// Package brokertest checks hosts out for Go tests and checks them in when
// the test ends, through package broker.
//
//	func TestUpgrade(t *testing.T) {
//		host := brokertest.Checkout(t, broker.Nick("rhel9"), broker.Lease(2*time.Hour))
//		res := host.Run(t.Context(), "rpm -qa")
//		if res.Status != 0 {
//			t.Fatal(res)
//		}
//		env := brokertest.Apply(t, "testdata/lab.hcl")
//		for _, c := range env.Hosts(`labels.role == "client"`) { … }
//	}
//
// Checkout, CheckoutN and Apply register a t.Cleanup that checks the hosts
// in (Apply: destroys the environment), so a test that fails with t.Fatal,
// in a subtest too, leaves nothing. A checkout or apply that fails fails
// the test at once.
//
// # The shared client
//
// The helpers work through one broker.Client per test binary (Client),
// configured from the environment: BROKER_DIRECTORY (else ~/.broker) for
// the settings, state and logs, as the command line has it, and
// BROKER_ENVIRONMENT for the environment checkouts are recorded in. The
// default environment is named after the test binary (gotest.test for a
// package gotest), so `broker inventory` tells whose hosts they are. Apply
// applies each manifest in an environment of its own named after the test
// (gotest.test.TestUpgrade), so that parallel tests applying one manifest
// do not meet; broker.InEnvironment chooses another. With is the same
// helpers over a Client of the test's own.
//
// # Hosts for the whole package
//
// Main runs a package's tests between a setup that checks hosts out and a
// cleanup that checks in everything the shared client still holds, even
// when tests failed:
//
//	var web *broker.Host
//
//	func TestMain(m *testing.M) {
//		os.Exit(brokertest.Main(m, func(ctx context.Context, c *broker.Client) (err error) {
//			web, err = c.Checkout(ctx, broker.Nick("rhel9"))
//			return err
//		}))
//	}
//
// Shared, under Main, checks a host out the first time a test asks for it
// by name and hands the same host to every later test; Main checks it in.
//
// # Flags
//
// -broker.keep keeps every host and environment (nothing is checked in)
// and logs their names, ids and environments, to look at a failure on the
// hosts themselves; `broker checkin ID` or `broker destroy` later.
// -broker.lease (default 2h) is the lease of hosts checked out through
// the helpers unless the test gives broker.Lease.
//
// # When the test binary dies
//
// A test binary killed by a timeout, a panic or SIGKILL runs no cleanup.
// Nothing leaks all the same:
//
//   - broker writes an intent into its state before every provider call
//     that creates or destroys something, and labels what the provider
//     makes (broker.id, broker.environment, broker.intent, broker.user);
//     `broker reap` resumes or cleans up interrupted checkouts, and
//     `broker reap --orphans` removes labelled resources nobody records.
//   - hosts checked out are recorded in the binary's environment with the
//     -broker.lease lease: `broker reap` (or the janitor timer of
//     examples/janitor) checks them in when it ends, and `broker checkin
//     --all -e gotest.test` or `broker destroy -e gotest.test.TestX -f
//     MANIFEST` at once.
package brokertest
