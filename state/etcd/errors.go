package etcd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a failed etcd operation: the cluster could not be reached, had
// no quorum, refused the credentials, or answered with an error. It names
// the endpoints, and its Hint says what to check.
type Error struct {
	// Endpoints are the configured client URLs.
	Endpoints []string
	// Op says what broker was doing ("open", "put hosts", "lock env \"x\"").
	Op  string
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd at %s: %s: %v", strings.Join(e.Endpoints, ", "), e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Hint suggests what to check, for the command line's hint lines.
func (e *Error) Hint() string {
	switch {
	case isAuth(e.Err):
		return "check state.username and state.password in broker.hcl (and that the etcd user may read and write the prefix)"
	case isTLS(e.Err):
		return "check state.tls (ca, cert, key) in broker.hcl against the certificates etcd serves"
	case errors.Is(e.Err, rpctypes.ErrTooManyOps):
		return "raise etcd's --max-txn-ops or lower the batch size"
	default:
		return "is etcd running? check state.endpoints in broker.hcl"
	}
}

func isAuth(err error) bool {
	for _, e := range []error{rpctypes.ErrAuthFailed, rpctypes.ErrInvalidAuthToken, rpctypes.ErrPermissionDenied,
		rpctypes.ErrUserEmpty, rpctypes.ErrAuthNotEnabled, rpctypes.ErrAuthOldRevision} {
		if errors.Is(err, e) {
			return true
		}
	}
	c := code(err)
	return c == codes.Unauthenticated || c == codes.PermissionDenied
}

func isTLS(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "x509:") || strings.Contains(s, "tls:") || strings.Contains(s, "authentication handshake failed")
}

// code is the gRPC code of err, whether it is a status or an EtcdError.
func code(err error) codes.Code {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code()
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// transient reports whether a failed request may succeed if tried again:
// the member went away, the cluster is electing, the request timed out
// inside the cluster.
func transient(err error) bool {
	if errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeout) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) || errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) ||
		errors.Is(err, rpctypes.ErrLeaderChanged) || errors.Is(err, rpctypes.ErrStopped) || errors.Is(err, rpctypes.ErrNotCapable) {
		return true
	}
	switch code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}

// wrap turns a client error into *Error, leaving the caller's own
// cancellation as it is.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Endpoints: s.cfg.Endpoints, Op: op, Err: err}
}
