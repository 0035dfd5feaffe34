package planner

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// regions is a for_each host block over keys, each instance's args
// naming its key.
func regions(keys ...string) *manifest.Host {
	h := &manifest.Host{Name: "web", ProviderType: "sim", Instance: "lab", Count: len(keys), ForEach: true}
	for i, k := range keys {
		h.Instances = append(h.Instances, &manifest.Instance{Index: i, Key: k, Args: map[string]any{"region": k}})
	}
	return h
}

func TestForEachMapChangeAddsAndRemovesExactlyItsKeys(t *testing.T) {
	old := regions("eu", "us")
	recs := []state.Host{}
	for i, k := range []string{"eu", "us"} {
		r := rec("r-"+k, old, i)
		r.Address = KeyAddress("web", k)
		r.Recipe = map[string]any{"region": k}
		recs = append(recs, r)
	}
	p, err := Make(context.Background(), Input{Config: cfg(regions("ap", "eu")), Records: recs, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{Action: Create, Address: `host.web["ap"]`, Reason: Because(ReasonMissing, "")},
		{Action: NoOp, Address: `host.web["eu"]`, Before: "r-eu"},
		{Action: Destroy, Address: `host.web["us"]`, Before: "r-us", Reason: Because(ReasonKeyRemoved, `host.web["us"]`)},
	}
	if d := cmp.Diff(want, briefs(p.Changes)); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
}

func TestParseInstance(t *testing.T) {
	tests := []struct {
		in   string
		want Instance
		ok   bool
	}{
		{`host.web["eu"]`, Instance{Block: "web", Key: "eu", Keyed: true}, true},
		{`host.web["a b\"c"]`, Instance{Block: "web", Key: `a b"c`, Keyed: true}, true},
		{`host.web[""]`, Instance{Block: "web", Key: "", Keyed: true}, true},
		{`host.web[2]`, Instance{Block: "web", Index: 2}, true},
		{`host.web['eu']`, Instance{}, false},
		{`host.web[eu]`, Instance{}, false},
		{`host.web["\x65u"]`, Instance{}, false}, // one instance, one address
		{`host.web["eu"`, Instance{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseInstance(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseInstance(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && got.String() != tt.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	if _, _, ok := ParseAddress(`host.web["eu"]`); ok {
		t.Error(`ParseAddress accepts host.web["eu"], whose callers expect an index`)
	}
	if CompareAddress(`host.web[10]`, `host.web["a"]`) >= 0 || CompareAddress(`host.web["a"]`, `host.web["b"]`) >= 0 {
		t.Error("CompareAddress: count instances come before keyed ones, keys in order")
	}
}

func TestArgsReferringToHostsAreKnownOnlyWhenTheHostStays(t *testing.T) {
	src := `
host "sat" { provider = "sim" }
host "capsule" {
  provider = "sim"
  args     = { sat = host.sat[0].hostname, role = "capsule" }
}
`
	c, diags := manifest.LoadSources(map[string][]byte{"lab.hcl": []byte(src)}, ".", manifest.Options{
		Schemas: func(string) (manifest.ProviderSchema, bool) {
			return manifest.ProviderSchema{Type: "sim", Args: cty.DynamicPseudoType}, true
		},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c.Environment = "ui"
	sat := state.Host{ID: "s", Environment: "ui", Address: "host.sat[0]", Provider: "sim", Instance: "default",
		Hostname: "sat.example", Status: state.StatusReady, Recipe: map[string]any{}}
	capsule := state.Host{ID: "c", Environment: "ui", Address: "host.capsule[0]", Provider: "sim", Instance: "default",
		Status: state.StatusReady, Recipe: map[string]any{"sat": "sat.example", "role": "capsule"}}

	// Nothing checked out: the capsule's sat is known after checkout.
	p, err := Make(context.Background(), Input{Config: c, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	after := p.Changes[0].After
	if p.Changes[0].Address != "host.capsule[0]" || !cmp.Equal(after.Unknown, []string{"args.sat"}) || !cmp.Equal(after.Args, map[string]any{"role": "capsule"}) {
		t.Errorf("capsule to create: %+v", after)
	}
	if !cmp.Equal(p.Changes[0].DependsOn, []string{"host.sat[0]"}) {
		t.Errorf("capsule depends on %v, want host.sat[0]", p.Changes[0].DependsOn)
	}

	// Both there: the value is read from the satellite's record.
	p, err = Make(context.Background(), Input{Config: c, Records: []state.Host{sat, capsule}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if ch.Action != NoOp && ch.Action != Extend {
			t.Errorf("%s: %s (%+v), want no-op", ch.Address, ch.Action, ch.Reason)
		}
	}

	// The satellite is replaced: the capsule is too.
	p, err = Make(context.Background(), Input{Config: c, Records: []state.Host{sat, capsule}, Replace: []string{"host.sat[0]"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{Action: Replace, Address: "host.capsule[0]", Before: "c", Reason: Reason{Kind: ReasonRecipeChanged, Fields: []string{"sat"}}, DependsOn: []string{"host.sat[0]"}},
		{Action: Replace, Address: "host.sat[0]", Before: "s", Reason: Because(ReasonReplaceRequested, "")},
	}
	if d := cmp.Diff(want, briefs(p.Changes)); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
}

func TestInPlaceArgumentsUpdateTheRecordWithoutReplacing(t *testing.T) {
	h := &manifest.Host{Name: "db", ProviderType: "sim", Instance: "lab", Count: 1, InPlace: []string{"note"},
		Args: map[string]any{"size": float64(2), "note": "new"}}
	r := rec("a", h, 0)
	r.Recipe = map[string]any{"size": float64(2), "note": "old"}
	p, err := Make(context.Background(), Input{Config: cfg(h), Records: []state.Host{r}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Changes[0]
	if c.Action != NoOp || !c.UpdateRecipe || !c.Reason.Is(ReasonRecipeUpdated) || p.HasChanges() {
		t.Errorf("note changed: %s update_recipe=%v %+v", c.Action, c.UpdateRecipe, c.Reason)
	}
	// Any other argument still replaces, and then the note goes with it.
	h.Args = map[string]any{"size": float64(4), "note": "new"}
	p, err = Make(context.Background(), Input{Config: cfg(h), Records: []state.Host{r}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Changes[0]; c.Action != Replace || !cmp.Equal(c.Reason.Fields, []string{"size"}) || c.UpdateRecipe {
		t.Errorf("size changed: %s %+v", c.Action, c.Reason)
	}
}
