package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var cmpConfig = []cmp.Option{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreInterfaces(struct{ hcl.Expression }{}),
	cmpopts.IgnoreUnexported(Config{}, Nick{}, Host{}),
	cmpopts.IgnoreFields(Config{}, "Files", "Sources"),
	cmpopts.IgnoreFields(Connection{}, "Exprs"),
	cmpopts.IgnoreFields(Host{}, "Instances"),
	cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
	cmp.Comparer(func(a, b cty.Type) bool { return a.Equals(b) }),
	cmpopts.EquateEmpty(),
}

func mustLoad(t *testing.T, path string, opts Options) *Config {
	t.Helper()
	cfg, diags := Load(path, opts)
	if diags.HasErrors() {
		t.Fatalf("Load(%s): %s", path, diagSummaries(diags))
	}
	return cfg
}

func TestLoadLab(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "lab"), testOptions())
	want := &Config{
		Environment: "satellite-ui",
		Variables: []*Variable{
			{Name: "rhel", Type: cty.String, Default: cty.StringVal("9.4"), Value: cty.StringVal("9.4")},
			{Name: "clients", Type: cty.Number, Default: cty.NumberIntVal(2), Value: cty.NumberIntVal(2)},
			{Name: "token", Type: cty.String, Sensitive: true,
				Default: cty.StringVal("t0ken").Mark(markSensitive), Value: cty.StringVal("t0ken").Mark(markSensitive)},
		},
		Locals: map[string]cty.Value{
			"image": cty.StringVal("rhel9-sshd:latest"),
			"motd":  cty.StringVal("welcome to satellite-ui"),
		},
		Providers: []*Provider{
			{Type: "awx", TypeName: "awx", Instance: "satlab", Settings: cty.ObjectVal(map[string]cty.Value{
				"url": cty.StringVal("https://awx.example.com"), "token": cty.StringVal("t0ken"),
			})},
			{Type: "docker", TypeName: "docker", Instance: "local", Default: true, MaxConcurrency: 4, UnlimitedLease: true,
				Settings: cty.ObjectVal(map[string]cty.Value{"host": cty.NullVal(cty.String)})},
			{Type: "sim", TypeName: "sim", Instance: "default", Implicit: true,
				Settings: cty.ObjectVal(map[string]cty.Value{"latency": cty.NullVal(cty.String)})},
		},
		Nicks: []*Nick{{Name: "rhel9", Provider: "awx.satlab",
			Args: map[string]any{"workflow": "deploy-rhel", "deploy_rhel_version": "9.4"}}},
		Hosts: []*Host{
			{
				Name: "satellite", Nick: "rhel9", Provider: "awx.satlab", ProviderType: "awx", Instance: "satlab",
				Count: 1, Lease: 36 * time.Hour, Labels: map[string]string{"role": "satellite"},
				Args:     map[string]any{"workflow": "deploy-sat", "deploy_rhel_version": "9.4"},
				Setup:    &Setup{Uploads: []*Upload{{Mode: "0644"}}, Timeout: 30 * time.Minute, OnFailure: "taint"},
				Teardown: &Teardown{},
			},
			{
				Name: "client", Provider: "docker.local", ProviderType: "docker", Instance: "local", Count: 2, LeaseNone: true,
				Args:       map[string]any{"image": "rhel9-sshd:latest", "ports": []any{"22"}},
				Setup:      &Setup{WaitFor: "none", OnFailure: "taint"},
				Connection: &Connection{User: "root"},
				DependsOn:  []string{"satellite"},
			},
			{Name: "sim", Provider: "sim.default", ProviderType: "sim", Instance: "default", Count: 1, Lease: DefaultMaxLease, Args: map[string]any{}},
		},
		Hooks: []*Hook{{Name: "announce", On: []string{"after_setup"}, When: "host.labels.role == 'satellite'"}},
	}
	if diff := cmp.Diff(want, cfg, cmpConfig...); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
	if cfg.Files[filepath.Join("testdata", "lab", "lab.hcl")] == nil {
		t.Errorf("Files lacks lab.hcl: %v", cfg.Files)
	}
	for _, name := range []string{"awx.satlab", "docker.local", "sim.default"} {
		if cfg.Provider(name) == nil {
			t.Errorf("Provider(%q) = nil", name)
		}
	}
	if cfg.Nick("rhel9") == nil || cfg.HostBlock("client") == nil || cfg.HostBlock("nope") != nil {
		t.Errorf("Nick/HostBlock lookups failed")
	}
}

