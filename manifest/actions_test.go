package manifest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestActionsAndOutputs(t *testing.T) {
	src := `
provider "awx" "lab" { url = "https://awx.example.com" }
variable "integrate" { default = true }
host "sat" { provider = "sim" }
host "capsule" { provider = "sim" }
action "integrate" {
  provider  = "awx.lab"
  args      = { workflow = "integrate", satellite = host.sat[0].hostname, capsule = host.capsule[0].hostname }
  artifacts = "last"
  when      = var.integrate
  timeout   = "30m"
  retry {
    attempts = 3
    delay    = "10s"
  }
  on_destroy { args = { workflow = "disintegrate", capsule = host.capsule[0].hostname } }
}
action "announce" {
  local = ["echo", "capsule ${action.integrate.result.capsule_id}"]
}
output "sat" { value = host.sat[0].hostname }
output "capsule_id" {
  value     = action.integrate.result.capsule_id
  sensitive = true
}
`
	cfg, diags := loadString(t, src, testOptions())
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	in := cfg.Action("integrate")
	if in == nil || in.Provider != "awx.lab" || in.Attempts != 3 || in.Delay != 10*time.Second || in.Timeout != 30*time.Minute || in.OnDestroy == nil {
		t.Fatalf("integrate: %+v", in)
	}
	if d := cmp.Diff([]string{"host.capsule", "host.sat"}, in.DependsOn); d != "" {
		t.Errorf("integrate depends on (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"action.integrate"}, cfg.Action("announce").DependsOn); d != "" {
		t.Errorf("announce depends on (-want +got):\n%s", d)
	}
	hosts := map[string][]HostValues{"sat": {{"hostname": "sat.example"}}, "capsule": {UnknownHost()}}
	_, run, unknown, diags := cfg.ResolveAction(in, false, hosts, nil)
	if diags.HasErrors() || !run || !cmp.Equal(unknown, []string{"args.capsule"}) {
		t.Errorf("with the capsule unknown: run %v, unknown %v, %s", run, unknown, diagSummaries(diags))
	}
	hosts["capsule"] = []HostValues{{"hostname": "cap.example"}}
	step, run, unknown, diags := cfg.ResolveAction(in, false, hosts, nil)
	want := ResolvedStep{Args: map[string]any{"workflow": "integrate", "satellite": "sat.example", "capsule": "cap.example"}, Artifacts: "last"}
	if diags.HasErrors() || !run || len(unknown) > 0 || !cmp.Equal(step, want) {
		t.Errorf("resolved: %+v run %v unknown %v %s", step, run, unknown, diagSummaries(diags))
	}
	step, _, _, _ = cfg.ResolveAction(in, true, hosts, nil)
	if step.Args["workflow"] != "disintegrate" {
		t.Errorf("on_destroy: %+v", step)
	}
	actions := map[string]ActionValues{"integrate": {"result": map[string]any{"capsule_id": float64(7)}, "status": float64(0)}}
	step, _, _, diags = cfg.ResolveAction(cfg.Action("announce"), false, hosts, actions)
	if diags.HasErrors() || !cmp.Equal(step.Local, []string{"echo", "capsule 7"}) {
		t.Errorf("announce: %+v %s", step, diagSummaries(diags))
	}
	v, diags := cfg.ResolveOutput(cfg.Outputs[1], hosts, actions)
	if diags.HasErrors() || v != float64(7) || !cfg.Outputs[1].Sensitive {
		t.Errorf("capsule_id output: %v %s", v, diagSummaries(diags))
	}
}

func TestActionWhenFalseDoesNotRun(t *testing.T) {
	cfg, diags := loadString(t, "variable \"on\" { default = false }\naction \"a\" {\n  local = [\"x\"]\n  when = var.on\n}\n", testOptions())
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	if _, run, _, _ := cfg.ResolveAction(cfg.Action("a"), false, nil, nil); run {
		t.Error("when = false: run")
	}
}
