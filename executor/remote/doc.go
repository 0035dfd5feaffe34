// Package remote runs commands on hosts and moves files to and from them:
// SSH with SFTP (golang.org/x/crypto/ssh, github.com/pkg/sftp) and the
// Docker engine's exec and archive APIs, behind one Session interface.
//
// Package remote knows nothing of plans or state: callers hand it
// addresses, credentials and a host-key policy, and get sessions back.
//
// The SSH side in brief:
//
//   - DialSSH connects (directly or through a Bastion), verifies the host
//     key (pin, known_hosts, trust on first use, or explicitly insecure),
//     authenticates (keys, agent, password) and returns an *SSHSession.
//     Only connection failures are retried (ConnectRetries, capped
//     exponential backoff with jitter); refusals are final and typed:
//     *ConnectError carries the stage (tcp, ssh handshake, auth),
//     *HostKeyError both fingerprints.
//   - SSHSession.Run opens one SSH channel per command, so commands on one
//     connection run concurrently. Output goes to the caller's writers as
//     it arrives (x/crypto's 2 MiB channel window bounds what is in
//     flight) or is captured. A timeout kills the command (signal, where
//     sshd allows it) and closes its channel, never the connection, and
//     returns a *TimeoutError.
//   - Upload and Download use one SFTP client per connection, opened on
//     first use, with large packets and many requests in flight per file;
//     a tree's files move several at a time.
//   - Copies treat the other side as hostile (copysafe.go): downloads write
//     through an os.Root and LocalTree, never through a link under the
//     destination; links that leave the tree, devices, pipes and sockets
//     are skipped and reported through WithSkipReport, never printed.
//   - WaitReady polls a booting host until it accepts a login: no listener
//     and no SSH answer yet are waited for; a refused host key or login is
//     what a running sshd says on purpose, and ends the wait at once.
//   - Pool keeps one connection per host for a run and replaces dead ones.
//
// Why one SSH connection per host with a channel per command, rather than
// a connection per command: a handshake costs several round trips and a
// key exchange, and sshd's MaxStartups throttles many concurrent
// handshakes, which is what a 50-host fan-out would otherwise hit.
//
// Tests run against a real OpenSSH sshd started by test/sshdtest.
package remote
