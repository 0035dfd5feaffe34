package beaker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/beaker"
	"github.com/labbroker/broker/providers/beaker/beakertest"
	"github.com/labbroker/broker/test/sshdtest"
)

const reserveJob = `<job retention_tag="scratch">
  <whiteboard>Reserve a RHEL 9 system</whiteboard>
  <recipeSet priority="Normal">
    <recipe whiteboard="" role="RECIPE_MEMBERS">
      <distroRequires>
        <and>
          <distro_family op="=" value="RedHatEnterpriseLinux9"/>
          <distro_arch op="=" value="x86_64"/>
        </and>
      </distroRequires>
      <hostRequires/>
      <task name="/distribution/check-install" role="STANDALONE"/>
      <task name="/distribution/reservesys" role="STANDALONE">
        <params><param name="RESERVETIME" value="86400"/></params>
      </task>
    </recipe>
  </recipeSet>
</job>
`

// clock advances a minute at each reading, so that a max wait passes
// after a known number of polls without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func open(t *testing.T, srv *beakertest.Server, mod ...func(*beaker.Settings)) *beaker.Provider {
	t.Helper()
	s := beaker.Settings{
		HubURL: srv.URL(), Username: "admin", Password: "password",
		PollInterval: time.Millisecond, MaxResilientWait: time.Minute,
		Now: (&clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}).Now,
	}
	for _, m := range mod {
		m(&s)
	}
	p, err := beaker.Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeJob(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "job.xml")
	if err := os.WriteFile(f, []byte(reserveJob), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

type checkpoints struct {
	mu  sync.Mutex
	ids []string
}

func (c *checkpoints) fn(_ context.Context, cp providers.Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, cp.Data["job_id"])
	return nil
}

func TestCheckoutFromJobXMLFile(t *testing.T) {
	srv := beakertest.New(beakertest.Options{Polls: 2})
	defer srv.Close()
	p := open(t, srv)
	var cps checkpoints
	var progress []string
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{
		Args:       map[string]any{"job_xml": writeJob(t)},
		Labels:     map[string]string{providers.LabelIntent: "intent-1"},
		Checkpoint: cps.fn,
		Progress:   func(s string) { progress = append(progress, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs := srv.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	jid := fmt.Sprintf("J:%d", jobs[0].ID)
	if len(cps.ids) != 1 || cps.ids[0] != jid {
		t.Errorf("checkpoints %v, want [%s]", cps.ids, jid)
	}
	if !strings.Contains(jobs[0].Whiteboard, "Reserve a RHEL 9 system") || !strings.Contains(jobs[0].Whiteboard, "[broker.intent=intent-1]") {
		t.Errorf("whiteboard %q lacks the original text or broker's marker", jobs[0].Whiteboard)
	}
	if len(resp.Hosts) != 1 {
		t.Fatalf("%d hosts", len(resp.Hosts))
	}
	h := resp.Hosts[0]
	if h.ProviderID != jid || h.Hostname != "lab-01.beaker.example.test" || h.Transport != providers.TransportSSH {
		t.Errorf("host %+v", h)
	}
	if h.Facts["distro"] != "RedHatEnterpriseLinux9" || h.Facts["job_url"] != srv.URL()+"/jobs/"+strconv.Itoa(jobs[0].ID) || h.Facts["whiteboard"] != "Reserve a RHEL 9 system" {
		t.Errorf("facts %v", h.Facts)
	}
	// RESERVETIME (a day) is the provider's limit on the host's life.
	if lo, hi := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC); h.Expires.Before(lo) || h.Expires.After(hi) {
		t.Errorf("expires %v, want a day after the reservation", h.Expires)
	}
	if len(progress) == 0 || !strings.Contains(progress[0], "submitted "+jid) {
		t.Errorf("progress %q", progress)
	}

	// Check-in cancels the job; a second one finds it gone.
	ci, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID, Hostname: h.Hostname}})
	if err != nil || ci.Gone {
		t.Fatalf("checkin = %+v, %v", ci, err)
	}
	if st := srv.Jobs()[0].Status; st != "Cancelled" {
		t.Errorf("job status after checkin %q", st)
	}
	ci, err = p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID}})
	if err != nil || !ci.Gone {
		t.Fatalf("second checkin = %+v, %v; want gone", ci, err)
	}
}

