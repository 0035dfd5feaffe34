package app

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/labbroker/broker/internal/redact"
	"github.com/labbroker/broker/providers"
)

// sensitiveBlockSettings are the settings outside provider blocks that take
// secrets (the ones manifest/settings.go decodes allowing sensitive
// values). Provider settings say theirs in providers.Type.Sensitive.
var sensitiveBlockSettings = map[string]map[string]bool{
	"state": {"password": true},
}

// MaskSettings returns the settings source src with every sensitive
// setting's value replaced by "(sensitive)", wherever it came from (the
// file or an environment override), and the password of every URL
// redacted. A value read with env("NAME") is kept: it names where the
// secret is, not the secret. A source that does not parse is returned
// with URL passwords redacted only (the decoder reports the error).
func MaskSettings(src []byte, filename string) []byte {
	f, diags := hclwrite.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return []byte(redact.URLs(string(src)))
	}
	maskBody(f.Body(), nil)
	return f.Bytes()
}

// maskBody masks body's attributes; sensitive tells which are secret
// (nil: none).
func maskBody(body *hclwrite.Body, sensitive func(name string) bool) {
	for name, a := range body.Attributes() {
		if sensitive != nil && sensitive(name) && !isEnvCall(a.Expr().BuildTokens(nil)) {
			body.SetAttributeRaw(name, hclwrite.Tokens{
				{Type: hclsyntax.TokenOQuote, Bytes: []byte(`"`)},
				{Type: hclsyntax.TokenQuotedLit, Bytes: []byte(redact.Mask)},
				{Type: hclsyntax.TokenCQuote, Bytes: []byte(`"`)},
			})
			continue
		}
		toks := a.Expr().BuildTokens(nil)
		changed := false
		for _, t := range toks {
			if t.Type == hclsyntax.TokenQuotedLit || t.Type == hclsyntax.TokenStringLit {
				if r := redact.URLs(string(t.Bytes)); r != string(t.Bytes) {
					t.Bytes, changed = []byte(r), true
				}
			}
		}
		if changed {
			body.SetAttributeRaw(name, toks)
		}
	}
	for _, b := range body.Blocks() {
		var inner func(string) bool
		switch labels := b.Labels(); {
		case b.Type() == "provider" && len(labels) > 0:
			if t, ok := providers.Lookup(labels[0]); ok {
				inner = t.IsSensitive
			}
		case sensitiveBlockSettings[b.Type()] != nil:
			names := sensitiveBlockSettings[b.Type()]
			inner = func(n string) bool { return names[n] }
		}
		maskBody(b.Body(), inner)
	}
}

// isEnvCall reports whether toks are exactly env("NAME").
func isEnvCall(toks hclwrite.Tokens) bool {
	var sig []hclsyntax.TokenType
	for _, t := range toks {
		if t.Type != hclsyntax.TokenNewline && t.Type != hclsyntax.TokenComment {
			sig = append(sig, t.Type)
		}
	}
	want := []hclsyntax.TokenType{hclsyntax.TokenIdent, hclsyntax.TokenOParen, hclsyntax.TokenOQuote, hclsyntax.TokenQuotedLit, hclsyntax.TokenCQuote, hclsyntax.TokenCParen}
	if len(sig) != len(want) || string(toks[0].Bytes) != "env" {
		return false
	}
	for i := range want {
		if sig[i] != want[i] {
			return false
		}
	}
	return true
}
