package awx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/awx"
	"github.com/labbroker/broker/providers/awx/awxtest"
)

const (
	adminToken = "tok-SECRET-admin-0123"
	aliceToken = "tok-SECRET-alice-4567"
	bobToken   = "tok-SECRET-bob-89ab"
	password   = "pw-SECRET-hunter2"
)

var secrets = []string{adminToken, aliceToken, bobToken, password}

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func users() []awxtest.User {
	return []awxtest.User{
		{Username: "admin", Password: password, Tokens: []string{adminToken}},
		{Username: "alice", Password: password, Tokens: []string{aliceToken}},
		{Username: "bob", Password: password, Tokens: []string{bobToken}},
	}
}

func emulator(t *testing.T, opts awxtest.Options) *awxtest.Server {
	t.Helper()
	if opts.Users == nil {
		opts.Users = users()
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return epoch }
	}
	s := awxtest.New(opts)
	t.Cleanup(s.Close)
	return s
}

// logBuf collects the provider's slog output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func settings(s *awxtest.Server, token string) awx.Settings {
	return awx.Settings{
		URL: s.URL(), Token: token,
		PollInterval: time.Millisecond, MaxResilientWait: time.Minute, WorkflowTimeout: time.Minute,
		Now: func() time.Time { return epoch },
	}
}

func open(t *testing.T, set awx.Settings) (*awx.Provider, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	p, err := awx.Open(context.Background(), set, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Close()
		assertNoSecret(t, "logs", logs.String())
	})
	return p, logs
}

// assertNoSecret fails if any secret appears in v (printed and as JSON).
func assertNoSecret(t *testing.T, what string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	text := fmt.Sprintf("%+v", v) + string(b)
	if err, ok := v.(error); ok && err != nil {
		text += err.Error()
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret: %s", what, text)
		}
	}
}

func deployArgs() map[string]any {
	return map[string]any{"workflow": "deploy-rhel", "deploy_rhel_version": "9.4"}
}

func TestCheckoutExtendCheckinTenHostsConcurrently(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()

	const n = 10
	hosts := make([]providers.HostInfo, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := p.Checkout(ctx, providers.CheckoutRequest{
				Args:   deployArgs(),
				Labels: map[string]string{providers.LabelIntent: "intent-" + strconv.Itoa(i), "role": "client"},
			})
			errs[i] = err
			assertNoSecret(t, "checkout error", err)
			if err == nil && len(resp.Hosts) == 1 {
				hosts[i] = resp.Hosts[0]
			} else if err == nil {
				errs[i] = fmt.Errorf("got %d hosts", len(resp.Hosts))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("checkout %d: %v", i, err)
		}
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		assertNoSecret(t, "host", h)
		if h.Hostname == "" || h.Name == "" || h.ProviderID != h.Name || seen[h.Hostname] {
			t.Fatalf("bad or duplicate host %+v", h)
		}
		seen[h.Hostname] = true
		if !strings.HasSuffix(h.Hostname, ".lab.example.test") || h.IP == "" || h.Transport != "ssh" {
			t.Errorf("host %+v: want fqdn, ip and ssh from the artifacts", h)
		}
		if got, want := h.Expires, epoch.Add(172800*time.Second); !got.Equal(want) {
			t.Errorf("expires %v, want %v (new_expire_time +172800)", got, want)
		}
		if h.Recipe["workflow"] != "deploy-rhel" || h.Recipe["deploy_rhel_version"] != "9.4" {
			t.Errorf("recipe %v", h.Recipe)
		}
	}
	if got := len(s.Hosts("admin-hosts")); got != n {
		t.Fatalf("emulator holds %d hosts, want %d", got, n)
	}
	if got := s.Launches("deploy-rhel"); got != n {
		t.Fatalf("%d launches, want %d", got, n)
	}
	// The labels and the recipe travel as extra vars and land in the host's
	// variables, where sync finds them.
	for _, h := range s.Hosts("admin-hosts") {
		l, _ := h.Variables["_broker_labels"].(map[string]any)
		if l["role"] != "client" || !strings.HasPrefix(fmt.Sprint(l[providers.LabelIntent]), "intent-") {
			t.Errorf("host %s vars %v: want broker labels", h.Name, h.Variables)
		}
	}

	for i := range n {
		wg.Go(func() {
			h := hosts[i]
			resp, err := p.Extend(ctx, providers.ExtendRequest{Host: ref(h), NewExpireTime: "+3600"})
			if err != nil {
				errs[i] = err
				return
			}
			if want := epoch.Add(time.Hour); !resp.Expires.Equal(want) {
				errs[i] = fmt.Errorf("extend: expires %v, want %v", resp.Expires, want)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("extend %d: %v", i, err)
		}
	}
	for _, h := range s.Hosts("admin-hosts") {
		if got, want := h.Variables["expire_time"], epoch.Add(time.Hour).Format(time.RFC3339); got != want {
			t.Errorf("host %s expire_time %v, want %v", h.Name, got, want)
		}
	}

	for i := range n {
		wg.Go(func() {
			resp, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref(hosts[i])})
			if err == nil && resp.Gone {
				err = errors.New("gone on first checkin")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("checkin %d: %v", i, err)
		}
	}
	if left := s.Hosts(""); len(left) != 0 {
		t.Fatalf("hosts left after checkin: %v", left)
	}
	// Idempotent destroy: a second checkin finds the host gone.
	resp, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref(hosts[0])})
	if err != nil || !resp.Gone {
		t.Fatalf("second checkin: %+v, %v; want Gone", resp, err)
	}
}

