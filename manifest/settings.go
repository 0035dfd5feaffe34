package manifest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

func schemaOf(names ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range names {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}

var (
	sshSchema = schemaOf("user", "port", "private_key_file", "passphrase_env", "agent",
		"connect_timeout", "keepalive", "known_hosts_file", "bastion", "ipv6")
	loggingSchema   = schemaOf("level", "file")
	inventorySchema = schemaOf("fields", "list_vars")
	stateSchema     = &hcl.BodySchema{
		Attributes: schemaOf("backend", "path", "endpoints", "prefix", "lock_ttl",
			"username", "password", "dial_timeout").Attributes,
		Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
	}
	tlsSchema = schemaOf("ca", "cert", "key")
)

// decodeSettingsBlocks decodes ssh, state, logging and inventory; each
// may appear once.
func (l *loader) decodeSettingsBlocks(content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	first := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "ssh", "state", "logging", "inventory":
		default:
			continue
		}
		if r, ok := first[b.Type]; ok {
			diags = append(diags, duplicate(b.Type, b.Type, r, b.DefRange))
			continue
		}
		first[b.Type] = b.DefRange
		switch b.Type {
		case "ssh":
			s := &SSHSettings{DeclRange: b.DefRange}
			c, d := b.Body.Content(sshSchema)
			diags = append(diags, d...)
			a := &attrs{l: l, content: c, block: "ssh"}
			a.str("user", &s.User, false)
			a.integer("port", &s.Port, 0)
			a.str("private_key_file", &s.PrivateKeyFile, false)
			a.str("passphrase_env", &s.PassphraseEnv, false)
			a.boolPtr("agent", &s.Agent)
			a.duration("connect_timeout", &s.ConnectTimeout)
			a.duration("keepalive", &s.Keepalive)
			a.str("known_hosts_file", &s.KnownHostsFile, false)
			a.str("bastion", &s.Bastion, false)
			a.boolPtr("ipv6", &s.IPv6)
			diags = append(diags, a.diags...)
			l.cfg.SSH = s
		case "logging":
			s := &LoggingSettings{DeclRange: b.DefRange}
			c, d := b.Body.Content(loggingSchema)
			diags = append(diags, d...)
			a := &attrs{l: l, content: c, block: "logging"}
			a.oneOf("level", &s.Level, "trace", "debug", "info", "warning", "warn", "error", "silent")
			a.str("file", &s.File, false)
			diags = append(diags, a.diags...)
			l.cfg.Logging = s
		case "inventory":
			s := &InventorySettings{DeclRange: b.DefRange}
			c, d := b.Body.Content(inventorySchema)
			diags = append(diags, d...)
			a := &attrs{l: l, content: c, block: "inventory"}
			a.strings("fields", &s.Fields)
			a.str("list_vars", &s.ListVars, false)
			s.FieldsRange = b.DefRange
			if at, ok := c.Attributes["fields"]; ok {
				s.FieldsRange = at.Expr.Range()
			}
			diags = append(diags, a.diags...)
			l.cfg.Inventory = s
		case "state":
			s := &StateSettings{Backend: "bolt", DeclRange: b.DefRange}
			c, d := b.Body.Content(stateSchema)
			diags = append(diags, d...)
			a := &attrs{l: l, content: c, block: "state"}
			a.oneOf("backend", &s.Backend, "bolt", "etcd")
			a.str("path", &s.Path, false)
			a.strings("endpoints", &s.Endpoints)
			a.str("prefix", &s.Prefix, false)
			a.duration("lock_ttl", &s.LockTTL)
			a.str("username", &s.Username, false)
			a.str("password", &s.Password, true)
			a.duration("dial_timeout", &s.DialTimeout)
			diags = append(diags, a.diags...)
			if !a.diags.HasErrors() {
				diags = append(diags, checkEndpoints(s, c.Attributes["endpoints"])...)
			}
			for i, tb := range c.Blocks {
				if i > 0 {
					diags = append(diags, duplicate("tls", "tls", c.Blocks[0].DefRange, tb.DefRange))
					continue
				}
				tc, d := tb.Body.Content(tlsSchema)
				diags = append(diags, d...)
				t := &TLSSettings{}
				ta := &attrs{l: l, content: tc, block: "tls"}
				ta.str("ca", &t.CA, false)
				ta.str("cert", &t.Cert, false)
				ta.str("key", &t.Key, false)
				diags = append(diags, ta.diags...)
				s.TLS = t
			}
			l.cfg.State = s
		}
	}
	return diags
}

// checkEndpoints refuses an etcd state without endpoints, and endpoints
// the etcd client could not dial: "http(s)://HOST:PORT", "unix(s)://PATH"
// or "HOST:PORT".
func checkEndpoints(s *StateSettings, at *hcl.Attribute) hcl.Diagnostics {
	if s.Backend != "etcd" {
		return nil
	}
	if len(s.Endpoints) == 0 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing etcd endpoints",
			Detail:   "The etcd backend needs endpoints = [\"https://etcd1:2379\", …].",
			Subject:  s.DeclRange.Ptr(),
		}}
	}
	for _, e := range s.Endpoints {
		if err := checkEndpoint(e); err != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid etcd endpoint",
				Detail:   fmt.Sprintf("The endpoint %q %s: use \"https://HOST:PORT\", \"http://HOST:PORT\", \"unix://PATH\" or \"HOST:PORT\".", e, err),
				Subject:  at.Expr.Range().Ptr(),
			}}
		}
	}
	return nil
}

func checkEndpoint(e string) error {
	if !strings.Contains(e, "://") {
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" || strings.ContainsAny(host, "/ ") {
			return errors.New("has no scheme and is not HOST:PORT")
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("has the port %q, not a number", port)
		}
		return nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return errors.New("is not a URL")
	}
	switch u.Scheme {
	case "http", "https":
		if u.Hostname() == "" {
			return errors.New("has no host")
		}
		if p := u.Port(); p != "" {
			if _, err := strconv.ParseUint(p, 10, 16); err != nil {
				return fmt.Errorf("has the port %q, not a number", p)
			}
		}
	case "unix", "unixs":
		if u.Host == "" && u.Path == "" {
			return errors.New("has no socket path")
		}
	default:
		return fmt.Errorf("has the scheme %q", u.Scheme)
	}
	return nil
}
