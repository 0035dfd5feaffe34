package webclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Permanent decides which failed connections the resilient wait skips.
func TestPermanentConnectionFailures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, c := range []struct {
		name    string
		err     error
		reached bool
		want    string
	}{
		{"refused before contact", refused, false, ReasonRefused},
		{"refused after contact: a restart", refused, true, ""},
		{"unknown name", &net.DNSError{Err: "no such host", Name: "svc.invalid", IsNotFound: true}, false, ReasonDNS},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "svc.example", IsTimeout: true}, false, ""},
		{"resolver hiccup", &net.DNSError{Err: "server misbehaving", Name: "svc.example", IsTemporary: true}, false, ""},
		{"unknown name after contact", &net.DNSError{Err: "no such host", Name: "svc.example", IsNotFound: true}, true, ""},
		{"reset", reset, false, ""},
		{"wrapped refused", fmt.Errorf("Get: %w", refused), false, ReasonRefused},
		{"other", errors.New("EOF"), false, ""},
		{"plain HTTP where TLS was expected", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true, ReasonNotTLS},
		{"untrusted", fmt.Errorf("Get: %w", x509.UnknownAuthorityError{}), true, ReasonCert},
	} {
		if got := Permanent(c.err, c.reached); got != c.want {
			t.Errorf("%s: Permanent = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	cfg, err := TLSConfig(false, "")
	if err != nil || !cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLSConfig(false) = %+v, %v", cfg, err)
	}
	if _, err := TLSConfig(true, "/nonexistent/ca.pem"); err == nil || !strings.Contains(err.Error(), "read ca_file") {
		t.Errorf("missing ca_file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := TLSConfig(true, bad); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("ca_file without PEM: %v", err)
	}
}
