package awx_test

// Behaviour the Python broker's AnsibleTower provider has and its tests
// (tests/providers/test_ansible_tower.py) or settings validators
// (dangling_behavior, error_scope, provider_labels) assert.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/awx"
	"github.com/labbroker/broker/providers/awx/awxtest"
)

// brokenWorkflows fail after a node made a host (vm_name), and after two
// failed nodes.
func brokenWorkflows() []awxtest.Workflow {
	return append(awxtest.DefaultWorkflows(), awxtest.Workflow{
		Name: "deploy-broken", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{
			{Name: "provision", Artifacts: map[string]any{"vm_name": "half-made"}},
			{Name: "configure-vm", Fail: true, Events: []awxtest.Event{{Play: "Configure", Task: "Install packages", Host: "half-made", Msg: "No package satellite available."}}},
		},
	}, awxtest.Workflow{
		Name: "deploy-twice-broken", Kind: awxtest.KindStatic,
		Nodes: []awxtest.Node{
			{Name: "the-step", Fail: true, Events: []awxtest.Event{
				{Play: "One", Task: "First", Host: "h", Msg: "first failure"},
				{Play: "One", Task: "Second", Host: "h", Msg: "second failure"},
			}},
		},
	})
}

func brokenEmulator(t *testing.T) *awxtest.Server {
	return emulator(t, awxtest.Options{Workflows: brokenWorkflows(), Inventories: []awxtest.Inventory{{Name: "admin-hosts", Hosts: []awxtest.Host{{Name: "half-made"}}}}})
}

// dangling_behavior = store keeps the host the failed workflow made and
// names it in the error, with the command that checks it in.
func TestDanglingBehaviorStoreKeepsHosts(t *testing.T) {
	for _, behavior := range []string{awx.DanglingStore, awx.DanglingPrompt} {
		t.Run(behavior, func(t *testing.T) {
			s := brokenEmulator(t)
			set := settings(s, adminToken)
			set.DanglingBehavior = behavior
			p, _ := open(t, set)
			_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: map[string]any{"workflow": "deploy-broken"}})
			var je *awx.JobError
			if !errors.As(err, &je) {
				t.Fatalf("error %v: want a *awx.JobError", err)
			}
			if s.Launches("remove-vm") != 0 {
				t.Errorf("dangling_behavior %s checked the host in", behavior)
			}
			if len(s.Hosts("admin-hosts")) != 1 {
				t.Errorf("the kept host is gone: %v", s.Hosts("admin-hosts"))
			}
			for _, want := range []string{"half-made", "dangling_behavior = " + behavior, "broker checkin --provider awx --name NAME"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if d := je.Detail()["dangling_hosts"]; !slices.Equal(d.([]any), []any{"half-made"}) {
				t.Errorf("detail dangling_hosts = %v", d)
			}
		})
	}
	// The default checks it in (TestFailedWorkflowReportsFailingNode), and
	// a value Python does not know is refused by the schema.
	if _, err := awx.DecodeHCL(`url = "http://127.0.0.1:1"
token = "t"
dangling_behavior = "ignore"`); err == nil || !strings.Contains(err.Error(), "dangling_behavior") {
		t.Errorf("dangling_behavior = ignore: %v", err)
	}
}

// error_scope: last (the default) reports one reason, the first of the
// last failed node's, as Python's failure_messages[0]; all reports every
// one.
func TestErrorScope(t *testing.T) {
	s := brokenEmulator(t)
	for _, tc := range []struct {
		scope      string
		want, lack []string
	}{
		{"", []string{"first failure"}, []string{"second failure"}},
		{awx.ErrorScopeLast, []string{"first failure"}, []string{"second failure"}},
		{awx.ErrorScopeAll, []string{"second failure", "first failure"}, nil},
	} {
		set := settings(s, adminToken)
		set.ErrorScope = tc.scope
		p, _ := open(t, set)
		_, err := p.Execute(context.Background(), providers.ExecuteRequest{Args: map[string]any{"workflow": "deploy-twice-broken"}})
		if err == nil {
			t.Fatalf("error_scope %q: the failing workflow succeeded", tc.scope)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error_scope %q: error %q lacks %q", tc.scope, err, w)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(err.Error(), l) {
				t.Errorf("error_scope %q: error %q has %q", tc.scope, err, l)
			}
		}
	}
}

