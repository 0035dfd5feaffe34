package docker

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// settingsSpec is the provider block's schema.
var settingsSpec = hcldec.ObjectSpec{
	"host":                &hcldec.AttrSpec{Name: "host", Type: cty.String},
	"engine":              &hcldec.AttrSpec{Name: "engine", Type: cty.String},
	"tls_ca":              &hcldec.AttrSpec{Name: "tls_ca", Type: cty.String},
	"tls_cert":            &hcldec.AttrSpec{Name: "tls_cert", Type: cty.String},
	"tls_key":             &hcldec.AttrSpec{Name: "tls_key", Type: cty.String},
	"name_prefix":         &hcldec.AttrSpec{Name: "name_prefix", Type: cty.String},
	"network":             &hcldec.AttrSpec{Name: "network", Type: cty.String},
	"auto_map_ports":      &hcldec.AttrSpec{Name: "auto_map_ports", Type: cty.Bool},
	"publish_address":     &hcldec.AttrSpec{Name: "publish_address", Type: cty.String},
	"timeout":             &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
	"pull":                &hcldec.AttrSpec{Name: "pull", Type: cty.String},
	"authorized_keys":     &hcldec.AttrSpec{Name: "authorized_keys", Type: cty.String},
	"ssh_public_key_file": &hcldec.AttrSpec{Name: "ssh_public_key_file", Type: cty.String},
}

// argNames are the checkout arguments, with their types.
var argTypes = map[string]cty.Type{
	"image":           cty.String,
	"container_host":  cty.String, // the Python tool's name for image
	"ports":           cty.List(cty.String),
	"env":             cty.Map(cty.String),
	"network":         cty.String,
	"command":         cty.List(cty.String),
	"entrypoint":      cty.List(cty.String),
	"privileged":      cty.Bool,
	"volumes":         cty.List(cty.String),
	"memory":          cty.String,
	"cpus":            cty.Number,
	"hostname":        cty.String,
	"auto_map_ports":  cty.Bool,
	"user":            cty.String,
	"workdir":         cty.String,
	"authorized_keys": cty.String,
	"pull":            cty.String,
}

func argsType() cty.Type {
	var optional []string
	for k := range argTypes {
		optional = append(optional, k)
	}
	sort.Strings(optional)
	return cty.ObjectWithOptionalAttrs(argTypes, optional)
}

// Pull policies.
const (
	pullMissing = "missing" // pull when the image is not present (default)
	pullNever   = "never"   // never pull
	pullAlways  = "always"  // pull before every checkout
)

// settings is the decoded provider block.
type settings struct {
	Host, Engine               string
	TLSCA, TLSCert, TLSKey     string
	NamePrefix, Network        string
	AutoMapPorts               bool
	PublishAddress             string
	publishSet                 bool
	Timeout                    time.Duration
	Pull                       string
	AuthorizedKeys, SSHKeyFile string
}

func ctyString(v cty.Value, name string) string {
	if v == cty.NilVal || v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return ""
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}

func ctyBool(v cty.Value, name string) (bool, bool) {
	if v == cty.NilVal || v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return false, false
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() || a.Type() != cty.Bool {
		return false, false
	}
	return a.True(), true
}

func decodeSettings(v cty.Value) (settings, error) {
	s := settings{
		Host:           ctyString(v, "host"),
		Engine:         ctyString(v, "engine"),
		TLSCA:          ctyString(v, "tls_ca"),
		TLSCert:        ctyString(v, "tls_cert"),
		TLSKey:         ctyString(v, "tls_key"),
		NamePrefix:     ctyString(v, "name_prefix"),
		Network:        ctyString(v, "network"),
		PublishAddress: ctyString(v, "publish_address"),
		Pull:           ctyString(v, "pull"),
		AuthorizedKeys: ctyString(v, "authorized_keys"),
		SSHKeyFile:     ctyString(v, "ssh_public_key_file"),
		Timeout:        2 * time.Minute,
	}
	s.publishSet = s.PublishAddress != ""
	s.AutoMapPorts, _ = ctyBool(v, "auto_map_ports")
	if t := ctyString(v, "timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("setting timeout: %q is not a positive duration", t)
		}
		s.Timeout = d
	}
	switch s.Pull {
	case "":
		s.Pull = pullMissing
	case pullMissing, pullNever, pullAlways:
	default:
		return s, fmt.Errorf("setting pull: %q is not one of missing, never, always", s.Pull)
	}
	switch strings.ToLower(s.Engine) {
	case "", "docker", "podman":
		s.Engine = strings.ToLower(s.Engine)
	default:
		return s, fmt.Errorf("setting engine: %q is not docker or podman", s.Engine)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return s, fmt.Errorf("settings tls_cert and tls_key go together")
	}
	if s.SSHKeyFile != "" {
		b, err := os.ReadFile(expandHome(s.SSHKeyFile))
		if err != nil {
			return s, fmt.Errorf("setting ssh_public_key_file: %w", err)
		}
		s.AuthorizedKeys = strings.TrimSpace(strings.TrimSpace(s.AuthorizedKeys) + "\n" + string(b))
	}
	return s, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return h + "/" + rest
		}
	}
	return p
}

