package providers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/providers/schema"
)

// Labels broker puts on everything it creates, where the provider can carry
// labels (container labels, AWX extra vars). A later run, `inventory
// --sync` and `reap` find broker's resources by them.
const (
	LabelID          = "broker.id"
	LabelEnvironment = "broker.environment"
	LabelAddress     = "broker.address"
	LabelIntent      = "broker.intent"
	LabelOrigin      = "broker.origin"
	LabelUser        = "broker.user"
	LabelExpires     = "broker.lease.expires" // RFC 3339
	// LabelState is the identity of the state that made the resource
	// (state.Identifier): `reap` takes only its own state's resources for
	// orphans; another state's are foreign.
	LabelState = "broker.state"
)

// Transports: how broker reaches a host to run commands. The values are
// stored in state records as they are (state re-exports them).
const (
	TransportSSH        = "ssh"
	TransportDockerExec = "docker-exec"
	TransportNone       = "none" // hosts that cannot be reached (sim)
)

// ErrNotSupported is returned (wrapped) for an action a provider lacks.
var ErrNotSupported = errors.New("not supported by this provider")

// Provider is one configured provider instance.
type Provider interface {
	// Describe tells what the provider can do and which arguments its
	// actions take, for `broker providers`.
	Describe(ctx context.Context, req DescribeRequest) (DescribeResponse, error)
	// Checkout makes (or, with req.Resume, adopts) hosts.
	Checkout(ctx context.Context, req CheckoutRequest) (CheckoutResponse, error)
	// Checkin returns a host. A host the provider no longer knows is not an
	// error: the response says Gone.
	Checkin(ctx context.Context, req CheckinRequest) (CheckinResponse, error)
}

// HostRef is what a provider is told about a host it made before.
type HostRef struct {
	ID         string // broker's record id
	ProviderID string
	Name       string
	Hostname   string
	Recipe     map[string]any
	Facts      map[string]any
	Labels     map[string]string
}

// CheckoutRequest asks for hosts.
type CheckoutRequest struct {
	Environment string
	// Address is the host's address in the environment; empty for
	// imperative checkouts.
	Address string
	// Args are the provider arguments: JSON-shaped values (string,
	// float64, bool, []any, map[string]any), already merged from nick and
	// host and checked against the provider's Args type.
	Args map[string]any
	// Labels are to be put on what is created (broker.* and the user's).
	Labels map[string]string
	// Name is a suggested name for the resource; providers may ignore it.
	Name string
	// Lease is the lease asked for; zero means none.
	Lease time.Duration
	// Resume, when set, carries the intent of an interrupted checkout of
	// the same host: the provider looks for what it made then (by the
	// broker.intent label, or its checkpoint) and adopts it rather than
	// making another. Nothing found: make a new one.
	Resume *Resume
	// Checkpoint is called by the provider as soon as it has an id worth
	// remembering (an AWX job id, a container id); the caller writes it
	// into the intent before the provider goes on. May be nil.
	Checkpoint func(ctx context.Context, cp Checkpoint) error
	// Progress receives human progress lines ("pulling image 30%"). May be nil.
	Progress func(msg string)
}

// Resume is what an interrupted checkout left in its intent.
type Resume struct {
	IntentID   string
	ProviderID string
	Checkpoint map[string]string
}

// Checkpoint is provider progress worth remembering across a crash.
type Checkpoint struct {
	ProviderID string
	Data       map[string]string
}

// CheckoutResponse lists the hosts made; usually one, several where the
// provider makes several per call (an AWX workflow whose artifacts list
// several hosts).
type CheckoutResponse struct {
	Hosts []HostInfo
	// Adopted is true when the hosts came from req.Resume.
	Adopted bool
}

// HostInfo is what a provider reports about a host.
type HostInfo struct {
	ProviderID string
	Name       string
	// Hostname is the host's own name (a container's hostname).
	Hostname string
	// IP is the host's own address, where known.
	IP string
	// ConnectHost is the address to dial when it is not Hostname (a
	// container's published port on the engine's address); Port is the
	// SSH port there.
	ConnectHost string
	Port        int
	User        string
	// Transport is TransportSSH, TransportDockerExec or TransportNone.
	Transport string
	Facts     map[string]any
	// Recipe, if set, replaces the request's Args as the record's recipe
	// (providers that learn the full recipe from the service).
	Recipe map[string]any
	// Labels are the labels found on the resource (Sync).
	Labels map[string]string
	// Expires is the provider's own limit on the host's life; zero: none.
	Expires time.Time
	// Created is when the resource was made, where known.
	Created time.Time
}

