package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// runSetup runs a resolved setup on h: uploads, then commands, then the
// script, each line of output streamed as a progress event.
func (a *App) runSetup(ctx context.Context, h *state.Host, rs *manifest.ResolvedSetup, conn *manifest.Connection, emit func(executor.Event)) error {
	if len(rs.Uploads) == 0 && len(rs.Run) == 0 && rs.Script == "" {
		return nil
	}
	if rs.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rs.Timeout)
		defer cancel()
	}
	if h.Transport == state.TransportNone || h.Transport == "" {
		emit(executor.Event{Kind: executor.EventNote, Phase: executor.PhaseSetup,
			Message: fmt.Sprintf("%s host has no transport: %d upload(s) and %d command(s) of setup not run", h.Provider, len(rs.Uploads), len(rs.Run)+btoi(rs.Script != ""))})
		return nil
	}
	o := SessionOptions{Connection: conn, InsecureIgnoreHostKey: a.insecureHostKeys}
	if h.Transport == state.TransportSSH && rs.WaitFor != "none" {
		cfg, err := a.SSHConfig(h, o)
		if err != nil {
			return err
		}
		emit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseSetup, Message: "waiting for ssh on " + cfg.Addr})
		err = remote.WaitReadyNotify(ctx, cfg, readyDeadline(rs.Timeout), func(attempt int, err error) {
			if attempt&(attempt-1) != 0 {
				return // attempts 1, 2, 4, 8…: a booting host's wait is not a flood
			}
			emit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseSetup,
				Message: fmt.Sprintf("waiting for ssh on %s (attempt %d: %v)", cfg.Addr, attempt, err)})
		})
		if err != nil {
			return sshHint(err, h, cfg)
		}
	}
	sess, err := a.SessionWith(ctx, h, o)
	if err != nil {
		return err
	}
	uctx := remote.WithSkipReport(ctx, func(s remote.Skip) {
		emit(executor.Event{Kind: executor.EventNote, Phase: executor.PhaseSetup, Message: "upload: " + s.String()})
	})
	for _, u := range rs.Uploads {
		emit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseSetup, Message: fmt.Sprintf("upload %s -> %s", u.Source, u.Destination)})
		if err := sess.Upload(uctx, u.Source, u.Destination); err != nil {
			return fmt.Errorf("upload %s: %w", u.Source, err)
		}
		if u.Mode != 0 {
			if _, err := sess.Run(ctx, fmt.Sprintf("chmod %o %s", u.Mode, shellQuote(u.Destination)), remote.RunOptions{}); err != nil {
				return fmt.Errorf("chmod %s: %w", u.Destination, err)
			}
		}
	}
	if err := runEach(ctx, sess, rs.Run, 0, executor.PhaseSetup, emit); err != nil {
		return err
	}
	if rs.Script != "" {
		emit(executor.Event{Kind: executor.EventProgress, Phase: executor.PhaseSetup, Message: "script"})
		return runOne(ctx, sess, "/bin/sh -s", strings.NewReader(rs.Script), 0, executor.PhaseSetup, emit)
	}
	return nil
}

// runCommands runs commands on h (teardown, hook run lists); their output
// is reported as progress of phase.
func (a *App) runCommands(ctx context.Context, h state.Host, cmds []string, timeout time.Duration, conn *manifest.Connection, phase executor.Phase, emit func(executor.Event)) error {
	if len(cmds) == 0 {
		return nil
	}
	if h.Transport == state.TransportNone || h.Transport == "" {
		emit(executor.Event{Kind: executor.EventNote, Message: fmt.Sprintf("%s host has no transport: %d command(s) not run", h.Provider, len(cmds))})
		return nil
	}
	sess, err := a.SessionWith(ctx, &h, SessionOptions{Connection: conn, InsecureIgnoreHostKey: a.insecureHostKeys})
	if err != nil {
		return err
	}
	return runEach(ctx, sess, cmds, timeout, phase, emit)
}

func runEach(ctx context.Context, sess remote.Session, cmds []string, timeout time.Duration, phase executor.Phase, emit func(executor.Event)) error {
	for _, c := range cmds {
		emit(executor.Event{Kind: executor.EventProgress, Phase: phase, Message: "$ " + c})
		if err := runOne(ctx, sess, c, nil, timeout, phase, emit); err != nil {
			return err
		}
	}
	return nil
}

func runOne(ctx context.Context, sess remote.Session, cmd string, stdin *strings.Reader, timeout time.Duration, phase executor.Phase, emit func(executor.Event)) error {
	lw := &lineEmitter{emit: emit, phase: phase}
	opts := remote.RunOptions{Stdout: lw, Stderr: lw, Timeout: timeout}
	if stdin != nil {
		opts.Stdin = stdin
	}
	res, err := sess.Run(ctx, cmd, opts)
	lw.flush()
	if err != nil {
		return fmt.Errorf("%q: %w", cmd, err)
	}
	if res.Status != 0 {
		return fmt.Errorf("%q exited with status %d", cmd, res.Status)
	}
	return nil
}

// lineEmitter turns streamed output into one progress event per line.
type lineEmitter struct {
	emit  func(executor.Event)
	phase executor.Phase
	buf   []byte
}

func (l *lineEmitter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.emit(executor.Event{Kind: executor.EventProgress, Phase: l.phase, Message: string(l.buf[:i])})
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineEmitter) flush() {
	if len(l.buf) > 0 {
		l.emit(executor.Event{Kind: executor.EventProgress, Phase: l.phase, Message: string(l.buf)})
		l.buf = nil
	}
}

// readyDeadline is how long to wait for a new host's SSH: the setup's
// timeout when shorter than the default five minutes.
func readyDeadline(setupTimeout time.Duration) time.Duration {
	if setupTimeout > 0 && setupTimeout < 5*time.Minute {
		return setupTimeout
	}
	return 5 * time.Minute
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
