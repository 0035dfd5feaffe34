package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestForEachAndCountIndexInstances(t *testing.T) {
	src := `
variable "images" { default = ["rhel8", "rhel9"] }
host "web" {
  provider = "sim"
  for_each = { eu = "10.0.1.0", us = "10.0.2.0" }
  args     = { region = each.key, net = each.value }
  labels   = { region = each.key }
  setup { run = ["echo ${each.key} ${each.value}"] }
}
host "client" {
  provider = "sim"
  count    = 2
  args     = { image = element(var.images, count.index) }
}
host "set" {
  provider = "sim"
  for_each = toset(["b", "a"])
  args     = { name = each.value }
}
`
	cfg, diags := loadString(t, src, testOptions())
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	type inst struct {
		Index  int
		Key    string
		Args   map[string]any
		Labels map[string]string
	}
	got := map[string][]inst{}
	for _, h := range cfg.Hosts {
		for _, in := range h.Instances {
			got[h.Name] = append(got[h.Name], inst{in.Index, in.Key, in.Args, in.Labels})
		}
	}
	want := map[string][]inst{
		"web": {
			{0, "eu", map[string]any{"region": "eu", "net": "10.0.1.0"}, map[string]string{"region": "eu"}},
			{1, "us", map[string]any{"region": "us", "net": "10.0.2.0"}, map[string]string{"region": "us"}},
		},
		"client": {
			{0, "", map[string]any{"image": "rhel8"}, nil},
			{1, "", map[string]any{"image": "rhel9"}, nil},
		},
		"set": {
			{0, "a", map[string]any{"name": "a"}, nil},
			{1, "b", map[string]any{"name": "b"}, nil},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("instances (-want +got):\n%s", d)
	}
	web := cfg.HostBlock("web")
	if !web.ForEach || web.Count != 2 {
		t.Errorf("web: ForEach %v Count %d, want true 2", web.ForEach, web.Count)
	}
	rs, diags := cfg.ResolveSetup(web, 1, HostValues{}, nil)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if d := cmp.Diff([]string{"echo us 10.0.2.0"}, rs.Run); d != "" {
		t.Errorf("setup of web[\"us\"] (-want +got):\n%s", d)
	}
}

func TestKeyedHostReference(t *testing.T) {
	src := `
host "web" {
  provider = "sim"
  for_each = toset(["eu"])
}
host "lb" {
  provider = "sim"
  setup { run = ["add ${host.web["eu"].hostname} ${host.web["eu"].key}"] }
}
`
	cfg, diags := loadString(t, src, testOptions())
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	lb := cfg.HostBlock("lb")
	if d := cmp.Diff([]string{"web"}, lb.DependsOn); d != "" {
		t.Errorf("DependsOn (-want +got):\n%s", d)
	}
	hosts := map[string][]HostValues{"web": {{"hostname": "eu.example", "key": "eu"}}}
	rs, diags := cfg.ResolveSetup(lb, 0, HostValues{}, hosts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if d := cmp.Diff([]string{"add eu.example eu"}, rs.Run); d != "" {
		t.Errorf("setup (-want +got):\n%s", d)
	}
}

func TestTeardownOfARemovedKeySeesItsKey(t *testing.T) {
	cfg, diags := loadString(t, "host \"web\" {\n  provider = \"sim\"\n  for_each = toset([\"eu\"])\n  teardown { run = [\"deregister ${each.key}\"] }\n}\n", testOptions())
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	web := cfg.HostBlock("web")
	blk, idx := web.WithKey("us")
	if blk == web || len(web.Instances) != 1 {
		t.Fatal("WithKey changed the block itself")
	}
	td, diags := cfg.ResolveTeardown(blk, idx, HostValues{}, nil)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if d := cmp.Diff([]string{"deregister us"}, td.Run); d != "" {
		t.Errorf("teardown (-want +got):\n%s", d)
	}
	if b, i := web.WithKey("eu"); b != web || i != 0 {
		t.Errorf("WithKey of a present key = %p, %d", b, i)
	}
}
