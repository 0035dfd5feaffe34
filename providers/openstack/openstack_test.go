package openstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/openstack/ostest"
	"github.com/labbroker/broker/providers/providertest"
)

// newProvider starts an emulator and a provider on it, configured by the
// HCL body extra beside the auth settings (password auth unless extra
// sets auth itself: then auth is "").
func newProvider(t *testing.T, opts ostest.Options, extra string) (*Provider, *ostest.Emulator) {
	t.Helper()
	e := ostest.New(opts)
	t.Cleanup(e.Close)
	auth := fmt.Sprintf(`
auth_url      = %q
username      = %q
password      = %q
project_name  = %q
`, e.AuthURL(), ostest.DefaultUsername, ostest.DefaultPassword, ostest.DefaultProject)
	if strings.Contains(extra, "auth_url") || strings.Contains(extra, "cloud ") {
		auth = ""
	}
	return newProviderHCL(t, e, auth+`
poll_interval = "1ms"
`+extra), e
}

func newProviderHCL(t *testing.T, e *ostest.Emulator, body string) *Provider {
	t.Helper()
	body = strings.ReplaceAll(body, "AUTH_URL", e.AuthURL())
	f, diags := hclsyntax.ParseConfig([]byte(body), "broker.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, settingsSchema.Spec(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := New(context.Background(), providers.Config{Type: "openstack", Instance: "lab", User: "tester", Settings: v})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func labels(intent string) map[string]string {
	return map[string]string{providers.LabelID: "id-" + intent, providers.LabelIntent: intent, providers.LabelUser: "tester", providers.LabelEnvironment: "lab"}
}

var basicArgs = map[string]any{"ostack_image": "cirros", "ostack_flavor": "m1.small", "ostack_network": "private", "ostack_key_name": "default"}

func TestCheckoutCheckin(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{BuildPolls: 2}, "")
	var statusAtCheckpoint string
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{
		Name: "web-0", Args: basicArgs, Labels: labels("i1"),
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error {
			for _, s := range e.Servers() {
				if s.ID == cp.ProviderID {
					statusAtCheckpoint = s.Status
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if statusAtCheckpoint != "BUILD" {
		t.Errorf("checkpoint came when the server was %q, want BUILD (before waiting)", statusAtCheckpoint)
	}
	h := resp.Hosts[0]
	if h.Name != "web-0" || h.Transport != providers.TransportSSH || h.Port != 22 || h.User != "root" || !strings.HasPrefix(h.IP, "127.10.0.") || h.Hostname != h.IP {
		t.Errorf("host = %+v", h)
	}
	srv := e.Servers()
	if len(srv) != 1 {
		t.Fatalf("servers = %d, want 1", len(srv))
	}
	s := srv[0]
	if s.Metadata[providers.LabelIntent] != "i1" || s.Metadata[LabelProvider] != "openstack" || s.Metadata[LabelInstance] != "lab" || s.KeyName != "default" || s.Status != "ACTIVE" {
		t.Errorf("server = %+v", s)
	}
	ci, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID, Name: h.Name}})
	if err != nil || ci.Gone {
		t.Fatalf("checkin = %+v, %v", ci, err)
	}
	if n := len(e.Servers()); n != 0 {
		t.Errorf("%d servers after checkin, want 0", n)
	}
	if got := e.Requests("GET /compute/v2.1/servers/" + h.ProviderID); got < 4 {
		t.Errorf("server was asked about %d times; want the build and the delete waited for", got)
	}
	ci, err = p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID}})
	if err != nil || !ci.Gone {
		t.Fatalf("second checkin = %+v, %v; want Gone", ci, err)
	}
}

