package planner

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

func TestReapPlan(t *testing.T) {
	const grace = 10 * time.Minute
	host := func(id, addr string, expires time.Time) state.Host {
		return state.Host{ID: id, Environment: "ui", Address: addr, Provider: "sim", Instance: "lab",
			Status: state.StatusReady, Lease: state.Lease{Expires: expires}}
	}
	intent := func(id, op, hostID string, updated time.Time) state.Intent {
		return state.Intent{ID: id, Environment: "ui", Address: "host.web[0]", Op: op, Provider: "sim", Instance: "lab",
			HostID: hostID, Updated: updated}
	}
	old := now.Add(-time.Hour)
	young := now.Add(-time.Minute)
	tests := []struct {
		name    string
		records []state.Host
		intents []state.Intent
		want    []brief
		expired []string // record ids
		stale   []string // intent ids
	}{
		{
			name:    "nothing has expired",
			records: []state.Host{host("h1", "host.web[0]", now.Add(time.Minute)), host("h2", "", time.Time{})},
			want:    []brief{},
		},
		{
			name: "expired records are checked in, with and without an address",
			records: []state.Host{
				host("h1", "host.web[0]", now.Add(-90*time.Minute)),
				host("h2", "", now.Add(-2*time.Second-time.Millisecond)),
				host("h3", "host.web[1]", now.Add(time.Hour)),
			},
			want: []brief{
				{Action: Destroy, Address: "host.web[0]", Before: "h1", Reason: Reason{Kind: ReasonLeaseExpired, Left: -90 * time.Minute}},
				{Action: Destroy, Before: "h2", Reason: Reason{Kind: ReasonLeaseExpired, Left: -2*time.Second - time.Millisecond}},
			},
			expired: []string{"h1", "h2"},
		},
		{
			name:    "a lease ending now has expired",
			records: []state.Host{host("h1", "host.web[0]", now)},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Before: "h1", Reason: Reason{Kind: ReasonLeaseExpired}}},
			expired: []string{"h1"},
		},
		{
			name:    "a stale create intent is cleaned up; a young one is left alone",
			intents: []state.Intent{intent("i1", state.OpCreate, "h9", old), intent("i2", state.OpCreate, "h8", young)},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Resume: "i1", Reason: Because(ReasonCleanup, "")}},
			stale:   []string{"i1"},
		},
		{
			name:    "an intent exactly as old as the grace is stale",
			intents: []state.Intent{intent("i1", state.OpCreate, "h9", now.Add(-grace))},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Resume: "i1", Reason: Because(ReasonCleanup, "")}},
			stale:   []string{"i1"},
		},
		{
			name:    "an interrupted check-in of a releasing record is finished",
			records: []state.Host{with(host("h1", "host.web[0]", now.Add(time.Hour)), func(h *state.Host) { h.Status = state.StatusReleasing })},
			intents: []state.Intent{intent("i1", state.OpDestroy, "h1", old)},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Before: "h1", Resume: "i1", Reason: Because(ReasonFinishCheckin, "")}},
			stale:   []string{"i1"},
		},
		{
			name:    "an interrupted check-in of an expired record goes with its check-in",
			records: []state.Host{host("h1", "host.web[0]", now.Add(-time.Hour))},
			intents: []state.Intent{intent("i1", state.OpDestroy, "h1", old)},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Before: "h1", Resume: "i1", Reason: Reason{Kind: ReasonLeaseExpired, Left: -time.Hour}}},
			expired: []string{"h1"},
			stale:   []string{"i1"},
		},
		{
			name:    "an interrupted check-in of a ready, unexpired record is listed, not acted on",
			records: []state.Host{host("h1", "host.web[0]", now.Add(time.Hour))},
			intents: []state.Intent{intent("i1", state.OpDestroy, "h1", old)},
			want:    []brief{},
			stale:   []string{"i1"},
		},
		{
			name:    "an interrupted check-in whose record is gone is cleaned up",
			intents: []state.Intent{intent("i1", state.OpDestroy, "h1", old)},
			want:    []brief{{Action: Destroy, Address: "host.web[0]", Resume: "i1", Reason: Because(ReasonCleanup, "")}},
			stale:   []string{"i1"},
		},
		{
			name:    "records come first, then cleanups",
			records: []state.Host{host("h1", "host.web[0]", now.Add(-time.Hour))},
			intents: []state.Intent{intent("i1", state.OpCreate, "h7", old)},
			want: []brief{
				{Action: Destroy, Address: "host.web[0]", Before: "h1", Reason: Reason{Kind: ReasonLeaseExpired, Left: -time.Hour}},
				{Action: Destroy, Address: "host.web[0]", Resume: "i1", Reason: Because(ReasonCleanup, "")},
			},
			expired: []string{"h1"},
			stale:   []string{"i1"},
		},
		{
			name:    "other environments are not touched",
			records: []state.Host{with(host("h1", "host.web[0]", now.Add(-time.Hour)), func(h *state.Host) { h.Environment = "api" })},
			intents: []state.Intent{with2(intent("i1", state.OpCreate, "h9", old), func(it *state.Intent) { it.Environment = "api" })},
			want:    []brief{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ReapPlan(ReapInput{Environment: "ui", Records: tt.records, Intents: tt.intents, Now: now, IntentGrace: grace})
			if r.Plan.Environment != "ui" || !r.Plan.Created.Equal(now) || r.Plan.FormatVersion != FormatVersion {
				t.Errorf("plan header %+v", r.Plan)
			}
			if d := cmp.Diff(tt.want, briefs(r.Plan.Changes)); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
			var expired, stale []string
			for _, h := range r.Expired {
				expired = append(expired, h.ID)
			}
			for _, it := range r.Stale {
				stale = append(stale, it.ID)
			}
			if d := cmp.Diff(tt.expired, expired); d != "" {
				t.Errorf("expired (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.stale, stale); d != "" {
				t.Errorf("stale (-want +got):\n%s", d)
			}
		})
	}
}

