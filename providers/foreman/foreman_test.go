package foreman_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/foreman"
	"github.com/labbroker/broker/providers/foreman/foremantest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now advances a minute at each reading.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func open(t *testing.T, srv *foremantest.Server, mod ...func(*foreman.Settings)) *foreman.Provider {
	t.Helper()
	s := foreman.Settings{
		URL: srv.URL(), Username: "admin", Password: "changeme",
		Organization: "Default Organization", Location: "Default Location",
		PollInterval: time.Millisecond, MaxResilientWait: time.Minute,
		Now: (&clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}).Now,
	}
	for _, m := range mod {
		m(&s)
	}
	p, err := foreman.Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckoutBuildsFromHostgroup(t *testing.T) {
	srv := foremantest.New(foremantest.Options{BuildPolls: 3})
	defer srv.Close()
	p := open(t, srv)
	var cps []providers.Checkpoint
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{
		Args:       map[string]any{"hostgroup": "qe/satellite", "parameters": map[string]any{"role": "sat"}, "compute_attributes": map[string]any{"cpus": "4"}},
		Labels:     map[string]string{providers.LabelIntent: "06H28ABC", "broker.environment": "lab"},
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error { cps = append(cps, cp); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.Hosts()
	if len(hs) != 1 {
		t.Fatalf("%d hosts", len(hs))
	}
	h := hs[0]
	if h.Name != "broker-06h28abc.foreman.example.test" || h.HostgroupID != 2 || h.Parameters["role"] != "sat" || h.Compute["cpus"] != "4" || h.Compute["start"] != "1" {
		t.Errorf("made %+v", h)
	}
	if len(cps) != 1 || cps[0].ProviderID != strconv.Itoa(h.ID) {
		t.Errorf("checkpoints %+v", cps)
	}
	got := resp.Hosts[0]
	if got.Hostname != h.Name || got.IP != h.IP || got.Facts["hostgroup"] != "qe/satellite" {
		t.Errorf("host %+v", got)
	}

	// Sync finds it with its labels; check-in deletes it, then it is gone.
	s, err := p.Sync(t.Context(), providers.SyncRequest{Labels: map[string]string{providers.LabelIntent: "06H28ABC"}})
	if err != nil || len(s.Hosts) != 1 || s.Hosts[0].Labels["broker.environment"] != "lab" {
		t.Fatalf("sync = %+v, %v", s, err)
	}
	ci, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: got.ProviderID}})
	if err != nil || ci.Gone || len(srv.Hosts()) != 0 {
		t.Fatalf("checkin = %+v, %v; hosts %v", ci, err, srv.Hosts())
	}
	ci, err = p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: got.ProviderID}})
	if err != nil || !ci.Gone {
		t.Fatalf("second checkin = %+v, %v; want gone", ci, err)
	}
}

func TestCreateFaultsMakeOneHost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(*foremantest.Server)
	}{
		{"lost answer", func(s *foremantest.Server) { s.LoseNextCreates(1) }},
		{"503 before effect", func(s *foremantest.Server) { s.FailNextCreates(2) }},
		{"503 anywhere", func(s *foremantest.Server) { s.FailNext(4, 503) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := foremantest.New(foremantest.Options{})
			defer srv.Close()
			p := open(t, srv)
			tc.inject(srv)
			resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{
				Args: map[string]any{"hostgroup": "rhel9"}, Labels: map[string]string{providers.LabelIntent: "i1"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Creates(); n != 1 {
				t.Fatalf("%d hosts made, want 1", n)
			}
			if resp.Hosts[0].ProviderID != strconv.Itoa(srv.Hosts()[0].ID) {
				t.Errorf("host %+v", resp.Hosts[0])
			}
		})
	}
}

func TestResumeAdoptsTheSameHost(t *testing.T) {
	srv := foremantest.New(foremantest.Options{})
	defer srv.Close()
	p := open(t, srv)
	first, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "rhel9"}, Labels: map[string]string{providers.LabelIntent: "i2"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*providers.Resume{
		{IntentID: "i2", Checkpoint: map[string]string{"host_id": first.Hosts[0].ProviderID}},
		{IntentID: "i2"},
	} {
		resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "rhel9"}, Resume: r})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Adopted || resp.Hosts[0].ProviderID != first.Hosts[0].ProviderID {
			t.Errorf("resume %+v = %+v", r, resp)
		}
	}
	if n := srv.Creates(); n != 1 {
		t.Errorf("%d hosts made, want 1", n)
	}
}

