package app

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/internal/redact"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

// Secrets are the sensitive values this App has seen in its settings and
// manifests, for the CLI to mask in what it renders (errors, --output-file,
// reports). It is never nil.
func (a *App) Secrets() *redact.Secrets { return a.secrets }

// noteSecrets adds cfg's sensitive values to a.secrets: the provider
// settings their type marks sensitive, passwords inside any setting's URL,
// the state and connection passwords, and sensitive variables' values.
func (a *App) noteSecrets(cfg *manifest.Config) {
	if cfg == nil {
		return
	}
	s := a.secrets
	for _, p := range cfg.Providers {
		if t, ok := providers.Lookup(p.Type); ok {
			s.Add(t.SecretsOf(p.Settings)...)
		}
		s.AddURLs(stringLeaves(p.Settings)...)
	}
	if st := cfg.State; st != nil {
		s.Add(st.Password)
		s.AddURLs(st.Endpoints...)
	}
	for _, h := range cfg.Hosts {
		if c := h.Connection; c != nil {
			s.Add(c.Password)
			s.AddURLs(c.Bastion)
		}
	}
	if ssh := cfg.SSH; ssh != nil {
		s.AddURLs(ssh.Bastion)
	}
	for _, v := range cfg.Variables {
		if v.Sensitive {
			s.Add(stringLeaves(v.Value)...)
		}
	}
}

// stringLeaves lists the known strings inside v (numbers and bools are
// left out: masking "8080" everywhere would hide more than it protects).
func stringLeaves(v cty.Value) []string {
	if v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch {
	case v.Type() == cty.String:
		return []string{v.AsString()}
	case v.CanIterateElements():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, stringLeaves(e)...)
		}
		return out
	}
	return nil
}
