package providers

import (
	"strings"
	"testing"
)

// The results filters of the Python broker's docs (.github/skills/
// broker-cli: `--results-filter '"rhel-9" in @res'`, `'@res[-1]'`) and of
// its eval_filter (tests/test_helpers.py: list slice, last, chain).
func TestSelectItems(t *testing.T) {
	var items []Item
	for _, n := range []string{"deploy-rhel", "rhel-8.10", "rhel-9.4", "rhel-9.6", "satellite-6.18"} {
		items = append(items, Item{Name: n})
	}
	for _, tc := range []struct {
		filter string
		limit  int
		want   string
	}{
		{`"rhel-9" in @res`, 0, "rhel-9.4 rhel-9.6"},
		{`'rhel-9' not in @res`, 0, "deploy-rhel rhel-8.10 satellite-6.18"},
		{`@res[-1]`, 0, "satellite-6.18"},
		{`@res[0]`, 0, "deploy-rhel"},
		{`@res[1:3]`, 0, "rhel-8.10 rhel-9.4"},
		{`@res[::2]`, 0, "deploy-rhel rhel-9.4 satellite-6.18"},
		{`@res[::-1]`, 2, "satellite-6.18 rhel-9.6"},
		{`"rhel" in @res | @res[-1]`, 0, "rhel-9.6"},
		{`@res.startswith("rhel") and @res.endswith(".4")`, 0, "rhel-9.4"},
		{`@res == "deploy-rhel" or "sat" in @res`, 0, "deploy-rhel satellite-6.18"},
		{``, 2, "deploy-rhel rhel-8.10"},
	} {
		got, err := SelectItems(items, tc.filter, tc.limit)
		if err != nil {
			t.Errorf("%q: %v", tc.filter, err)
			continue
		}
		var names []string
		for _, it := range got {
			names = append(names, it.Name)
		}
		if strings.Join(names, " ") != tc.want {
			t.Errorf("%q limit %d: %v, want %s", tc.filter, tc.limit, names, tc.want)
		}
	}
	for _, bad := range []string{`@res[9]`, `name == "x"`, `"a" in @res and`} {
		if _, err := SelectItems(items, bad, 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := SelectQuery(items, map[string]string{QueryResultsLimit: "-1"}, 0); err == nil {
		t.Error("limit -1 accepted")
	}
	got, _ := SelectQuery(items, map[string]string{}, 1)
	if len(got) != 1 || got[0].Name != "deploy-rhel" {
		t.Errorf("default limit: %v", got)
	}
}
