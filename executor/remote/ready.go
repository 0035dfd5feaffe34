package remote

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WaitReady waits until cfg.Addr accepts an SSH login: a TCP connection,
// an SSH handshake and authentication, tried again (with backoff) until
// deadline. A freshly booted host passes through all three failures (no
// listener, sshd not yet answering, keys not yet installed), so each is
// retried; a host key that contradicts the pin or known_hosts is not.
//
// The error names the stage that failed last: it wraps a *ConnectError
// whose Stage is StageTCP, StageHandshake or StageAuth.
func WaitReady(ctx context.Context, cfg SSHConfig, deadline time.Duration) error {
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
		var hke *HostKeyError
		var rej *hostKeyRejectedError
		if errors.As(err, &hke) || errors.As(err, &rej) || ctx.Err() != nil {
			break
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
