package manifest

import (
	"os"
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
	// CheckArgs, if set, checks a host's args (nick's and host's merged,
	// JSON-shaped) and returns one error per problem. An error with a
	// Field() string method names the argument it is about, so that the
	// diagnostic points at where that argument is written.
	CheckArgs func(args map[string]any) []error
	// InPlace names the arguments whose changes need no new host: a plan
	// records their new values instead of replacing the host.
	InPlace []string
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
	Actions   []*Action
	Outputs   []*Output

	// Files are the parsed files by name, for diagnostics' snippets.
	Files map[string]*hcl.File
	// Sources are the files' bytes by name (plan files embed them).
	Sources map[string][]byte

	// SSH, State: settings, or a manifest's own choice. Logging and
	// Inventory: settings mode only. Nil when the block is absent.
	SSH       *SSHSettings
	Logging   *LoggingSettings
	Inventory *InventorySettings
	State     *StateSettings

	// known are the providers and nicks handed in through Options, used
	// by lookups after the manifest's own.
	knownProviders []*Provider
	knownNicks     []*Nick
	// dir is the manifest's directory (file(), templatefile()); srcBase
	// prefixes relative file names (upload sources).
	dir, srcBase string
	// evalCtx is the context of var.*, local.* and functions that the
	// Resolve methods extend.
	evalCtx *hcl.EvalContext
	// schemas are the provider schemas the manifest was loaded with
	// (ResolveInstance converts and checks args with them).
	schemas SchemaSource
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
	// OverrideEnvars (override_envars = true, as in the Python broker):
	// the block's own settings win over BROKER_… environment overrides.
	OverrideEnvars bool
	// MaxConcurrency bounds concurrent calls to this instance; 0: no bound.
	MaxConcurrency int
	// MaxLease caps the leases of this instance's hosts; 0: DefaultMaxLease.
	// UnlimitedLease is max_lease = "none": any lease, and "none", are allowed.
	MaxLease       time.Duration
	UnlimitedLease bool
	// Settings is decoded with the type's Settings spec. Where a setting
	// reads an unset environment variable (Unset), it is unknown.
	Settings cty.Value
	// Unset are the environment variables the settings read with env()
	// (no default) that are not set: the instance cannot be made until
	// they are (UnsetErr), though everything else in the file works.
	Unset     []UnsetVar
	DeclRange hcl.Range
	TypeRange hcl.Range
	// Implicit is true for an instance broker made up: a manifest named a
	// bare type ("sim") that has no declared instance and needs no
	// settings, so an instance "default" with empty settings stands in.
	Implicit bool
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

	// args is the value Args came from, kept for merging with a host's;
	// argsExpr is its expression, for diagnostics about one argument.
	args     cty.Value
	argsExpr hcl.Expression
}

// Host is a host block: Count instances host.NAME[0..Count-1], or with
// for_each one instance per key, host.NAME["KEY"] (Count is then the
// number of keys).
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
	// LeaseNone is true for lease = "none" (Lease is then 0).
	LeaseNone bool
	// LeaseRange and RenewBeforeRange are the attributes' value ranges;
	// zero when the attribute is absent.
	LeaseRange, RenewBeforeRange hcl.Range
	Labels                       map[string]string
	// Args are the nick's args overlaid with the host's, JSON-shaped.
	Args       map[string]any
	Setup      *Setup
	Teardown   *Teardown
	Connection *Connection
	// DependsOn names the hosts (by block name) this one's setup,
	// teardown or connection refer to; their instances come first.
	DependsOn []string
	DeclRange hcl.Range

	// ForEach is true when the block has for_each: its instances are
	// named by key.
	ForEach bool
	// Instances are the block's instances in order (by index, or by
	// key). Each has its own args and labels, which differ from the
	// block's Args and Labels only where those use count.index or each.
	Instances []*Instance
	// InPlace names the provider's arguments whose changes need no new
	// host (ProviderSchema.InPlace).
	InPlace []string
	// Dynamic is true when args or labels refer to other hosts: they are
	// evaluated when those are known (Config.ResolveInstance), and until
	// then each instance's Unknown names what is left out.
	Dynamic bool

	nick             *Nick
	labelsAt, argsAt *hcl.Attribute
}

