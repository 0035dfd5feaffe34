package planner

import "time"

// RenewWindow is how long before a lease ends that plan proposes to
// extend it: renewBefore when set, else half the lease.
func RenewWindow(lease, renewBefore time.Duration) time.Duration {
	if renewBefore > 0 {
		return renewBefore
	}
	return lease / 2
}

// LeaseExpiry is when a lease of d taken at now ends, given the
// provider's own limit (zero: none). Both count: the earlier wins. A zero
// d (no lease asked for) leaves the provider's limit, which may be zero.
func LeaseExpiry(now time.Time, d time.Duration, providerLimit time.Time) time.Time {
	var t time.Time
	if d > 0 {
		t = now.Add(d)
	}
	if !providerLimit.IsZero() && (t.IsZero() || providerLimit.Before(t)) {
		t = providerLimit
	}
	return t
}

// Expired reports whether a lease ending at expires is over at now; a
// zero expires never ends.
func Expired(expires, now time.Time) bool {
	return !expires.IsZero() && !expires.After(now)
}
