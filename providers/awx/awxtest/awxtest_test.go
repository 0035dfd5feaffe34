package awxtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/labbroker/broker/providers/awx/awxtest"
)

func get(t *testing.T, s *awxtest.Server, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestPaginationShape(t *testing.T) {
	var hosts []awxtest.Host
	for i := range 30 {
		hosts = append(hosts, awxtest.Host{Name: fmt.Sprintf("h%02d", i)})
	}
	s := awxtest.New(awxtest.Options{Inventories: []awxtest.Inventory{{Name: "big", Hosts: hosts}}})
	defer s.Close()
	code, m := get(t, s, "/api/v2/hosts/", "admin-token")
	if code != 200 || m["count"] != 30.0 || len(m["results"].([]any)) != 25 || m["previous"] != nil {
		t.Fatalf("first page: %d %v", code, m)
	}
	next, _ := m["next"].(string)
	if !strings.HasPrefix(next, "/api/v2/hosts/?") {
		t.Fatalf("next %q: want a relative link", next)
	}
	_, m = get(t, s, next, "admin-token")
	if len(m["results"].([]any)) != 5 || m["next"] != nil || m["previous"] == nil {
		t.Fatalf("second page: %v", m)
	}
	if code, _ := get(t, s, "/api/v2/hosts/", "wrong"); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
}

func TestAAPLayoutAndFaults(t *testing.T) {
	s := awxtest.New(awxtest.Options{AAP: true})
	defer s.Close()
	if code, _ := get(t, s, "/api/v2/me/", "admin-token"); code != 404 {
		t.Fatalf("AWX path on AAP: %d", code)
	}
	if code, m := get(t, s, "/api/controller/v2/me/", "admin-token"); code != 200 || m["count"] != 1.0 {
		t.Fatalf("me: %d %v", code, m)
	}
	s.FailNext(2, 502)
	for range 2 {
		if code, _ := get(t, s, "/api/controller/v2/me/", "admin-token"); code != 502 {
			t.Fatalf("injected fault: %d", code)
		}
	}
	id, err := s.Launch("admin", "deploy-rhel", nil)
	if err != nil || s.Launches("deploy-rhel") != 1 {
		t.Fatalf("launch: %v", err)
	}
	for range 2 {
		get(t, s, fmt.Sprintf("/api/controller/v2/workflow_jobs/%d/", id), "admin-token")
	}
	if st := s.JobStatus(id); st != "successful" {
		t.Fatalf("status after 2 polls: %q", st)
	}
	_, m := get(t, s, fmt.Sprintf("/api/controller/v2/workflow_jobs/%d/workflow_nodes/", id), "admin-token")
	if m["count"] != 2.0 {
		t.Fatalf("nodes: %v", m)
	}
	if len(s.Hosts("admin-hosts")) != 1 {
		t.Fatalf("deploy made no host")
	}
}