// Instance is one instance of a host block.
type Instance struct {
	// Index is count.index, or the key's place among the sorted keys.
	Index int
	// Key is the for_each key (each.key); empty with count.
	Key string
	// Each is each.value (for_each only; cty.NilVal otherwise).
	Each   cty.Value
	Args   map[string]any
	Labels map[string]string
	// Unknown names the args and labels known only once the hosts they
	// refer to are checked out ("args.KEY", "labels.KEY").
	Unknown []string
}

// WithKey returns the block and the index of its for_each instance key.
// For a key no longer in for_each (its host is being checked in) it is a
// copy of the block with one more instance, whose each.key is key and
// each.value unknown, so that teardown and connection expressions that
// read each.key still resolve.
func (h *Host) WithKey(key string) (*Host, int) {
	if in, ok := h.InstanceByKey(key); ok {
		return h, in.Index
	}
	c := *h
	c.Instances = append(append([]*Instance(nil), h.Instances...), &Instance{Index: len(h.Instances), Key: key, Each: cty.DynamicVal})
	return &c, len(h.Instances)
}

// InstanceByKey finds a for_each instance by key.
func (h *Host) InstanceByKey(key string) (*Instance, bool) {
	for _, in := range h.Instances {
		if h.ForEach && in.Key == key {
			return in, true
		}
	}
	return nil, false
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
	KnownHostsFile string
	Agent          *bool
	Bastion        string
	Timeout        time.Duration
	DeclRange      hcl.Range

	// Exprs keeps each attribute's expression; those that refer to
	// host.*, self or count are left out of the fields above and
	// evaluated per instance by Config.ResolveConnection.
	Exprs map[string]hcl.Expression
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
// host instance: hostname, ip, port, user, name, address, id, labels, facts;
// and key, a for_each instance's key (host.NAME is then an object by key).
type HostValues map[string]any

// Below: additions made by the manifest package's decoder (additive to the
// contract above).

// Settings-mode (and, for State and SSH, manifest-mode) blocks.
type (
	// SSHSettings is the ssh block: how broker reaches hosts by default.
	SSHSettings struct {
		User           string
		Port           int
		PrivateKeyFile string
		// PassphraseEnv names the environment variable holding the key's
		// passphrase; the passphrase itself never passes through here.
		PassphraseEnv  string
		Agent          *bool
		ConnectTimeout time.Duration
		Keepalive      time.Duration
		KnownHostsFile string
		Bastion        string
		IPv6           *bool
		DeclRange      hcl.Range
	}

	// LoggingSettings is the logging block.
	LoggingSettings struct {
		Level, File string
		DeclRange   hcl.Range
	}

	// InventorySettings is the inventory block: the fields `broker
	// inventory` shows.
	InventorySettings struct {
		Fields []string
		// ListVars is what `inventory --list` prints of each host, the
		// Python broker's inventory_list_vars ("hostname | name | ip").
		ListVars string
		// FieldsRange is the fields value's, for the caller's checks.
		FieldsRange hcl.Range
		DeclRange   hcl.Range
	}

	// StateSettings is the state block: where records live.
	StateSettings struct {
		// Backend is "bolt" (default) or "etcd".
		Backend   string
		Path      string
		Endpoints []string
		Prefix    string
		LockTTL   time.Duration
		Username  string
		// Password is sensitive: never print it.
		Password    string
		TLS         *TLSSettings
		DialTimeout time.Duration
		DeclRange   hcl.Range
	}

	// TLSSettings names PEM files for a TLS client.
	TLSSettings struct {
		CA, Cert, Key string
	}
)

// ResolvedUpload is an upload with its expressions evaluated for one
// instance.
type ResolvedUpload struct {
	// Source is a local path, made absolute or relative to the current
	// directory from the declaring file's directory.
	Source      string
	Destination string
	// Mode is the remote file's mode; 0: leave it to the transport.
	Mode os.FileMode
}

// ResolvedSetup is a setup block evaluated for one host instance.
type ResolvedSetup struct {
	Uploads   []ResolvedUpload
	Run       []string
	Script    string
	Timeout   time.Duration
	WaitFor   string
	OnFailure string
}

// ResolvedTeardown is a teardown block evaluated for one host instance.
type ResolvedTeardown struct {
	Run     []string
	Timeout time.Duration
}
