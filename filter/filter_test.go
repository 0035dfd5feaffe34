package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/state"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// inventory is a fixed inventory used by the selection tests.
func inventory() []state.Host {
	return []state.Host{
		{ID: "01", Name: "test-sat-1", Hostname: "sat1.test.lab", Provider: "awx", Instance: "satlab",
			Recipe: map[string]any{"template": "deploy-sat-6.15", "provider": "RHEV"},
			Labels: map[string]string{"role": "satellite"}, Status: state.StatusReady, Port: 22,
			Lease: state.Lease{Expires: now.Add(30 * time.Minute)}, Address: "host.sat[0]", Environment: "ui"},
		{ID: "02", Name: "test-client", Hostname: "client.test.lab", Provider: "docker", Instance: "local",
			Recipe: map[string]any{"image": "rhel9", "provider": "docker"},
			Labels: map[string]string{"role": "client"}, Status: state.StatusReady, Port: 2222,
			Lease: state.Lease{Expires: now.Add(5 * time.Hour), Extended: 2}, Address: "host.client[0]", Environment: "ui"},
		{ID: "03", Name: "prod-sat", Hostname: "sat.prod.lab", Provider: "awx", Instance: "satlab",
			Recipe: map[string]any{"template": "deploy-sat-6.16", "provider": "OSP"},
			Status: state.StatusTainted, Facts: map[string]any{"os": "rhel9"}, Environment: "prod"},
		{ID: "04", Name: "web", Hostname: "web.example.com", Provider: "static", Instance: "pool",
			Recipe: map[string]any{"template": "tpl-rhel8"}, Status: state.StatusFailed,
			Origin: state.Origin{User: "jake", CI: "https://ci/1"}, Environment: "prod"},
		{ID: "05", Name: "sim-1", Provider: "sim", Instance: "lab", Nick: "rhel9",
			Status: state.StatusPending, Lease: state.Lease{Expires: now.Add(-3 * time.Minute)}, Environment: "ui"},
	}
}

