package planner

import (
	"context"
	"testing"
	"time"

	"github.com/labbroker/broker/state"
)

func TestLeaseExpiry(t *testing.T) {
	t0 := now
	tests := []struct {
		name  string
		lease time.Duration
		limit time.Time
		want  time.Time
	}{
		{"lease only", 6 * time.Hour, time.Time{}, t0.Add(6 * time.Hour)},
		{"provider earlier wins", 6 * time.Hour, t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{"manifest earlier wins", 2 * time.Hour, t0.Add(48 * time.Hour), t0.Add(2 * time.Hour)},
		{"equal", 2 * time.Hour, t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{"no lease, provider limit", 0, t0.Add(time.Hour), t0.Add(time.Hour)},
		{"neither", 0, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LeaseExpiry(t0, tt.lease, tt.limit); !got.Equal(tt.want) {
				t.Errorf("LeaseExpiry = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRenewWindowAndExpired(t *testing.T) {
	if got := RenewWindow(4*time.Hour, 0); got != 2*time.Hour {
		t.Errorf("default window = %v, want half the lease", got)
	}
	if got := RenewWindow(4*time.Hour, 30*time.Minute); got != 30*time.Minute {
		t.Errorf("renew_before window = %v", got)
	}
	for _, tt := range []struct {
		expires time.Time
		want    bool
	}{{time.Time{}, false}, {now.Add(-time.Second), true}, {now, true}, {now.Add(time.Second), false}} {
		if got := Expired(tt.expires, now); got != tt.want {
			t.Errorf("Expired(%v) = %v, want %v", tt.expires, got, tt.want)
		}
	}
}

// TestPlanExtend checks when plan proposes to renew a lease: within
// renew_before (default half the lease) of its end, or after it.
func TestPlanExtend(t *testing.T) {
	tests := []struct {
		name        string
		left        time.Duration // lease left on the record
		renewBefore time.Duration
		want        Action
	}{
		{"fresh", 2 * time.Hour, 0, NoOp},
		{"just over half left", time.Hour + time.Minute, 0, NoOp},
		{"half left", time.Hour, 0, Extend},
		{"expired", -time.Minute, 0, Extend},
		{"outside renew_before", 20 * time.Minute, 15 * time.Minute, NoOp},
		{"within renew_before", 10 * time.Minute, 15 * time.Minute, Extend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := web(1)
			h.RenewBefore = tt.renewBefore
			r := rec("r1", h, 0)
			r.Lease.Expires = now.Add(tt.left)
			p, err := Make(context.Background(), Input{Environment: "ui", Config: cfg(h), Records: []state.Host{r}, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) != 1 || p.Changes[0].Action != tt.want {
				t.Fatalf("changes %+v, want one %s", briefs(p.Changes), tt.want)
			}
		})
	}
}
