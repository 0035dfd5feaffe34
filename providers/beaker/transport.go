package beaker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
)

// permanent tells whether a transport error is one that waiting does not
// heal: an untrusted or wrong certificate always; a refused connection or
// an unknown host name while the service has never answered this client
// (a wrong url, rather than a restart).
func permanent(err error, answered bool) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
	)
	if errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cve) || errors.As(err, &rh) {
		return true
	}
	if answered {
		return false
	}
	var de *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &de) && de.IsNotFound)
}
