package remote

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WaitReady waits until cfg.Addr accepts an SSH login: a TCP connection,
// an SSH handshake and authentication, tried again (with backoff) until
// deadline. A freshly booted host passes through the first two failures
// (no listener, sshd not yet answering), so they are retried. What a
// running sshd says on purpose is final and ends the wait at once: a host
// key that contradicts the pin or known_hosts (a rebuilt host, or someone
// in between), and a refused login (a wrong user or key: waiting does
// not change them).
//
// The error names the stage that failed last: it wraps a *ConnectError
// whose Stage is StageTCP, StageHandshake or StageAuth.
func WaitReady(ctx context.Context, cfg SSHConfig, deadline time.Duration) error {
	return WaitReadyNotify(ctx, cfg, deadline, nil)
}

// WaitReadyNotify is WaitReady that tells onRetry (when not nil) about
// each failed attempt it will try again after, with the attempt's number
// (from 1) and error: the caller's progress.
func WaitReadyNotify(ctx context.Context, cfg SSHConfig, deadline time.Duration, onRetry func(attempt int, err error)) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	cc, _, cleanup, err := clientConfig(cfg)
	if err != nil {
		return err
	}
	defer cleanup()

	var (
		last error
		hop  *SSHSession
	)
	defer func() {
		if hop != nil {
			hop.Close()
		}
	}()
	for attempt := 0; ; attempt++ {
		err := func() error {
			if cfg.Bastion != nil && (hop == nil || !hop.alive()) {
				b := *cfg.Bastion
				b.ConnectRetries = 0
				h, err := DialSSH(ctx, b)
				if err != nil {
					return fmt.Errorf("bastion: %w", err)
				}
				hop = h
			}
			client, err := handshake(ctx, cfg, cc, hop)
			if err != nil {
				return err
			}
			return client.Close()
		}()
		if err == nil {
			return nil
		}
		// A handshake cut short by the deadline says less than the
		// attempt before it, unless there was none.
		if last == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
			last = err
		}
		if final(err) || ctx.Err() != nil {
			break
		}
		if onRetry != nil {
			onRetry(attempt+1, err)
		}
		if sleepCtx(ctx, min(backoff(attempt), 2*time.Second)) != nil {
			break
		}
	}
	if pctxErr := context.Cause(ctx); errors.Is(pctxErr, context.Canceled) {
		if last != nil {
			// Why the host was not ready yet is worth telling too.
			return fmt.Errorf("wait for %s: %w (last attempt: %w)", cfg.Addr, pctxErr, last)
		}
		return fmt.Errorf("wait for %s: %w", cfg.Addr, pctxErr)
	}
	return fmt.Errorf("%s not ready after %s: %w", cfg.Addr, deadline, last)
}

// final reports whether a failed attempt's answer would be the same on the
// next: a refused host key or a refused login.
func final(err error) bool {
	var hke *HostKeyError
	var rej *hostKeyRejectedError
	var ce *ConnectError
	return errors.As(err, &hke) || errors.As(err, &rej) || errors.As(err, &ce) && ce.Stage == StageAuth
}
