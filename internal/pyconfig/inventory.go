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
// _broker_args, …) into records of environment env (Instance empty when
// the file names none: the caller picks the type's default instance). Keys other than the
// known ones become facts; _broker_args is the recipe. Hosts that cannot
// be recorded (their provider is not in this build, or they have no
// _broker_provider) are left out, each with why in skipped.
func ConvertInventory(src []byte, env string, origin state.Origin, now time.Time) (hosts []state.Host, skipped []string, err error) {
	var list []map[string]any
	if err := yaml.Unmarshal(src, &list); err != nil {
		return nil, nil, fmt.Errorf("read the inventory: want a list of hosts: %w", err)
	}
	out := make([]state.Host, 0, len(list))
	for i, m := range list {
		h := state.Host{ID: state.NewID(), Environment: env, Status: state.StatusReady, Origin: origin, Created: now, Updated: now, Facts: map[string]any{}}
		prov := strings.TrimSpace(fmt.Sprint(m["_broker_provider"]))
		if m["_broker_provider"] == nil || prov == "" {
			skipped = append(skipped, fmt.Sprintf("host %d (%v): no _broker_provider", i, hostLabel(m)))
			continue
		}
		t, ok := providers.Lookup(prov)
		if !ok {
			skipped = append(skipped, fmt.Sprintf("host %d (%v): provider %s is not available in this build", i, hostLabel(m), prov))
			continue
		}
		h.Provider = t.Name // Instance stays empty unless _broker_provider_instance names one
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
			skipped = append(skipped, fmt.Sprintf("host %d: neither hostname nor name", i))
			continue
		}
		if id, ok := h.Facts["container_id"].(string); ok {
			h.ProviderID = id
		} else if id, ok := h.Facts["instance_id"].(string); ok && id != "" {
			h.ProviderID = id // an OpenStack server's id
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
	return out, skipped, nil
}

func hostLabel(m map[string]any) any {
	if h, ok := m["hostname"]; ok && h != nil {
		return h
	}
	return m["name"]
}
