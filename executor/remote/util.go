package remote

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// commandWithEnv prefixes cmd with env so that the variables reach it
// even where sshd's AcceptEnv refuses Setenv: `env 'K=V' "$SHELL" -c 'cmd'`
// keeps the login shell's syntax for cmd.
func commandWithEnv(cmd string, env map[string]string) (string, error) {
	if len(env) == 0 {
		return cmd, nil
	}
	var b strings.Builder
	b.WriteString("env")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !validEnvName(k) {
			return "", fmt.Errorf("invalid environment variable name %q", k)
		}
		b.WriteByte(' ')
		b.WriteString(ShellQuote(k + "=" + env[k]))
	}
	b.WriteString(` "$SHELL" -c `)
	b.WriteString(ShellQuote(cmd))
	return b.String(), nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ShellQuote quotes s as one word for a POSIX shell.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_@%+=:,./-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// backoff is the wait before retry attempt+1: exponential from 250ms,
// capped at 5s, with jitter so that many hosts retried together spread
// out.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond
	for range attempt {
		d *= 2
		if d >= 5*time.Second {
			d = 5 * time.Second
			break
		}
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
