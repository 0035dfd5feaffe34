package remote

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyRejectedError is OnFirstUse saying no.
type hostKeyRejectedError struct {
	host string
	err  error
}

func (e *hostKeyRejectedError) Error() string {
	return fmt.Sprintf("host key of %s not trusted on first use: %v", e.host, e.err)
}

func (e *hostKeyRejectedError) Unwrap() error { return e.err }

// hostKeyChecker applies a HostKeyPolicy for one DialSSH, across its
// attempts: a key accepted on first use stays accepted for the retries.
type hostKeyChecker struct {
	policy HostKeyPolicy
	pinned ssh.PublicKey
	known  ssh.HostKeyCallback // nil without known_hosts files

	mu       sync.Mutex
	accepted ssh.PublicKey // through OnFirstUse
	seen     ssh.PublicKey // last presented
}

func newHostKeyChecker(p HostKeyPolicy) (*hostKeyChecker, error) {
	h := &hostKeyChecker{policy: p}
	if p.InsecureIgnore {
		return h, nil
	}
	if p.Pinned != "" {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(p.Pinned))
		if err != nil {
			return nil, fmt.Errorf("pinned host key: %w", err)
		}
		h.pinned = k
	}
	var files []string
	for _, f := range p.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
	}
	if len(files) > 0 {
		cb, err := knownhosts.New(files...)
		if err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
		h.known = cb
	}
	return h, nil
}

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func sameKey(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

func (h *hostKeyChecker) presented() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		return ""
	}
	return authorizedKey(h.seen)
}

func (h *hostKeyChecker) check(host string, remote net.Addr, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = key
	if h.policy.InsecureIgnore {
		return nil
	}
	if h.pinned != nil {
		if sameKey(h.pinned, key) {
			return nil
		}
		return &HostKeyError{Host: host, Want: ssh.FingerprintSHA256(h.pinned), Got: ssh.FingerprintSHA256(key), Source: "pinned key"}
	}
	if h.accepted != nil && sameKey(h.accepted, key) {
		return nil
	}
	if h.known != nil {
		err := h.known(host, remote, key)
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			return fmt.Errorf("host key of %s (%s) is revoked in %s:%d", host, ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
		case errors.As(err, &ke) && len(ke.Want) > 0:
			var want, src []string
			for _, k := range ke.Want {
				want = append(want, ssh.FingerprintSHA256(k.Key))
				src = append(src, fmt.Sprintf("%s:%d", k.Filename, k.Line))
			}
			return &HostKeyError{Host: host, Want: strings.Join(want, ", "), Got: ssh.FingerprintSHA256(key), Source: strings.Join(src, ", ")}
		case errors.As(err, &ke):
			// Unknown host: trust on first use, below.
		default:
			return err
		}
	}
	if h.policy.OnFirstUse != nil {
		if err := h.policy.OnFirstUse(authorizedKey(key)); err != nil {
			return &hostKeyRejectedError{host: host, err: err}
		}
		h.accepted = key
		return nil
	}
	return &HostKeyError{Host: host, Got: ssh.FingerprintSHA256(key)}
}

// algorithms are the host key algorithms to ask for, so that a server
// with several host keys presents the one we know; nil: the defaults.
func (h *hostKeyChecker) algorithms(addr string) []string {
	var keys []ssh.PublicKey
	switch {
	case h.policy.InsecureIgnore:
		return nil
	case h.pinned != nil:
		keys = []ssh.PublicKey{h.pinned}
	case h.known != nil:
		// knownhosts has no lookup; a key that matches nothing makes it
		// list the keys it knows for the host.
		err := h.known(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			for _, k := range ke.Want {
				keys = append(keys, k.Key)
			}
		}
	}
	var algos []string
	for _, k := range keys {
		for _, a := range algorithmsFor(k.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	default:
		return []string{keyType}
	}
}

// probeKey is a fixed key no host has.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()
