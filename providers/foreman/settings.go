package foreman

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
	"github.com/labbroker/broker/providers/webclient"
)

// Settings are a provider instance's settings.
type Settings struct {
	URL              string        `schema:"url"`
	Username         string        `schema:"username"`
	Password         string        `schema:"password"` // sensitive
	Token            string        `schema:"token"`    // sensitive: a personal access token
	Organization     string        `schema:"organization"`
	Location         string        `schema:"location"`
	NamePrefix       string        `schema:"name_prefix"`
	BuildTimeout     time.Duration `schema:"build_timeout"`
	PollInterval     time.Duration `schema:"poll_interval"`
	MaxResilientWait time.Duration `schema:"max_resilient_wait"`
	VerifyTLS        bool          `schema:"verify_tls"`
	CAFile           string        `schema:"ca_file"`

	// HTTPClient, if set, replaces the client made from VerifyTLS and
	// CAFile (tests).
	HTTPClient *http.Client
	// Now is the clock of the build timeout (default time.Now).
	Now func() time.Time
}

// Defaults.
const (
	DefaultNamePrefix       = "broker"
	DefaultBuildTimeout     = time.Hour
	DefaultPollInterval     = 10 * time.Second
	DefaultMaxResilientWait = 10 * time.Minute
	// DefaultJobTemplate is what execute runs without job_template, as the
	// Python broker's host execute does.
	DefaultJobTemplate = "Run Command - Script Default"
)

// SettingsSchema declares the provider block.
var SettingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "url", Type: schema.String, Required: true, Doc: "Foreman's address (https://foreman.example.com)", Checks: []schema.Check{schema.URL("https", "http")}},
		{Name: "username", Type: schema.String, Required: true, Doc: "Foreman user"},
		{Name: "password", Type: schema.String, Sensitive: true, Doc: "password of username; or token"},
		{Name: "token", Type: schema.String, Sensitive: true, Doc: "personal access token of username, instead of password"},
		{Name: "organization", Type: schema.String, Required: true, Doc: "organization (name or title) hosts are made in"},
		{Name: "location", Type: schema.String, Required: true, Doc: "location (name or title) hosts are made in"},
		{Name: "name_prefix", Type: schema.String, Default: DefaultNamePrefix, Doc: "prefix of the names of the hosts broker makes; sync lists the hosts carrying it"},
		{Name: "build_timeout", Type: schema.Duration, Default: "1h", Doc: "how long a host may take to build before checkout deletes it and fails"},
		{Name: "poll_interval", Type: schema.Duration, Default: "10s", Doc: "how often a building host or a running job is asked about"},
		{Name: "max_resilient_wait", Type: schema.Duration, Default: "10m", Doc: "how long 5xx answers and dropped connections are retried"},
		{Name: "verify_tls", Type: schema.Bool, Default: "true", Doc: "check Foreman's certificate"},
		{Name: "ca_file", Type: schema.String, Doc: "CA file for Foreman's certificate"},
	},
}

// ArgsSchema declares the arguments broker reads; every other argument is
// an attribute of the new host (as the Python broker passes them).
var ArgsSchema = &schema.Schema{
	Open: true,
	Fields: []schema.Field{
		{Name: "hostgroup", Type: schema.String, Doc: "hostgroup (title or name) the host is made from"},
		{Name: "name", Type: schema.String, Doc: "the host's name; default name_prefix-<intent id>, so that an interrupted checkout finds it again"},
		{Name: "parameters", Type: schema.StringMap, Doc: "host parameters"},
		{Name: "compute_attributes", Type: schema.Any, Doc: "compute attributes (start = \"1\" unless given)"},
		{Name: "computeresource", Type: schema.String, Doc: "compute resource, with image: an image-based host"},
		{Name: "image", Type: schema.String, Doc: "image of computeresource"},
	},
}

// SettingsFromValue converts decoded settings to Settings.
func SettingsFromValue(v cty.Value) (Settings, error) {
	var s Settings
	if err := SettingsSchema.DecodeSettings(v, &s); err != nil {
		return s, err
	}
	return s.withDefaults()
}

func (s Settings) withDefaults() (Settings, error) {
	s.URL = strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if s.URL == "" {
		return s, fmt.Errorf("setting url is required")
	}
	if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return s, fmt.Errorf("setting url: %q must start with http:// or https://", s.URL)
	}
	if s.Username == "" || (s.Password == "" && s.Token == "") {
		return s, fmt.Errorf("settings: set username, and password or token")
	}
	if s.Organization == "" || s.Location == "" {
		return s, fmt.Errorf("settings: set organization and location")
	}
	if s.NamePrefix == "" {
		s.NamePrefix = DefaultNamePrefix
	}
	if s.BuildTimeout <= 0 {
		s.BuildTimeout = DefaultBuildTimeout
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

func (s Settings) httpClient() (*http.Client, error) {
	if s.HTTPClient != nil {
		return s.HTTPClient, nil
	}
	tr, err := webclient.Transport(s.VerifyTLS, s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("foreman: %w", err)
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}