// The user's labels (-l k=v,k2) become AAP labels "k=v" and "k" on the job
// of a checkout and of an execute, beside an args file's provider_labels;
// broker's own broker.* labels do not.
func TestUserLabelsBecomeJobLabels(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	ctx := context.Background()
	var jobID int
	args := deployArgs()
	args["provider_labels"] = map[string]any{"from_file": "yes"}
	_, err := p.Checkout(ctx, providers.CheckoutRequest{
		Args:   args,
		Labels: map[string]string{"team": "qe", "k2": "", providers.LabelID: "abc", providers.LabelUser: "admin"},
		Checkpoint: func(_ context.Context, c providers.Checkpoint) error {
			jobID, _ = strconv.Atoi(c.Data["job_id"])
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.JobLabels(jobID), []string{"from_file=yes", "k2", "team=qe"}; !slices.Equal(got, want) {
		t.Errorf("checkout job labels %v, want %v", got, want)
	}
	// provider_labels also reaches the job as an extra var, as Python sends it.
	if _, ok := s.JobExtraVars(jobID)["provider_labels"]; !ok {
		t.Errorf("extra vars lack provider_labels: %v", s.JobExtraVars(jobID))
	}

	res, err := p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"workflow": "list-templates"}, Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	id := int(res.Result.(map[string]any)["job_id"].(float64))
	if got := s.JobLabels(id); !slices.Equal(got, []string{"a=b"}) {
		t.Errorf("execute job labels %v, want [a=b]", got)
	}
	if ev := s.JobExtraVars(id); ev["l"] != nil || ev["a"] != nil {
		t.Errorf("labels leaked into extra vars: %v", ev)
	}
}

// test_pull_extra_vars_with_json_list, test_parse_string_value_*: a string
// holding a JSON list or object reaches the job as that structure; simple
// strings ("123", "true", "this-is-its-value") stay strings.
func TestJSONStringExtraVarsBecomeStructures(t *testing.T) {
	s := emulator(t, awxtest.Options{})
	p, _ := open(t, settings(s, adminToken))
	repos := `[{"name":"baseos","description":"baseos","file":"os_repo.repo","baseurl":"http://download.com/compose/BaseOS/x86_64/os"},{"name":"appstream","file":"os_repo.repo"}]`
	res, err := p.Execute(context.Background(), providers.ExecuteRequest{Args: map[string]any{
		"workflow": "list-templates", "rhel_compose_repositories": repos, "dict": `{"key1":"value1","key2":"value2"}`,
		"n": "123", "b": "true", "plain": "this-is-its-value", "broken": "[not json",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ev := s.JobExtraVars(int(res.Result.(map[string]any)["job_id"].(float64)))
	list, ok := ev["rhel_compose_repositories"].([]any)
	if !ok || len(list) != 2 || list[0].(map[string]any)["name"] != "baseos" || list[1].(map[string]any)["name"] != "appstream" {
		t.Errorf("rhel_compose_repositories = %#v", ev["rhel_compose_repositories"])
	}
	if d, ok := ev["dict"].(map[string]any); !ok || d["key1"] != "value1" || d["key2"] != "value2" {
		t.Errorf("dict = %#v", ev["dict"])
	}
	for k, want := range map[string]string{"n": "123", "b": "true", "plain": "this-is-its-value", "broken": "[not json"} {
		if ev[k] != want {
			t.Errorf("%s = %#v, want the string %q", k, ev[k], want)
		}
	}
}
