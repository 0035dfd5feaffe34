// Package sshdtest starts real OpenSSH sshd servers for tests and
// benchmarks: each server runs as a child process of the test binary, on
// 127.0.0.1 high ports, with its own sshd_config, host key, client key and
// authorized_keys in t.TempDir(), and is stopped by t.Cleanup.
//
// Typical use from another package's test:
//
//	srv := sshdtest.Start(t, sshdtest.Options{})
//	// srv.Addr ("127.0.0.1:port"), srv.User, srv.KeyFile (client private
//	// key, authorised), srv.HostPublicKey (authorized_keys format, to pin
//	// or to write to a known_hosts file with srv.KnownHosts(t)).
//
// Many hosts are cheap: StartN(t, 50) runs one sshd listening on 50 ports
// (Server.Addrs), which is what fan-out tests and benchmarks want. Every
// port serves the same host key and accepts the same client key.
//
// StartSilent(t) gives the address of a TCP listener that accepts
// connections and never speaks SSH (a booting host, a firewall that
// swallows packets), for readiness and timeout tests.
//
// When sshd is not installed (Debian: openssh-server), Start and Require
// skip the test with the reason; when the environment has CI=true they
// fail it instead, so a CI runner missing sshd cannot pass silently.
//
// Password authentication needs an account with a password that sshd can
// check against the shadow file: with Options.Password set, and the test
// running as root, Start creates (once, idempotently) a throwaway local
// account named after the password ("brokerpw" + 8 hex digits) and the
// server's User is that account; not running as root, the test is
// skipped (failed with CI=true). The package never changes an existing
// account's password.
//
// The package imports nothing of broker, so any package's tests,
// including executor/remote's own, can use it.
package sshdtest
