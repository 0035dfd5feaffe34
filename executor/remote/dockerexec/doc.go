// Package dockerexec is a remote.Session over a Docker (or Podman) engine's
// exec and archive APIs: the transport broker uses for containers that run
// no SSH server (state.TransportDockerExec).
//
// Run executes a command line through a shell in the container (default
// /bin/sh -c) with stdout and stderr kept apart (the engine multiplexes them
// on one stream; they are demultiplexed here) and takes the exit status from
// the exec's inspection. Upload and Download move files and directory trees
// as tar archives through the archive API, keeping permission bits;
// uploaded files are owned by root (uid 0) in the container. Shell runs an
// interactive shell in an exec with a TTY and follows window resizes.
//
// The engine has no call to stop an exec. When a command's timeout or
// context ends, the session closes the stream and, best effort, kills the
// command's processes in the container: each command runs with a unique
// BROKER_EXEC_ID in its environment, and a second exec kills every process
// carrying it (this needs sh, tr, grep and /proc in the image).
//
// Package dockerexec knows nothing of providers, plans or state: it is
// handed an engine client and a container id.
package dockerexec
