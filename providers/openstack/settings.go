package openstack

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

// Which address a host is reached at.
const (
	addressAuto     = "auto"     // a floating IP if the server has one, else the fixed one
	addressFloating = "floating" // a floating IP (one is allocated when floating_ip_network is set)
	addressFixed    = "fixed"    // the address on the first network
)

// settingsSchema declares the provider block. The names are the Python
// broker's OPENSTACK settings where it has them.
var settingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "cloud", Type: schema.String, Doc: "cloud of clouds.yaml (./clouds.yaml, ~/.config/openstack/, /etc/openstack/; or clouds_file) to take the auth URL, credentials, project and region from"},
		{Name: "clouds_file", Type: schema.String, Doc: "clouds.yaml to read the cloud from instead of the standard locations"},
		{Name: "auth_url", Type: schema.String, Doc: "Keystone v3 URL (https://keystone.example.com:5000/v3)", Checks: []schema.Check{schema.URL("https", "http")}},
		{Name: "username", Type: schema.String, Doc: "user for password authentication"},
		{Name: "password", Type: schema.String, Sensitive: true, Doc: "password of username (use env() or a sensitive variable)"},
		{Name: "application_credential_id", Type: schema.String, Doc: "application credential id (instead of username and password)"},
		{Name: "application_credential_name", Type: schema.String, Doc: "application credential name (with username and user_domain_name)"},
		{Name: "application_credential_secret", Type: schema.String, Sensitive: true, Doc: "application credential secret (use env() or a sensitive variable)"},
		{Name: "project_name", Type: schema.String, Doc: "project to work in (password authentication)"},
		{Name: "project_id", Type: schema.String, Doc: "project id, instead of project_name"},
		{Name: "user_domain_name", Type: schema.String, Default: "Default", Doc: "domain of username"},
		{Name: "project_domain_name", Type: schema.String, Default: "Default", Doc: "domain of project_name"},
		{Name: "region_name", Type: schema.String, Aliases: []string{"region"}, Doc: "region of the catalog's endpoints; default the first"},
		{Name: "interface", Type: schema.String, Doc: "catalog interface; default public", Checks: []schema.Check{schema.OneOf("public", "internal", "admin")}},
		{Name: "ca_file", Type: schema.String, Doc: "CA file for the services' certificates"},
		{Name: "verify_tls", Type: schema.Bool, Default: "true", Doc: "check the services' certificates"},
		{Name: "default_image", Type: schema.String, Doc: "image (name or id) when neither args nor template name one"},
		{Name: "default_flavor", Type: schema.String, Doc: "flavor (name or id) when neither args nor template name one"},
		{Name: "default_network", Type: schema.String, Doc: "network (name or id) when neither args nor template name one"},
		{Name: "default_key_name", Type: schema.String, Doc: "key pair when neither args nor template name one"},
		{Name: "floating_ip_network", Type: schema.String, Doc: "external network to allocate a floating IP from for each server (released at check-in); none: no floating IP is allocated"},
		{Name: "address", Type: schema.String, Default: addressAuto, Doc: "address hosts are reached at over SSH: auto (floating if any, else fixed), floating or fixed (the first network's)", Checks: []schema.Check{schema.OneOf(addressAuto, addressFloating, addressFixed)}},
		{Name: "ssh_user", Type: schema.String, Default: "root", Doc: "user broker logs in as over SSH"},
		{Name: "name_prefix", Type: schema.String, Default: "broker", Doc: "prefix of server names when a host has no name"},
		{Name: "server_timeout", Type: schema.Duration, Default: "10m", Doc: "how long a server may take to become ACTIVE or to go away", Checks: []schema.Check{schema.Positive()}},
		{Name: "poll_interval", Type: schema.Duration, Default: "5s", Doc: "how often a building or deleting server is asked about, and the pause before a 5xx answer is retried", Checks: []schema.Check{schema.Positive()}},
		{Name: "retries", Type: schema.Int, Default: "5", Doc: "how many times a 5xx answer or a dropped connection is retried", Checks: []schema.Check{schema.Between(0, 100)}},
		{Name: "templates", Type: schema.Any, Doc: `named sets of arguments for the template argument (--ostack-template): { rhel9 = { image = "rhel-9.4", flavor = "m1.small", network = "private" } }`, Checks: []schema.Check{templatesCheck}},
	},
	Check: func(v schema.Values) error {
		if v.String("cloud") != "" {
			return nil
		}
		if v.String("auth_url") == "" {
			return errors.New("set cloud (a clouds.yaml cloud) or auth_url")
		}
		appCred := v.String("application_credential_id") != "" || v.String("application_credential_name") != ""
		switch {
		case appCred && v.String("application_credential_secret") == "":
			return errors.New("setting application_credential_secret goes with application_credential_id or _name")
		case appCred:
			if v.String("application_credential_id") == "" && v.String("username") == "" {
				return errors.New("setting application_credential_name needs username")
			}
		case v.String("username") == "" || v.String("password") == "":
			return errors.New("with auth_url, set username and password, or application_credential_id and application_credential_secret")
		case v.String("project_name") == "" && v.String("project_id") == "":
			return errors.New("with username and password, set project_name or project_id")
		}
		return nil
	},
}

