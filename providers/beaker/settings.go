package beaker

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
	"github.com/labbroker/broker/providers/webclient"
)

// Settings are a provider instance's settings.
type Settings struct {
	HubURL           string        `schema:"hub_url"`
	Username         string        `schema:"username"`
	Password         string        `schema:"password"` // sensitive
	MaxJobWait       time.Duration `schema:"max_job_wait"`
	PollInterval     time.Duration `schema:"poll_interval"`
	MaxResilientWait time.Duration `schema:"max_resilient_wait"`
	ExtendCommand    string        `schema:"extend_command"`
	VerifyTLS        bool          `schema:"verify_tls"`
	CAFile           string        `schema:"ca_file"`

	// HTTPClient, if set, replaces the client made from VerifyTLS and
	// CAFile (tests); it must have a cookie jar.
	HTTPClient *http.Client
	// Now is the clock of the max wait and of extensions (default
	// time.Now).
	Now func() time.Time
}

// Defaults as the Python broker's.
const (
	DefaultMaxJobWait       = 24 * time.Hour
	DefaultPollInterval     = time.Minute
	DefaultMaxResilientWait = 10 * time.Minute
	DefaultExtendCommand    = "/usr/bin/extendtesttime.sh"
	// DefaultExtendHours is what extend asks for without a lease (the
	// Python broker's default, and extendtesttime.sh's maximum).
	DefaultExtendHours = 99
)

// SettingsSchema declares the provider block.
var SettingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "hub_url", Type: schema.String, Required: true, Doc: "the Beaker hub's address (https://beaker.example.com)", Checks: []schema.Check{schema.URL("https", "http")}},
		{Name: "username", Type: schema.String, Required: true, Doc: "Beaker user to log in as (auth.login_password)"},
		{Name: "password", Type: schema.String, Sensitive: true, Required: true, Doc: "password of username"},
		{Name: "max_job_wait", Type: schema.Duration, Default: "24h", Doc: "how long a job may take to reserve its system before checkout gives up and cancels it"},
		{Name: "poll_interval", Type: schema.Duration, Default: "60s", Doc: "how often a waiting job is asked about"},
		{Name: "max_resilient_wait", Type: schema.Duration, Default: "10m", Doc: "how long 5xx answers and dropped connections are retried"},
		{Name: "extend_command", Type: schema.String, Default: DefaultExtendCommand, Doc: "what extend runs on the host over SSH, with the hours as argument"},
		{Name: "verify_tls", Type: schema.Bool, Default: "true", Doc: "check the hub's certificate"},
		{Name: "ca_file", Type: schema.String, Doc: "CA file for the hub's certificate"},
	},
}

// ArgsSchema declares the checkout arguments.
var ArgsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "job_xml", Type: schema.String, Doc: "job XML to submit: a file's path, or the XML itself (templatefile in a manifest)"},
		{Name: "job_id", Type: schema.String, Doc: "job to clone (J:123 or 123) instead of job_xml"},
		{Name: "max_wait", Type: schema.Duration, Doc: "this checkout's max wait; default the max_job_wait setting"},
	},
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

func (s Settings) withDefaults() (Settings, error) {
	s.HubURL = strings.TrimRight(strings.TrimSpace(s.HubURL), "/")
	if s.HubURL == "" {
		return s, fmt.Errorf("setting hub_url is required")
	}
	if !strings.HasPrefix(s.HubURL, "http://") && !strings.HasPrefix(s.HubURL, "https://") {
		return s, fmt.Errorf("setting hub_url: %q must start with http:// or https://", s.HubURL)
	}
	if s.Username == "" || s.Password == "" {
		return s, fmt.Errorf("settings: set username and password")
	}
	if s.MaxJobWait <= 0 {
		s.MaxJobWait = DefaultMaxJobWait
	}
	if s.PollInterval <= 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.MaxResilientWait <= 0 {
		s.MaxResilientWait = DefaultMaxResilientWait
	}
	if s.ExtendCommand == "" {
		s.ExtendCommand = DefaultExtendCommand
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
		return nil, fmt.Errorf("beaker: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 2 * time.Minute}, nil
}
