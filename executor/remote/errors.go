package remote

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TimeoutError is a command stopped because its RunOptions.Timeout or its
// context's deadline passed. It wraps context.DeadlineExceeded.
type TimeoutError struct {
	// Cmd is the command as the caller gave it.
	Cmd string
	// Timeout is RunOptions.Timeout; zero when the context's own deadline
	// ended the command.
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("command %q timed out after %s", e.Cmd, e.Timeout)
	}
	return fmt.Sprintf("command %q timed out", e.Cmd)
}

// Unwrap makes errors.Is(err, context.DeadlineExceeded) true.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// HostKeyError is a host key that broker refuses: it differs from the key
// pinned in broker's record or from the known_hosts files (Want set), or
// the host is unknown and there is no trust-on-first-use (Want empty).
type HostKeyError struct {
	// Host is the address dialled, host:port.
	Host string
	// Want are the expected keys' SHA256 fingerprints, comma separated;
	// empty for an unknown host.
	Want string
	// Got is the presented key's SHA256 fingerprint.
	Got string
	// Source says where Want came from: "pinned key" or a known_hosts
	// file name with its line.
	Source string
}

func (e *HostKeyError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("host key of %s is unknown (presented %s); add it to a known_hosts file, pin it in broker's record, or allow trust on first use", e.Host, e.Got)
	}
	src := ""
	if e.Source != "" {
		src = " (" + e.Source + ")"
	}
	fix := "remove the old key (ssh-keygen -R)"
	if e.Source == "pinned key" {
		fix = "replace the host: its record pins the old key"
	}
	return fmt.Sprintf("host key of %s changed: expected %s%s, got %s; if the host was rebuilt, %s, otherwise someone may be intercepting the connection",
		e.Host, e.Want, src, e.Got, fix)
}

// Connection stages, as ConnectError.Stage reports them.
const (
	StageTCP       = "tcp"
	StageHandshake = "ssh handshake"
	StageAuth      = "auth"
)

// ConnectError is a failed connection attempt and the stage it failed at:
// StageTCP (nothing listening, unreachable), StageHandshake (no SSH
// server answering, protocol or host-key failure) or StageAuth (the server
// refused every credential).
type ConnectError struct {
	Addr  string
	Stage string
	Err   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect to %s: %s: %v", e.Addr, e.Stage, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// isAuthFailure recognises x/crypto/ssh's authentication failures, which
// have no type of their own.
func isAuthFailure(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") ||
		strings.Contains(s, "Too many authentication failures") ||
		strings.Contains(s, "no supported methods remain")
}