// argsSchema declares the checkout arguments. The aliases are the Python
// broker's command-line options (--ostack-image …).
var argsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "image", Type: schema.String, Aliases: []string{"ostack_image"}, Doc: "image, by name or id; default the template's, else the setting default_image"},
		{Name: "flavor", Type: schema.String, Aliases: []string{"ostack_flavor"}, Doc: "flavor, by name or id; default the template's, else default_flavor"},
		{Name: "network", Type: schema.String, Aliases: []string{"ostack_network"}, Doc: "network (name or id) to attach; its address is the fixed address; default the template's, else default_network"},
		{Name: "networks", Type: schema.StringList, Split: true, Doc: "networks (names or ids) to attach, after network if both are given; the first one's address is the fixed address"},
		{Name: "key_name", Type: schema.String, Aliases: []string{"ostack_key_name"}, Doc: "key pair injected into the server; default the template's, else default_key_name"},
		{Name: "template", Type: schema.String, Aliases: []string{"ostack_template"}, Doc: "a set of these arguments named in the setting templates; arguments given beside it win"},
		{Name: "user_data", Type: schema.String, Doc: "cloud-init user data (plain text; sent base64-encoded)"},
		{Name: "metadata", Type: schema.StringMap, Doc: "server metadata besides broker's labels"},
		{Name: "security_groups", Type: schema.StringList, Split: true, Doc: "security groups; default the project's default"},
		{Name: "availability_zone", Type: schema.String, Doc: "availability zone"},
	},
}

// templatesCheck accepts a map of names to argument maps that argsSchema
// accepts.
var templatesCheck = schema.Func("a map of template names to arguments", func(v any) error {
	_, err := parseTemplates(v)
	return err
})

func parseTemplates(v any) (map[string]args, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("templates: want a map of template names to arguments, got %T", v)
	}
	out := map[string]args{}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		tm, ok := m[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("template %s: want a map of arguments, got %T", name, m[name])
		}
		if _, ok := tm["template"]; ok {
			return nil, fmt.Errorf("template %s: a template cannot name another", name)
		}
		a, err := decodeArgs(tm)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[name] = a
	}
	return out, nil
}

// settings is the decoded provider block.
type settings struct {
	Cloud             string        `schema:"cloud"`
	CloudsFile        string        `schema:"clouds_file"`
	AuthURL           string        `schema:"auth_url"`
	Username          string        `schema:"username"`
	Password          string        `schema:"password"`
	AppCredID         string        `schema:"application_credential_id"`
	AppCredName       string        `schema:"application_credential_name"`
	AppCredSecret     string        `schema:"application_credential_secret"`
	ProjectName       string        `schema:"project_name"`
	ProjectID         string        `schema:"project_id"`
	UserDomainName    string        `schema:"user_domain_name"`
	ProjectDomainName string        `schema:"project_domain_name"`
	Region            string        `schema:"region_name"`
	Interface         string        `schema:"interface"`
	CAFile            string        `schema:"ca_file"`
	VerifyTLS         bool          `schema:"verify_tls"`
	DefaultImage      string        `schema:"default_image"`
	DefaultFlavor     string        `schema:"default_flavor"`
	DefaultNetwork    string        `schema:"default_network"`
	DefaultKeyName    string        `schema:"default_key_name"`
	FloatingIPNetwork string        `schema:"floating_ip_network"`
	Address           string        `schema:"address"`
	SSHUser           string        `schema:"ssh_user"`
	NamePrefix        string        `schema:"name_prefix"`
	ServerTimeout     time.Duration `schema:"server_timeout"`
	PollInterval      time.Duration `schema:"poll_interval"`
	Retries           int           `schema:"retries"`
	TemplatesRaw      any           `schema:"templates"`
	templates         map[string]args
}

