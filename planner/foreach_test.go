package planner

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

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