func ref(h providers.HostInfo) providers.HostRef {
	return providers.HostRef{ProviderID: h.ProviderID, Name: h.Name, Hostname: h.Hostname, Recipe: h.Recipe, Facts: h.Facts}
}

func TestCheckinPassesRecipeAndSourceVM(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: deployArgs()})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Hosts[0]
	if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref(h)}); err != nil {
		t.Fatal(err)
	}
	// The release workflow was the last job: find it among the ids.
	var ev map[string]any
	for id := 1; id < 200; id++ {
		if v := s.JobExtraVars(id); v != nil && v["source_vm"] != nil {
			ev = v
		}
	}
	if ev["source_vm"] != h.Name || ev["deploy_rhel_version"] != "9.4" {
		t.Fatalf("release extra vars %v: want source_vm and the recipe", ev)
	}
	if _, ok := ev["workflow"]; ok {
		t.Errorf("release extra vars carry the checkout's workflow: %v", ev)
	}
}

func TestCheckinOfHostRemovedBehindBrokersBackIsGone(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: deployArgs()})
	if err != nil {
		t.Fatal(err)
	}
	s.RemoveHost(resp.Hosts[0].Name)
	got, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref(resp.Hosts[0])})
	if err != nil || !got.Gone {
		t.Fatalf("checkin: %+v, %v; want Gone", got, err)
	}
	// Extending a host that is gone is an error naming the cause.
	_, err = p.Extend(ctx, providers.ExtendRequest{Host: ref(resp.Hosts[0])})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("extend of a gone host: %v", err)
	}
}

