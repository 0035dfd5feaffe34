package pyconfig

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

// Result is a converted settings file.
type Result struct {
	// HCL is the broker.hcl text.
	HCL []byte
	// EnvVars are the variables the settings read with env(), to be set
	// before broker runs, each with what it holds.
	EnvVars []EnvVar
	// Notes say what was changed or left out.
	Notes []string
}

// EnvVar is a variable a converted secret is read from.
type EnvVar struct{ Name, Holds string }

type converter struct {
	f     *hclwrite.File
	body  *hclwrite.Body
	res   *Result
	first bool
	opts  Options
	types map[string]bool // provider types written
}

// Options change how settings are converted.
type Options struct {
	// InlineSecrets keeps tokens and passwords as they are instead of
	// env() references: for settings converted in memory and never
	// written (the file they come from holds them already).
	InlineSecrets bool
}

// sensitive keys are written as env() references.
var sensitive = regexp.MustCompile(`(?i)(token|password|secret|passphrase)$`)

// ConvertSettings converts a Python broker_settings.yaml.
func ConvertSettings(src []byte) (*Result, error) {
	return ConvertSettingsWith(src, Options{})
}

// ConvertSettingsWith converts a Python broker_settings.yaml with opts.
func ConvertSettingsWith(src []byte, opts Options) (*Result, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("read the settings: %w", err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the settings file is not a map of settings")
	}
	c := &converter{f: hclwrite.NewEmptyFile(), res: &Result{}, opts: opts, types: map[string]bool{}}
	c.body = c.f.Body()
	top := root.Content[0]
	var nicks, fieldsNode *yaml.Node
	var listVars string
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch strings.ToLower(key) {
		case "ansibletower", "awx", "aap":
			c.provider("awx", key, val, c.awxAttr)
		case "container", "docker", "podman":
			c.provider("docker", key, val, c.dockerAttr)
		case "openstack":
			c.provider("openstack", key, val, c.openstackAttr)
		case "testprovider":
			c.provider("sim", key, val, schemaAttr("sim"))
		case "ssh":
			c.ssh(val)
		case "logging":
			c.logging(val)
		case "inventory_fields":
			fieldsNode = val
		case "inventory_list_vars":
			listVars = strings.TrimSpace(val.Value)
		case "nicks":
			nicks = val
		case "_version", "less_colors", "thread_limit", "debug", "log_level":
			c.note("%s: not used by this broker; left out", key)
		case "beaker":
			c.provider("beaker", key, val, c.beakerAttr)
		case "foreman":
			c.provider("foreman", key, val, c.foremanAttr)
		case "libvirt":
			c.note("%s: no %s provider in this build; its settings are left out (instances: %s)", key, key, strings.Join(instanceNames(val), ", "))
		default:
			c.note("%s: not a setting this broker knows; left out", key)
		}
	}
	c.fields(fieldsNode, listVars)
	if nicks != nil {
		c.nicks(nicks)
	}
	c.res.HCL = hclwrite.Format(c.f.Bytes())
	return c.res, nil
}

func (c *converter) note(format string, args ...any) {
	c.res.Notes = append(c.res.Notes, fmt.Sprintf(format, args...))
}

func (c *converter) sep() {
	if c.first {
		c.body.AppendNewline()
	}
	c.first = true
}

func instanceNames(n *yaml.Node) []string {
	var out []string
	if n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "instances" && n.Content[i+1].Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content[i+1].Content); j += 2 {
				out = append(out, n.Content[i+1].Content[j].Value)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "default")
	}
	return out
}

// pairs is a YAML map's entries in order, decoded.
type pair struct {
	k string
	v any
	n *yaml.Node
}

func pairs(n *yaml.Node) []pair {
	var out []pair
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		_ = n.Content[i+1].Decode(&v)
		out = append(out, pair{k: n.Content[i].Value, v: v, n: n.Content[i+1]})
	}
	return out
}

type attrFunc func(b *hclwrite.Body, inst, key string, v any) bool

