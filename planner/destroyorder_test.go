package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

func TestOrderDestroys(t *testing.T) {
	destroy := func(addr string, deps ...string) Change {
		return Change{Action: Destroy, Address: addr, Before: &state.Host{ID: addr, Address: addr, DependsOn: deps}}
	}
	waits := func(cs []Change) map[string][]string {
		out := map[string][]string{}
		for _, c := range cs {
			if len(c.DependsOn) > 0 {
				out[c.Address] = c.DependsOn
			}
		}
		return out
	}
	tests := []struct {
		name    string
		changes []Change
		blocks  map[string]*manifest.Host
		want    map[string][]string
	}{
		{
			name:    "by the records: db waits for every web",
			changes: []Change{destroy("host.db[0]"), destroy("host.web[1]", "db"), destroy("host.web[0]", "db"), destroy("host.cache[0]")},
			want:    map[string][]string{"host.db[0]": {"host.web[0]", "host.web[1]"}},
		},
		{
			name:    "by the manifest, for records made before records kept it",
			changes: []Change{destroy("host.db[0]"), destroy("host.web[0]")},
			blocks:  map[string]*manifest.Host{"web": {Name: "web", DependsOn: []string{"db"}}},
			want:    map[string][]string{"host.db[0]": {"host.web[0]"}},
		},
		{
			name:    "a chain",
			changes: []Change{destroy("host.a[0]"), destroy("host.b[0]", "a"), destroy("host.c[0]", "b")},
			want:    map[string][]string{"host.a[0]": {"host.b[0]"}, "host.b[0]": {"host.c[0]"}},
		},
		{
			name:    "only destroys wait: a create does not hold a destroy",
			changes: []Change{destroy("host.db[0]"), {Action: Create, Address: "host.web[0]", After: &Desired{Host: "web", DependsOn: []string{"db"}}}},
			want:    map[string][]string{},
		},
		{
			name:    "records and manifest disagreeing into a cycle order nothing",
			changes: []Change{destroy("host.a[0]", "b"), destroy("host.b[0]")},
			blocks:  map[string]*manifest.Host{"b": {Name: "b", DependsOn: []string{"a"}}},
			want:    map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			OrderDestroys(tt.changes, tt.blocks)
			if d := cmp.Diff(tt.want, waits(tt.changes)); d != "" {
				t.Errorf("waits (-want +got):\n%s", d)
			}
		})
	}
}