func TestFailedWorkflowReportsFailingNode(t *testing.T) {
	wfs := append(awxtest.DefaultWorkflows(), awxtest.Workflow{
		Name: "deploy-broken", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{
			{Name: "provision", Artifacts: map[string]any{"vm_name": "half-made"}},
			{Name: "configure-vm", Fail: true, Events: []awxtest.Event{{Play: "Configure", Task: "Install packages", Host: "half-made", Msg: "No package satellite available."}}},
		},
	}, awxtest.Workflow{
		Name: "deploy-error", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{{Name: "boot", Error: true, Explanation: "Job terminated due to error: image missing"}},
	})
	s := emulator(t, awxtest.Options{Workflows: wfs, Inventories: []awxtest.Inventory{{Name: "admin-hosts", Hosts: []awxtest.Host{{Name: "half-made"}}}}})
	p, logs := open(t, settings(s, adminToken))
	ctx := context.Background()

	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"workflow": "deploy-broken"}})
	// The host the workflow made before failing is checked in.
	if left := s.Hosts(""); len(left) != 0 {
		t.Errorf("hosts left by the failed workflow: %v", left)
	}
	if s.Launches("remove-vm") != 1 {
		t.Errorf("the dangling host was not released")
	}
	if err == nil {
		t.Fatal("checkout of a failing workflow succeeded")
	}
	if len(resp.Hosts) != 0 {
		t.Errorf("failed checkout returned hosts %v", resp.Hosts)
	}
	var je *awx.JobError
	if !errors.As(err, &je) || je.Status != "failed" {
		t.Fatalf("error %v: want a *awx.JobError with status failed", err)
	}
	for _, want := range []string{"configure-vm", "Install packages", "No package satellite available.", "deploy-broken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(logs.String(), "No package satellite available.") {
		t.Errorf("the failure was not logged")
	}

	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"workflow": "deploy-error"}})
	if err == nil || !strings.Contains(err.Error(), "image missing") || !strings.Contains(err.Error(), "boot") {
		t.Fatalf("error of a node in status error: %v", err)
	}

	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"workflow": "no-such-workflow"}})
	if !errors.Is(err, awx.ErrNotFound) {
		t.Fatalf("unknown workflow: %v, want ErrNotFound", err)
	}
	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"deploy_rhel_version": "9"}})
	if err == nil || !strings.Contains(err.Error(), "no workflow or job_template") {
		t.Fatalf("no target: %v", err)
	}
}

func TestFlakyServiceConverges(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()
	s.SetFailureRate(0.3)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		wg.Go(func() {
			resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: deployArgs()})
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = p.Checkin(ctx, providers.CheckinRequest{Host: ref(resp.Hosts[0])})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d under 30%% 5xx: %v", i, err)
		}
	}
	s.SetFailureRate(0)
	if got := s.Launches("deploy-rhel"); got != 5 {
		t.Errorf("%d launches, want 5 (a retried launch must not launch twice)", got)
	}
	if left := s.Hosts(""); len(left) != 0 {
		t.Errorf("hosts left: %v", left)
	}

	// Dropped connections and a burst of 502s.
	s.DropNext(2)
	s.FailNext(3, 502)
	s.SetLatency(time.Millisecond)
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: deployArgs()}); err != nil {
		t.Fatalf("checkout after drops and 502s: %v", err)
	}
}

func TestLostLaunchAnswerDoesNotLaunchTwice(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, logs := open(t, settings(s, adminToken))
	s.LoseNextLaunchAnswers(1)
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hosts) != 1 {
		t.Fatalf("hosts %v", resp.Hosts)
	}
	if got := s.Launches("deploy-rhel"); got != 1 {
		t.Fatalf("%d launches, want 1", got)
	}
	if !strings.Contains(logs.String(), "found the job of a launch whose answer was lost") {
		t.Errorf("the lost launch was not found by its launch id; logs:\n%s", logs)
	}
}

func TestGivesUpAfterMaxResilientWait(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	set := settings(s, adminToken)
	set.MaxResilientWait = 50 * time.Millisecond
	p, _ := open(t, set)
	s.FailNext(1_000_000, 503)
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	if err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("want giving up, got %v", err)
	}
	s.FailNext(0, 0)
}

func TestWorkflowTimeout(t *testing.T) {
	wfs := []awxtest.Workflow{{Name: "slow", Kind: awxtest.KindStatic, Polls: 1_000_000}}
	s := emulator(t, awxtest.Options{Workflows: wfs})
	set := settings(s, adminToken)
	set.WorkflowTimeout = 20 * time.Millisecond
	p, _ := open(t, set)
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: map[string]any{"workflow": "slow"}})
	if err == nil || !strings.Contains(err.Error(), "workflow_timeout") {
		t.Fatalf("want a timeout, got %v", err)
	}
}