func TestOrphans(t *testing.T) {
	listed := func(typ, inst, pid string, labels map[string]string) Listed {
		return Listed{Provider: typ, Instance: inst, Info: providers.HostInfo{ProviderID: pid, Name: "n-" + pid, Labels: labels,
			Created: now.Add(-2 * time.Hour)}}
	}
	mine := func(id string, more ...string) map[string]string {
		l := map[string]string{providers.LabelID: id, providers.LabelUser: "alice", providers.LabelEnvironment: "ui"}
		for i := 0; i+1 < len(more); i += 2 {
			l[more[i]] = more[i+1]
		}
		return l
	}
	records := []state.Host{{ID: "rec", Environment: "ui", Provider: "docker", Instance: "local", ProviderID: "c-rec"}}
	intents := []state.Intent{{ID: "int", Environment: "ui", Provider: "docker", Instance: "local", HostID: "will-be", ProviderID: "c-int"}}
	tests := []struct {
		name     string
		listed   []Listed
		allUsers bool
		env      string
		want     []string // provider ids
	}{
		{name: "unknown and broker's is an orphan", listed: []Listed{listed("docker", "local", "c1", mine("x"))}, want: []string{"c1"}},
		{name: "without broker.id it is never touched", listed: []Listed{listed("docker", "local", "c1", map[string]string{providers.LabelUser: "alice"})}},
		{name: "a record's id", listed: []Listed{listed("docker", "local", "c1", mine("rec"))}},
		{name: "a record's provider id", listed: []Listed{listed("docker", "local", "c-rec", mine("other"))}},
		{name: "a provider id of another type is not the record's", listed: []Listed{listed("sim", "lab", "c-rec", mine("other"))}, want: []string{"c-rec"}},
		{name: "an intent's host id", listed: []Listed{listed("docker", "local", "c1", mine("will-be"))}},
		{name: "an intent's label", listed: []Listed{listed("docker", "local", "c1", mine("x", providers.LabelIntent, "int"))}},
		{name: "an intent's provider id", listed: []Listed{listed("docker", "local", "c-int", mine("x"))}},
		{name: "another user's is left alone", listed: []Listed{listed("docker", "local", "c1", mine("x", providers.LabelUser, "bob"))}},
		{name: "nobody's is left alone", listed: []Listed{listed("docker", "local", "c1", map[string]string{providers.LabelID: "x"})}},
		{name: "all users", allUsers: true, listed: []Listed{
			listed("docker", "local", "c1", mine("x", providers.LabelUser, "bob")),
			listed("docker", "local", "c2", map[string]string{providers.LabelID: "y"}),
		}, want: []string{"c1", "c2"}},
		{name: "environment scope", env: "api", listed: []Listed{
			listed("docker", "local", "c1", mine("x")),
			listed("docker", "local", "c2", mine("y", providers.LabelEnvironment, "api")),
		}, want: []string{"c2"}},
		{name: "two instances on one engine list one orphan", listed: []Listed{
			listed("docker", "local", "c1", mine("x")),
			listed("docker", "remote", "c1", mine("x")),
		}, want: []string{"c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Orphans(OrphanInput{Listed: tt.listed, Records: records, Intents: intents, User: "alice", AllUsers: tt.allUsers,
				Environment: tt.env, Now: now})
			var ids []string
			for _, o := range got {
				ids = append(ids, o.Info.ProviderID)
				if o.Age != 2*time.Hour || o.ID() != o.Info.Labels[providers.LabelID] {
					t.Errorf("orphan %s: age %s, id %q", o.Info.ProviderID, o.Age, o.ID())
				}
			}
			if d := cmp.Diff(tt.want, ids); d != "" {
				t.Errorf("orphans (-want +got):\n%s", d)
			}
		})
	}
	t.Run("age unknown", func(t *testing.T) {
		l := listed("docker", "local", "c1", mine("x"))
		l.Info.Created = time.Time{}
		got := Orphans(OrphanInput{Listed: []Listed{l}, User: "alice", Now: now})
		if len(got) != 1 || got[0].Age != 0 {
			t.Errorf("orphans %+v", got)
		}
	})
	t.Run("an intent without ids hides nothing", func(t *testing.T) {
		got := Orphans(OrphanInput{Listed: []Listed{listed("docker", "local", "c1", mine("x"))}, Intents: []state.Intent{{ID: "i", Provider: "docker"}},
			Records: []state.Host{{ID: "r", Provider: "docker"}}, User: "alice", Now: now})
		if len(got) != 1 {
			t.Errorf("orphans %+v", got)
		}
	})
}

