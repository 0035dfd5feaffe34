package planner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/state"
)

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	rec := state.Host{ID: "a", Address: "host.web[0]", Status: state.StatusTainted,
		Recipe: map[string]any{"image": "nginx"}, Created: now, Updated: now}
	f := &File{
		Plan: &Plan{FormatVersion: FormatVersion, Environment: "ui", StateSerial: 9, Created: now,
			Changes: []Change{
				{Action: Replace, Address: "host.web[0]", Before: &rec,
					After:  &Desired{Address: "host.web[0]", Host: "web", Provider: "docker", Instance: "local", Args: map[string]any{"image": "httpd"}, Lease: time.Hour},
					Reason: Because(ReasonTainted, ""), DependsOn: []string{"host.db[0]"}},
			}},
		Sources:            map[string][]byte{"lab.hcl": []byte("host \"web\" {}\n")},
		BaseDir:            "/src",
		Variables:          map[string]SavedValue{"rhel": {Value: cty.StringVal("9.4")}, "ports": {Value: cty.ListVal([]cty.Value{cty.NumberIntVal(22)})}},
		SensitiveVariables: []string{"token"},
		BrokerVersion:      "v0.1.0",
	}
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *f
	want.FormatVersion = FormatVersion
	if d := cmp.Diff(&want, got, cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestReadFileRefuses(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"newer format", `{"format_version": 3, "plan": {"format_version": 3}}`, "format version 3 is not supported by this broker (it reads version 2)"},
		{"older format", `{"format_version": 1, "plan": {"format_version": 1}}`, "format version 1 is not supported by this broker (it reads version 2)"},
		{"no version", `{"plan": {}}`, "not a broker plan (no format_version)"},
		{"not json", `host "web" {}`, "not a broker plan"},
		{"no plan", `{"format_version": 2}`, "no plan in it"},
		{"old plan inside", `{"format_version": 2, "plan": {"format_version": 0}}`, "plan format version 0 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadFile error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCheckSerial(t *testing.T) {
	p := &Plan{Environment: "ui", StateSerial: 7}
	if err := CheckSerial(p, 7); err != nil {
		t.Fatalf("same serial: %v", err)
	}
	err := CheckSerial(p, 9)
	var se *StaleError
	if !errors.As(err, &se) || se.PlanSerial != 7 || se.CurrentSerial != 9 {
		t.Fatalf("CheckSerial = %#v", err)
	}
	if want := "the state changed since this plan was made (serial 7, now 9): run plan again"; err.Error() != want {
		t.Errorf("message = %q", err.Error())
	}
}