func TestResumeWaitsOnCheckpointedJob(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))

	// A run is killed right after AWX named the job.
	ctx, cancel := context.WithCancel(context.Background())
	var cp providers.Checkpoint
	_, err := p.Checkout(ctx, providers.CheckoutRequest{
		Args: deployArgs(),
		Checkpoint: func(_ context.Context, c providers.Checkpoint) error {
			cp = c
			cancel()
			return nil
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed checkout: %v", err)
	}
	if cp.Data["job_id"] == "" {
		t.Fatalf("checkpoint %+v names no job", cp)
	}
	// The next run resumes: it waits on the same job.
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{
		Args:   deployArgs(),
		Resume: &providers.Resume{IntentID: "i-1", Checkpoint: cp.Data},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Adopted || len(resp.Hosts) != 1 {
		t.Fatalf("resume: %+v", resp)
	}
	if got := s.Launches("deploy-rhel"); got != 1 {
		t.Fatalf("%d launches, want 1", got)
	}

	// A job started by another client, recorded as a checkpoint.
	id, err := s.Launch("admin", "deploy-rhel", map[string]any{"deploy_rhel_version": "8.10"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = p.Checkout(context.Background(), providers.CheckoutRequest{
		Args:   deployArgs(),
		Resume: &providers.Resume{Checkpoint: map[string]string{"job_id": strconv.Itoa(id)}},
	})
	if err != nil || !resp.Adopted || len(resp.Hosts) != 1 {
		t.Fatalf("resume of job %d: %+v, %v", id, resp, err)
	}
	if got := s.Launches("deploy-rhel"); got != 2 {
		t.Fatalf("%d launches, want 2", got)
	}
}

func TestResumeFindsJobByIntentLabel(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	// The run died before the checkpoint was written; the job carries the
	// intent in its broker labels.
	if _, err := s.Launch("admin", "deploy-rhel", map[string]any{"_broker_labels": map[string]any{providers.LabelIntent: "intent-42"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{
		Args: deployArgs(), Resume: &providers.Resume{IntentID: "intent-42"},
	})
	if err != nil || !resp.Adopted || len(resp.Hosts) != 1 {
		t.Fatalf("resume by intent: %+v, %v", resp, err)
	}
	if got := s.Launches("deploy-rhel"); got != 1 {
		t.Fatalf("%d launches, want 1", got)
	}
	// No job with that intent: a new launch.
	resp, err = p.Checkout(context.Background(), providers.CheckoutRequest{
		Args: deployArgs(), Resume: &providers.Resume{IntentID: "intent-43"},
	})
	if err != nil || resp.Adopted {
		t.Fatalf("resume with nothing to adopt: %+v, %v", resp, err)
	}
	if got := s.Launches("deploy-rhel"); got != 2 {
		t.Fatalf("%d launches, want 2", got)
	}
}

func TestPasswordAuthUsesTemporaryTokenAndDeletesIt(t *testing.T) {
	s := emulator(t, awxtest.Options{Users: []awxtest.User{{Username: "jenkins", Password: password}}})
	logs := &logBuf{}
	set := settings(s, "")
	set.Username, set.Password = "jenkins", password
	p, err := awx.Open(context.Background(), set, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	toks := s.Tokens()
	if len(toks) != 1 || toks[0].User != "jenkins" || !strings.HasPrefix(toks[0].Description, "broker temporary token") {
		t.Fatalf("tokens after open: %+v", toks)
	}
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	if err != nil {
		t.Fatal(err)
	}
	// The temporary token expires: the provider makes another and goes on.
	s.ExpireAllTokens()
	if _, err := p.Checkin(context.Background(), providers.CheckinRequest{Host: ref(resp.Hosts[0])}); err != nil {
		t.Fatalf("checkin after the token expired: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if toks := s.Tokens(); len(toks) != 0 {
		t.Fatalf("tokens left after close: %+v", toks)
	}
	assertNoSecret(t, "logs", logs.String())
	assertNoSecret(t, "host", resp.Hosts)
}

func TestTokenAuth(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	// A token and a username: the username is whose inventory sync lists.
	set := settings(s, adminToken)
	set.Username = "alice"
	p, _ := open(t, set)
	if p.Username() != "alice" {
		t.Errorf("username %q, want alice", p.Username())
	}
	p2, _ := open(t, settings(s, aliceToken))
	if p2.Username() != "alice" {
		t.Errorf("username from /me/ %q, want alice", p2.Username())
	}
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Tokens()); got != 3 {
		t.Errorf("closing a token provider deleted tokens: %d left", got)
	}

	// A bad token: an authentication error without the token in it.
	bad := settings(s, "tok-SECRET-wrong")
	secretsLocal := "tok-SECRET-wrong"
	logs := &logBuf{}
	_, err := awx.Open(context.Background(), bad, slog.New(slog.NewJSONHandler(logs, nil)))
	if !errors.Is(err, awx.ErrAuth) {
		t.Fatalf("bad token: %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), secretsLocal) || strings.Contains(logs.String(), secretsLocal) {
		t.Fatalf("the bad token leaked: %v / %s", err, logs.String())
	}
}

func TestAAPPrefix(t *testing.T) {
	s := emulator(t, awxtest.Options{AAP: true})
	p, _ := open(t, settings(s, adminToken))
	if got := p.APIPrefix(); got != "/api/controller/v2/" {
		t.Fatalf("prefix %q", got)
	}
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()})
	if err != nil || len(resp.Hosts) != 1 {
		t.Fatalf("checkout on AAP: %+v, %v", resp, err)
	}
	set := settings(s, adminToken)
	set.AAPVersion = "2.5"
	p2, _ := open(t, set)
	if got := p2.APIPrefix(); got != "/api/controller/v2/" {
		t.Fatalf("prefix with aap_version 2.5: %q", got)
	}

	plain := emulator(t, awxtest.Options{})
	p3, _ := open(t, settings(plain, adminToken))
	if got := p3.APIPrefix(); got != "/api/v2/" {
		t.Fatalf("prefix on AWX: %q", got)
	}
}

func TestDescribe(t *testing.T) {
	wfs := append(awxtest.DefaultWorkflows(), awxtest.Workflow{Name: "admins-only", Kind: awxtest.KindStatic, Launchers: []string{"admin"}})
	s := emulator(t, awxtest.Options{Workflows: wfs, Inventories: []awxtest.Inventory{{Name: "satlab-hosts", Description: "lab"}}})
	p, _ := open(t, settings(s, aliceToken))
	ctx := context.Background()

	d, err := p.Describe(ctx, providers.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"workflows", "job_templates", "inventories", "templates", "flavors"}, d.Listings); diff != "" {
		t.Errorf("listings (-want +got):\n%s", diff)
	}
	names := func(items []providers.Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.Name)
		}
		return out
	}
	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "workflows"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"deploy-rhel", "extend-vm", "list-flavors", "list-templates", "remove-vm"}, names(d.Items)); diff != "" {
		t.Errorf("workflows alice may launch (-want +got):\n%s", diff)
	}
	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "job_templates"})
	if err != nil || !cmp.Equal([]string{"run-command"}, names(d.Items)) {
		t.Errorf("job templates: %v, %v", names(d.Items), err)
	}
	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "inventories"})
	if err != nil || !cmp.Equal([]string{"satlab-hosts"}, names(d.Items)) {
		t.Errorf("inventories: %v, %v", names(d.Items), err)
	}
	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "templates"})
	if err != nil || !cmp.Equal([]string{"rhel-9.4", "rhel-8.10", "rhel-10.0"}, names(d.Items)) {
		t.Errorf("templates: %v, %v", names(d.Items), err)
	}

	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "workflow", Item: "deploy-rhel"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Actions) != 1 {
		t.Fatalf("actions %+v", d.Actions)
	}
	args := map[string]providers.ArgHelp{}
	for _, a := range d.Actions[0].Args {
		args[a.Name] = a
	}
	v := args["deploy_rhel_version"]
	if v.Default != "9.4" || !strings.Contains(v.Description, "RHEL version") || !strings.Contains(v.Description, "8.10, 9.4, 10.0") {
		t.Errorf("deploy_rhel_version help %+v", v)
	}
	if args["count"].Type != "number" {
		t.Errorf("count help %+v", args["count"])
	}
	d, err = p.Describe(ctx, providers.DescribeRequest{Listing: "workflow", Item: "remove-vm"})
	if err != nil || len(d.Actions) != 1 || len(d.Actions[0].Args) != 1 || d.Actions[0].Args[0].Name != "source_vm" {
		t.Errorf("remove-vm: %+v, %v", d, err)
	}
	if _, err := p.Describe(ctx, providers.DescribeRequest{Listing: "sizes"}); !errors.Is(err, providers.ErrNotSupported) {
		t.Errorf("unknown listing: %v", err)
	}

	w := p.ValidateArgs(ctx, map[string]any{"workflow": "deploy-rhel", "deploy_rhel_version": "9.4", "deploy_flavor": "large"})
	if len(w) != 1 || !strings.Contains(w[0], `"deploy_flavor"`) {
		t.Errorf("warnings %q: want one about deploy_flavor", w)
	}
	w = p.ValidateArgs(ctx, map[string]any{"workflow": "deploy-rhel", "deploy_rhel_version": "7.0"})
	if len(w) != 1 || !strings.Contains(w[0], "choices") {
		t.Errorf("warnings %q: want one about the choice", w)
	}
	if w := p.ValidateArgs(ctx, deployArgs()); len(w) != 0 {
		t.Errorf("warnings for good args: %q", w)
	}
	if w := p.ValidateArgs(ctx, map[string]any{"workflow": "nope"}); len(w) != 1 || !strings.Contains(w[0], "not found") {
		t.Errorf("warnings for an unknown workflow: %q", w)
	}
}

