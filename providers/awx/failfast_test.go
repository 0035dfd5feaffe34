package awx_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/awx"
	"github.com/labbroker/broker/providers/awx/awxtest"
)

// countingTransport counts the requests the provider sends (answered or
// not) and tells onErr about each that got no answer.
type countingTransport struct {
	rt    http.RoundTripper
	n     atomic.Int64
	onErr func(n int64, err error)
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.n.Add(1)
	resp, err := c.rt.RoundTrip(r)
	if err != nil && c.onErr != nil {
		c.onErr(n, err)
	}
	return resp, err
}

func counting(onErr func(int64, error)) (*countingTransport, *http.Client) {
	ct := &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone(), onErr: onErr}
	return ct, &http.Client{Transport: ct}
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func hintOf(err error) string {
	var h interface{ Hint() string }
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.As(e, &h) && h.Hint() != "" {
			out = append(out, h.Hint())
		}
	}
	return strings.Join(out, "\n")
}

// A url where nothing listens is a wrong url: one attempt, not
// max_resilient_wait of them.
func TestWrongURLFailsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Old behaviour: retried for max_resilient_wait; the transport stops
	// the wait after a few attempts so that the test counts them.
	ct, hc := counting(func(n int64, _ error) {
		if n >= 5 {
			cancel()
		}
	})
	url := "http://" + closedPort(t)
	set := awx.Settings{URL: url, Token: adminToken, HTTPClient: hc, PollInterval: time.Millisecond, MaxResilientWait: time.Hour}
	_, err := awx.Open(ctx, set, slog.New(slog.DiscardHandler))
	if n := ct.n.Load(); n != 1 {
		t.Fatalf("%d attempts at a refused url, want 1 (err: %v)", n, err)
	}
	var ue *awx.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Open at a refused url = %v, want *awx.UnreachableError", err)
	}
	for _, part := range []string{url, "connection refused", "not retried"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
	if h := hintOf(err); !strings.Contains(h, "url") || !strings.Contains(h, url) {
		t.Errorf("hint %q does not point at the url setting", h)
	}
	assertNoSecret(t, "error", err)
}

// A token the service refuses (401) ends at once with a hint.
func TestRefusedTokenFailsAtOnce(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	set := settings(s, "tok-SECRET-wrong")
	set.MaxResilientWait = time.Hour
	_, err := awx.Open(context.Background(), set, slog.New(slog.DiscardHandler))
	if !errors.Is(err, awx.ErrAuth) {
		t.Fatalf("Open with a refused token = %v, want ErrAuth", err)
	}
	if n := s.Requests(); n > 2 {
		t.Errorf("%d requests, want at most 2 (API root, then /me/ refused)", n)
	}
	if h := hintOf(err); !strings.Contains(h, "token") {
		t.Errorf("hint %q does not name the token", h)
	}
	if strings.Contains(err.Error(), "tok-SECRET-wrong") {
		t.Errorf("error shows the token: %v", err)
	}
}

// 403 (not allowed to launch) ends at once with a hint; the provider keeps
// working for what the user may do.
func TestForbiddenFailsAtOnce(t *testing.T) {
	wfs := append(awxtest.DefaultWorkflows(), awxtest.Workflow{Name: "alice-only", Kind: awxtest.KindDeploy, Launchers: []string{"alice"}})
	s := emulator(t, awxtest.Options{Workflows: wfs})
	set := settings(s, adminToken)
	set.MaxResilientWait = time.Hour
	p, _ := open(t, set)
	before := s.Requests()
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: map[string]any{"workflow": "alice-only"}})
	var ae *awx.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("Checkout of a template the user may not launch = %v, want a 403 APIError", err)
	}
	if got := s.Launches("alice-only"); got != 0 {
		t.Errorf("%d launches, want 0", got)
	}
	if n := s.Requests() - before; n > 4 {
		t.Errorf("%d requests for a refused launch, want a handful (no retries)", n)
	}
	if h := hintOf(err); !strings.Contains(h, "permission") {
		t.Errorf("hint %q does not mention permissions", h)
	}

	// Every answer a 403: one request per call, no retry.
	s.FailNext(1_000_000, http.StatusForbidden)
	before = s.Requests()
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()}); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("Checkout answered 403 = %v", err)
	}
	if n := s.Requests() - before; n != 1 {
		t.Errorf("%d requests answered 403, want 1", n)
	}
	s.FailNext(0, 0)
}

// Once the service has answered, a refused connection is a restart: the
// provider waits for it to come back, on the same address.
func TestRefusedAfterContactIsWaitedFor(t *testing.T) {
	addr := closedPort(t)
	s := awxtest.New(awxtest.Options{Users: users(), Now: func() time.Time { return epoch }, Listen: addr})
	refused := make(chan struct{}, 1)
	ct, hc := counting(func(int64, error) {
		select {
		case refused <- struct{}{}:
		default:
		}
	})
	set := settings(s, adminToken)
	set.HTTPClient = hc
	set.MaxResilientWait = time.Hour
	p, _ := open(t, set)

	s.Close() // the service restarts
	var again *awxtest.Server
	started := make(chan struct{})
	go func() {
		<-refused // a request was refused: now it comes back
		again = awxtest.New(awxtest.Options{Users: users(), Now: func() time.Time { return epoch }, Listen: addr})
		close(started)
	}()
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	<-started
	t.Cleanup(again.Close)
	if err != nil {
		t.Fatalf("Checkout across a restart: %v", err)
	}
	if len(resp.Hosts) != 1 || again.Launches("deploy-rhel") != 1 {
		t.Errorf("hosts %v, launches %d; want 1 and 1", resp.Hosts, again.Launches("deploy-rhel"))
	}
	if ct.n.Load() < 2 {
		t.Errorf("%d requests, want the refused one and more", ct.n.Load())
	}
}

// 5xx answers keep the resilient wait, before and after the first answer.
func TestServerErrorsAreWaitedFor(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	set := settings(s, adminToken)
	set.MaxResilientWait = time.Hour
	s.FailNext(3, http.StatusBadGateway)
	p, _ := open(t, set)
	s.FailNext(3, http.StatusServiceUnavailable)
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()}); err != nil {
		t.Fatalf("Checkout after 503s: %v", err)
	}
}

// A certificate the client does not trust will not become trusted by
// asking again.
func TestUntrustedCertificateFailsAtOnce(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	ct, hc := counting(nil)
	set := awx.Settings{URL: srv.URL, Token: adminToken, HTTPClient: hc, PollInterval: time.Millisecond, MaxResilientWait: time.Hour}
	_, err := awx.Open(context.Background(), set, slog.New(slog.DiscardHandler))
	var ue *awx.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Open with an untrusted certificate = %v, want *awx.UnreachableError", err)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if h := hintOf(err); !strings.Contains(h, "ca_file") {
		t.Errorf("hint %q does not name ca_file", h)
	}
}
