package views

import (
	"strings"
	"testing"
)

// TestPythonTime: the Python broker's format_host_time_value, as its
// tests/test_helpers.py checks it (an epoch in 2026, 432000 seconds = 5d).
func TestPythonTime(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"1779455297", "May 22, 2026 13:08 UTC"},
		{"432000", "5d"},
		{5400, "1h 30m"},
		{float64(90061), "1d 1h 1m"}, // seconds are dropped once there are days
		{"45", "45s"},
		{"0", "0s"},
		{"soon", "soon"},
	}
	for _, tt := range tests {
		if got := PythonTime(tt.in); got != tt.want {
			t.Errorf("PythonTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckInventoryColumnPython(t *testing.T) {
	for _, ok := range []string{"OS:os_distribution os_distribution_version", "Action:$action", "Host:hostname | name", "Inv:tower_inventory", "P:_broker_provider"} {
		if err := CheckInventoryColumn(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for spec, msg := range map[string]string{"H:hostnme": `did you mean "hostname"`, "OS:os_distribution hostnmae": `no field "hostnmae"`, "X:labels.": `no field "labels."`} {
		if err := CheckInventoryColumn(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", spec, err, msg)
		}
	}
}