func decodeSettings(v cty.Value) (settings, error) {
	var s settings
	if err := settingsSchema.DecodeSettings(v, &s); err != nil {
		return s, err
	}
	t, err := parseTemplates(s.TemplatesRaw)
	if err != nil {
		return s, fmt.Errorf("setting %w", err)
	}
	s.templates = t
	return s, nil
}

// templateNames lists the templates, sorted.
func (s settings) templateNames() []string {
	out := make([]string, 0, len(s.templates))
	for k := range s.templates {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// args are a checkout's decoded arguments.
type args struct {
	Image            string            `schema:"image"`
	Flavor           string            `schema:"flavor"`
	Network          string            `schema:"network"`
	Networks         []string          `schema:"networks"`
	KeyName          string            `schema:"key_name"`
	Template         string            `schema:"template"`
	UserData         string            `schema:"user_data"`
	Metadata         map[string]string `schema:"metadata"`
	SecurityGroups   []string          `schema:"security_groups"`
	AvailabilityZone string            `schema:"availability_zone"`
}

// decodeArgs decodes arguments; network joins networks, first.
func decodeArgs(m map[string]any) (args, error) {
	var a args
	if err := argsSchema.DecodeArgs(m, &a); err != nil {
		return a, err
	}
	if a.Network != "" {
		nets := []string{a.Network}
		for _, n := range a.Networks {
			if n != a.Network {
				nets = append(nets, n)
			}
		}
		a.Networks, a.Network = nets, ""
	}
	return a, nil
}

// resolveArgs decodes the arguments and fills what they leave out from
// their template, then from the settings' defaults. Image, flavor and a
// network are then required.
func (s settings) resolveArgs(m map[string]any) (args, error) {
	a, err := decodeArgs(m)
	if err != nil {
		return a, err
	}
	if a.Template != "" {
		t, ok := s.templates[a.Template]
		if !ok {
			if len(s.templates) == 0 {
				return a, fmt.Errorf("template %q: the provider's settings declare no templates", a.Template)
			}
			return a, fmt.Errorf("template %q is not in the settings' templates (%s)", a.Template, strings.Join(s.templateNames(), ", "))
		}
		a = overlay(t, a)
	}
	a = overlay(args{Image: s.DefaultImage, Flavor: s.DefaultFlavor, KeyName: s.DefaultKeyName, Networks: nonEmpty(s.DefaultNetwork)}, a)
	var missing []string
	if a.Image == "" {
		missing = append(missing, "image")
	}
	if a.Flavor == "" {
		missing = append(missing, "flavor")
	}
	if len(a.Networks) == 0 {
		missing = append(missing, "network")
	}
	if len(missing) > 0 {
		return a, fmt.Errorf("missing OpenStack arguments: %s; give them (--ostack-image, --ostack-flavor, --ostack-network), a template, or the settings default_image, default_flavor, default_network", strings.Join(missing, ", "))
	}
	return a, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// overlay returns base with the fields top sets replaced.
func overlay(base, top args) args {
	out := base
	if top.Image != "" {
		out.Image = top.Image
	}
	if top.Flavor != "" {
		out.Flavor = top.Flavor
	}
	if len(top.Networks) > 0 {
		out.Networks = top.Networks
	}
	if top.KeyName != "" {
		out.KeyName = top.KeyName
	}
	if top.Template != "" {
		out.Template = top.Template
	}
	if top.UserData != "" {
		out.UserData = top.UserData
	}
	if len(top.Metadata) > 0 {
		md := map[string]string{}
		for k, v := range base.Metadata {
			md[k] = v
		}
		for k, v := range top.Metadata {
			md[k] = v
		}
		out.Metadata = md
	}
	if len(top.SecurityGroups) > 0 {
		out.SecurityGroups = top.SecurityGroups
	}
	if top.AvailabilityZone != "" {
		out.AvailabilityZone = top.AvailabilityZone
	}
	return out
}