// CheckinRequest returns a host.
type CheckinRequest struct {
	Environment string
	Host        HostRef
	// Resume, when set, carries what an interrupted check-in of the same
	// host recorded through Checkpoint: the provider waits on the release
	// it started then (an AWX job) rather than starting another.
	Resume *Resume
	// Checkpoint, as in CheckoutRequest: called once the provider has an
	// id worth remembering (the release job), written into the destroy
	// intent before the provider goes on. May be nil.
	Checkpoint func(ctx context.Context, cp Checkpoint) error
}

// CheckinResponse reports a check-in.
type CheckinResponse struct {
	// Gone is true when the provider had no such host any more.
	Gone bool
}

// DescribeRequest asks for a description, or for a listing such as
// "workflows", or for one item ("workflow" "remove-vm").
type DescribeRequest struct {
	Listing string
	Item    string
	Query   map[string]string
}

// DescribeResponse is free-form but structured enough for JSON output.
type DescribeResponse struct {
	Summary  string
	Actions  []Action
	Listings []string // the listings this provider offers (workflows, inventories…)
	Items    []Item   // a listing's items
	Detail   map[string]any
	// Settings document the type's settings; filled by `broker
	// providers` from the type's schema, not by providers.
	Settings []ArgHelp `json:",omitempty"`
	// Selected says the provider applied the request's results filter
	// and limit (SelectQuery) to Items; otherwise the caller does.
	Selected bool `json:"-"`
}

// Action is a thing a provider can do, with its arguments.
type Action struct {
	Name    string
	Summary string
	Args    []ArgHelp
}

// ArgHelp documents one argument.
type ArgHelp struct {
	Name        string
	Type        string
	Required    bool
	Default     string
	Description string
}

// Item is one entry of a listing.
type Item struct {
	Name        string
	Description string
	Detail      map[string]any
}

// Extender can extend a host's lease at the provider.
type Extender interface {
	Extend(ctx context.Context, req ExtendRequest) (ExtendResponse, error)
}

// ExtendRequest asks for more time.
type ExtendRequest struct {
	Environment string
	Host        HostRef
	Lease       time.Duration
	// NewExpireTime is the provider's own notation where it has one
	// (AWX "+172800"); empty: use Lease.
	NewExpireTime string
	// Session, if set, opens a session on the host as broker reaches it
	// (SSH with broker's keys), for providers that extend by running a
	// command on the host (Beaker's extendtesttime.sh). The session may be
	// pooled: do not close it.
	Session func(ctx context.Context) (remote.Session, error)
}

// ExtendResponse says until when.
type ExtendResponse struct {
	Expires time.Time
}

// Syncer lists the resources the provider holds for broker.
type Syncer interface {
	Sync(ctx context.Context, req SyncRequest) (SyncResponse, error)
}

// SyncRequest selects resources.
type SyncRequest struct {
	// User selects one user's resources; empty: the current user.
	User string
	// AllUsers lists every user's.
	AllUsers bool
	// Labels, if set, keeps only resources carrying all of these.
	Labels map[string]string
}

// SyncResponse lists resources.
type SyncResponse struct {
	Hosts []HostInfo
}

// Refresher tells, read-only, whether hosts still exist and run.
type Refresher interface {
	Refresh(ctx context.Context, req RefreshRequest) (RefreshResponse, error)
}

// RefreshRequest names hosts to look at.
type RefreshRequest struct {
	Hosts []HostRef
}

// Presence is what a refresh found.
type Presence int

const (
	PresenceUnknown Presence = iota // the provider could not tell
	PresenceRunning                 // there and running
	PresenceStopped                 // there, not running
	PresenceGone                    // not there
)

var presenceNames = [...]string{"unknown", "running", "stopped", "gone"}

func (p Presence) String() string {
	if p >= 0 && int(p) < len(presenceNames) {
		return presenceNames[p]
	}
	return "unknown"
}

// RefreshResponse maps HostRef.ID to presence.
type RefreshResponse struct {
	Hosts map[string]Presence
}

// Executor runs actions that make no host (`broker execute`).
type Executor interface {
	Execute(ctx context.Context, req ExecuteRequest) (ExecuteResponse, error)
}

