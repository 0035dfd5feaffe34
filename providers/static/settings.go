package static

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

// Member is one machine of the pool.
type Member struct {
	// Name is the member as written in hosts or a host block
	// ("lab2.example.com:2222"); it is the reservation key and the
	// provider id of a checked-out host.
	Name     string
	Hostname string
	Port     int // 0: the ssh settings' port (22)
	User     string
	Labels   map[string]string
}

// Settings are a static instance's settings.
type Settings struct {
	// Members in declaration order: hosts first, then host blocks naming
	// members not in hosts.
	Members []Member
	// User is the default login.
	User string
}

// SettingsSchema declares the provider block.
var SettingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "hosts", Type: schema.StringList, Doc: `members: "host" or "host:port"`},
		{Name: "user", Type: schema.String, Doc: "login user; default the ssh settings' user"},
		{Name: "port", Type: schema.Int, Doc: "SSH port of members that name none; default the ssh settings' port", Checks: []schema.Check{schema.Port()}},
	},
	Blocks: []schema.Block{{Name: "host", Doc: `a member with its own labels, user or port: host { name = "…" }`, Schema: &schema.Schema{
		Fields: []schema.Field{
			{Name: "name", Type: schema.String, Required: true, Doc: `the member, "host" or "host:port"`},
			{Name: "labels", Type: schema.StringMap, Doc: "labels args.match selects by"},
			{Name: "user", Type: schema.String, Doc: "login user of this member"},
			{Name: "port", Type: schema.Int, Doc: "SSH port of this member", Checks: []schema.Check{schema.Port()}},
		},
	}}},
	Check: func(v schema.Values) error {
		var raw rawSettings
		if err := v.Decode(&raw); err != nil {
			return err
		}
		_, err := raw.settings()
		return err
	},
}

// ArgsSchema declares what a host's args may say.
var ArgsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "match", Type: schema.StringMap, Doc: "only members carrying all these labels"},
		{Name: "host", Type: schema.String, Doc: "this member (as named in hosts or a host block)"},
	},
}

// SettingsSpec is the provider block's hcldec spec.
func SettingsSpec() hcldec.Spec { return SettingsSchema.Spec() }

// rawSettings is the provider block as written.
type rawSettings struct {
	Hosts  []string `schema:"hosts"`
	User   string   `schema:"user"`
	Port   int      `schema:"port"`
	Blocks []struct {
		Name   string            `schema:"name"`
		Labels map[string]string `schema:"labels"`
		User   string            `schema:"user"`
		Port   int               `schema:"port"`
	} `schema:"host"`
}

// ParseSettings reads a value decoded with SettingsSpec.
func ParseSettings(v cty.Value) (Settings, error) {
	var raw rawSettings
	if err := SettingsSchema.DecodeSettings(v, &raw); err != nil {
		return Settings{}, err
	}
	return raw.settings()
}

// settings lays out the members: hosts first, then host blocks naming
// members not in hosts.
func (raw rawSettings) settings() (Settings, error) {
	s := Settings{User: raw.User}
	index := map[string]int{}
	add := func(name string) (*Member, error) {
		if i, ok := index[name]; ok {
			return &s.Members[i], nil
		}
		host, p, err := splitMember(name)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			p = raw.Port
		}
		index[name] = len(s.Members)
		s.Members = append(s.Members, Member{Name: name, Hostname: host, Port: p, User: s.User})
		return &s.Members[len(s.Members)-1], nil
	}
	for _, h := range raw.Hosts {
		if _, err := add(h); err != nil {
			return s, err
		}
	}
	for _, b := range raw.Blocks {
		m, err := add(b.Name)
		if err != nil {
			return s, err
		}
		if b.User != "" {
			m.User = b.User
		}
		if b.Port != 0 {
			m.Port = b.Port
		}
		if b.Labels != nil {
			m.Labels = b.Labels
		}
	}
	return s, nil
}

// splitMember reads "host" or "host:port" (IPv6 as "[::1]:22").
func splitMember(name string) (string, int, error) {
	if strings.TrimSpace(name) == "" {
		return "", 0, fmt.Errorf("setting hosts: an empty member name")
	}
	if h, p, err := net.SplitHostPort(name); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("member %q: bad port %q", name, p)
		}
		return h, n, nil
	}
	if strings.Count(name, ":") == 1 {
		return "", 0, fmt.Errorf("member %q: want host or host:port", name)
	}
	return strings.Trim(name, "[]"), 0, nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