func TestApplicationCredential(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, `
auth_url = "AUTH_URL"
application_credential_id     = "appcred-1"
application_credential_secret = "appcred-secret"
`)
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")}); err != nil {
		t.Fatal(err)
	}
	bodies := e.AuthBodies()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"application_credential"`) {
		t.Errorf("auth requests = %q, want one with the application_credential method", bodies)
	}
}

func TestCloudsYAML(t *testing.T) {
	e := ostest.New(ostest.Options{})
	t.Cleanup(e.Close)
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	yaml := fmt.Sprintf(`clouds:
  lab:
    auth:
      auth_url: %s
      username: admin
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
`, e.AuthURL())
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The password is not in clouds.yaml: the setting gives it.
	p := newProviderHCL(t, e, fmt.Sprintf("cloud = \"lab\"\nclouds_file = %q\npassword = %q\npoll_interval = \"1ms\"\n", file, ostest.DefaultPassword))
	resp, err := p.Describe(context.Background(), providers.DescribeRequest{Listing: "flavors"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 2 || resp.Items[0].Name != "m1.large" {
		t.Errorf("flavors = %+v", resp.Items)
	}

	bad := newProviderHCL(t, e, fmt.Sprintf("cloud = \"nope\"\nclouds_file = %q\n", file))
	_, err = bad.Describe(context.Background(), providers.DescribeRequest{Listing: "flavors"})
	if err == nil || !strings.Contains(err.Error(), `cloud "nope"`) {
		t.Errorf("unknown cloud: err = %v", err)
	}
}

func TestTemplatesAndDefaults(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, `
default_network = "private"
templates = {
  rhel9 = { image = "rhel-9.4", flavor = "m1.large", key_name = "default" }
}
`)
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"ostack_template": "rhel9", "ostack_flavor": "m1.small"}, Labels: labels("i1")})
	if err != nil {
		t.Fatal(err)
	}
	s := e.Servers()[0]
	if s.ImageID != "8a1c2b3d-0000-4000-8000-000000000002" || s.FlavorID != "1" || s.KeyName != "default" {
		t.Errorf("server = %+v; want the template's image and key, the argument's flavor", s)
	}
	if !strings.HasPrefix(resp.Hosts[0].Name, "broker-") {
		t.Errorf("name = %q, want name_prefix-…", resp.Hosts[0].Name)
	}

	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"template": "rhel8"}})
	if err == nil || !strings.Contains(err.Error(), `template "rhel8" is not in the settings' templates (rhel9)`) {
		t.Errorf("unknown template: err = %v", err)
	}
	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"image": "cirros"}})
	if err == nil || !strings.Contains(err.Error(), "missing OpenStack arguments: flavor") {
		t.Errorf("missing flavor: err = %v", err)
	}
	_, err = p.Checkout(ctx, providers.CheckoutRequest{Args: map[string]any{"image": "fedora", "flavor": "m1.small"}})
	if err == nil || !strings.Contains(err.Error(), `image "fedora" not found`) {
		t.Errorf("unknown image: err = %v", err)
	}
}

func TestFloatingIP(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, `floating_ip_network = "public"`)
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Hosts[0]
	if !strings.HasPrefix(h.IP, "127.20.0.") || h.Facts["fixed_ip"] == nil {
		t.Errorf("host = %+v, want the floating address", h)
	}
	if e.FloatingIPs() != 1 {
		t.Fatalf("floating IPs = %d, want 1", e.FloatingIPs())
	}
	if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID}}); err != nil {
		t.Fatal(err)
	}
	if e.FloatingIPs() != 0 {
		t.Errorf("floating IPs after checkin = %d, want 0", e.FloatingIPs())
	}

	fixed, e2 := newProvider(t, ostest.Options{}, "floating_ip_network = \"public\"\naddress = \"fixed\"")
	resp, err = fixed.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i2")})
	if err != nil {
		t.Fatal(err)
	}
	if ip := resp.Hosts[0].IP; !strings.HasPrefix(ip, "127.10.0.") || e2.FloatingIPs() != 1 {
		t.Errorf("address = fixed: IP %s, want the fixed one", ip)
	}
}

func TestServiceUnavailableBeforeEffect(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, "")
	e.FailNext("POST", "/compute/v2.1/servers", 2)
	e.FailNext("GET", "/image/v2/images", 1)
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")}); err != nil {
		t.Fatal(err)
	}
	if e.Creates() != 1 || len(e.Servers()) != 1 {
		t.Errorf("creates %d, servers %d; want 1 and 1", e.Creates(), len(e.Servers()))
	}
	if got := e.Requests("POST /compute/v2.1/servers"); got != 3 {
		t.Errorf("create was sent %d times, want 3", got)
	}
}

