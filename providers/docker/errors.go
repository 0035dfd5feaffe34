package docker

import (
	"fmt"
	"strings"
)

// Errors that carry a hint implement Hinter; the hint is also the last line
// of their Error text, so a plain print of the error shows it too.
type Hinter interface {
	Hint() string
}

// EngineError says the engine did not answer.
type EngineError struct {
	// Host is the engine address tried (unix:///var/run/docker.sock,
	// tcp://…, ssh://…).
	Host string
	// Tried are podman's usual sockets, each with why it did not answer,
	// when the provider looked for one (engine = "podman" and no host).
	Tried []string
	Err   error
}

func (e *EngineError) Error() string {
	if len(e.Tried) > 0 {
		return fmt.Sprintf("no podman engine answers at its usual sockets; tried %s\nhint: %s", strings.Join(e.Tried, ", "), e.Hint())
	}
	return fmt.Sprintf("docker engine at %s not reachable: %v\nhint: %s", e.Host, e.Err, e.Hint())
}

func (e *EngineError) Unwrap() error { return e.Err }

// Hint says how to get an engine.
func (e *EngineError) Hint() string {
	switch {
	case len(e.Tried) > 0:
		return "start podman's API socket (systemctl --user start podman.socket, systemctl start podman.socket as root, or podman system service --time=0 unix:///path/podman.sock), or set the provider's host setting to it"
	case strings.HasPrefix(e.Host, "unix://") && strings.Contains(e.Host, "podman"):
		return "start podman's API socket (systemctl --user start podman.socket, or podman system service), or set the provider's host setting or DOCKER_HOST to a running engine"
	case strings.HasPrefix(e.Host, "unix://"):
		return "start the engine (systemctl start docker), or set the provider's host setting or DOCKER_HOST to a running engine"
	case strings.HasPrefix(e.Host, "ssh://"):
		return "check that ssh to that host works without a password and that docker runs there (docker system dial-stdio)"
	default:
		return "check that the engine listens at that address (and the TLS files, if any), or set the provider's host setting or DOCKER_HOST"
	}
}

// ImageError says an image is not there and could not be pulled.
type ImageError struct {
	Image string
	// Err is the pull's error; nil when pulling was not allowed.
	Err error
}

func (e *ImageError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("image %s is not present locally and pulling is off (pull = \"never\")\nhint: %s", e.Image, e.Hint())
	}
	return fmt.Sprintf("image %s is not present locally and could not be pulled: %v\nhint: %s", e.Image, e.Err, e.Hint())
}

func (e *ImageError) Unwrap() error { return e.Err }

// Hint says how to get the image.
func (e *ImageError) Hint() string {
	if strings.HasPrefix(e.Image, "broker-") {
		return "build broker's test images with make images (test/images/build.sh)"
	}
	return "build or load the image on the engine (docker build, docker load), or make its registry reachable"
}

// PortError says a host port asked for is taken.
type PortError struct {
	Port string
	Err  error
}

func (e *PortError) Error() string {
	return fmt.Sprintf("host port %s is already in use: %v\nhint: %s", e.Port, e.Err, e.Hint())
}

func (e *PortError) Unwrap() error { return e.Err }

// Hint says how to avoid the clash.
func (e *PortError) Hint() string {
	return `publish the container port without a host port ("22") to get a free one, or pick another host port`
}

// NameError says a container name is taken.
type NameError struct {
	Name string
	Err  error
}

func (e *NameError) Error() string {
	return fmt.Sprintf("container name %s is already in use: %v\nhint: %s", e.Name, e.Err, e.Hint())
}

func (e *NameError) Unwrap() error { return e.Err }

// Hint says how to free the name.
func (e *NameError) Hint() string {
	return fmt.Sprintf("check in the host that holds it, remove the container (docker rm -f %s), or use another name or name_prefix", e.Name)
}

// ExitError says a container stopped while broker waited for it.
type ExitError struct {
	Name   string
	Status int
	// Logs are the container's last log lines.
	Logs string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("container %s exited at once with status %d", e.Name, e.Status)
	if l := strings.TrimRight(e.Logs, "\n"); l != "" {
		msg += "; its last log lines:\n" + indent(l)
	} else {
		msg += " and logged nothing"
	}
	return msg + "\nhint: " + e.Hint()
}

// Hint says where to look.
func (e *ExitError) Hint() string {
	return "check the image's command and entrypoint (the command and entrypoint arguments override them)"
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