// Only resources labelled with this state's identity are its orphans;
// another state's are foreign, and those without the label (an older
// broker's) are of unknown owner. A state without an identity takes
// every resource for its own, as before.
func TestOrphansOwner(t *testing.T) {
	res := func(pid, st string) Listed {
		l := map[string]string{providers.LabelID: "id-" + pid, providers.LabelUser: "root", providers.LabelEnvironment: "lab"}
		if st != "" {
			l[providers.LabelState] = st
		}
		return Listed{Provider: "docker", Instance: "local", Info: providers.HostInfo{ProviderID: pid, Labels: l}}
	}
	listed := []Listed{res("c1", "mine"), res("c2", "theirs"), res("c3", "")}
	owners := func(state string) map[string]Owner {
		out := map[string]Owner{}
		for _, o := range Orphans(OrphanInput{Listed: listed, User: "root", State: state, Now: now}) {
			out[o.Info.ProviderID] = o.Owner
			if o.Foreign() != (o.Owner != OwnerThis) {
				t.Errorf("%s: Foreign() = %v with owner %s", o.Info.ProviderID, o.Foreign(), o.Owner)
			}
		}
		return out
	}
	if d := cmp.Diff(map[string]Owner{"c1": OwnerThis, "c2": OwnerForeign, "c3": OwnerUnknown}, owners("mine")); d != "" {
		t.Errorf("owners with an identity (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]Owner{"c1": OwnerThis, "c2": OwnerThis, "c3": OwnerThis}, owners("")); d != "" {
		t.Errorf("owners without an identity (-want +got):\n%s", d)
	}
}