// A submission that takes effect but loses its answer, and 503s before
// any effect, make one job, found again by broker's whiteboard marker.
func TestSubmitFaultsMakeOneJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(*beakertest.Server)
	}{
		{"lost answer", func(s *beakertest.Server) { s.LoseNextSubmits(1) }},
		{"503 before effect", func(s *beakertest.Server) { s.FailNextSubmits(2) }},
		{"503 anywhere", func(s *beakertest.Server) { s.FailNext(3, 503) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := beakertest.New(beakertest.Options{})
			defer srv.Close()
			p := open(t, srv)
			tc.inject(srv)
			resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{
				Args:   map[string]any{"job_xml": reserveJob},
				Labels: map[string]string{providers.LabelIntent: "intent-2"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(srv.Jobs()); n != 1 {
				t.Fatalf("%d jobs, want 1", n)
			}
			if resp.Hosts[0].ProviderID != fmt.Sprintf("J:%d", srv.Jobs()[0].ID) {
				t.Errorf("host %+v is not of the one job", resp.Hosts[0])
			}
		})
	}
}

func TestJobsThatGiveNoSystem(t *testing.T) {
	t.Run("aborted", func(t *testing.T) {
		srv := beakertest.New(beakertest.Options{})
		defer srv.Close()
		srv.SetOutcome(beakertest.Abort)
		_, err := open(t, srv).Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}})
		var je *beaker.JobError
		if !errors.As(err, &je) || je.Status != "Aborted" || !strings.Contains(err.Error(), srv.URL()+"/jobs/") {
			t.Fatalf("err = %v, want an Aborted JobError with the job's link", err)
		}
	})
	t.Run("queued past max wait", func(t *testing.T) {
		srv := beakertest.New(beakertest.Options{})
		defer srv.Close()
		srv.SetOutcome(beakertest.StayQueued)
		p := open(t, srv, func(s *beaker.Settings) { s.MaxJobWait = 10 * time.Minute })
		_, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}})
		var je *beaker.JobError
		if !errors.As(err, &je) || je.Status != "Queued" || !strings.Contains(err.Error(), "within 10m0s") {
			t.Fatalf("err = %v, want a Queued JobError naming the max wait", err)
		}
		if st := srv.Jobs()[0].Status; st != "Cancelled" {
			t.Errorf("the job left queued is %s, want Cancelled", st)
		}

		// The argument max_wait overrides the setting.
		_, err = p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob, "max_wait": "3m"}})
		if err == nil || !strings.Contains(err.Error(), "within 3m0s") {
			t.Fatalf("max_wait 3m: %v", err)
		}
	})
	t.Run("cancelled by someone else", func(t *testing.T) {
		srv := beakertest.New(beakertest.Options{Polls: 3})
		defer srv.Close()
		p := open(t, srv)
		_, err := p.Checkout(t.Context(), providers.CheckoutRequest{
			Args: map[string]any{"job_xml": reserveJob},
			Progress: func(s string) {
				if strings.HasSuffix(s, " Queued") {
					_ = srv.Cancel(srv.Jobs()[0].ID, "someone")
				}
			},
		})
		var je *beaker.JobError
		if !errors.As(err, &je) || je.Status != "Cancelled" || !strings.Contains(err.Error(), "cancelled") {
			t.Fatalf("err = %v, want a Cancelled JobError", err)
		}
	})
}

func TestResumeAdoptsTheSameJob(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	p := open(t, srv)
	// An interrupted checkout: the job is queued, under broker's marker.
	id, err := srv.AddJob("admin", strings.Replace(reserveJob, "Reserve a RHEL 9 system", "Reserve [broker.intent=intent-3]", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*providers.Resume{
		{IntentID: "intent-3", Checkpoint: map[string]string{"job_id": fmt.Sprintf("J:%d", id)}},
		{IntentID: "intent-3"},
	} {
		resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}, Resume: r})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Adopted || resp.Hosts[0].ProviderID != fmt.Sprintf("J:%d", id) {
			t.Errorf("resume %+v = %+v, want adoption of J:%d", r, resp, id)
		}
	}
	if n := srv.Submits(); n != 0 {
		t.Errorf("%d submissions, want none", n)
	}
}

