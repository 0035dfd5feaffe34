package foremantest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/labbroker/broker/providers/foreman/foremantest"
)

func do(t *testing.T, srv *foremantest.Server, user, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&b).Encode(body)
	}
	req, _ := http.NewRequest(method, srv.URL()+path, &b)
	req.SetBasicAuth(user, "changeme")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// Foreman's shapes: 401 with error.message, 422 with full_messages, 404
// with message, a build that ends after reads.
func TestAPI(t *testing.T) {
	srv := foremantest.New(foremantest.Options{BuildPolls: 2})
	defer srv.Close()
	if code, m := do(t, srv, "nobody", "GET", "/api/hosts", nil); code != 401 || m["error"].(map[string]any)["message"] != "Unable to authenticate user nobody" {
		t.Fatalf("401: %d %v", code, m)
	}
	host := map[string]any{"host": map[string]any{"name": "h1", "hostgroup_id": 1, "build": true}}
	code, m := do(t, srv, "admin", "POST", "/api/hosts", host)
	if code != 201 || m["name"] != "h1.foreman.example.test" || m["build_status_label"] != "Pending installation" {
		t.Fatalf("create: %d %v", code, m)
	}
	code, m = do(t, srv, "admin", "POST", "/api/hosts", host)
	full, _ := m["error"].(map[string]any)["full_messages"].([]any)
	if code != 422 || len(full) != 1 || full[0] != "Name has already been taken" {
		t.Fatalf("duplicate: %d %v", code, m)
	}
	var labels []any
	for range 2 {
		_, m = do(t, srv, "admin", "GET", "/api/hosts/h1.foreman.example.test", nil)
		labels = append(labels, m["build_status_label"])
	}
	if labels[0] != "Pending installation" || labels[1] != "Installed" {
		t.Errorf("build labels %v", labels)
	}
	if code, _ := do(t, srv, "admin", "DELETE", "/api/hosts/h1.foreman.example.test", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, m := do(t, srv, "admin", "GET", "/api/hosts/h1.foreman.example.test", nil); code != 404 || m["message"] == nil {
		t.Fatalf("gone: %d %v", code, m)
	}
}
