package planner

import (
	"maps"
	"slices"

	"github.com/labbroker/broker/manifest"
)

// DesiredHosts lists the host instances cfg asks for, in the manifest's block
// order and by index. Args and labels are copied: changing them does not
// change cfg.
func DesiredHosts(cfg *manifest.Config) []Desired {
	if cfg == nil {
		return nil
	}
	var out []Desired
	for _, h := range cfg.Hosts {
		for i := 0; i < h.Count; i++ {
			addr, key := Address(h.Name, i), ""
			args, labels := h.Args, h.Labels
			if i < len(h.Instances) {
				in := h.Instances[i]
				args, labels = in.Args, in.Labels
				if h.ForEach {
					addr, key = KeyAddress(h.Name, in.Key), in.Key
				}
			}
			out = append(out, Desired{
				Address:  addr,
				Host:     h.Name,
				Index:    i,
				Key:      key,
				Provider: h.ProviderType,
				Instance: h.Instance,
				Nick:     h.Nick,
				Args:     copyJSON(args),
				Lease:    h.Lease,
				Labels:   maps.Clone(labels),
				// Blocks referring to themselves (host.web[0] in web's
				// setup) order nothing.
				DependsOn: slices.DeleteFunc(slices.Clone(h.DependsOn), func(n string) bool { return n == h.Name }),
			})
		}
	}
	return out
}

// copyJSON deep-copies a JSON-shaped map.
func copyJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}