func TestSyncPerUserAndAll(t *testing.T) {
	s := emulator(t, awxtest.Options{Inventories: []awxtest.Inventory{{Name: "shared-lab", Hosts: []awxtest.Host{{Name: "static1", Variables: map[string]any{"fqdn": "static1.lab.test"}}}}}})
	alice, _ := open(t, settings(s, aliceToken))
	bob, _ := open(t, settings(s, bobToken))
	ctx := context.Background()
	for _, c := range []struct {
		p *awx.Provider
		n int
	}{{alice, 2}, {bob, 1}} {
		for range c.n {
			if _, err := c.p.Checkout(ctx, providers.CheckoutRequest{Args: deployArgs(), Labels: map[string]string{"team": c.p.Username()}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := alice.Sync(ctx, providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hosts) != 2 {
		t.Fatalf("alice's hosts: %+v", got.Hosts)
	}
	for _, h := range got.Hosts {
		assertNoSecret(t, "synced host", h)
		if h.Labels["team"] != "alice" || h.Recipe["workflow"] != "deploy-rhel" || !strings.HasSuffix(h.Hostname, ".lab.example.test") {
			t.Errorf("synced host %+v", h)
		}
		if h.Facts["tower_inventory"] != "alice-hosts" || h.Facts["os_distribution_version"] != "9.4" {
			t.Errorf("facts %v", h.Facts)
		}
		if _, ok := h.Facts["_broker_args"]; ok {
			t.Errorf("broker's own vars in facts: %v", h.Facts)
		}
		if !h.Expires.Equal(epoch.Add(48 * time.Hour)) {
			t.Errorf("expires %v", h.Expires)
		}
	}
	got, err = alice.Sync(ctx, providers.SyncRequest{User: "bob"})
	if err != nil || len(got.Hosts) != 1 || got.Hosts[0].Labels["team"] != "bob" {
		t.Fatalf("bob's hosts through alice: %+v, %v", got.Hosts, err)
	}
	got, err = alice.Sync(ctx, providers.SyncRequest{User: "@ll"})
	if err != nil || len(got.Hosts) != 4 {
		t.Fatalf("@ll: %+v, %v", got.Hosts, err)
	}
	got2, err := bob.Sync(ctx, providers.SyncRequest{AllUsers: true, Labels: map[string]string{"team": "alice"}})
	if err != nil || len(got2.Hosts) != 2 {
		t.Fatalf("all users with label team=alice: %+v, %v", got2.Hosts, err)
	}
	var names []string
	for _, h := range got.Hosts {
		names = append(names, h.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("sync not sorted: %v", names)
	}
}

func TestExecuteArtifactsLastAndMerge(t *testing.T) {
	wfs := append(awxtest.DefaultWorkflows(), awxtest.Workflow{
		Name: "two-step", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{
			{Name: "first", Artifacts: map[string]any{"a": 1.0, "shared": "first", "nested": map[string]any{"x": 1.0}}},
			{Name: "second", Artifacts: map[string]any{"b": 2.0, "shared": "second", "nested": map[string]any{"y": 2.0}}},
		},
	}, awxtest.Workflow{
		Name: "broken", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{{Name: "step", Fail: true, Events: []awxtest.Event{{Task: "t", Msg: "boom"}}}},
	})
	s := emulator(t, awxtest.Options{Workflows: wfs})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()

	var progress []string
	res, err := p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "two-step", "arg": "Y"}, Artifacts: "last",
		Progress: func(m string) { progress = append(progress, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"b": 2.0, "shared": "second", "nested": map[string]any{"y": 2.0}}, res.Result); diff != "" {
		t.Errorf("last (-want +got):\n%s", diff)
	}
	if len(progress) < 2 || !strings.Contains(progress[len(progress)-1], "successful") {
		t.Errorf("progress %q", progress)
	}
	res, err = p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "two-step"}, Artifacts: "merge"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 1.0, "b": 2.0, "shared": "second", "nested": map[string]any{"x": 1.0, "y": 2.0}}
	if diff := cmp.Diff(want, res.Result); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	res, err = p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"job_template": "run-command", "command": "uptime"}, Artifacts: "last"})
	if err != nil || !cmp.Equal(map[string]any{"rc": 0.0}, res.Result) {
		t.Fatalf("job template: %v, %v", res.Result, err)
	}
	res, err = p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "two-step", "provider_labels": map[string]any{"team": "qe", "ci": ""}}})
	m, _ := res.Result.(map[string]any)
	if err != nil || m["status"] != "successful" {
		t.Fatalf("without artifacts: %v, %v", res.Result, err)
	}
	id, _ := m["job_id"].(float64)
	if diff := cmp.Diff([]string{"ci", "team=qe"}, s.JobLabels(int(id))); diff != "" {
		t.Errorf("AWX labels of the job (-want +got):\n%s", diff)
	}
	res, err = p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "broken"}, Artifacts: "last"})
	if err == nil || res.Status == 0 || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed execute: %+v, %v", res, err)
	}
	if m, _ := res.Result.(map[string]any); m["status"] != "failed" {
		t.Errorf("failed execute result %v", res.Result)
	}
	if _, err := p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "two-step"}, Artifacts: "first"}); err == nil {
		t.Error("bad artifacts strategy accepted")
	}
}

