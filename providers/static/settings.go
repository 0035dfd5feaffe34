package static

import (
	"fmt"
	"math/big"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
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

// SettingsSpec is the provider block's schema.
func SettingsSpec() hcldec.Spec {
	return &hcldec.ValidateSpec{Func: validate, Wrapped: hcldec.ObjectSpec{
		"hosts": &hcldec.AttrSpec{Name: "hosts", Type: cty.List(cty.String)},
		"user":  &hcldec.AttrSpec{Name: "user", Type: cty.String},
		"port":  &hcldec.AttrSpec{Name: "port", Type: cty.Number},
		"host": &hcldec.BlockListSpec{
			TypeName: "host",
			Nested: hcldec.ObjectSpec{
				"name":   &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
				"labels": &hcldec.AttrSpec{Name: "labels", Type: cty.Map(cty.String)},
				"user":   &hcldec.AttrSpec{Name: "user", Type: cty.String},
				"port":   &hcldec.AttrSpec{Name: "port", Type: cty.Number},
			},
		},
	}}
}

// ArgsType is what a host's args must convert to.
func ArgsType() cty.Type {
	return cty.ObjectWithOptionalAttrs(map[string]cty.Type{
		"match": cty.Map(cty.String),
		"host":  cty.String,
	}, []string{"match", "host"})
}

// ParseSettings reads a value decoded with SettingsSpec.
func ParseSettings(v cty.Value) (Settings, error) {
	var s Settings
	if v == cty.NilVal || v.IsNull() {
		return s, nil
	}
	if !v.IsWhollyKnown() {
		return s, fmt.Errorf("static settings are not known yet")
	}
	attr := func(o cty.Value, name string) cty.Value {
		if !o.Type().IsObjectType() || !o.Type().HasAttribute(name) {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return o.GetAttr(name)
	}
	str := func(o cty.Value, name string) string {
		if a := attr(o, name); !a.IsNull() {
			return a.AsString()
		}
		return ""
	}
	num := func(o cty.Value, name string) (int, error) {
		a := attr(o, name)
		if a.IsNull() {
			return 0, nil
		}
		i, acc := a.AsBigFloat().Int64()
		if acc != big.Exact || i < 1 || i > 65535 {
			return 0, fmt.Errorf("static setting %s: %s is not a port number", name, a.AsBigFloat().String())
		}
		return int(i), nil
	}
	s.User = str(v, "user")
	port, err := num(v, "port")
	if err != nil {
		return s, err
	}
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
			p = port
		}
		index[name] = len(s.Members)
		s.Members = append(s.Members, Member{Name: name, Hostname: host, Port: p, User: s.User})
		return &s.Members[len(s.Members)-1], nil
	}
	if hs := attr(v, "hosts"); !hs.IsNull() {
		for it := hs.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return s, fmt.Errorf("static setting hosts: a member is null")
			}
			if _, err := add(e.AsString()); err != nil {
				return s, err
			}
		}
	}
	if bs := attr(v, "host"); !bs.IsNull() {
		for it := bs.ElementIterator(); it.Next(); {
			_, b := it.Element()
			m, err := add(str(b, "name"))
			if err != nil {
				return s, err
			}
			if u := str(b, "user"); u != "" {
				m.User = u
			}
			p, err := num(b, "port")
			if err != nil {
				return s, err
			}
			if p != 0 {
				m.Port = p
			}
			if ls := attr(b, "labels"); !ls.IsNull() {
				m.Labels = map[string]string{}
				for it := ls.ElementIterator(); it.Next(); {
					k, e := it.Element()
					if !e.IsNull() {
						m.Labels[k.AsString()] = e.AsString()
					}
				}
			}
		}
	}
	return s, nil
}

// splitMember reads "host" or "host:port" (IPv6 as "[::1]:22").
func splitMember(name string) (string, int, error) {
	if strings.TrimSpace(name) == "" {
		return "", 0, fmt.Errorf("static setting hosts: an empty member name")
	}
	if h, p, err := net.SplitHostPort(name); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("static member %q: bad port %q", name, p)
		}
		return h, n, nil
	}
	if strings.Count(name, ":") == 1 {
		return "", 0, fmt.Errorf("static member %q: want host or host:port", name)
	}
	return strings.Trim(name, "[]"), 0, nil
}

// validate reports settings errors at validate time.
func validate(v cty.Value) hcl.Diagnostics {
	if _, err := ParseSettings(v); err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid static pool", Detail: err.Error() + "."}}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