func TestLostCreateAnswerMakesNoDuplicate(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, "")
	e.LoseNextCreates(1)
	var lines []string
	resp, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1"), Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if e.Creates() != 1 || len(e.Servers()) != 1 || e.Servers()[0].ID != resp.Hosts[0].ProviderID {
		t.Errorf("creates %d, servers %+v; want the one server adopted", e.Creates(), e.Servers())
	}
	if got := e.Requests("POST /compute/v2.1/servers"); got != 1 {
		t.Errorf("create was sent %d times, want 1", got)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "answer to the create") {
		t.Errorf("progress does not say the answer was lost:\n%s", strings.Join(lines, "\n"))
	}
}

func TestServerInErrorIsDeletedWithFault(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, "")
	e.FailNextBuilds("No valid host was found. There are not enough hosts available.")
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Name: "db-0", Args: basicArgs, Labels: labels("i1")})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "No valid host was found") || !strings.Contains(err.Error(), "db-0") {
		t.Fatalf("err = %v, want a BuildError with the fault", err)
	}
	if n := len(e.Servers()); n != 0 {
		t.Errorf("%d servers left, want 0", n)
	}
}

func TestQuotaExceeded(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, "")
	e.SetQuota(1)
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Checkout(ctx, providers.CheckoutRequest{Name: "web-1", Args: basicArgs, Labels: labels("i2")})
	var ae *APIError
	if !errors.As(err, &ae) || !ae.Quota {
		t.Fatalf("err = %v, want a quota APIError", err)
	}
	want := "create server web-1: quota exceeded: Quota exceeded for instances: Requested 1, but already used 1 of 1 instances\nhint: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
	if e.Creates() != 1 {
		t.Errorf("creates = %d, want 1 (a quota error is not retried)", e.Creates())
	}
}

func TestResumeAdoptsByIntentLabel(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, "")
	// A killed apply left a server with the intent's label and no
	// checkpoint.
	left := e.AddServer("web-0", "private", map[string]string{providers.LabelIntent: "i9", providers.LabelID: "x", LabelProvider: "openstack"})
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Name: "web-0", Args: basicArgs, Labels: labels("i9"), Resume: &providers.Resume{IntentID: "i9"}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Adopted || resp.Hosts[0].ProviderID != left || e.Creates() != 0 {
		t.Errorf("resume = %+v, creates %d; want %s adopted", resp, e.Creates(), left)
	}

	// Nothing of the intent's: a new server.
	resp, err = p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i12"), Resume: &providers.Resume{IntentID: "i12"}})
	if err != nil || resp.Adopted || e.Creates() != 1 {
		t.Errorf("resume of an intent without server = %+v, %v, creates %d; want a new server", resp, err, e.Creates())
	}
}

func TestResumeReplacesServerInError(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, "")
	broken := e.AddServer("web-6", "private", map[string]string{providers.LabelIntent: "i7"})
	e.SetStatus(broken, "ERROR", "disk full")
	var lines []string
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i7"), Resume: &providers.Resume{IntentID: "i7", ProviderID: broken},
		Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Adopted || resp.Hosts[0].ProviderID == broken || e.Creates() != 1 {
		t.Errorf("resume = %+v, creates %d; want a new server", resp, e.Creates())
	}
	if srv := e.Servers(); len(srv) != 1 || srv[0].ID == broken {
		t.Errorf("servers = %+v, want only the new one", srv)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "left broken by an interrupted checkout") {
		t.Errorf("progress:\n%s", strings.Join(lines, "\n"))
	}
}