// provider writes one provider block per instance: type-level keys are
// given to every instance, an instance's own keys win.
func (c *converter) provider(typ, pyName string, n *yaml.Node, attr attrFunc) {
	var common []pair
	type inst struct {
		name string
		kv   []pair
	}
	var insts []inst
	for _, p := range pairs(n) {
		if p.k == "instances" {
			// A list of single-key maps (older files) or a map.
			if p.n.Kind == yaml.SequenceNode {
				for _, e := range p.n.Content {
					for _, q := range pairs(e) {
						insts = append(insts, inst{q.k, pairs(q.n)})
					}
				}
			} else {
				for _, q := range pairs(p.n) {
					insts = append(insts, inst{q.k, pairs(q.n)})
				}
			}
			continue
		}
		common = append(common, p)
	}
	if len(insts) == 0 {
		insts = []inst{{name: "default"}}
	}
	c.types[typ] = true
	for _, in := range insts {
		c.sep()
		blk := c.body.AppendNewBlock("provider", []string{typ, in.name})
		b := blk.Body()
		seen := map[string]bool{}
		for _, p := range in.kv {
			seen[p.k] = true
		}
		all := append([]pair{}, in.kv...)
		for _, p := range common {
			if !seen[p.k] {
				all = append(all, p)
			}
		}
		for _, p := range all {
			if p.k == "default" || p.k == "override_envars" {
				if t, ok := p.v.(bool); ok && t {
					b.SetAttributeValue(p.k, cty.True)
				}
				continue
			}
			if p.v == nil {
				continue
			}
			if k, ok := PythonKey(typ, p.k); ok && k.Ignore != "" {
				// No counterpart here, placeholder or not: attr says why.
			} else if s, ok := p.v.(string); ok && isPlaceholder(s) {
				if t, ok := providers.Lookup(typ); ok && sensitive.MatchString(p.k) && t.SettingsSchema != nil && slices.Contains(t.SettingsSchema.Names(), p.k) {
					c.note("%s.%s: %s is a placeholder (%s); left out: set it with broker config set %s.%s.%s 'env(\"VARIABLE\")'", pyName, in.name, p.k, s, typ, in.name, p.k)
					continue
				}
				// A placeholder ("https://<ansible tower host>/") of
				// the example file: read from the environment, needed
				// only when the instance is used.
				to := p.k
				if k, ok := PythonKey(typ, p.k); ok {
					to = k.To
				}
				if t, ok := providers.Lookup(typ); ok && t.SettingsSchema != nil && slices.Contains(t.SettingsSchema.Names(), to) {
					c.envRef(b, to, typ, in.name, to, "placeholder")
				} else {
					c.note("%s.%s: %s is a placeholder (%s); left out", pyName, in.name, p.k, s)
				}
				continue
			}
			if !attr(b, in.name, p.k, p.v) {
				c.note("%s.%s: %s has no counterpart in the %s provider; left out", pyName, in.name, p.k, typ)
			}
		}
		c.requiredFromEnv(b, typ, pyName, in.name)
	}
}

// requiredFromEnv gives each setting the type requires and the Python
// section left out an env("…") reference, noted, so the converted file
// is valid and the setting is needed only when the instance is used.
func (c *converter) requiredFromEnv(b *hclwrite.Body, typ, pyName, inst string) {
	t, ok := providers.Lookup(typ)
	if !ok || t.SettingsSchema == nil {
		return
	}
	for _, f := range t.SettingsSchema.Fields {
		if !f.Required || b.GetAttribute(f.Name) != nil {
			continue
		}
		v := strings.ToUpper(typ + "_" + envPart(inst) + "_" + envPart(f.Name))
		c.note("%s.%s: %s is required here and the Python settings have none; it is read from $%s, needed only when the instance is used", pyName, inst, f.Name, v)
		c.envRef(b, f.Name, typ, inst, f.Name, "required")
	}
}

// isPlaceholder reports whether s is a placeholder of the Python example
// settings ("<username>", "https://<ansible tower host>/").
func isPlaceholder(s string) bool {
	i := strings.Index(s, "<")
	return i >= 0 && strings.Contains(s[i:], ">")
}

// secret writes name = env("VAR") and records the variable; with
// InlineSecrets it writes the value itself.
func (c *converter) secret(b *hclwrite.Body, name, typ, inst, key string, value ...string) {
	if c.opts.InlineSecrets && len(value) == 1 {
		b.SetAttributeValue(name, cty.StringVal(value[0]))
		return
	}
	c.envRef(b, name, typ, inst, key, "secret")
}

