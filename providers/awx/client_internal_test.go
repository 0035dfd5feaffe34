package awx

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// permanent decides which failed connections the resilient wait skips.
func TestPermanentConnectionFailures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, c := range []struct {
		name    string
		err     error
		reached bool
		want    string
	}{
		{"refused before contact", refused, false, reasonRefused},
		{"refused after contact: a restart", refused, true, ""},
		{"unknown name", &net.DNSError{Err: "no such host", Name: "awx.invalid", IsNotFound: true}, false, reasonDNS},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "awx.example", IsTimeout: true}, false, ""},
		{"resolver hiccup", &net.DNSError{Err: "server misbehaving", Name: "awx.example", IsTemporary: true}, false, ""},
		{"unknown name after contact", &net.DNSError{Err: "no such host", Name: "awx.example", IsNotFound: true}, true, ""},
		{"reset", reset, false, ""},
		{"wrapped refused", fmt.Errorf("Get: %w", refused), false, reasonRefused},
		{"other", errors.New("EOF"), false, ""},
	} {
		if got := permanent(c.err, c.reached); got != c.want {
			t.Errorf("%s: permanent = %q, want %q", c.name, got, c.want)
		}
	}
}
