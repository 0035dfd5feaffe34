package views

import (
	"encoding/json"
	"maps"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/state"
)

// PythonHost is a host as the Python broker writes it to its inventory
// and to --output-file: hostname, name, type, _broker_provider (the
// Python name: AnsibleTower, Container, TestProvider),
// _broker_provider_instance, _broker_args, the keys a Python inventory
// entry had (kept as facts, written at the top level again), and beside
// them broker's own record (id, environment, provider, status, lease…).
// Records hold no secrets.
func PythonHost(h *state.Host) map[string]any {
	m := map[string]any{}
	if b, err := json.Marshal(h); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	for k, v := range h.Facts {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	m["hostname"] = h.Hostname
	m["name"] = h.Name
	if t, ok := h.Facts["type"].(string); ok && t != "" {
		m["type"] = t
	} else {
		m["type"] = "host"
	}
	m["_broker_provider"] = filter.PythonProvider(h.Provider)
	m["_broker_provider_instance"] = h.Instance
	args := map[string]any{}
	maps.Copy(args, h.Recipe)
	m["_broker_args"] = args
	return m
}

// PythonHosts is PythonHost of each host; never nil.
func PythonHosts(hosts []state.Host) []map[string]any {
	out := make([]map[string]any, len(hosts))
	for i := range hosts {
		out[i] = PythonHost(&hosts[i])
	}
	return out
}
