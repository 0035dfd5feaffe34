package views

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", name, d)
	}
}

func record(id, addr string) *state.Host {
	return &state.Host{ID: id, Environment: "ui", Address: addr, Provider: "docker", Instance: "local",
		ProviderID: "c0ffee" + id, Hostname: id + ".lab", Status: state.StatusReady,
		Recipe: map[string]any{"image": "nginx", "ports": []any{"80"}}, Labels: map[string]string{"tier": "front"},
		Lease: state.Lease{Expires: now.Add(20 * time.Minute), Duration: 2 * time.Hour}, Created: now, Updated: now}
}

func desired(addr, host string, i int) *planner.Desired {
	return &planner.Desired{Address: addr, Host: host, Index: i, Provider: "docker", Instance: "local",
		Args: map[string]any{"image": "nginx", "ports": []any{"80"}}, Lease: 2 * time.Hour, Labels: map[string]string{"tier": "front"}}
}

// mixedPlan has every action.
func mixedPlan() *planner.Plan {
	sat := &planner.Desired{Address: "host.sat[0]", Host: "sat", Provider: "awx", Instance: "satlab", Nick: "rhel9",
		Args: map[string]any{"workflow": "deploy-rhel", "deploy_rhel_version": "9.4", "cpus": float64(4), "odd key": true}, Lease: 6 * time.Hour}
	replBefore := record("r1", "host.web[1]")
	replBefore.Status = state.StatusTainted
	replAfter := desired("host.web[1]", "web", 1)
	replAfter.Args["image"] = "httpd"
	replAfter.Args["extra"] = "x"
	delete(replAfter.Args, "ports")
	noop := record("n1", "host.web[2]")
	noop.Labels = map[string]string{"tier": "back"}
	return &planner.Plan{FormatVersion: planner.FormatVersion, Environment: "ui", StateSerial: 4, Created: now,
		Changes: []planner.Change{
			{Action: planner.Create, Address: "host.client[0]", After: desired("host.client[0]", "client", 0),
				Reason: planner.Because(planner.ReasonMissing, ""), DependsOn: []string{"host.sat[0]"}},
			{Action: planner.Create, Address: "host.sat[0]", After: sat, Reason: planner.Because(planner.ReasonResume, ""),
				Resume: &state.Intent{ID: "i1", Op: state.OpCreate, Address: "host.sat[0]"}},
			{Action: planner.Extend, Address: "host.web[0]", Before: record("e1", "host.web[0]"), After: desired("host.web[0]", "web", 0),
				Reason: planner.Reason{Kind: planner.ReasonLeaseEnding, Lease: 2 * time.Hour, Left: 20 * time.Minute}},
			{Action: planner.Replace, Address: "host.web[1]", Before: replBefore, After: replAfter, Reason: planner.Because(planner.ReasonTainted, "jake")},
			{Action: planner.NoOp, Address: "host.web[2]", Before: noop, After: desired("host.web[2]", "web", 2),
				UpdateLabels: true, Reason: planner.Because(planner.ReasonLabelsChanged, "")},
			{Action: planner.Destroy, Address: "host.web[3]", Before: record("d1", "host.web[3]"), Reason: planner.Reason{Kind: planner.ReasonCountReduced, Detail: "host.web", Count: 3}},
			{Action: planner.Destroy, Address: "host.old[0]", Reason: planner.Because(planner.ReasonCleanup, ""),
				Resume: &state.Intent{ID: "i2", Op: state.OpCreate, Provider: "sim", Instance: "lab", ProviderID: "sim-7"}},
		}}
}

