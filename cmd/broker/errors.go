package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/labbroker/broker/internal/redact"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// Exit codes, documented in the README and in `broker --help`.
const (
	exitOK          = 0
	exitError       = 1 // bad input, a failed change, a provider error
	exitChanges     = 2 // plan --detailed-exitcode: there are changes
	exitLocked      = 3 // the environment's lock was not free in time
	exitInterrupted = 130
)

// hinter is an error that can suggest what to do next.
type hinter interface{ Hint() string }

// exitError carries an exit code through Run methods.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitCodeError) Unwrap() error { return e.err }

// withCode makes err exit with code.
func withCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// silentError is an error already reported (diagnostics printed); main only
// sets the exit code.
type silentError struct {
	code int
	// msg sums up what was reported, for --output-file's error_message.
	msg string
}

func (e silentError) Error() string { return "reported" }

// report prints err in broker's one voice and returns the exit code. Every
// line goes through secrets (nil: URL passwords only): whatever layer let a
// token or a password into a message, it is not shown.
func report(w io.Writer, err error, secrets *redact.Secrets) int {
	if err == nil {
		return exitOK
	}
	var s silentError
	if errors.As(err, &s) {
		return s.code
	}
	code := exitError
	var ce *exitCodeError
	if errors.As(err, &ce) {
		code = ce.code
		if ce.err == nil {
			return code
		}
	}
	msg := secrets.String(err.Error())
	fmt.Fprintf(w, "broker: error: %s\n", msg)
	for _, h := range hints(err) {
		fmt.Fprintf(w, "hint: %s\n", secrets.String(h))
	}
	var le *state.LockedError
	if errors.As(err, &le) && code == exitError {
		code = exitLocked
	}
	return code
}

// hints collects hint lines from every error in the chain.
func hints(err error) []string {
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		for _, line := range strings.Split(strings.TrimSpace(h), "\n") {
			if line != "" && !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if h, ok := e.(hinter); ok {
				add(h.Hint())
			}
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				for _, x := range j.Unwrap() {
					walk(x)
				}
				return
			}
			e = errors.Unwrap(e)
		}
	}
	walk(err)
	var le *state.LockedError
	if errors.As(err, &le) {
		add("wait for it to finish, or pass --lock-timeout to wait longer (e.g. --lock-timeout 30m)")
	}
	var se *planner.StaleError
	if errors.As(err, &se) {
		add("run `broker plan --out FILE` again and apply the new plan")
	}
	return out
}
