package awx

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Settings are a provider instance's settings.
type Settings struct {
	URL      string
	Token    string // sensitive
	Username string // whose inventories Sync lists; with Password: login
	Password string // sensitive
	// Inventory is the default inventory (name or id) to launch against.
	Inventory        string
	ReleaseWorkflow  string
	ExtendWorkflow   string
	NewExpireTime    string
	WorkflowTimeout  time.Duration
	PollInterval     time.Duration
	MaxResilientWait time.Duration
	// AAPVersion, if 2.5 or later, selects the /api/controller/v2/ prefix
	// without asking the API root.
	AAPVersion string
	VerifyTLS  bool
	CAFile     string

	// HTTPClient, if set, replaces the client made from VerifyTLS and
	// CAFile (tests, proxies).
	HTTPClient *http.Client
	// Now is the clock used for leases (default time.Now).
	Now func() time.Time
}

// Defaults as the Python broker's.
const (
	DefaultReleaseWorkflow  = "remove-vm"
	DefaultExtendWorkflow   = "extend-vm"
	DefaultNewExpireTime    = "+172800"
	DefaultWorkflowTimeout  = time.Hour
	DefaultPollInterval     = 5 * time.Second
	DefaultMaxResilientWait = 10 * time.Minute
)

func strDefault(name, def string) hcldec.Spec {
	return &hcldec.DefaultSpec{
		Primary: &hcldec.AttrSpec{Name: name, Type: cty.String},
		Default: &hcldec.LiteralSpec{Value: cty.StringVal(def)},
	}
}

// SettingsSpec is the provider block's schema.
func SettingsSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"url":                &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"token":              &hcldec.AttrSpec{Name: "token", Type: cty.String},
		"username":           &hcldec.AttrSpec{Name: "username", Type: cty.String},
		"password":           &hcldec.AttrSpec{Name: "password", Type: cty.String},
		"inventory":          &hcldec.AttrSpec{Name: "inventory", Type: cty.String},
		"release_workflow":   strDefault("release_workflow", DefaultReleaseWorkflow),
		"extend_workflow":    strDefault("extend_workflow", DefaultExtendWorkflow),
		"new_expire_time":    strDefault("new_expire_time", DefaultNewExpireTime),
		"workflow_timeout":   strDefault("workflow_timeout", "1h"),
		"poll_interval":      strDefault("poll_interval", "5s"),
		"max_resilient_wait": strDefault("max_resilient_wait", "10m"),
		"aap_version":        &hcldec.AttrSpec{Name: "aap_version", Type: cty.String},
		"verify_tls": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "verify_tls", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.True},
		},
		"ca_file": &hcldec.AttrSpec{Name: "ca_file", Type: cty.String},
	}
}

// DecodeHCL decodes a provider block body written in HCL (tests, tools).
func DecodeHCL(src string) (Settings, error) {
	f, diags := hclsyntax.ParseConfig([]byte(src), "provider.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return Settings{}, fmt.Errorf("parse settings: %w", diags)
	}
	v, diags := hcldec.Decode(f.Body, SettingsSpec(), nil)
	if diags.HasErrors() {
		return Settings{}, fmt.Errorf("decode settings: %w", diags)
	}
	return SettingsFromValue(v)
}

// SettingsFromValue converts decoded settings to Settings, filling
// defaults and checking values.
func SettingsFromValue(v cty.Value) (Settings, error) {
	var s Settings
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return s, fmt.Errorf("awx settings: missing")
	}
	str := func(name string) string {
		if !v.Type().HasAttribute(name) {
			return ""
		}
		a := v.GetAttr(name)
		if a.IsNull() || !a.IsKnown() || a.Type() != cty.String {
			return ""
		}
		return a.AsString()
	}
	s.URL = str("url")
	s.Token = str("token")
	s.Username = str("username")
	s.Password = str("password")
	s.Inventory = str("inventory")
	s.ReleaseWorkflow = str("release_workflow")
	s.ExtendWorkflow = str("extend_workflow")
	s.NewExpireTime = str("new_expire_time")
	s.AAPVersion = str("aap_version")
	s.CAFile = str("ca_file")
	s.VerifyTLS = true
	if v.Type().HasAttribute("verify_tls") {
		if b := v.GetAttr("verify_tls"); !b.IsNull() && b.IsKnown() && b.Type() == cty.Bool {
			s.VerifyTLS = b.True()
		}
	}
	var err error
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"workflow_timeout", &s.WorkflowTimeout}, {"poll_interval", &s.PollInterval}, {"max_resilient_wait", &s.MaxResilientWait}} {
		if raw := str(d.name); raw != "" {
			if *d.dst, err = ParseDuration(raw); err != nil {
				return s, fmt.Errorf("awx settings: %s: %w", d.name, err)
			}
		}
	}
	return s.withDefaults()
}

// urlHasPassword reports whether u carries credentials (user:password@),
// which the client uses when username and password are not set.
func urlHasPassword(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return false
	}
	_, ok := p.User.Password()
	return ok
}

// ParseDuration accepts Go durations ("1h", "5s") and plain seconds
// ("3600"), as the Python broker's settings are in seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

func (s Settings) withDefaults() (Settings, error) {
	s.URL = strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if s.URL == "" {
		return s, fmt.Errorf("awx settings: url is required")
	}
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return s, fmt.Errorf("awx settings: url %q must start with http:// or https://", s.URL)
	}
	if s.Token == "" && (s.Username == "" || s.Password == "") && !urlHasPassword(s.URL) {
		return s, fmt.Errorf("awx settings: set token, or username and password")
	}
	if s.ReleaseWorkflow == "" {
		s.ReleaseWorkflow = DefaultReleaseWorkflow
	}
	if s.ExtendWorkflow == "" {
		s.ExtendWorkflow = DefaultExtendWorkflow
	}
	if s.NewExpireTime == "" {
		s.NewExpireTime = DefaultNewExpireTime
	}
	if s.WorkflowTimeout <= 0 {
		s.WorkflowTimeout = DefaultWorkflowTimeout
	}
	if s.PollInterval <= 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.MaxResilientWait <= 0 {
		s.MaxResilientWait = DefaultMaxResilientWait
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s, nil
}

// ExpiryFrom turns AWX's expire-time notation into a time: "+seconds" is
// relative to now; otherwise an absolute timestamp (RFC 3339, or
// "2006-01-02 15:04[:05]" in UTC).
func ExpiryFrom(now time.Time, notation string) (time.Time, error) {
	n := strings.TrimSpace(notation)
	if rest, ok := strings.CutPrefix(n, "+"); ok {
		secs, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || secs < 0 {
			return time.Time{}, fmt.Errorf("invalid relative expire time %q", notation)
		}
		return now.Add(time.Duration(secs) * time.Second), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, n, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid expire time %q: want +seconds or a timestamp", notation)
}