// ExecuteRequest is an action with its arguments.
type ExecuteRequest struct {
	Args map[string]any
	// Command is a command line for providers that run one (docker).
	Command []string
	// Artifacts is "", "last" or "merge" (AWX).
	Artifacts string
	// Labels are the user's labels (-l k=v) for what the action makes:
	// AWX labels on the job, broker.<key> labels on a container.
	Labels map[string]string
	// Stdout and Stderr receive streamed output where the provider has it.
	Stdout, Stderr io.Writer
	Progress       func(msg string)
}

// ExecuteResponse carries the action's result.
type ExecuteResponse struct {
	// Result is JSON-shaped; printed by -o raw|yaml.
	Result any
	// Status is an exit status where the action has one.
	Status int
}

// Reservations is how a pool provider reserves members atomically;
// state.Store satisfies it.
type Reservations interface {
	Reserve(ctx context.Context, pool string, candidates []string, holder string) (string, error)
	Release(ctx context.Context, pool, member string) error
	Reservations(ctx context.Context, pool string) (map[string]string, error)
}

// Config is what a provider instance is made from.
type Config struct {
	// Type is the canonical type name; Instance the instance name.
	Type, Instance string
	// Alias is the type name as the user wrote it (podman, Container),
	// for providers whose defaults differ by the name they are called by.
	Alias string
	// Settings is the instance's settings, decoded with the type's
	// Settings spec (cty.NilVal when the type has none). Sensitive values
	// (tokens, passwords) are here and nowhere else.
	Settings cty.Value
	// Directory is broker's directory, for providers that keep files.
	Directory string
	// User is the local user name (default name prefixes, sync).
	User string
	// Reservations is the state's pool reservations.
	Reservations Reservations
	// AuthorizedKeys returns the public key (authorized_keys format)
	// broker logs in with, making broker's own key on first call;
	// providers that make hosts from images (docker) let it in by default,
	// so a new host is reachable with no set-up. A function, so that only
	// providers that need a key cause one to be made. May be nil.
	AuthorizedKeys func() string
	Logger         *slog.Logger
}

// Type is a provider type in the registry.
type Type struct {
	// Name is the canonical name (sim, docker, awx, static).
	Name string
	// Aliases are other names accepted in manifests and on the command
	// line (TestProvider, podman, Container, AnsibleTower).
	Aliases []string
	// Summary is one line for `broker providers`.
	Summary string
	// SettingsSchema declares the provider block's attributes, once:
	// types, defaults, docs and checks. Nil: the type has no settings.
	SettingsSchema *schema.Schema
	// ArgsSchema declares the checkout arguments. Nil or Open: the type
	// takes any arguments (they are the service's own, as AWX extra vars).
	ArgsSchema *schema.Schema

	// Settings, Args and Sensitive are derived by Register from the
	// schemas, for the manifest decoder; a provider does not set them.
	//
	// Settings is the provider block's hcldec spec; nil: none.
	Settings SettingsSpec
	// Args is the type that args must convert to: an object type with
	// optional attributes for providers with a fixed argument set, or
	// cty.DynamicPseudoType for providers that take anything.
	Args cty.Type
	// Sensitive names settings that must never be printed or stored.
	Sensitive []string
	// InPlace names the arguments whose changes need no new host
	// (schema.Field.InPlace).
	InPlace []string
	// New makes an instance.
	New func(ctx context.Context, cfg Config) (Provider, error)
}

// IsSensitive reports whether the setting name is one of t.Sensitive
// (without regard to case, as environment overrides name them). It is the
// one answer to "may this setting be shown?": config view, redaction of
// errors and reports, and config import ask it.
func (t *Type) IsSensitive(setting string) bool {
	for _, s := range t.Sensitive {
		if strings.EqualFold(s, setting) {
			return true
		}
	}
	return false
}

// SecretsOf returns the values of the sensitive settings in settings (an
// object decoded with t.Settings), for redaction.
func (t *Type) SecretsOf(settings cty.Value) []string {
	if settings == cty.NilVal || settings.IsNull() || !settings.IsKnown() || !settings.Type().IsObjectType() {
		return nil
	}
	var out []string
	for _, name := range t.Sensitive {
		if !settings.Type().HasAttribute(name) {
			continue
		}
		if v, _ := settings.GetAttr(name).Unmark(); !v.IsNull() && v.IsKnown() && v.Type() == cty.String {
			out = append(out, v.AsString())
		}
	}
	return out
}