// The executor looks for an interrupted checkout's leftovers by its
// intent: a job of it still queued is one.
func TestSyncByIntentFindsQueuedJob(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	srv.SetOutcome(beakertest.StayQueued)
	id, err := srv.AddJob("admin", strings.Replace(reserveJob, "Reserve a RHEL 9 system", "[broker.intent=lost]", 1))
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, srv)
	s, err := p.Sync(t.Context(), providers.SyncRequest{AllUsers: true, Labels: map[string]string{providers.LabelIntent: "lost"}})
	if err != nil || len(s.Hosts) != 1 || s.Hosts[0].ProviderID != fmt.Sprintf("J:%d", id) {
		t.Fatalf("sync = %+v, %v", s, err)
	}
	if ci, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: s.Hosts[0].ProviderID}}); err != nil || ci.Gone {
		t.Fatalf("checkin = %+v, %v", ci, err)
	}
	s, _ = p.Sync(t.Context(), providers.SyncRequest{})
	if len(s.Hosts) != 0 {
		t.Errorf("plain sync lists %+v", s.Hosts)
	}
}

func TestCloneByJobID(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	id, err := srv.AddJob("admin", strings.Replace(reserveJob, "Reserve a RHEL 9 system", "Old [broker.intent=old]", 1))
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, srv)
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{
		Args:   map[string]any{"job_id": fmt.Sprintf("J:%d", id)},
		Labels: map[string]string{providers.LabelIntent: "new"},
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs := srv.Jobs()
	if len(jobs) != 2 || jobs[1].Whiteboard != "Old [broker.intent=new]" {
		t.Fatalf("jobs %+v, want the clone with the new marker only", jobs)
	}
	if resp.Hosts[0].ProviderID != fmt.Sprintf("J:%d", jobs[1].ID) {
		t.Errorf("host %+v", resp.Hosts[0])
	}
}

func TestSyncDescribeAndBadLogin(t *testing.T) {
	srv := beakertest.New(beakertest.Options{Users: map[string]string{"admin": "password", "bob": "pw"}})
	defer srv.Close()
	p := open(t, srv)
	if _, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}, Labels: map[string]string{providers.LabelIntent: "i-sync"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddJob("bob", reserveJob); err != nil {
		t.Fatal(err)
	}
	s, err := p.Sync(t.Context(), providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hosts) != 1 || s.Hosts[0].Labels[providers.LabelIntent] != "i-sync" {
		t.Errorf("sync = %+v, want admin's one reservation with its intent", s.Hosts)
	}
	d, err := p.Describe(t.Context(), providers.DescribeRequest{Listing: "jobs"})
	if err != nil || len(d.Items) != 1 {
		t.Fatalf("jobs = %+v, %v", d, err)
	}
	d, err = p.Describe(t.Context(), providers.DescribeRequest{Listing: "job", Item: d.Items[0].Name})
	if err != nil || !strings.Contains(d.Summary, `<task name="/distribution/reservesys"`) {
		t.Fatalf("job = %+v, %v", d, err)
	}

	bad := open(t, srv, func(s *beaker.Settings) { s.Password = "wrong-secret" })
	_, err = bad.Sync(t.Context(), providers.SyncRequest{})
	if err == nil || !strings.Contains(err.Error(), "Invalid username or password") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("bad login = %v", err)
	}
}

