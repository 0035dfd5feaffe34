// The package documentation is in doc.go.

package remote

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Result is a finished command.
type Result struct {
	// Status is the exit status; -1 when the command was killed by a
	// signal or its status is unknown.
	Status int `json:"status"`
	// Stdout and Stderr are the captured output, when the RunOptions had
	// no writer for them.
	Stdout   string        `json:"stdout"`
	Stderr   string        `json:"stderr"`
	Duration time.Duration `json:"duration_ns"`
}

// RunOptions control one command.
type RunOptions struct {
	// Stdin, if set, is copied to the command's input.
	Stdin io.Reader
	// Stdout and Stderr, if set, receive the output as it comes and it is
	// not captured (so 100 MB of output costs no memory); nil: captured
	// into the Result.
	Stdout, Stderr io.Writer
	// Env is set for the command where the transport allows.
	Env map[string]string
	// Timeout bounds the command; zero: only ctx bounds it.
	Timeout time.Duration
}

// WindowSize is a terminal's size.
type WindowSize struct{ Width, Height int }

// ShellOptions control an interactive shell.
type ShellOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Term is the TERM value; empty: xterm-256color.
	Term string
	Size WindowSize
	// Resize delivers window-size changes; may be nil.
	Resize <-chan WindowSize
}

// Session is a connection to one host.
//
// Run returns an error only when the command could not be run or its end
// not seen (connection lost, timeout); a command that ran and failed is a
// Result with a non-zero Status and a nil error.
type Session interface {
	Run(ctx context.Context, cmd string, opts RunOptions) (Result, error)
	// Upload copies a local file or directory tree to remote, keeping modes.
	Upload(ctx context.Context, local, remote string) error
	// Download copies a remote file or directory tree to local, keeping modes.
	Download(ctx context.Context, remote, local string) error
	// Shell runs an interactive shell with a PTY until it exits; a shell
	// that exits with a non-zero status returns an *ExitError.
	Shell(ctx context.Context, opts ShellOptions) error
	Close() error
}

// ExitError is a shell or command that ended with a non-zero status where
// the API has no Result to carry it (Session.Shell).
type ExitError struct {
	// Status is the exit status; -1 when killed by a signal.
	Status int
}

func (e *ExitError) Error() string {
	if e.Status < 0 {
		return "remote shell was killed by a signal"
	}
	return fmt.Sprintf("remote shell exited with status %d", e.Status)
}