func TestRefreshAndSync(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, "")
	var ids []string
	for i, in := range []string{"a", "b"} {
		resp, err := p.Checkout(ctx, providers.CheckoutRequest{Name: fmt.Sprintf("h%d", i), Args: basicArgs, Labels: labels(in)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Hosts[0].ProviderID)
	}
	e.AddServer("not-broker", "private", nil)
	other := labels("c")
	other[providers.LabelUser] = "someone"
	other[LabelProvider] = "openstack"
	e.AddServer("theirs", "private", other)

	s, err := p.Sync(ctx, providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hosts) != 2 || s.Hosts[0].Name != "h0" || s.Hosts[1].Labels[providers.LabelIntent] != "b" {
		t.Errorf("sync = %+v", s.Hosts)
	}
	s, _ = p.Sync(ctx, providers.SyncRequest{AllUsers: true})
	if len(s.Hosts) != 3 {
		t.Errorf("sync all users found %d, want 3", len(s.Hosts))
	}
	s, _ = p.Sync(ctx, providers.SyncRequest{Labels: map[string]string{providers.LabelIntent: "a"}})
	if len(s.Hosts) != 1 {
		t.Errorf("sync by label found %d, want 1", len(s.Hosts))
	}

	e.RemoveServer(ids[1])
	r, err := p.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{{ID: "0", ProviderID: ids[0]}, {ID: "1", ProviderID: ids[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Hosts["0"] != providers.PresenceRunning || r.Hosts["1"] != providers.PresenceGone {
		t.Errorf("refresh = %v", r.Hosts)
	}

	ext, err := p.Extend(ctx, providers.ExtendRequest{Host: providers.HostRef{ProviderID: ids[0]}, Lease: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Servers()[0].Metadata[providers.LabelExpires]; got == "" || ext.Expires.IsZero() {
		t.Errorf("extend wrote %q", got)
	}
	a, err := p.Adopt(ctx, providers.AdoptRequest{ProviderID: "not-broker"})
	if err != nil || a.Name != "not-broker" {
		t.Errorf("adopt by name = %+v, %v", a, err)
	}
}

func TestDescribeListings(t *testing.T) {
	ctx := context.Background()
	p, _ := newProvider(t, ostest.Options{}, `templates = { small = { image = "cirros", flavor = "m1.small", network = "private" } }`)
	for listing, want := range map[string]string{"images": "cirros", "flavors": "m1.small", "networks": "private", "keypairs": "default", "templates": "small"} {
		resp, err := p.Describe(ctx, providers.DescribeRequest{Listing: listing})
		if err != nil {
			t.Fatalf("%s: %v", listing, err)
		}
		found := false
		for _, it := range resp.Items {
			found = found || it.Name == want
		}
		if !found {
			t.Errorf("listing %s = %+v, want %s", listing, resp.Items, want)
		}
	}
	if _, err := p.Describe(ctx, providers.DescribeRequest{Listing: "volumes"}); !errors.Is(err, providers.ErrNotSupported) {
		t.Errorf("unknown listing: %v", err)
	}
}

func TestBadCredentialsKeepTheSecret(t *testing.T) {
	e := ostest.New(ostest.Options{})
	t.Cleanup(e.Close)
	p := newProviderHCL(t, e, `
auth_url = "AUTH_URL"
username = "admin"
password = "wrong-Secret-42"
project_name = "demo"
`)
	_, err := p.Describe(context.Background(), providers.DescribeRequest{Listing: "images"})
	if err == nil || !strings.Contains(err.Error(), "credentials were refused") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-Secret-42") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestSettingsChecks(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`username = "a"`, "set cloud (a clouds.yaml cloud) or auth_url"},
		{`auth_url = "https://k/v3"` + "\nusername = \"a\"", "set username and password"},
		{`auth_url = "https://k/v3"` + "\nusername = \"a\"\npassword = \"b\"", "set project_name or project_id"},
		{`auth_url = "https://k/v3"` + "\napplication_credential_id = \"a\"", "application_credential_secret goes with"},
		{`cloud = "x"` + "\ntemplates = { t = { image = 3, bogus = 1 } }", "unknown argument bogus"},
	} {
		f, diags := hclsyntax.ParseConfig([]byte(tt.body), "b.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		_, diags = hcldec.Decode(f.Body, settingsSchema.Spec(), nil)
		if !strings.Contains(strings.ToLower(diags.Error()), strings.ToLower(tt.want)) {
			t.Errorf("%s:\n got %v\nwant %q", tt.body, diags, tt.want)
		}
	}
}

// Every service answers 503 before it acts, once: token, image, flavor,
// network, create, the build's polls, the delete and its polls. Each is
// retried and nothing is made twice.
func TestServiceUnavailableEverywhere(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{BuildPolls: 2}, "")
	for _, f := range []struct{ method, prefix string }{
		{"POST", "/identity/v3/auth/tokens"},
		{"GET", "/image/v2/images"},
		{"GET", "/compute/v2.1/flavors"},
		{"GET", "/network/v2.0/networks"},
		{"POST", "/compute/v2.1/servers"},
		{"GET", "/compute/v2.1/servers/"},
		{"DELETE", "/compute/v2.1/servers/"},
	} {
		e.FailNext(f.method, f.prefix, 1)
	}
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: resp.Hosts[0].ProviderID}}); err != nil {
		t.Fatal(err)
	}
	if e.Creates() != 1 || len(e.Servers()) != 0 {
		t.Errorf("creates %d, servers left %d; want 1 and 0", e.Creates(), len(e.Servers()))
	}
}

// Retries end: a service that keeps failing is reported with its status.
func TestServiceUnavailableTooLong(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, "retries = 2")
	e.FailNext("POST", "/compute/v2.1/servers", 3)
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Name: "w", Args: basicArgs, Labels: labels("i1")})
	if err == nil || !strings.Contains(err.Error(), "create server w: 503 Service Unavailable") {
		t.Fatalf("err = %v", err)
	}
	if e.Creates() != 0 {
		t.Errorf("creates = %d", e.Creates())
	}
}