func TestResolve(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "lab"), testOptions())
	hosts := map[string][]HostValues{
		"satellite": {{"hostname": "sat.example.com", "address": "10.0.0.1", "labels": map[string]string{"role": "satellite"}}},
	}
	self := HostValues{"name": "client", "hostname": "c1.example.com"}

	setup, diags := cfg.ResolveSetup(cfg.HostBlock("client"), 1, self, hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	want := &ResolvedSetup{Run: []string{"register --server sat.example.com --name client-1"}, WaitFor: "none", OnFailure: "taint"}
	if diff := cmp.Diff(want, setup); diff != "" {
		t.Errorf("client setup (-want +got):\n%s", diff)
	}

	setup, diags = cfg.ResolveSetup(cfg.HostBlock("satellite"), 0, hosts["satellite"][0], hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	want = &ResolvedSetup{
		Uploads: []ResolvedUpload{{
			Source: filepath.Join("testdata", "lab", "files", "sat.repo"), Destination: "/etc/yum.repos.d/sat.repo", Mode: 0o644,
		}},
		Run:       []string{"dnf -y install satellite", "echo 'welcome to satellite-ui'"},
		Timeout:   30 * time.Minute,
		OnFailure: "taint",
	}
	if diff := cmp.Diff(want, setup); diff != "" {
		t.Errorf("satellite setup (-want +got):\n%s", diff)
	}

	td, diags := cfg.ResolveTeardown(cfg.HostBlock("satellite"), 0, hosts["satellite"][0], hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if diff := cmp.Diff(&ResolvedTeardown{Run: []string{"subscription-manager unregister"}}, td); diff != "" {
		t.Errorf("teardown (-want +got):\n%s", diff)
	}

	conn, diags := cfg.ResolveConnection(cfg.HostBlock("client"), 0, self, hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if conn.User != "root" || conn.Bastion != "10.0.0.1" {
		t.Errorf("connection: got user %q bastion %q", conn.User, conn.Bastion)
	}

	run, local, diags := cfg.ResolveHook(cfg.Hooks[0], hosts["satellite"][0], hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if diff := cmp.Diff([]string{"notify-lab sat.example.com SATELLITE"}, local); diff != "" || run != nil {
		t.Errorf("hook local (-want +got):\n%s run: %v", diff, run)
	}

	// A host instance the caller did not provide is an error, not a panic.
	if _, diags := cfg.ResolveSetup(cfg.HostBlock("client"), 0, self, nil); !diags.HasErrors() {
		t.Errorf("ResolveSetup without host.satellite: want an error")
	}
}

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "n" {
  type    = list(number)
  default = []
}
variable "o" {
  type = object({ name = string, size = optional(number, 3) })
  default = { name = "x" }
}
`
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lab := write("lab.hcl", src)
	f1 := write("one.hcl", "b = \"file1\"\nc = \"file1\"\nd = \"file1\"\n")
	f2 := write("two.json", `{"c": "file2", "d": "file2", "n": [1, 2]}`)
	opts := testOptions()
	opts.VarFiles = []string{f1, f2}
	opts.LookupEnv = testEnv(map[string]string{"BROKER_VAR_d": "env", "BROKER_VAR_c": "env"})
	opts.Vars = map[string]string{"c": "flag", "o": `{ name = "y" }`}
	cfg := mustLoad(t, lab, opts)
	got := map[string]cty.Value{}
	for _, v := range cfg.Variables {
		got[v.Name] = v.Value
	}
	want := map[string]cty.Value{
		"a": cty.StringVal("default"),
		"b": cty.StringVal("file1"),
		"c": cty.StringVal("flag"),
		"d": cty.StringVal("env"),
		"n": cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
		"o": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("y"), "size": cty.NumberIntVal(3)}),
	}
	if diff := cmp.Diff(want, got, cmpConfig...); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

func TestKnownProvidersAndNicks(t *testing.T) {
	settings, diags := LoadSources(map[string][]byte{"broker.hcl": []byte(`
provider "docker" "remote" {
  host = "ssh://lab"
}
nick "small" {
  provider = "podman"
  args = { image = "ubi9" }
}
ssh {
  user            = "qe"
  port            = 2222
  agent           = true
  connect_timeout = "10s"
}
logging {
  level = "debug"
}
inventory {
  fields = ["name", "hostname"]
}
state {
  backend   = "etcd"
  endpoints = ["https://etcd:2379"]
  password  = env("AWX_TOKEN")
  lock_ttl  = "30s"
  tls {
    ca = "/etc/ca.pem"
  }
}
`)}, "", Options{Mode: ModeSettings, Schemas: testSchemas, LookupEnv: testEnv(map[string]string{"AWX_TOKEN": "pw"})})
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	agent := true
	wantSSH := &SSHSettings{User: "qe", Port: 2222, Agent: &agent, ConnectTimeout: 10 * time.Second}
	if diff := cmp.Diff(wantSSH, settings.SSH, cmpConfig...); diff != "" {
		t.Errorf("ssh (-want +got):\n%s", diff)
	}
	wantState := &StateSettings{Backend: "etcd", Endpoints: []string{"https://etcd:2379"}, Password: "pw", LockTTL: 30 * time.Second, TLS: &TLSSettings{CA: "/etc/ca.pem"}}
	if diff := cmp.Diff(wantState, settings.State, cmpConfig...); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if settings.Logging.Level != "debug" || len(settings.Inventory.Fields) != 2 {
		t.Errorf("logging %+v inventory %+v", settings.Logging, settings.Inventory)
	}

	opts := testOptions()
	opts.KnownProviders = settings.Providers
	opts.KnownNicks = settings.Nicks
	cfg, diags := loadString(t, `
host "a" {
  nick = "small"
  args = { ports = ["22"] }
}
host "b" {
  provider = "docker.remote"
  args = { image = "x" }
}
`, opts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	a := cfg.HostBlock("a")
	if diff := cmp.Diff(map[string]any{"image": "ubi9", "ports": []any{"22"}}, a.Args); diff != "" || a.Provider != "docker.remote" {
		t.Errorf("host a: provider %q args (-want +got):\n%s", a.Provider, diff)
	}
	if cfg.Provider("docker.remote") == nil || cfg.Nick("small") == nil {
		t.Errorf("known provider/nick not found through Config")
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"6h", 6 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"2d", 48 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"", 0, false},
		{"d", 0, false},
		{"5", 0, false},
		{"soon", 0, false},
		{"-1h", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
