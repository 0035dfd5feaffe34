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

	"github.com/labbroker/broker/providers/schema"
)

// Settings are a provider instance's settings.
type Settings struct {
	URL      string `schema:"url"`
	Token    string `schema:"token"`    // sensitive
	Username string `schema:"username"` // whose inventories Sync lists; with Password: login
	Password string `schema:"password"` // sensitive
	// Inventory is the default inventory (name or id) to launch against.
	Inventory        string        `schema:"inventory"`
	ReleaseWorkflow  string        `schema:"release_workflow"`
	ExtendWorkflow   string        `schema:"extend_workflow"`
	NewExpireTime    string        `schema:"new_expire_time"`
	WorkflowTimeout  time.Duration `schema:"workflow_timeout"`
	PollInterval     time.Duration `schema:"poll_interval"`
	MaxResilientWait time.Duration `schema:"max_resilient_wait"`
	// AAPVersion, if 2.5 or later, selects the /api/controller/v2/ prefix
	// without asking the API root.
	AAPVersion string `schema:"aap_version"`
	VerifyTLS  bool   `schema:"verify_tls"`
	CAFile     string `schema:"ca_file"`
	// DanglingBehavior is what a failed checkout does with the hosts its
	// workflow made before failing: checkin (default), store or prompt
	// (both keep them and name them in the error).
	DanglingBehavior string `schema:"dangling_behavior"`
	// ErrorScope is how much of a failure is reported: last (the last
	// failed node's reasons, default) or all.
	ErrorScope string `schema:"error_scope"`
	// ResultsLimit caps `broker providers` listings; 0: no cap.
	ResultsLimit int64 `schema:"results_limit"`

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

// SettingsSchema declares the provider block. Durations are Go durations
// or seconds, as the Python broker's settings have them.
var SettingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "url", Type: schema.String, Required: true, Doc: "the service's address", Checks: []schema.Check{schema.URL("https", "http")}},
		{Name: "token", Type: schema.String, Sensitive: true, Doc: "API token; or username and password"},
		{Name: "username", Type: schema.String, Doc: "whose inventories --sync lists; with password: log in for a temporary token, deleted at exit"},
		{Name: "password", Type: schema.String, Sensitive: true, Doc: "password of username"},
		{Name: "inventory", Type: schema.String, Doc: "default inventory (name or id) to launch against"},
		{Name: "release_workflow", Type: schema.String, Default: DefaultReleaseWorkflow, Doc: "workflow check-in runs"},
		{Name: "extend_workflow", Type: schema.String, Default: DefaultExtendWorkflow, Doc: "workflow extend runs"},
		{Name: "new_expire_time", Type: schema.String, Default: DefaultNewExpireTime, Doc: "what extend asks for", Checks: []schema.Check{expireCheck}},
		{Name: "workflow_timeout", Type: schema.Duration, Default: "1h", Doc: "how long a launched job may run"},
		{Name: "poll_interval", Type: schema.Duration, Default: "5s", Doc: "how often a running job is asked about"},
		{Name: "max_resilient_wait", Type: schema.Duration, Default: "10m", Doc: "how long 5xx answers and dropped connections are retried"},
		{Name: "aap_version", Type: schema.String, Doc: "AAP version; 2.5 or later selects /api/controller/v2/ without asking the API root"},
		{Name: "verify_tls", Type: schema.Bool, Default: "true", Doc: "check the service's certificate"},
		{Name: "ca_file", Type: schema.String, Doc: "CA file for the service's certificate"},
		{Name: "dangling_behavior", Type: schema.String, Default: DanglingCheckin, Doc: "hosts a failed workflow made: checkin them, or store/prompt (keep them, named in the error)", Checks: []schema.Check{schema.OneOf(DanglingCheckin, DanglingStore, DanglingPrompt)}},
		{Name: "error_scope", Type: schema.String, Default: ErrorScopeLast, Doc: "failure reasons reported: last (the last failed node's) or all", Checks: []schema.Check{schema.OneOf(ErrorScopeLast, ErrorScopeAll)}},
		{Name: "results_limit", Type: schema.Int, Default: "0", Doc: "at most this many items per `broker providers` listing (0: all); --results-limit overrides", Checks: []schema.Check{nonNegative}},
	},
}

// dangling_behavior and error_scope values, as the Python broker's.
const (
	DanglingCheckin = "checkin"
	DanglingStore   = "store"
	DanglingPrompt  = "prompt"
	ErrorScopeLast  = "last"
	ErrorScopeAll   = "all"
)

// nonNegative accepts whole numbers from 0.
var nonNegative = schema.Func("0 or more", func(v any) error {
	if n, ok := v.(int64); ok && n < 0 {
		return fmt.Errorf("%d is negative", n)
	}
	return nil
})

// expireCheck accepts AWX's expire-time notation.
var expireCheck = schema.Func("+seconds or a timestamp", func(v any) error {
	s, _ := v.(string)
	_, err := ExpiryFrom(time.Time{}, s)
	return err
})

// ArgsSchema declares the arguments that steer the provider; every other
// argument is an extra var of the launched template, so the set is open.
var ArgsSchema = &schema.Schema{
	Open: true,
	Fields: []schema.Field{
		{Name: "workflow", Type: schema.String, Doc: "workflow job template to launch"},
		{Name: "job_template", Type: schema.String, Doc: "job template to launch (instead of a workflow)"},
		{Name: "inventory", Type: schema.String, Aliases: []string{"tower_inventory"}, Doc: "inventory (name or id) to launch against; default the setting"},
		{Name: "artifacts", Type: schema.String, Default: ArtifactsLast, Doc: "which artifacts make the hosts", Checks: []schema.Check{schema.OneOf(ArtifactsLast, ArtifactsMerge)}},
	},
}

// SettingsSpec is the provider block's hcldec spec.
func SettingsSpec() hcldec.Spec { return SettingsSchema.Spec() }

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
	if err := SettingsSchema.DecodeSettings(v, &s); err != nil {
		return s, err
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

func (s Settings) withDefaults() (Settings, error) {
	s.URL = strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if s.URL == "" {
		return s, fmt.Errorf("setting url is required")
	}
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return s, fmt.Errorf("setting url: %q must start with http:// or https://", s.URL)
	}
	if s.Token == "" && (s.Username == "" || s.Password == "") && !urlHasPassword(s.URL) {
		return s, fmt.Errorf("settings: set token, or username and password")
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
	if s.DanglingBehavior == "" {
		s.DanglingBehavior = DanglingCheckin
	}
	if s.ErrorScope == "" {
		s.ErrorScope = ErrorScopeLast
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