// A checkout whose checkpoint cannot be written deletes its server.
func TestCheckpointFailureDeletesServer(t *testing.T) {
	p, e := newProvider(t, ostest.Options{}, "")
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1"),
		Checkpoint: func(context.Context, providers.Checkpoint) error { return errors.New("state is gone") }})
	if err == nil || !strings.Contains(err.Error(), "state is gone") {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.Servers()); n != 0 {
		t.Errorf("%d servers left, want 0", n)
	}
}

func TestConformance(t *testing.T) {
	p, e := newProvider(t, ostest.Options{BuildPolls: 2}, `floating_ip_network = "public"`)
	providertest.Conformance(t, providertest.Subject{Provider: p, User: "tester", Args: basicArgs,
		Remove: func(_ *testing.T, id string) { e.RemoveServer(id) }})
	// The check-in of the server removed behind broker's back still
	// released the floating IP broker allocated for it.
	if n := e.FloatingIPs(); n != 0 {
		t.Errorf("%d floating IPs left, want 0", n)
	}
}

// A server that never leaves BUILD fails the checkout after
// server_timeout, and is deleted.
func TestServerTimeout(t *testing.T) {
	p, e := newProvider(t, ostest.Options{BuildPolls: 1 << 30}, `server_timeout = "200ms"`)
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Name: "slow", Args: basicArgs, Labels: labels("i1")})
	if err == nil || !strings.Contains(err.Error(), "is not ACTIVE after 200ms (server_timeout)") {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.Servers()); n != 0 {
		t.Errorf("%d servers left, want 0", n)
	}
}

// A long build keeps saying that it goes on.
func TestLongBuildShowsProgress(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 0
	p, _ := newProvider(t, ostest.Options{BuildPolls: 3}, "")
	var lines []string
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Name: "w", Args: basicArgs, Labels: labels("i1"), Progress: func(s string) { lines = append(lines, s) }}); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "): BUILD") || !strings.Contains(out, "): still BUILD after") || !strings.Contains(out, "): ACTIVE") {
		t.Errorf("progress:\n%s", out)
	}
}

// A token that expires during a run is replaced by a new one.
func TestExpiredTokenReauthenticates(t *testing.T) {
	ctx := context.Background()
	p, e := newProvider(t, ostest.Options{}, "")
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i1")}); err != nil {
		t.Fatal(err)
	}
	e.ExpireTokens()
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: basicArgs, Labels: labels("i2")}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.AuthBodies()); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}