// envRef writes name = env("VAR") and records the variable.
func (c *converter) envRef(b *hclwrite.Body, name, typ, inst, key, why string) {
	v := strings.ToUpper(typ + "_" + envPart(inst) + "_" + envPart(key))
	if why == "placeholder" {
		c.note("%s.%s: %s is a placeholder; it is read from $%s, needed only when the instance is used", typ, inst, key, v)
	}
	b.SetAttributeRaw(name, hclwrite.Tokens{
		{Type: hclsyntax.TokenIdent, Bytes: []byte("env")},
		{Type: hclsyntax.TokenOParen, Bytes: []byte("(")},
		{Type: hclsyntax.TokenOQuote, Bytes: []byte(`"`)},
		{Type: hclsyntax.TokenQuotedLit, Bytes: []byte(v)},
		{Type: hclsyntax.TokenCQuote, Bytes: []byte(`"`)},
		{Type: hclsyntax.TokenCParen, Bytes: []byte(")")},
	})
	c.res.EnvVars = append(c.res.EnvVars, EnvVar{Name: v, Holds: fmt.Sprintf("the %s of %s instance %s", key, typ, inst)})
}

func envPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

func seconds(v any) (string, bool) {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x) + "s", true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64) + "s", true
	case string:
		if _, err := strconv.Atoi(x); err == nil {
			return x + "s", true
		}
		return x, true
	}
	return "", false
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func (c *converter) awxAttr(b *hclwrite.Body, inst, key string, v any) bool {
	switch key {
	case "base_url", "url":
		u := str(v)
		// A password in the URL is a secret like the others: the URL is
		// written without its userinfo, the password read from env().
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			if _, ok := pu.User.Password(); ok {
				if b.GetAttribute("username") == nil {
					b.SetAttributeValue("username", cty.StringVal(pu.User.Username()))
				}
				pw, _ := pu.User.Password()
				c.secret(b, "password", "awx", inst, "password", pw)
				pu.User = nil
				u = pu.String()
			}
		}
		b.SetAttributeValue("url", cty.StringVal(u))
	case "username", "inventory", "release_workflow", "extend_workflow", "aap_version":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "new_expire_time":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "token", "password":
		c.secret(b, key, "awx", inst, key, str(v))
	case "workflow_timeout", "max_resilient_wait":
		s, _ := seconds(v)
		b.SetAttributeValue(key, cty.StringVal(s))
	case "workflow_poll_interval":
		s, _ := seconds(v)
		b.SetAttributeValue("poll_interval", cty.StringVal(s))
	case "verify", "verify_tls":
		if t, ok := v.(bool); ok {
			b.SetAttributeValue("verify_tls", cty.BoolVal(t))
		} else {
			b.SetAttributeValue("ca_file", cty.StringVal(str(v)))
		}
	case "results_limit":
		n, err := strconv.ParseInt(str(v), 10, 64)
		if err != nil || n < 0 {
			c.note("AnsibleTower.%s: results_limit %q is not a whole number; left out", inst, str(v))
			return true
		}
		b.SetAttributeValue(key, cty.NumberIntVal(n))
		c.note("AnsibleTower.%s: results_limit = %d kept: `broker providers` listings show at most %d items (--results-limit N overrides, 0 shows all)", inst, n, n)
	case "dangling_behavior", "error_scope":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	default:
		return false
	}
	return true
}

func (c *converter) openstackAttr(b *hclwrite.Body, inst, key string, v any) bool {
	switch key {
	case "auth_url", "username", "project_name", "project_id", "user_domain_name", "project_domain_name",
		"region_name", "interface", "cloud", "application_credential_id", "application_credential_name",
		"default_image", "default_flavor", "default_network", "default_key_name":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "password", "application_credential_secret":
		c.secret(b, key, "openstack", inst, key, str(v))
	case "server_timeout":
		s, _ := seconds(v)
		b.SetAttributeValue(key, cty.StringVal(s))
	case "templates":
		b.SetAttributeValue(key, manifest.FromGo(v))
	case "identity_api_version":
		if str(v) != "3" {
			c.note("OpenStack.%s: identity_api_version %s: this broker speaks Keystone v3 only", inst, str(v))
		}
	default:
		return false
	}
	return true
}

