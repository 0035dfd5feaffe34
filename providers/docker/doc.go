// Package docker is broker's provider for containers on a Docker engine,
// and on Podman through its Docker-compatible API socket. It registers the
// type "docker" with the aliases "podman" and "Container" (the Python
// tool's name).
//
// A checkout creates and starts one container per host, labelled with
// broker's labels (broker.id, broker.environment, broker.address,
// broker.intent, broker.user, broker.origin, broker.lease.expires) plus
// broker.provider and broker.instance, so that `inventory --sync`, resumed
// checkouts and orphan reaping find it. The container id is handed to the
// request's Checkpoint right after create, before start. The image is pulled
// when missing (setting or argument pull = "missing" | "never" | "always").
// A named network is created when missing, labelled broker.network.managed,
// and removed when its last container is checked in; networks the provider
// did not create are never removed. Check-in removes the container with its
// anonymous volumes.
//
// A host is ready when its container runs (and is healthy, if the image
// has a health check) and, when port 22 is published, an SSH server sends
// its banner there (a TCP connect proves nothing: the engine's port proxy
// accepts before sshd listens). Such a host is reached by SSH at the
// published port (ConnectHost 127.0.0.1 for a local engine, the engine's
// host for a remote one; user root); any other by the docker-exec transport
// (OpenSession, package executor/remote/dockerexec). Either way the
// record's Hostname is the container's own hostname (its name, or the
// hostname argument) and IP its address on its network.
//
// Ports are written CONTAINER[:HOST][/PROTO] as in the Python tool, with an
// optional leading bind address: "22", "22:2222", "53/udp",
// "0.0.0.0:22:2222". On a local engine, ports are published on 127.0.0.1
// unless the publish_address setting says otherwise.
//
// SSH keys: images built by test/images/build.sh (broker-sshd) read the
// authorized keys from env BROKER_AUTHORIZED_KEYS at start; the provider
// sets it from the argument authorized_keys, else the settings
// authorized_keys / ssh_public_key_file, so broker's own key logs in
// without one being baked into an image.
//
// Leases are broker's business: container labels cannot change, so Extend
// only computes the new end, and the broker.lease.expires label keeps the
// first lease's end.
//
// Engines: the host setting (unix://, tcp:// with tls_ca/tls_cert/tls_key,
// ssh://[user@]host[:port]), else DOCKER_HOST, else the local docker
// socket. ssh:// runs `docker system dial-stdio` on the remote host through
// the ssh client, as the docker CLI does; that host needs the docker CLI.
// The client negotiates the API version down to the engine's (API 1.40 and
// later: Docker 19.03+, Podman 3+).
//
// Podman: with engine = "podman" (or when the provider is named by its
// podman alias) and no host, the engine is the first of podman's usual
// sockets that accepts a connection, $XDG_RUNTIME_DIR/podman/podman.sock
// (rootless) then /run/podman/podman.sock; when none does, the error names
// each one tried and why. Without engine, host and DOCKER_HOST, when
// docker's socket does not answer and a podman socket does, podman's is
// used. Podman 4 answers the docker-compatible API at version 1.41; where it
// differs from Docker the code says so: a container without a health check
// has Health {Status: ""} (Docker leaves Health out), and a taken container
// name is a 500 whose message says so (Docker: 409). Podman names images in
// full (the fact "image" reads localhost/broker-sshd:bookworm for a local
// image asked for as broker-sshd:bookworm). Rootless podman cannot publish
// ports below 1024, and its containers' IPs are not reachable from the
// host: use published ports.
//
// Errors say what failed and end with a hint line: *EngineError (engine
// not reachable, naming the socket or host), *ImageError (image missing and
// not pullable), *PortError (host port taken), *NameError (container name
// taken), *ExitError (container stopped while broker waited, with its last
// log lines). A checkout that fails removes what it made.
//
// The Python broker's container arguments are accepted (options.go):
// environment as a map or "A=1,B=2", name, provider_labels, string
// commands, and the docker-py create options it passed through, mapped to
// the engine API. The user's labels land on containers as broker.<key>, as
// the Python broker puts them (broker's own broker.* labels win), and Sync
// filters on them so. Describe also offers the Python listings
// container_hosts (images labelled broker_compatible) and container_apps,
// and one image (container_host, container_app).
//
// Settings and arguments are declared once, in settings.go
// (settingsSchema, argsSchema, package providers/schema): the argument set
// is closed, so an unknown argument is refused at validate time and on the
// command line with "did you mean"; pull, engine, timeout and cpus are
// checked there too, and checkout and execute decode their arguments with
// the same schema.
//
// Package docker must not import state or print: progress goes to the
// request's Progress function. Its errors do not name the instance; the
// caller does.
package docker