func TestBuildsThatFail(t *testing.T) {
	t.Run("installation error", func(t *testing.T) {
		srv := foremantest.New(foremantest.Options{})
		defer srv.Close()
		srv.SetBuild(foremantest.Fail)
		_, err := open(t, srv).Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "rhel9"}})
		var be *foreman.BuildError
		if !errors.As(err, &be) || be.Status != "Installation error" || !strings.Contains(err.Error(), "deleted it") {
			t.Fatalf("err = %v", err)
		}
		if n := len(srv.Hosts()); n != 0 {
			t.Errorf("%d hosts left", n)
		}
	})
	t.Run("never built", func(t *testing.T) {
		srv := foremantest.New(foremantest.Options{})
		defer srv.Close()
		srv.SetBuild(foremantest.Pending)
		p := open(t, srv, func(s *foreman.Settings) { s.BuildTimeout = 5 * time.Minute })
		_, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "rhel9"}})
		if err == nil || !strings.Contains(err.Error(), "did not build within 5m0s") || len(srv.Hosts()) != 0 {
			t.Fatalf("err = %v, hosts %v", err, srv.Hosts())
		}
	})
	t.Run("deleted by someone else", func(t *testing.T) {
		srv := foremantest.New(foremantest.Options{BuildPolls: 5})
		defer srv.Close()
		_, err := open(t, srv).Checkout(t.Context(), providers.CheckoutRequest{
			Args: map[string]any{"hostgroup": "rhel9", "name": "mine"},
			Progress: func(s string) {
				if strings.Contains(s, "Pending") {
					srv.DeleteHost("mine.foreman.example.test")
				}
			},
		})
		if err == nil || !strings.Contains(err.Error(), "was deleted while it built") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestForemanMessagesAndSecrets(t *testing.T) {
	srv := foremantest.New(foremantest.Options{})
	defer srv.Close()
	p := open(t, srv)
	args := map[string]any{"hostgroup": "rhel9", "name": "taken"}
	if _, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: args}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: args})
	if err == nil || !strings.Contains(err.Error(), "422: Name has already been taken") {
		t.Fatalf("duplicate name: %v", err)
	}
	_, err = p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "nope"}})
	if err == nil || !strings.Contains(err.Error(), `no hostgroup "nope"`) {
		t.Fatalf("unknown hostgroup: %v", err)
	}
	bad := open(t, srv, func(s *foreman.Settings) { s.Password = "wrong-secret" })
	_, err = bad.Sync(t.Context(), providers.SyncRequest{})
	if err == nil || !strings.Contains(err.Error(), "Unable to authenticate user admin") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("bad login: %v", err)
	}
}

func TestExecuteJobTemplate(t *testing.T) {
	srv := foremantest.New(foremantest.Options{})
	defer srv.Close()
	p := open(t, srv)
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"hostgroup": "rhel9", "name": "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	host := resp.Hosts[0].Hostname
	out, err := p.Execute(t.Context(), providers.ExecuteRequest{Args: map[string]any{"hostname": host, "command": "hostname -f"}})
	if err != nil || out.Status != 0 {
		t.Fatalf("execute = %+v, %v", out, err)
	}
	if r := out.Result.(map[string]any); r["stdout"] != "hostname -f\n" {
		t.Errorf("result %v", r)
	}
	out, err = p.Execute(t.Context(), providers.ExecuteRequest{Args: map[string]any{"hostname": host, "job_template": "Run Command - Script Default", "command": "exit 3"}})
	if err != nil || out.Status != 3 {
		t.Fatalf("failing execute = %+v, %v", out, err)
	}
	_, err = p.Execute(t.Context(), providers.ExecuteRequest{Args: map[string]any{"hostname": "nowhere", "command": "true"}})
	if err == nil || !strings.Contains(err.Error(), "Targeting no hosts match") {
		t.Fatalf("no host: %v", err)
	}
}

func TestDescribeHostgroups(t *testing.T) {
	srv := foremantest.New(foremantest.Options{})
	defer srv.Close()
	p := open(t, srv)
	d, err := p.Describe(t.Context(), providers.DescribeRequest{Listing: "hostgroups"})
	if err != nil || len(d.Items) != 2 || d.Items[1].Name != "qe/satellite" {
		t.Fatalf("hostgroups = %+v, %v", d, err)
	}
	d, err = p.Describe(t.Context(), providers.DescribeRequest{Listing: "hostgroup", Item: "qe/satellite"})
	if err != nil || d.Detail["Operating System"] != "RedHat 8.10" {
		t.Fatalf("hostgroup = %+v, %v", d, err)
	}
}

// A personal access token logs in as the password does; TLS is checked
// against ca_file, and an untrusted certificate or a refused connection
// before Foreman ever answered fails at once rather than being retried.
func TestTokenTLSAndUnreachable(t *testing.T) {
	srv := foremantest.New(foremantest.Options{TLS: true, Users: map[string]string{"admin": "pat-123"}})
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CACert(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := open(t, srv, func(s *foreman.Settings) { s.Password, s.Token, s.VerifyTLS, s.CAFile = "", "pat-123", true, ca })
	d, err := p.Describe(t.Context(), providers.DescribeRequest{Listing: "hostgroups"})
	if err != nil || len(d.Items) != 2 {
		t.Fatalf("hostgroups over TLS with a token = %+v, %v", d, err)
	}
	untrusted := open(t, srv, func(s *foreman.Settings) { s.Token, s.VerifyTLS, s.MaxResilientWait = "pat-123", true, time.Hour })
	if _, err := untrusted.Describe(t.Context(), providers.DescribeRequest{Listing: "hostgroups"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	refused, err := foreman.Open(foreman.Settings{URL: "http://" + addr, Username: "admin", Password: "x", Organization: "o", Location: "l", MaxResilientWait: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refused.Sync(t.Context(), providers.SyncRequest{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: %v", err)
	}
}
