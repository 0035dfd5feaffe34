// Package broker is the Go library of broker, the middleman between test
// suites and the services that lend machines (Docker and Podman engines,
// AWX / Ansible Tower, pools of lab machines, and the simulated "sim"
// provider). It checks hosts out, runs commands on them, and checks them
// in, through the same code as the broker command line: the same settings
// (broker.hcl), state, locks, intents and providers, so `broker inventory`
// shows what a Go program holds and `broker checkin` or `broker reap` can
// take it back.
//
// # Quick start
//
//	c, err := broker.Open(ctx, broker.Options{})  // $BROKER_DIRECTORY or ~/.broker
//	if err != nil { … }
//	defer c.Close()
//
//	host, err := c.Checkout(ctx, broker.Provider("docker"),
//		broker.Args{"image": "broker-sshd:bookworm", "ports": []string{"22"}},
//		broker.Lease(2*time.Hour))
//	if err != nil { … }
//	defer c.Checkin(ctx, host)
//
//	res := host.Run(ctx, "rpm -qa")  // Result{Status, Stdout, Stderr, Duration, Err}
//	if !res.OK() { … }
//
// A nick of the settings works as on the command line:
// broker.Nick("rhel9"). CheckoutN checks several hosts out at once.
// Apply applies a whole manifest and returns an *Environment whose Hosts
// are selected with broker's filter language; Destroy checks it in.
//
// Go tests use package brokertest, which checks hosts in on t.Cleanup
// (after a t.Fatal too), shares a Client per test binary, and checks
// package-wide hosts out and in around m.Run.
//
// # Options
//
// A checkout is described by options: Nick, Provider ("docker",
// "docker.local", "sim"), Args (provider arguments, merged over the
// nick's), Labels, Lease, InEnvironment, and Setup and Teardown steps.
// Setup and Teardown are the Go form of the Python broker's Host classes
// with setup and teardown methods: a Setup step runs after the checkout,
// before Checkout returns, and a failing one checks the host back in and
// returns the error; Teardown steps run in Checkin before the host goes
// back to its provider, and never prevent the check-in.
//
// # Running commands
//
// Host.Run opens a session on first use through the host's transport:
// SSH for hosts with an SSH server (broker's own key, made in the broker
// directory and given to the containers broker starts; the host key is
// pinned on first contact), the Docker engine's exec API for containers
// without one. Result.Status is the exit status; Result.Err is set, and
// Status is -1, only when the command could not be run or its end was
// not seen (no transport, as with sim hosts; connection failed or lost;
// ctx ended). RunStream copies the output to writers as it comes; Upload,
// Download and Shell complete the set.
//
// # Clients and settings
//
// A Client is one broker directory with its settings, given as the
// directory's broker.hcl or as text in Options.Settings. Clients share no
// state: two of them in one process, with different directories and
// settings, are as separate as two broker processes. Checkouts are
// recorded in Options.Environment ("default" unless set), applies in the
// manifest's environment unless InEnvironment says otherwise.
//
// # Nothing leaks
//
// Before every provider call that creates or destroys something, broker
// writes an intent to its state, and what the provider makes carries
// broker's labels (broker.id, broker.environment, broker.intent,
// broker.user). A program killed during a checkout therefore leaves an
// intent that the next apply of that environment, or `broker reap`,
// resumes or cleans up; a resource whose intent was never written is an
// orphan `broker reap --orphans` removes. Hosts a killed program held stay
// recorded in its environment: `broker reap` checks them in when their
// Lease ends, `broker checkin --all -e ENV` or `broker destroy` at once.
package broker