// Extend runs extendtesttime.sh with the hours on the host: the system's
// FQDN is pointed at a real sshd, and the command is a script there.
func TestExtendRunsExtendTestTimeOverSSH(t *testing.T) {
	sshd := sshdtest.Start(t, sshdtest.Options{})
	srv := beakertest.New(beakertest.Options{Systems: []string{"127.0.0.1"}})
	defer srv.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, "extendtesttime.sh")
	out := filepath.Join(dir, "extended")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" > "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := open(t, srv, func(s *beaker.Settings) { s.ExtendCommand = script })
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Hosts[0]
	session := func(ctx context.Context) (remote.Session, error) {
		return remote.DialSSH(ctx, remote.SSHConfig{
			Addr: net.JoinHostPort(h.Hostname, strconv.Itoa(sshd.Port)), User: sshd.User,
			Auth:    remote.Auth{PrivateKeyFiles: []string{sshd.KeyFile}},
			HostKey: remote.HostKeyPolicy{Pinned: sshd.HostPublicKey},
		})
	}
	ref := providers.HostRef{ProviderID: h.ProviderID, Hostname: h.Hostname}
	ext, err := p.Extend(t.Context(), providers.ExtendRequest{Host: ref, Lease: 90 * time.Minute, Session: session})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(got)) != "2" {
		t.Fatalf("extendtesttime.sh got %q (%v), want 2 hours", got, err)
	}
	if ext.Expires.IsZero() {
		t.Error("no expiry")
	}
	// A failing script is an error with what to run by hand.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'not reserved' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = p.Extend(t.Context(), providers.ExtendRequest{Host: ref, NewExpireTime: "5", Session: session})
	if err == nil || !strings.Contains(err.Error(), "exited 3: not reserved") || !strings.Contains(err.Error(), "ssh root@127.0.0.1 "+script+" 5") {
		t.Fatalf("failing extend = %v", err)
	}
}

// Hosts of a Python broker inventory name their job by the job_id fact.
func TestRefreshAndCheckinByJobIDFact(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	p := open(t, srv)
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": reserveJob}})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Hosts[0]
	ref := providers.HostRef{ID: "rec", ProviderID: h.Hostname, Hostname: h.Hostname, Facts: map[string]any{"job_id": h.ProviderID}}
	r, err := p.Refresh(t.Context(), providers.RefreshRequest{Hosts: []providers.HostRef{ref}})
	if err != nil || r.Hosts["rec"] != providers.PresenceRunning {
		t.Fatalf("refresh = %+v, %v", r, err)
	}
	if ci, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: ref}); err != nil || ci.Gone {
		t.Fatalf("checkin = %+v, %v", ci, err)
	}
	r, err = p.Refresh(t.Context(), providers.RefreshRequest{Hosts: []providers.HostRef{ref}})
	if err != nil || r.Hosts["rec"] != providers.PresenceGone {
		t.Fatalf("refresh after checkin = %+v, %v", r, err)
	}
}

func TestReserveTime(t *testing.T) {
	for doc, want := range map[string]time.Duration{
		`<task name="/distribution/reservesys"><params><param name="RESERVETIME" value="3600"/></params></task>`: time.Hour,
		`<task name="/distribution/reservesys"/>`:    24 * time.Hour,
		`<reservesys duration="7200"/>`:              2 * time.Hour,
		`<reservesys/>`:                              24 * time.Hour,
		`<task name="/distribution/check-install"/>`: 0,
	} {
		got, _ := beaker.ReserveTime(doc)
		if got != want {
			t.Errorf("%s: %v, want %v", doc, got, want)
		}
	}
}

func TestProviderTypeSettings(t *testing.T) {
	typ, ok := providers.Lookup("Beaker")
	if !ok || typ.Name != "beaker" {
		t.Fatalf("Beaker alias: %v %v", typ, ok)
	}
	if !typ.IsSensitive("password") {
		t.Error("password is not sensitive")
	}
	if errs := typ.CheckArgs(map[string]any{"job_xml": "x.xml", "jobxml": 1}); len(errs) == 0 {
		t.Error("unknown argument accepted")
	}
}

func recipeXML(tasks ...string) string {
	var b strings.Builder
	b.WriteString("<recipe>")
	for _, t := range tasks {
		b.WriteString(`<task name="` + t + `"/>`)
	}
	b.WriteString("</recipe>")
	return b.String()
}

func multiJob(recipes ...string) string {
	return "<job><whiteboard>multi</whiteboard><recipeSet>" + strings.Join(recipes, "") + "</recipeSet></job>"
}