func (c *converter) beakerAttr(b *hclwrite.Body, inst, key string, v any) bool {
	switch key {
	case "hub_url", "username":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "password":
		c.secret(b, key, "beaker", inst, key, str(v))
	case "max_job_wait":
		s, _ := seconds(v)
		b.SetAttributeValue(key, cty.StringVal(s))
	case "auth":
		if str(v) != "basic" {
			c.note("Beaker.%s: auth %q: this broker logs in with username and password only (no Kerberos); set them", inst, str(v))
		}
	case "verify", "verify_tls":
		if t, ok := v.(bool); ok {
			b.SetAttributeValue("verify_tls", cty.BoolVal(t))
		} else {
			b.SetAttributeValue("ca_file", cty.StringVal(str(v)))
		}
	default:
		return false
	}
	return true
}

// schemaAttr writes the keys the type's settings schema has, as they are.
func schemaAttr(typ string) attrFunc {
	return func(b *hclwrite.Body, inst, key string, v any) bool {
		t, ok := providers.Lookup(typ)
		if !ok || t.SettingsSchema == nil || !slices.Contains(t.SettingsSchema.Names(), key) {
			return false
		}
		b.SetAttributeValue(key, manifest.FromGo(v))
		return true
	}
}

func (c *converter) foremanAttr(b *hclwrite.Body, inst, key string, v any) bool {
	switch key {
	case "foreman_url", "url":
		b.SetAttributeValue("url", cty.StringVal(str(v)))
	case "foreman_username", "username":
		b.SetAttributeValue("username", cty.StringVal(str(v)))
	case "foreman_password", "password":
		c.secret(b, "password", "foreman", inst, "password", str(v))
	case "organization", "location", "name_prefix":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "verify", "verify_tls":
		if t, ok := v.(bool); ok {
			b.SetAttributeValue("verify_tls", cty.BoolVal(t))
		} else {
			b.SetAttributeValue("ca_file", cty.StringVal(str(v)))
		}
	case "hostgroup":
		c.note("Foreman.%s: hostgroup %q is an argument here: pass --hostgroup, or put it in a nick's args", inst, str(v))
	default:
		return false
	}
	return true
}

func (c *converter) dockerAttr(b *hclwrite.Body, inst, key string, v any) bool {
	switch key {
	case "runtime":
		b.SetAttributeValue("engine", cty.StringVal(str(v)))
	case "host":
		h := str(v)
		if !strings.Contains(h, "://") && h != "" && h != "localhost" {
			c.note("Container.%s: host %q became host = \"ssh://%s\" (the engine is reached over SSH); check it", inst, h, h)
			h = "ssh://" + h
		}
		if h != "" && h != "localhost" {
			b.SetAttributeValue("host", cty.StringVal(h))
		}
	case "network", "name_prefix":
		b.SetAttributeValue(key, cty.StringVal(str(v)))
	case "auto_map_ports":
		if t, ok := v.(bool); ok {
			b.SetAttributeValue(key, cty.BoolVal(t))
		}
	case "host_password", "host_username", "host_port":
		c.note("Container.%s: %s is the engine host's login (or port), which this broker takes from ssh settings or the ssh:// URL; left out", inst, key)
		return true
	case "results_limit":
		c.note("Container.%s: results_limit left out: container listings are not capped (use --results-limit N)", inst)
		return true
	default:
		return false
	}
	return true
}

func (c *converter) ssh(n *yaml.Node) {
	c.sep()
	b := c.body.AppendNewBlock("ssh", nil).Body()
	for _, p := range pairs(n) {
		switch p.k {
		case "host_username":
			b.SetAttributeValue("user", cty.StringVal(str(p.v)))
		case "host_ssh_port":
			if f, err := strconv.Atoi(str(p.v)); err == nil {
				b.SetAttributeValue("port", cty.NumberIntVal(int64(f)))
			}
		case "host_ssh_key_filename":
			if s := str(p.v); s != "" && !strings.HasPrefix(s, "<") {
				b.SetAttributeValue("private_key_file", cty.StringVal(s))
			}
		case "host_ipv6":
			if t, ok := p.v.(bool); ok {
				b.SetAttributeValue("ipv6", cty.BoolVal(t))
			}
		case "host_password":
			c.note("ssh.host_password: this broker logs in with keys or an agent, never a stored password; left out")
		case "backend", "host_ipv4_fallback", "host_timeout":
			c.note("ssh.%s: not needed by this broker; left out", p.k)
		default:
			c.note("ssh.%s: unknown; left out", p.k)
		}
	}
}

