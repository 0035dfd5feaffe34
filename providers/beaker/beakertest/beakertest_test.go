package beakertest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/labbroker/broker/providers/beaker/beakertest"
	"github.com/labbroker/broker/providers/beaker/xmlrpc"
)

type hub struct {
	t   *testing.T
	url string
	hc  *http.Client
}

func (h hub) call(method string, params ...any) (any, error) {
	h.t.Helper()
	body, err := xmlrpc.EncodeCall(method, params...)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.hc.Post(h.url+"/client/", "text/xml", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	return xmlrpc.DecodeResponse(resp.Body)
}

func (h hub) job(id string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/jobs/"+id, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// The hub's shapes: faults without a session, the session cookie of
// auth.login_password, job ids "J:N", whiteboard filters, and a job's
// way from Queued to a reserved system.
func TestHub(t *testing.T) {
	srv := beakertest.New(beakertest.Options{})
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	h := hub{t: t, url: srv.URL(), hc: &http.Client{Jar: jar}}
	var f *xmlrpc.Fault
	if _, err := h.call("jobs.filter", map[string]any{}); !errors.As(err, &f) {
		t.Fatalf("anonymous call: %v, want a fault", err)
	}
	if _, err := h.call("auth.login_password", "admin", "nope"); !errors.As(err, &f) {
		t.Fatalf("bad password: %v, want a fault", err)
	}
	if v, err := h.call("auth.login_password", "admin", "password"); err != nil || v != "admin" {
		t.Fatalf("login = %v, %v", v, err)
	}
	v, err := h.call("jobs.upload", `<job><whiteboard>tag-1</whiteboard><recipeSet><recipe><task name="/distribution/reservesys"/></recipe></recipeSet></job>`)
	if err != nil || v != "J:101" {
		t.Fatalf("upload = %v, %v", v, err)
	}
	if v, err := h.call("jobs.filter", map[string]any{"whiteboard": "tag-1"}); err != nil || len(v.([]any)) != 1 {
		t.Fatalf("filter = %v, %v", v, err)
	}
	if v, _ := h.call("jobs.filter", map[string]any{"whiteboard": "tag-2"}); len(v.([]any)) != 0 {
		t.Fatalf("filter other = %v", v)
	}
	var statuses []any
	for range 3 {
		statuses = append(statuses, h.job("101")["status"])
	}
	if want := []any{"Installing", "Running", "Running"}; !equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	rs := h.job("101")["recipesets"].([]any)[0].(map[string]any)["machine_recipes"].([]any)[0].(map[string]any)
	if rs["resource"].(map[string]any)["fqdn"] != "lab-01.beaker.example.test" {
		t.Errorf("recipe %v", rs)
	}
	if _, err := h.call("taskactions.stop", "J:101", "cancel", "done"); err != nil {
		t.Fatal(err)
	}
	if st := h.job("101")["status"]; st != "Cancelled" {
		t.Errorf("after stop: %v", st)
	}
}

func equal(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
