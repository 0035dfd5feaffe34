package manifest

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// ProviderSchema is what a provider type tells the decoder. The caller
// hands schemas in (manifest must not import providers).
type ProviderSchema struct {
	// Type is the canonical type name the alias resolves to.
	Type string
	// Settings is the provider block's body spec; nil: no settings.
	Settings hcldec.Spec
	// Args is what args must convert to (cty.DynamicPseudoType: anything).
	Args cty.Type
	// Sensitive names settings never to print or store.
	Sensitive []string
}

// SchemaSource finds a provider type's schema by name or alias.
type SchemaSource func(typeName string) (ProviderSchema, bool)

// Config is a decoded manifest (or settings file): every block with the
// range it was declared at.
type Config struct {
	// Environment is the environment = "…" attribute; empty if absent.
	Environment      string
	EnvironmentRange hcl.Range

	Variables []*Variable
	// Locals are evaluated values by name.
	Locals    map[string]cty.Value
	Providers []*Provider
	Nicks     []*Nick
	Hosts     []*Host
	Hooks     []*Hook

	// Files are the parsed files by name, for diagnostics' snippets.
	Files map[string]*hcl.File
	// Sources are the files' bytes by name (plan files embed them).
	Sources map[string][]byte
}

// Variable is a variable block.
type Variable struct {
	Name        string
	Type        cty.Type
	Default     cty.Value
	Description string
	Sensitive   bool
	// Value is the final value (default, file, env or --var).
	Value     cty.Value
	DeclRange hcl.Range
}

// Provider is a provider "TYPE" "INSTANCE" block.
type Provider struct {
	// Type is canonical; TypeName is as written (alias kept for messages).
	Type, TypeName string
	Instance       string
	Default        bool
	// MaxConcurrency bounds concurrent calls to this instance; 0: no bound.
	MaxConcurrency int
	// Settings is decoded with the type's Settings spec.
	Settings  cty.Value
	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Ref is "type.instance".
func (p *Provider) Ref() string { return p.Type + "." + p.Instance }

// Nick is a named recipe.
type Nick struct {
	Name string
	// Provider is the resolved "type.instance".
	Provider  string
	Args      map[string]any
	DeclRange hcl.Range
}

// Host is a host block: Count instances host.NAME[0..Count-1].
type Host struct {
	Name string
	Nick string
	// Provider is the resolved "type.instance"; ProviderType and Instance
	// are its parts.
	Provider     string
	ProviderType string
	Instance     string
	Count        int
	// Lease is the lease each instance is asked for; 0 means none given.
	Lease time.Duration
	// RenewBefore is how long before expiry `plan` proposes an extension;
	// 0 means the default (half the lease).
	RenewBefore time.Duration
	Labels      map[string]string
	// Args are the nick's args overlaid with the host's, JSON-shaped.
	Args       map[string]any
	Setup      *Setup
	Teardown   *Teardown
	Connection *Connection
	// DependsOn names the hosts (by block name) this one's setup,
	// teardown or connection refer to; their instances come first.
	DependsOn []string
	DeclRange hcl.Range
}

// Upload is an upload block inside setup.
type Upload struct {
	Source, Destination hcl.Expression
	Mode                string
	DeclRange           hcl.Range
}

// Setup is what runs on a host after checkout. Expressions may refer to
// other hosts (host.NAME[i].hostname), self and count.index, so they are
// kept unevaluated and resolved per instance by Config.ResolveSetup.
type Setup struct {
	Uploads   []*Upload
	Run       hcl.Expression // list of strings, or nil
	Script    hcl.Expression // string, or nil
	Timeout   time.Duration
	WaitFor   string // "ssh" (default when the host has a transport), "none"
	OnFailure string // "taint" (default) or "keep"
	DeclRange hcl.Range
}

// Teardown runs on a host before check-in.
type Teardown struct {
	Run       hcl.Expression
	Timeout   time.Duration
	DeclRange hcl.Range
}

// Connection overrides how a host is reached.
type Connection struct {
	User           string
	Port           int
	Password       string // sensitive
	PrivateKeyFile string
	Agent          *bool
	Bastion        string
	Timeout        time.Duration
	DeclRange      hcl.Range
}

// Hook runs commands at points of a host's life.
type Hook struct {
	Name string
	// On lists events: after_checkout, after_setup, before_checkin, on_failure.
	On []string
	// When is an expression in the filter language; empty: always.
	When      string
	WhenRange hcl.Range
	Run       hcl.Expression // on the host
	Local     hcl.Expression // on the runner
	DeclRange hcl.Range
}

// HostValues is what a setup, teardown or hook expression can read of a
// host instance: hostname, ip, port, user, name, address, id, labels, facts.
type HostValues map[string]any
