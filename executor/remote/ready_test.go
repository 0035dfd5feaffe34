package remote

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/labbroker/broker/test/sshdtest"
	"golang.org/x/crypto/ssh"
)

// waitCounted runs WaitReadyNotify through a proxy to srv with a deadline
// no test reaches, and stops it after a few retries: the old behaviour
// (retrying what will not heal) shows as more than one connection.
func waitCounted(t *testing.T, srv *sshdtest.Server, edit func(*SSHConfig)) (int, error) {
	t.Helper()
	proxy := startProxy(t, srv.Addr)
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	edit(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := WaitReadyNotify(ctx, cfg, time.Hour, func(attempt int, _ error) {
		if attempt >= 3 {
			cancel()
		}
	})
	return proxy.Connections(), err
}

func TestWaitReadyWrongHostKeyFailsAtOnce(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	other := sshdtest.Start(t, sshdtest.Options{})
	var addr string
	n, err := waitCounted(t, srv, func(c *SSHConfig) {
		c.HostKey.Pinned = other.HostPublicKey
		addr = c.Addr
	})
	if n != 1 {
		t.Errorf("%d connections, want 1: a changed host key is final", n)
	}
	var hke *HostKeyError
	if !errors.As(err, &hke) {
		t.Fatalf("WaitReady with a wrong pin = %v, want *HostKeyError", err)
	}
	for _, part := range []string{addr, other.HostKeyFingerprint, srv.HostKeyFingerprint, "pinned key"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
}

func TestWaitReadyAuthFailureFailsAtOnce(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	other := sshdtest.Start(t, sshdtest.Options{})
	for name, edit := range map[string]func(*SSHConfig){
		"wrong key":  func(c *SSHConfig) { c.Auth = Auth{Signers: []ssh.Signer{other.Signer()}} },
		"wrong user": func(c *SSHConfig) { c.User = "no-such-user-b7" },
	} {
		t.Run(name, func(t *testing.T) {
			n, err := waitCounted(t, srv, edit)
			if n != 1 {
				t.Errorf("%d connections, want 1: a refused login is final", n)
			}
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Stage != StageAuth {
				t.Fatalf("WaitReady = %v, want stage auth", err)
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("the wait went on until cancelled: %v", err)
			}
		})
	}
}

// A host still booting (nothing listening yet) is waited for: the port
// opens only after the wait has seen it refused.
func TestWaitReadyWaitsForLateListener(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config(srv)
	cfg.Addr = addr
	var stages []string
	var proxy *tcpProxy
	err = WaitReadyNotify(context.Background(), cfg, time.Hour, func(_ int, err error) {
		var ce *ConnectError
		if errors.As(err, &ce) {
			stages = append(stages, ce.Stage)
		}
		if proxy == nil {
			proxy = startProxyOn(t, addr, srv.Addr) // sshd comes up
		}
	})
	if err != nil {
		t.Fatalf("WaitReady on a port that opens later: %v", err)
	}
	if len(stages) == 0 || stages[0] != StageTCP {
		t.Errorf("failed stages %v, want the first refused (tcp)", stages)
	}
	if proxy == nil || proxy.Connections() == 0 {
		t.Errorf("the wait never reached the late listener")
	}
}
