package pyconfig

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// ConvertInventory turns a Python broker inventory.yaml (a list of host
// dicts: hostname, name, _broker_provider, _broker_provider_instance,
// _broker_args, …) into records of environment env. Keys other than the
// known ones become facts; _broker_args is the recipe.
func ConvertInventory(src []byte, env string, origin state.Origin, now time.Time) ([]state.Host, error) {
	var list []map[string]any
	if err := yaml.Unmarshal(src, &list); err != nil {
		return nil, fmt.Errorf("read the inventory: want a list of hosts: %w", err)
	}
	out := make([]state.Host, 0, len(list))
	for i, m := range list {
		h := state.Host{ID: state.NewID(), Environment: env, Status: state.StatusReady, Origin: origin, Created: now, Updated: now, Facts: map[string]any{}}
		prov := strings.TrimSpace(fmt.Sprint(m["_broker_provider"]))
		if m["_broker_provider"] == nil || prov == "" {
			return nil, fmt.Errorf("host %d (%v): no _broker_provider", i, m["hostname"])
		}
		t, ok := providers.Lookup(prov)
		if !ok {
			return nil, fmt.Errorf("host %d (%v): provider %q is not available in this build", i, m["hostname"], prov)
		}
		h.Provider = t.Name
		h.Instance = "default"
		for k, v := range m {
			s, _ := v.(string)
			switch k {
			case "hostname":
				h.Hostname = s
			case "name":
				h.Name = s
			case "ip", "ip_address":
				h.IP = s
			case "username", "user":
				h.User = s
			case "_broker_provider":
			case "_broker_provider_instance":
				if s != "" {
					h.Instance = s
				}
			case "_broker_args":
				if a, ok := v.(map[string]any); ok {
					h.Recipe = a
					if n, ok := a["nick"].(string); ok {
						h.Nick = n
					}
				}
			case "password", "host_password", "token":
				// never recorded
			default:
				h.Facts[k] = v
			}
		}
		if h.Name == "" && h.Hostname == "" {
			return nil, fmt.Errorf("host %d: neither hostname nor name", i)
		}
		if id, ok := h.Facts["container_id"].(string); ok {
			h.ProviderID = id
		} else if h.Name != "" {
			h.ProviderID = h.Name
		} else {
			h.ProviderID = h.Hostname
		}
		if h.Recipe != nil {
			delete(h.Recipe, "_count")
		}
		out = append(out, h)
	}
	return out, nil
}