func TestSeveralHostsPerJob(t *testing.T) {
	wfs := append(awxtest.DefaultWorkflows(), awxtest.Workflow{
		Name: "deploy-pair", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{{Name: "pair", Artifacts: map[string]any{"hosts": []any{
			map[string]any{"name": "a", "fqdn": "a.lab.test", "ip": "10.1.0.1"},
			map[string]any{"name": "b", "fqdn": "b.lab.test", "ip": "10.1.0.2"},
		}}}},
	})
	s := emulator(t, awxtest.Options{Workflows: wfs})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()

	args := deployArgs()
	args["count"] = 3.0
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hosts) != 3 {
		t.Fatalf("want 3 hosts from vm_provisioned list, got %+v", resp.Hosts)
	}
	names := map[string]bool{}
	for _, h := range resp.Hosts {
		names[h.Name] = true
		if h.Facts["fqdn"] != h.Hostname || h.Facts["vm_provisioned"] != h.Name {
			t.Errorf("facts of %s: %v", h.Name, h.Facts)
		}
	}
	if len(names) != 3 {
		t.Errorf("names %v", names)
	}
	resp, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"workflow": "deploy-pair"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range resp.Hosts {
		got = append(got, h.Name+"="+h.Hostname+"@"+h.IP)
	}
	if diff := cmp.Diff([]string{"a=a.lab.test@10.1.0.1", "b=b.lab.test@10.1.0.2"}, got); diff != "" {
		t.Errorf("hosts list (-want +got):\n%s", diff)
	}
}

