package manifest

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

func TestLeaseLimits(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		lease     time.Duration // host "a"'s lease after loading
		leaseNone bool
		summary   string // expected error, "" for none
		detail    string
		pos       string
	}{
		{"no lease gets the default max_lease", "host \"a\" { provider = \"sim\" }\n", DefaultMaxLease, false, "", "", ""},
		{"no lease gets the instance's max_lease", "provider \"sim\" \"l\" { max_lease = \"8h\" }\nhost \"a\" { provider = \"sim.l\" }\n", 8 * time.Hour, false, "", "", ""},
		{"lease within max_lease", "provider \"sim\" \"l\" { max_lease = \"8h\" }\nhost \"a\" {\n  provider = \"sim.l\"\n  lease = \"2h\"\n}\n", 2 * time.Hour, false, "", "", ""},
		{"lease equal to max_lease", "host \"a\" {\n  provider = \"sim\"\n  lease = \"7d\"\n}\n", 7 * 24 * time.Hour, false, "", "", ""},
		{"lease over the default", "host \"a\" {\n  provider = \"sim\"\n  lease = \"8d\"\n}\n", 0, false, "Lease too long", `max_lease = "7d" (the default)`, "lab.hcl:3:11"},
		{"lease over max_lease", "provider \"sim\" \"l\" { max_lease = \"1d\" }\nhost \"a\" {\n  provider = \"sim.l\"\n  lease = \"1d1h\"\n}\n", 0, false, "Lease too long", `at most 1d`, "lab.hcl:4:11"},
		{"none with the default", "host \"a\" {\n  provider = \"sim\"\n  lease = \"none\"\n}\n", 0, false, "Lease not allowed", `max_lease = "none"`, "lab.hcl:3:11"},
		{"none with max_lease none", "provider \"sim\" \"l\" { max_lease = \"none\" }\nhost \"a\" {\n  provider = \"sim.l\"\n  lease = \"none\"\n}\n", 0, true, "", "", ""},
		{"anything with max_lease none", "provider \"sim\" \"l\" { max_lease = \"none\" }\nhost \"a\" {\n  provider = \"sim.l\"\n  lease = \"90d\"\n}\n", 90 * 24 * time.Hour, false, "", "", ""},
		{"no lease with max_lease none", "provider \"sim\" \"l\" { max_lease = \"none\" }\nhost \"a\" { provider = \"sim.l\" }\n", 0, false, "", "", ""},
		{"bad max_lease", "provider \"sim\" \"l\" {\n  max_lease = \"forever\"\n}\n", 0, false, "Invalid max_lease", `"forever"`, "lab.hcl:2:15"},
		{"renew_before not shorter than the lease", "host \"a\" {\n  provider = \"sim\"\n  lease = \"1h\"\n  renew_before = \"1h\"\n}\n", time.Hour, false, "Invalid renew_before", "shorter than the lease", "lab.hcl:4:18"},
		{"renew_before shorter", "host \"a\" {\n  provider = \"sim\"\n  lease = \"1h\"\n  renew_before = \"10m\"\n}\n", time.Hour, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := loadString(t, tt.src, testOptions())
			if tt.summary != "" {
				if !diags.HasErrors() {
					t.Fatalf("no error, want %q", tt.summary)
				}
				d := diags[0]
				if d.Summary != tt.summary || !strings.Contains(d.Detail, tt.detail) || diagPos(d) != tt.pos {
					t.Fatalf("got %s, want %q containing %q at %s", diagSummaries(diags), tt.summary, tt.detail, tt.pos)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diagSummaries(diags))
			}
			h := cfg.HostBlock("a")
			if h == nil {
				return
			}
			if h.Lease != tt.lease || h.LeaseNone != tt.leaseNone {
				t.Errorf("lease %v none %v, want %v none %v", h.Lease, h.LeaseNone, tt.lease, tt.leaseNone)
			}
		})
	}
}

func TestMaxLeaseReachesProviderSettings(t *testing.T) {
	opts := testOptions()
	opts.Schemas = func(name string) (ProviderSchema, bool) {
		s, ok := testSchemas(name)
		if ok && s.Type == "sim" {
			s.Settings = mergeSpec(s.Settings, "max_lease")
		}
		return s, ok
	}
	cfg, diags := loadString(t, "provider \"sim\" \"l\" { max_lease = \"6h\" }\n", opts)
	if diags.HasErrors() {
		t.Fatal(diagSummaries(diags))
	}
	got := cfg.Providers[0].Settings.GetAttr("max_lease")
	if !got.Equals(cty.StringVal("6h0m0s")).True() {
		t.Errorf("settings max_lease = %#v, want the block's", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * 24 * time.Hour: "7d", 36 * time.Hour: "1d12h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 0: "0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func mergeSpec(s hcldec.Spec, attr string) hcldec.Spec {
	spec := hcldec.ObjectSpec{}
	if o, ok := s.(hcldec.ObjectSpec); ok {
		for k, v := range o {
			spec[k] = v
		}
	}
	spec[attr] = &hcldec.AttrSpec{Name: attr, Type: cty.String}
	return spec
}
