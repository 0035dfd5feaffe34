package app

import (
	"context"
	"slices"
	"time"

	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/state"
)

// Expiring lists the records of env ("" for every environment) whose lease
// ends within d of now (d = 0: already expired), soonest first. Records
// without a lease never expire.
func (a *App) Expiring(ctx context.Context, env string, d time.Duration) ([]state.Host, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.Hosts(ctx, state.Query{Environment: env})
	if err != nil {
		return nil, err
	}
	return expiring(recs, a.opts.Now().Add(d)), nil
}

func expiring(recs []state.Host, by time.Time) []state.Host {
	var out []state.Host
	for _, r := range recs {
		if planner.Expired(r.Lease.Expires, by) {
			out = append(out, r)
		}
	}
	sortByExpiry(out)
	return out
}

func sortByExpiry(hs []state.Host) {
	slices.SortStableFunc(hs, func(a, b state.Host) int { return a.Lease.Expires.Compare(b.Lease.Expires) })
}
