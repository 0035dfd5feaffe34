package views

import (
	"encoding/json"
	"io"
	"maps"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

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
	// the recipe is _broker_args; facts go back to the top level, where
	// a Python inventory had them, unless a field of the record has the
	// name (those stay under facts)
	delete(m, "recipe")
	delete(m, "facts")
	kept := map[string]any{}
	for k, v := range h.Facts {
		if _, taken := m[k]; taken || pythonKeys[k] {
			kept[k] = v
		} else {
			m[k] = v
		}
	}
	if len(kept) > 0 {
		m["facts"] = kept
	}
	if lease := leaseRecord(h.Lease); lease != nil {
		m["lease"] = lease
	} else {
		delete(m, "lease")
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

// pythonKeys are the keys PythonHost sets itself.
var pythonKeys = map[string]bool{"hostname": true, "name": true, "_broker_provider": true, "_broker_provider_instance": true, "_broker_args": true}

// leaseRecord is a lease as people read it: expires (RFC 3339), duration
// ("4h0m0s") and extended, each when set; nil without a lease.
func leaseRecord(l state.Lease) map[string]any {
	out := map[string]any{}
	if !l.Expires.IsZero() {
		out["expires"] = l.Expires.UTC().Format(time.RFC3339)
	}
	if l.Duration != 0 {
		out["duration"] = l.Duration.String()
	}
	if l.Extended != 0 {
		out["extended"] = l.Extended
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// PythonHosts is PythonHost of each host; never nil.
func PythonHosts(hosts []state.Host) []map[string]any {
	out := make([]map[string]any, len(hosts))
	for i := range hosts {
		out[i] = PythonHost(&hosts[i])
	}
	return out
}

// InventoryPythonDetails writes what the Python broker's `inventory
// --details` prints: a YAML map from inventory index to the host as
// PythonHost gives it, every *_time value humanised (PythonTime).
func InventoryPythonDetails(w io.Writer, hosts []state.Host) error {
	doc := make(map[int]any, len(hosts))
	for i := range hosts {
		doc[i] = humaniseTimes(PythonHost(&hosts[i]))
	}
	if len(doc) == 0 {
		_, err := io.WriteString(w, "No hosts found in inventory.\n")
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// humaniseTimes formats the *_time values of m, in nested maps too.
func humaniseTimes(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			m[k] = humaniseTimes(x)
		default:
			if strings.HasSuffix(k, "_time") && v != nil {
				m[k] = PythonTime(v)
			}
		}
	}
	return m
}

// ListValue is what `inventory --list` prints for a host: spec is the
// Python broker's inventory_list_vars ("hostname | name | ip"), the first
// non-empty field; "" when none is.
func ListValue(h *state.Host, index int, spec string) string {
	cols := parseColumns([]string{"Host:" + spec})
	return columnValue(h, index, cols[len(cols)-1], time.Time{})
}