func TestPlanHuman(t *testing.T) {
	tests := []struct {
		name  string
		plan  *planner.Plan
		color bool
	}{
		{"plan_mixed.txt", mixedPlan(), false},
		{"plan_mixed_color.txt", mixedPlan(), true},
		{"plan_nochanges.txt", &planner.Plan{Environment: "ui", Changes: []planner.Change{{Action: planner.NoOp, Address: "host.web[0]"}}}, false},
		{"plan_labels_only.txt", &planner.Plan{Environment: "ui", Changes: []planner.Change{{Action: planner.NoOp, Address: "host.web[0]", UpdateLabels: true}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := NewPlanHuman(&b, tt.color).Plan(tt.plan); err != nil {
				t.Fatal(err)
			}
			if hasEscape(b.String()) != tt.color {
				t.Errorf("escape codes present = %v, want %v", hasEscape(b.String()), tt.color)
			}
			golden(t, tt.name, b.Bytes())
		})
	}
}

func TestPlanJSON(t *testing.T) {
	var b bytes.Buffer
	if err := NewPlanJSON(&b).Plan(mixedPlan()); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json", b.Bytes())
	var back planner.Plan
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(mixedPlan(), &back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func inventory() []state.Host {
	a := *record("01", "host.web[0]")
	b := *record("02", "host.web[1]")
	b.Lease.Expires = now.Add(-3 * time.Minute)
	b.Status = state.StatusTainted
	b.Reason = "jake"
	c := state.Host{ID: "03", Environment: "adhoc", Name: "sim-1", Provider: "sim", Instance: "lab",
		Recipe: map[string]any{"template": "tpl", "flag": "true"}, Facts: map[string]any{"os": "rhel9", "cpus": float64(2)},
		Status: state.StatusReady, Lease: state.Lease{Expires: now.Add(50 * time.Hour)}, Created: now, Updated: now,
		Origin: state.Origin{User: "jake", CI: "https://ci/1"}}
	d := state.Host{ID: "04", Environment: "adhoc", Hostname: "pool-1.lab", Provider: "static", Instance: "pool", Status: state.StatusReady}
	return []state.Host{a, b, c, d}
}

func TestInventoryTable(t *testing.T) {
	tests := []struct {
		name string
		o    InventoryOptions
	}{
		{"inventory_default.txt", InventoryOptions{Now: now}},
		{"inventory_color.txt", InventoryOptions{Now: now, Color: true, Expiring: time.Hour}},
		{"inventory_fields.txt", InventoryOptions{Now: now, Fields: []string{"Host:hostname|name", "Template:_broker_args.template|args.image", "Tier:labels.tier", "OS:facts.os", "Port:port", "Nope:nosuch"}}},
		{"inventory_details.txt", InventoryOptions{Now: now, Details: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := InventoryTable(&b, inventory(), tt.o); err != nil {
				t.Fatal(err)
			}
			if hasEscape(b.String()) != tt.o.Color {
				t.Errorf("escape codes present = %v, want %v", hasEscape(b.String()), tt.o.Color)
			}
			golden(t, tt.name, b.Bytes())
		})
	}
}

func TestInventoryJSONAndYAML(t *testing.T) {
	var j, y bytes.Buffer
	if err := InventoryJSON(&j, inventory()); err != nil {
		t.Fatal(err)
	}
	golden(t, "inventory.json", j.Bytes())
	if err := InventoryYAML(&y, inventory()); err != nil {
		t.Fatal(err)
	}
	golden(t, "inventory.yaml", y.Bytes())

	// Both decode to the same documents, and the records come back as stored.
	var fromJSON, fromYAML []map[string]any
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// YAML decodes integers as int, JSON as float64: compare through JSON.
	yb, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML = nil
	if err := json.Unmarshal(yb, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fromJSON, fromYAML); d != "" {
		t.Errorf("JSON and YAML differ (-json +yaml):\n%s", d)
	}
	var back []indexedHost
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for i, h := range back {
		if h.Index != i {
			t.Errorf("host %d has index %d", i, h.Index)
		}
		if d := cmp.Diff(inventory()[i], h.Host); d != "" {
			t.Errorf("host %d (-want +got):\n%s", i, d)
		}
	}
	var empty bytes.Buffer
	if err := InventoryJSON(&empty, nil); err != nil || empty.String() != "[]\n" {
		t.Errorf("empty inventory = %q, %v", empty.String(), err)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{20 * time.Minute, "20m"},
		{2 * time.Hour, "2h"},
		{2*time.Hour - time.Second, "1h59m"},
		{26 * time.Hour, "1d2h"},
		{48 * time.Hour, "2d"},
		{-3 * time.Minute, "expired 3m ago"},
		{-90 * time.Minute, "expired 1h30m ago"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func bigInventory(n int) []state.Host {
	base := inventory()
	hosts := make([]state.Host, n)
	for i := range hosts {
		hosts[i] = base[i%len(base)]
		hosts[i].ID = fmt.Sprintf("01J%010d", i)
	}
	return hosts
}

func BenchmarkInventoryJSON10k(b *testing.B) {
	hosts := bigInventory(10000)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := InventoryJSON(&buf, hosts); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