// args are a checkout's decoded arguments.
type args struct {
	Image          string
	Ports          []string
	Env            map[string]string
	Network        string
	Command        []string
	Entrypoint     []string
	Privileged     bool
	Volumes        []string
	Memory         string
	CPUs           float64
	Hostname       string
	AutoMapPorts   *bool
	User           string
	WorkDir        string
	AuthorizedKeys string
	Pull           string
}

// decodeArgs reads JSON-shaped arguments, tolerating the shapes imperative
// command lines produce ("22 80" for a list, "2" for a number).
func decodeArgs(m map[string]any) (args, error) {
	var a args
	var err error
	str := func(k string) string {
		if err != nil {
			return ""
		}
		switch v := m[k].(type) {
		case nil:
			return ""
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case int:
			return strconv.Itoa(v)
		case bool:
			return strconv.FormatBool(v)
		default:
			err = fmt.Errorf("argument %s: want a string, got %T", k, v)
			return ""
		}
	}
	list := func(k string, split bool) []string {
		if err != nil {
			return nil
		}
		switch v := m[k].(type) {
		case nil:
			return nil
		case string:
			if split {
				return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
			}
			return []string{v}
		case float64:
			return []string{strconv.FormatFloat(v, 'f', -1, 64)}
		case []string:
			return v
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				switch e := e.(type) {
				case string:
					out = append(out, e)
				case float64:
					out = append(out, strconv.FormatFloat(e, 'f', -1, 64))
				default:
					err = fmt.Errorf("argument %s: want a list of strings, got an element of type %T", k, e)
					return nil
				}
			}
			return out
		default:
			err = fmt.Errorf("argument %s: want a list of strings, got %T", k, v)
			return nil
		}
	}
	boolean := func(k string) *bool {
		if err != nil {
			return nil
		}
		switch v := m[k].(type) {
		case nil:
			return nil
		case bool:
			return &v
		case string:
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				err = fmt.Errorf("argument %s: %q is not a boolean", k, v)
				return nil
			}
			return &b
		default:
			err = fmt.Errorf("argument %s: want a boolean, got %T", k, v)
			return nil
		}
	}
	a.Image = str("image")
	if a.Image == "" {
		a.Image = str("container_host")
	}
	a.Ports = list("ports", true)
	a.Network = str("network")
	a.Command = list("command", false)
	a.Entrypoint = list("entrypoint", false)
	if p := boolean("privileged"); p != nil {
		a.Privileged = *p
	}
	a.Volumes = list("volumes", true)
	a.Memory = str("memory")
	a.Hostname = str("hostname")
	a.AutoMapPorts = boolean("auto_map_ports")
	a.User = str("user")
	a.WorkDir = str("workdir")
	a.AuthorizedKeys = str("authorized_keys")
	a.Pull = str("pull")
	if c := str("cpus"); c != "" && err == nil {
		a.CPUs, err = strconv.ParseFloat(c, 64)
		if err != nil || a.CPUs <= 0 {
			err = fmt.Errorf("argument cpus: %q is not a positive number", c)
		}
	}
	if err != nil {
		return a, err
	}
	switch e := m["env"].(type) {
	case nil:
	case map[string]any:
		a.Env = make(map[string]string, len(e))
		for k, v := range e {
			switch v := v.(type) {
			case string:
				a.Env[k] = v
			case float64:
				a.Env[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				a.Env[k] = strconv.FormatBool(v)
			default:
				return a, fmt.Errorf("argument env: value of %s: want a string, got %T", k, v)
			}
		}
	case map[string]string:
		a.Env = e
	default:
		return a, fmt.Errorf("argument env: want a map of strings, got %T", e)
	}
	switch a.Pull {
	case "", pullMissing, pullNever, pullAlways:
	default:
		return a, fmt.Errorf("argument pull: %q is not one of missing, never, always", a.Pull)
	}
	return a, nil
}
