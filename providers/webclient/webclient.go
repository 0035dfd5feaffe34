// Package webclient holds what the providers that speak HTTP to a lab
// service (awx, beaker, foreman, openstack) share about the connection:
// the TLS settings every one of them takes (verify_tls, ca_file) and the
// one rule of which connection failures waiting does not heal.
package webclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
)

// TLSConfig is a client's TLS configuration: TLS 1.2 at least, the
// certificates of caFile as roots when it is given, and no verification
// when verify is false (the user's choice, for labs with self-signed
// certificates).
func TLSConfig(verify bool, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify} //nolint:gosec // verify_tls = false asks for it
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Transport is http.DefaultTransport's settings with TLSConfig's.
func Transport(verify bool, caFile string) (*http.Transport, error) {
	cfg, err := TLSConfig(verify, caFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return tr, nil
}

// Why a failed connection will not heal by waiting (Permanent).
const (
	ReasonRefused = "connection refused before the service ever answered"
	ReasonDNS     = "host name does not resolve"
	ReasonCert    = "TLS certificate not trusted"
	ReasonNotTLS  = "the service does not speak TLS at this address"
)

// Permanent says why a failed connection will not heal by waiting, or ""
// when it may. An untrusted certificate, or a plain HTTP server where TLS
// was expected, never heals. A refused connection or an unknown host name
// before the service has ever answered this client (answered false) is a
// wrong url; once it has answered, the same failure is a restart or a
// network blip, worth the resilient wait.
func Permanent(err error, answered bool) string {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		rh tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci):
		return ReasonCert
	case errors.As(err, &rh):
		return ReasonNotTLS
	case answered:
		return ""
	}
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && (de.IsNotFound || !de.IsTimeout && !de.IsTemporary):
		return ReasonDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	}
	return ""
}
