package planner

import (
	"maps"
	"time"

	"github.com/labbroker/broker/state"
)

// DefaultExtension is the lease extend gives a host that has none of its
// own when no duration is asked for: the Python broker's AnsibleTower
// default (+172800 s).
const DefaultExtension = 48 * time.Hour

// CheckinChanges are the changes that check hosts in (imperative check-in,
// the library's Checkin): one destroy per host, in the hosts' order, a
// manifest host waiting for those that depend on it (OrderDestroys, by
// their records).
func CheckinChanges(hosts []state.Host) []Change {
	out := make([]Change, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, Change{Action: Destroy, Address: h.Address, Before: &h, Reason: Because(ReasonCheckin, "")})
	}
	OrderDestroys(out, nil)
	return out
}

// ExtendChanges are the changes that renew hosts' leases to lease from
// now; lease 0 renews each host's own lease, and a host without one gets
// DefaultExtension. The one rule for the command line and the library.
func ExtendChanges(hosts []state.Host, lease time.Duration) []Change {
	out := make([]Change, 0, len(hosts))
	for _, h := range hosts {
		l := lease
		if l <= 0 {
			l = h.Lease.Duration
		}
		if l <= 0 {
			l = DefaultExtension
		}
		out = append(out, Change{
			Action: Extend, Before: &h, Reason: Because(ReasonExtend, ""),
			After: &Desired{Provider: h.Provider, Instance: h.Instance, Lease: l},
		})
	}
	return out
}

// CheckoutChanges are count creates of d without addresses (an imperative
// checkout, a duplicate).
func CheckoutChanges(d Desired, count int, reason Reason) []Change {
	out := make([]Change, 0, count)
	for range count {
		dd := d
		dd.Args, dd.Labels = copyJSON(d.Args), maps.Clone(d.Labels)
		out = append(out, Change{Action: Create, Reason: reason, After: &dd})
	}
	return out
}