func TestRegisteredTypeFromHCL(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	typ, ok := providers.Lookup("AnsibleTower")
	if !ok || typ.Name != "awx" {
		t.Fatalf("lookup AnsibleTower: %v %v", typ, ok)
	}
	if _, ok := providers.Lookup("aap"); !ok {
		t.Fatal("alias aap not registered")
	}
	src := fmt.Sprintf("url = %q\ntoken = %q\nusername = \"alice\"\npoll_interval = \"1ms\"\n", s.URL(), adminToken)
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, typ.Settings, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	set, err := awx.SettingsFromValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if set.ReleaseWorkflow != "remove-vm" || set.ExtendWorkflow != "extend-vm" || set.NewExpireTime != "+172800" ||
		set.WorkflowTimeout != time.Hour || set.MaxResilientWait != 10*time.Minute || !set.VerifyTLS || set.PollInterval != time.Millisecond {
		t.Errorf("defaults: %+v", set)
	}
	logs := &logBuf{}
	prov, err := typ.New(context.Background(), providers.Config{Type: "awx", Instance: "satlab", Settings: v, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := prov.(interface{ Close() error }); !ok {
		t.Error("provider is not an io.Closer")
	} else if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := awx.DecodeHCL(`url = "https://x"`); err == nil {
		t.Error("settings without credentials accepted")
	}
	if _, err := awx.DecodeHCL(`
url = "https://x"
token = "t"
workflow_timeout = "soon"`); err == nil || !strings.Contains(err.Error(), "workflow_timeout") {
		t.Errorf("bad duration: %v", err)
	}
	if set, err := awx.DecodeHCL(`
url = "https://x/"
token = "t"
workflow_timeout = "3600"`); err != nil || set.WorkflowTimeout != time.Hour || set.URL != "https://x" {
		t.Errorf("seconds as duration: %+v %v", set, err)
	}
}

func TestExpiryFrom(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"+172800", epoch.Add(48 * time.Hour), false},
		{"2031-05-06T07:08:09Z", time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC), false},
		{"2031-05-06 07:08", time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC), false},
		{"+x", time.Time{}, true},
		{"tomorrow", time.Time{}, true},
	} {
		got, err := awx.ExpiryFrom(epoch, c.in)
		if (err != nil) != c.bad || !got.Equal(c.want) {
			t.Errorf("ExpiryFrom(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestSyncFollowsPagination(t *testing.T) {
	var hosts []awxtest.Host
	for i := range 230 {
		hosts = append(hosts, awxtest.Host{Name: fmt.Sprintf("h%03d", i), Variables: map[string]any{"fqdn": fmt.Sprintf("h%03d.lab.test", i)}})
	}
	s := emulator(t, awxtest.Options{Inventories: []awxtest.Inventory{{Name: "admin-big", Hosts: hosts}}})
	p, _ := open(t, settings(s, adminToken))
	got, err := p.Sync(context.Background(), providers.SyncRequest{})
	if err != nil || len(got.Hosts) != 230 {
		t.Fatalf("sync of 230 hosts: %d, %v", len(got.Hosts), err)
	}
}

// Credentials in the URL (https://user:password@awx…) log in, and no
// message naming the URL shows them: not an error, not describe.
func TestURLCredentialsNeverShown(t *testing.T) {
	const urlPassword = "url-Pw-3e9d1"
	s := emulator(t, awxtest.Options{Users: []awxtest.User{{Username: "jenkins", Password: urlPassword}}})
	set := settings(s, "")
	set.URL = strings.Replace(s.URL(), "://", "://jenkins:"+urlPassword+"@", 1)
	p, _ := open(t, set)
	d, err := p.Describe(context.Background(), providers.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprintf("%+v", d), urlPassword) {
		t.Errorf("describe shows the URL's password: %+v", d)
	}
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: deployArgs()}); err != nil {
		t.Fatalf("checkout with the URL's credentials: %v", err)
	}

	// Unreachable: the error names the URL without its userinfo.
	set.URL = "http://jenkins:" + urlPassword + "@127.0.0.1:1"
	set.MaxResilientWait = time.Millisecond
	_, err = awx.Open(context.Background(), set, nil)
	if err == nil {
		t.Fatal("open of an unreachable AWX succeeded")
	}
	if strings.Contains(err.Error(), urlPassword) || strings.Contains(err.Error(), "jenkins:") {
		t.Errorf("error shows the URL's userinfo: %v", err)
	}
	if !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("error does not name the URL: %v", err)
	}
}
