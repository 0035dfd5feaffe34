package planner

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/labbroker/broker/manifest"
)

// Address is the address of instance index of host block name.
func Address(name string, index int) string {
	return "host." + name + "[" + strconv.Itoa(index) + "]"
}

// ParseAddress splits host.NAME[INDEX]; ok is false for anything else.
func ParseAddress(addr string) (name string, index int, ok bool) {
	rest, found := strings.CutPrefix(addr, "host.")
	if !found || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	open := strings.LastIndexByte(rest, '[')
	if open <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[open+1 : len(rest)-1])
	if err != nil || n < 0 || fmt.Sprint(n) != rest[open+1:len(rest)-1] {
		return "", 0, false
	}
	return rest[:open], n, true
}

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
			out = append(out, Desired{
				Address:  Address(h.Name, i),
				Host:     h.Name,
				Index:    i,
				Provider: h.ProviderType,
				Instance: h.Instance,
				Nick:     h.Nick,
				Args:     copyJSON(h.Args),
				Lease:    h.Lease,
				Labels:   maps.Clone(h.Labels),
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