func TestRecipesThatReserveNothing(t *testing.T) {
	t.Run("job completes", func(t *testing.T) {
		srv := beakertest.New(beakertest.Options{})
		defer srv.Close()
		_, err := open(t, srv).Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": multiJob(recipeXML("/distribution/check-install"))}})
		var je *beaker.JobError
		if !errors.As(err, &je) || je.Status != "Completed" || !strings.Contains(err.Error(), "ended without reserving a system") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("one recipe of two completes", func(t *testing.T) {
		srv := beakertest.New(beakertest.Options{})
		defer srv.Close()
		doc := multiJob(recipeXML("/distribution/reservesys"), recipeXML("/distribution/check-install"))
		_, err := open(t, srv).Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": doc}})
		if err == nil || !strings.Contains(err.Error(), "cancelled the job") {
			t.Fatalf("err = %v", err)
		}
		if st := srv.Jobs()[0].Status; st != "Cancelled" {
			t.Errorf("the job holding a system is %s, want Cancelled", st)
		}
	})
}

func TestTwoRecipesTwoHosts(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	p := open(t, srv)
	doc := multiJob(recipeXML("/distribution/reservesys"), recipeXML("/distribution/reservesys"))
	resp, err := p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"job_xml": doc}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hosts) != 2 || resp.Hosts[0].Hostname == resp.Hosts[1].Hostname ||
		!strings.HasPrefix(resp.Hosts[0].ProviderID, "J:101/R:") || resp.Hosts[0].ProviderID == resp.Hosts[1].ProviderID {
		t.Fatalf("hosts %+v", resp.Hosts)
	}
	// The first check-in cancels the job, the second finds it ended.
	for i, wantGone := range []bool{false, true} {
		ci, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: resp.Hosts[i].ProviderID}})
		if err != nil || ci.Gone != wantGone {
			t.Fatalf("checkin %d = %+v, %v", i, ci, err)
		}
	}
}

// TLS is checked against ca_file; an untrusted certificate, or a refused
// connection before the hub ever answered, fails at once rather than
// being retried for max_resilient_wait.
func TestTLSAndUnreachable(t *testing.T) {
	srv := beakertest.New(beakertest.Options{TLS: true})
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CACert(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := open(t, srv, func(s *beaker.Settings) { s.VerifyTLS, s.CAFile = true, ca })
	if _, err := p.Sync(t.Context(), providers.SyncRequest{}); err != nil {
		t.Fatalf("sync over TLS: %v", err)
	}
	untrusted := open(t, srv, func(s *beaker.Settings) { s.VerifyTLS, s.MaxResilientWait = true, time.Hour })
	if _, err := untrusted.Sync(t.Context(), providers.SyncRequest{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	refused, err := beaker.Open(beaker.Settings{HubURL: "http://" + addr, Username: "admin", Password: "x", MaxResilientWait: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refused.Sync(t.Context(), providers.SyncRequest{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: %v", err)
	}
}

// Execute runs a job to its end, as the Python broker's execute --job-xml.
func TestExecuteRunsAJobToItsEnd(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	p := open(t, srv)
	out, err := p.Execute(t.Context(), providers.ExecuteRequest{Args: map[string]any{"job_xml": multiJob(recipeXML("/distribution/check-install"))}})
	if err != nil || out.Status != 0 {
		t.Fatalf("execute = %+v, %v", out, err)
	}
	r := out.Result.(map[string]any)
	if r["result"] != "Pass" || r["status"] != "Completed" || r["hostname"] != "lab-01.beaker.example.test" {
		t.Errorf("result %v", r)
	}
	srv.SetOutcome(beakertest.Abort)
	out, err = p.Execute(t.Context(), providers.ExecuteRequest{Args: map[string]any{"job_xml": multiJob(recipeXML("/distribution/check-install"))}})
	var je *beaker.JobError
	if !errors.As(err, &je) || out.Status != 1 || je.Status != "Aborted" {
		t.Fatalf("aborted execute = %+v, %v", out, err)
	}
}