func (c *converter) logging(n *yaml.Node) {
	level := ""
	for _, p := range pairs(n) {
		if p.k == "file_level" || (p.k == "console_level" && level == "") {
			level = strings.ToLower(str(p.v))
		}
	}
	if level == "" {
		return
	}
	if level == "critical" {
		level = "error"
	}
	c.sep()
	c.body.AppendNewBlock("logging", nil).Body().SetAttributeValue("level", cty.StringVal(level))
	c.note("logging: one level (%s) for the log file; the console's is --log-level", level)
}

func (c *converter) fields(n *yaml.Node, listVars string) {
	var vals []cty.Value
	for _, p := range pairs(n) {
		parts := strings.Split(str(p.v), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		vals = append(vals, cty.StringVal(p.k+":"+strings.Join(parts, "|")))
	}
	if len(vals) == 0 && listVars == "" {
		return
	}
	c.sep()
	b := c.body.AppendNewBlock("inventory", nil).Body()
	if len(vals) > 0 {
		b.SetAttributeValue("fields", cty.ListVal(vals))
	}
	if listVars != "" {
		b.SetAttributeValue("list_vars", cty.StringVal(listVars))
	}
}

// NickProvider guesses a nick's provider from its arguments.
func NickProvider(args map[string]any) string {
	for _, k := range []string{"workflow", "job_template"} {
		if _, ok := args[k]; ok {
			return "awx"
		}
	}
	for _, k := range []string{"ostack_image", "ostack_template"} {
		if _, ok := args[k]; ok {
			return "openstack"
		}
	}
	for _, k := range []string{"container_host", "container_app", "image"} {
		if _, ok := args[k]; ok {
			return "docker"
		}
	}
	for _, k := range []string{"job_xml", "job_id"} {
		if _, ok := args[k]; ok {
			return "beaker"
		}
	}
	if _, ok := args["hostgroup"]; ok {
		return "foreman"
	}
	if _, ok := args["test_action"]; ok {
		return "sim"
	}
	return ""
}

func (c *converter) nicks(n *yaml.Node) {
	var only string
	if len(c.types) == 1 {
		for t := range c.types {
			only = t
		}
	}
	for _, p := range pairs(n) {
		args, _ := p.v.(map[string]any)
		c.sep()
		prov := NickProvider(args)
		body := c.body
		var scratch *hclwrite.File
		switch {
		case prov == "" && only != "":
			prov = only
			c.note("nick %s: its provider is not told by its arguments; %s, the one provider of these settings, was chosen", p.k, only)
		case prov == "":
			// Written commented out: a nick must name its provider,
			// and guessing one among several could check hosts out
			// of the wrong service.
			scratch = hclwrite.NewEmptyFile()
			body = scratch.Body()
			c.note("nick %s: its provider is not told by its arguments (workflow, job_template: awx; container_host, container_app: docker; test_action: sim); it is written commented out: uncomment it and set provider", p.k)
		}
		b := body.AppendNewBlock("nick", []string{p.k}).Body()
		if prov != "" {
			b.SetAttributeValue("provider", cty.StringVal(prov))
		} else {
			b.SetAttributeValue("provider", cty.StringVal("TYPE"))
		}
		keys := make([]string, 0, len(args))
		for k := range args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := map[string]cty.Value{}
		for _, k := range keys {
			m[k] = manifest.FromGo(args[k])
		}
		if len(m) > 0 {
			b.SetAttributeValue("args", cty.ObjectVal(m))
		}
		if scratch != nil {
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(string(hclwrite.Format(scratch.Bytes())), "\n"), "\n") {
				lines = append(lines, "# "+l)
			}
			c.body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(strings.Join(lines, "\n") + "\n")}})
		}
	}
}
