package planner

import (
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// HostValues is what manifest expressions can read of a host record
// (host.NAME[i].hostname, self.ip).
func HostValues(h state.Host) manifest.HostValues {
	labels := map[string]any{}
	for k, v := range h.Labels {
		labels[k] = v
	}
	facts := h.Facts
	if facts == nil {
		facts = map[string]any{}
	}
	return manifest.HostValues{
		"id": h.ID, "address": h.Address, "name": h.Name, "hostname": h.Hostname,
		"ip": h.IP, "connect_host": h.ConnectAddress(), "port": float64(h.Port), "user": h.User, "labels": labels, "facts": facts,
		"provider": h.Provider, "instance": h.Instance,
	}
}

// Neighbours gives the values of records by host block name, for
// expressions that refer to host.NAME[i] or host.NAME["KEY"]: count
// instances at their index, for_each instances with their "key".
// Records without an address are left out.
func Neighbours(recs []state.Host) map[string][]manifest.HostValues {
	out := map[string][]manifest.HostValues{}
	for _, r := range recs {
		in, ok := ParseInstance(r.Address)
		if !ok {
			continue
		}
		put(out, in, HostValues(r))
	}
	return out
}

// put sets the values of instance in.
func put(out map[string][]manifest.HostValues, in Instance, v manifest.HostValues) {
	if in.Keyed {
		v["key"] = in.Key
		out[in.Block] = append(out[in.Block], v)
		return
	}
	for len(out[in.Block]) <= in.Index {
		out[in.Block] = append(out[in.Block], nil)
	}
	out[in.Block][in.Index] = v
}