func names(hs []state.Host) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func TestParseTranslations(t *testing.T) {
	tests := []struct {
		src, want string
		sel       []string
	}{
		{`hostname<test`, `hostname contains "test"`, []string{"test-sat-1", "test-client"}},
		{`_broker_args.template{deploy-sat`, `args.template startsWith "deploy-sat"`, []string{"test-sat-1", "prod-sat"}},
		{`name<test,_broker_args.provider!=RHEV`, `name contains "test" and args.provider != "RHEV"`, []string{"test-client"}},
		{`name=web`, `name == "web"`, []string{"web"}},
		{`name!=web`, `name != "web"`, []string{"test-sat-1", "test-client", "prod-sat", "sim-1"}},
		{`name!<test`, `not (name contains "test")`, []string{"prod-sat", "web", "sim-1"}},
		{`hostname}.lab`, `hostname endsWith ".lab"`, []string{"test-sat-1", "test-client", "prod-sat"}},
		{`hostname!}.lab`, `not (hostname endsWith ".lab")`, []string{"web", "sim-1"}},
		{`name{test`, `name startsWith "test"`, []string{"test-sat-1", "test-client"}},
		{`name!{test`, `not (name startsWith "test")`, []string{"prod-sat", "web", "sim-1"}},
		{`_broker_provider=awx`, `_broker_provider == "awx"`, []string{"test-sat-1", "prod-sat"}},
		{`_broker_provider_instance=local`, `instance == "local"`, []string{"test-client"}},
		{`port=22`, `string(port) == "22"`, []string{"test-sat-1"}},
		{`port<22`, ``, []string{"prod-sat", "web", "sim-1"}}, // a valid expression: port < 22
		{`status=tainted`, `status == "tainted"`, []string{"prod-sat"}},
		{`labels.role=satellite`, `labels.role == "satellite"`, []string{"test-sat-1"}},
		{`facts.os{rhel`, `facts.os startsWith "rhel"`, []string{"prod-sat"}},
		{`_broker_args.template}6.16,name<sat`, `args.template endsWith "6.16" and name contains "sat"`, []string{"prod-sat"}},
		{`origin.user=jake`, `origin.user == "jake"`, []string{"web"}},
		{`hostname<test,hostname<sat,provider=awx`, `hostname contains "test" and hostname contains "sat" and provider == "awx"`, []string{"test-sat-1"}},
		{`name=a b`, `name == "a b"`, []string{}},
		{`@inv[-1]`, ``, []string{"sim-1"}},
		{`@inv[:3]`, ``, []string{"test-sat-1", "test-client", "prod-sat"}},
		{`@inv[1:]`, ``, []string{"test-client", "prod-sat", "web", "sim-1"}},
		{`@inv[2]`, ``, []string{"prod-sat"}},
		{`@inv[9]`, ``, []string{}},
		{`@inv[-2:]`, ``, []string{"web", "sim-1"}},
		{`@inv[:3] | 'sat' in @inv.name`, `@inv[:3] | 'sat' in name`, []string{"test-sat-1", "prod-sat"}},
		{`'sat' in @inv.name | @inv[-1]`, `'sat' in name | @inv[-1]`, []string{"prod-sat"}},
		{`'sat' not in @inv.hostname`, `'sat' not in hostname`, []string{"test-client", "web", "sim-1"}},
		{`@inv._broker_args.provider == 'RHEV'`, `args.provider == 'RHEV'`, []string{"test-sat-1"}},
		{`@inv._broker_provider == 'awx' and @inv.name != 'prod-sat'`, `_broker_provider == 'awx' and name != 'prod-sat'`, []string{"test-sat-1"}},
		{`lease.remaining > duration("0s") and lease.remaining < duration("1h")`, ``, []string{"test-sat-1"}},
		{`lease.expires < now() and lease.expires > now() - duration("1h")`, ``, []string{"sim-1"}},
		{`host.labels.role == 'satellite'`, ``, []string{"test-sat-1"}},
		{`_broker_args.image == "rhel9"`, ``, []string{"test-client"}},
		{`index >= 3`, ``, []string{"web", "sim-1"}},
		{`name | upper() startsWith "TEST"`, ``, []string{"test-sat-1", "test-client"}},
		{`provider == "awx" || provider == "sim" | @inv[1:]`, ``, []string{"prod-sat", "sim-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			f, tr, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tr != tt.want {
				t.Errorf("translation = %q, want %q", tr, tt.want)
			}
			got, err := Select(f, inventory(), now)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if d := cmp.Diff(tt.sel, names(got)); d != "" {
				t.Errorf("selection (-want +got):\n%s", d)
			}
			if tr != "" {
				// the translation is itself a valid filter with the same meaning
				g, err := Compile(tr)
				if err != nil {
					t.Fatalf("Compile(translation): %v", err)
				}
				got2, err := Select(g, inventory(), now)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(names(got), names(got2)); d != "" {
					t.Errorf("translation selects differently:\n%s", d)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src    string
		column int
		msg    string
	}{
		{`hostnme == "x"`, 1, "unknown name hostnme"},
		{`name == "a" and lables.role == "x"`, 17, "unknown name lables"},
		{`name`, 0, "expected bool, but got string"},
		{``, 0, "empty filter"},
		{`@inv[:2] | nmae == "x"`, 12, "unknown name nmae"},
		{`@inv[x]`, 1, `bad index "x" in @inv[x]`},
		{`@inv[1:2:0]`, 1, "slice step cannot be zero in @inv[1:2:0]"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Compile(tt.src)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			got := Error{Source: fe.Source, Column: fe.Column, Msg: fe.Msg}
			want := Error{Source: tt.src, Column: tt.column, Msg: tt.msg}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestErrorCaret(t *testing.T) {
	_, err := Compile(`name == "a" and lables.role == "x"`)
	want := "filter: unknown name lables (column 17)\n" +
		"  name == \"a\" and lables.role == \"x\"\n" +
		"                  ^"
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseKeepsCompileError(t *testing.T) {
	// neither an expression nor an old filter: the expression error wins
	_, tr, err := Parse(`hostname == `)
	if err == nil || tr != "" {
		t.Fatalf("Parse = %q, %v; want an error and no translation", tr, err)
	}
	// an old filter on a field broker does not have reads it from facts,
	// and Select refuses it when no host has it
	f, tr, err := Parse(`nosuch<x`)
	if err != nil || tr != `facts.nosuch contains "x"` {
		t.Fatalf("Parse = %q, %v", tr, err)
	}
	_, err = Select(f, inventory(), now)
	var fe *Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `no host has the field "nosuch"`) || !strings.Contains(err.Error(), "the hosts' facts: os") {
		t.Fatalf("Select = %v", err)
	}
}

func TestMatch(t *testing.T) {
	h := inventory()[0]
	tests := []struct {
		src   string
		index int
		want  bool
	}{
		{`index == 4`, 4, true},
		{`index == 4`, 3, false},
		{`now() == now() && now().Year() == 2025`, 0, true}, // now() is the injected time
		{`lease.remaining == duration("30m")`, 0, true},
		{`_broker_args.template == args.template`, 0, true},
		{`environment == "ui" and address == "host.sat[0]" and status == "ready"`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			f, err := Compile(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Match(h, tt.index, now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchValues(t *testing.T) {
	v := Values{Address: "host.web[1]", Name: "web", Provider: "docker", Instance: "local",
		Facts:  map[string]any{"os": "rhel9", "list": []any{"a", "b"}, "map": map[string]any{"k": 1}},
		Labels: map[string]string{"tier": "front"}, Args: map[string]any{"image": "nginx"}, Index: 1}
	tests := []struct {
		src  string
		want bool
	}{
		{`address == "host.web[1]"`, true},
		{`name == "web" and index == 1`, true},
		{`labels.tier == "front" && _broker_args.image == "nginx"`, true},
		{`status == ""`, true},
		{`labels.tier == "back"`, false},
		// `in` between strings is contains, as the README and Python write it.
		{`"we" in name && provider == "docker"`, true},
		{`"xx" in name`, false},
		{`"xx" not in name`, true},
		{`"front" in labels.tier`, true},
		// and `in` keeps its list and map meanings
		{`provider in ["docker", "sim"]`, true},
		{`"tier" in labels`, true},
		{`"image" in args`, true},
		{`"nope" in labels`, false},
		// a value of unknown type is decided when the filter runs
		{`"rh" in facts.os`, true},
		{`"x86" in facts.arch`, false},
		{`"b" in facts.list`, true},
		{`"k" in facts.map`, true},
	}
	for _, tt := range tests {
		f, err := Compile(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.MatchValues(v)
		if err != nil || got != tt.want {
			t.Errorf("%s: MatchValues = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	f, _ := Compile(`@inv[0]`)
	if _, err := f.MatchValues(v); err == nil {
		t.Error("MatchValues with an index stage: want an error")
	}
}

func TestSelectNilAndRuntimeError(t *testing.T) {
	hs := inventory()
	got, err := Select(nil, hs, now)
	if err != nil || len(got) != len(hs) {
		t.Fatalf("Select(nil) = %d hosts, %v", len(got), err)
	}
	f, err := Compile(`facts.os.x == 1`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Select(f, hs, now)
	t.Logf("%v", err)
	var fe *Error
	if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "host host.sat[0]: filter: cannot fetch x from") {
		t.Fatalf("Select error = %v, want the host named and a *Error", err)
	}
}

func BenchmarkSelect10k(b *testing.B) {
	inv := inventory()
	hosts := make([]state.Host, 10000)
	for i := range hosts {
		hosts[i] = inv[i%len(inv)]
		hosts[i].Name = fmt.Sprintf("%s-%d", hosts[i].Name, i)
	}
	f, _, err := Parse(`name<test,_broker_args.provider!=RHEV`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Select(f, hosts, now); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`hostname contains "test"`, `@inv[:3] | name == "x"`, `lease.remaining < duration("1h")`, `|`, `@inv[`, `(((`, `"\`} {
		f.Add(s)
	}
	hosts := inventory()
	f.Fuzz(func(t *testing.T, src string) {
		flt, err := Compile(src)
		if err != nil {
			_ = err.Error()
			return
		}
		_, _ = Select(flt, hosts, now)
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`hostname<test`, `_broker_args.template{deploy-sat`, `name<test,_broker_args.provider!=RHEV`, `@inv[-1]`, `@inv[:3] | 'sat' in @inv.name`, `a!=`, `,`, `@inv.`} {
		f.Add(s)
	}
	hosts := inventory()
	f.Fuzz(func(t *testing.T, src string) {
		flt, _, err := Parse(src)
		if err != nil {
			_ = err.Error()
			return
		}
		_, _ = Select(flt, hosts, now)
	})
}

// TestPythonFilters: the filters the Python broker's docs and test suites
// write, on an inventory whose hosts come from its providers.
func TestPythonFilters(t *testing.T) {
	all := []string{"test-sat-1", "test-client", "prod-sat", "web", "sim-1"}
	tests := []struct {
		src string
		sel []string
	}{
		// provider values in the Python names, both ways
		{`@inv._broker_provider == "AnsibleTower"`, []string{"test-sat-1", "prod-sat"}},
		{`@inv._broker_provider == "TestProvider"`, []string{"sim-1"}},
		{`_broker_provider<Container`, []string{"test-client"}},
		{`_broker_provider<Tower`, []string{"test-sat-1", "prod-sat"}},
		{`_broker_provider=AnsibleTower`, []string{"test-sat-1", "prod-sat"}},
		{`provider == "AnsibleTower"`, []string{"test-sat-1", "prod-sat"}},
		{`_broker_provider == "docker"`, []string{"test-client"}},
		{`@inv._broker_provider in ("AnsibleTower", "TestProvider")`, []string{"test-sat-1", "prod-sat", "sim-1"}},
		{`@inv._broker_provider not in ("AnsibleTower",)`, []string{"test-client", "web", "sim-1"}},
		{`@inv.name in ("web")`, []string{"web"}}, // a parenthesised string, not a tuple: contains
		// string methods
		{`@inv._broker_args.template.startswith("deploy-sat")`, []string{"test-sat-1", "prod-sat"}},
		{`@inv.name.endswith("sat")`, []string{"prod-sat"}},
		{`@inv.name.startswith(("web", "sim"))`, []string{"web", "sim-1"}},
		{`not @inv.hostname.endswith(".lab")`, []string{"web", "sim-1"}},
		{`@inv._broker_args.get("image") == "rhel9"`, []string{"test-client"}},
		{`@inv._broker_args.get("image", "none") == "none"`, []string{"test-sat-1", "prod-sat", "web", "sim-1"}},
		{`@inv.name.upper().startswith("TEST")`, []string{"test-sat-1", "test-client"}},
		// slices with steps
		{`@inv[::2]`, []string{"test-sat-1", "prod-sat", "sim-1"}},
		{`@inv[::-1]`, []string{"sim-1", "web", "prod-sat", "test-client", "test-sat-1"}},
		{`@inv[1:4:2]`, []string{"test-client", "web"}},
		{`@inv[-1:0:-2]`, []string{"sim-1", "prod-sat"}},
		{`@inv[:]`, all},
		// chained stages
		{`"sat" in @inv.hostname | @inv._broker_provider == "AnsibleTower"`, []string{"test-sat-1", "prod-sat"}},
		{`@inv[1:] | "sat" in @inv.name | @inv[0]`, []string{"prod-sat"}},
		// keys of a Python inventory entry
		{`@inv.os == "rhel9"`, []string{"prod-sat"}},
		{`@inv.type == "host"`, all},
		{`@inv.port == 22 and True`, []string{"test-sat-1"}},
		{`@inv._broker_provider_instance == "satlab"`, []string{"test-sat-1", "prod-sat"}},
		{`_broker_provider_instance == "satlab" && type == "host"`, []string{"test-sat-1", "prod-sat"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			f, tr, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := Select(f, inventory(), now)
			if err != nil {
				t.Fatalf("Select (%s): %v", tr, err)
			}
			if d := cmp.Diff(tt.sel, names(got)); d != "" {
				t.Errorf("%s: selection (-want +got):\n%s", tr, d)
			}
		})
	}
}

// TestPythonFilterErrors: a field no host has, and Python the
// translation does not know, are errors rather than empty selections.
func TestPythonFilterErrors(t *testing.T) {
	tests := []struct{ src, msg string }{
		{`@inv.tower_inventory == "rhv"`, `no host has the field "tower_inventory"`},
		{`@inv._broker_args.workflow == "x"`, `no host has the field args.workflow`},
		{`tower_inventory<rhv`, `no host has the field "tower_inventory"`},
		{`@inv.name.zfill(3) == "x"`, `the method .zfill() is not supported`},
		{`@inv == 1`, `@inv alone is the whole host`},
		{`@inv.name == "x" | `, `empty stage`},
	}
	for _, tt := range tests {
		f, _, err := Parse(tt.src)
		if err == nil {
			_, err = Select(f, inventory(), now)
		}
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error = %v, want %q", tt.src, err, tt.msg)
		}
	}
	// with nothing to select from, there is nothing to refuse
	f, _, err := Parse(`@inv.tower_inventory == "rhv"`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Select(f, nil, now); err != nil || len(got) != 0 {
		t.Errorf("Select(empty) = %v, %v", got, err)
	}
}
