package state

import (
	"fmt"
	"time"

	"github.com/labbroker/broker/providers"
)

// SchemaVersion is the version of the JSON encoding of records written by
// this build. Backends store it beside the data and refuse a newer one.
//
// Fields added with omitempty and a meaning for their absence (Host's
// ConnectHost and Connection) do not change it: older records read as
// before, and older builds ignore the new keys, so a state shared by
// runners of both versions keeps working.
const SchemaVersion = 1

// Status is where a host is in its life.
type Status int

const (
	// StatusPending: the provider made the host; setup has not finished.
	StatusPending Status = iota
	// StatusReady: checked out and set up; usable.
	StatusReady
	// StatusFailed: checkout or setup failed; the host may be half made.
	StatusFailed
	// StatusTainted: marked for replacement by the next apply.
	StatusTainted
	// StatusReleasing: check-in has started.
	StatusReleasing
)

var statusNames = [...]string{"pending", "ready", "failed", "tainted", "releasing"}

func (s Status) String() string {
	if int(s) < len(statusNames) && s >= 0 {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// ParseStatus is the inverse of String.
func ParseStatus(s string) (Status, error) {
	for i, n := range statusNames {
		if n == s {
			return Status(i), nil
		}
	}
	return 0, fmt.Errorf("unknown host status %q", s)
}

// MarshalText encodes a status by name, so records read well.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a status name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Transport names how broker reaches a host to run commands. The
// providers report it, so the names are theirs; the stored values are the
// same strings.
const (
	TransportSSH        = providers.TransportSSH
	TransportDockerExec = providers.TransportDockerExec
	TransportNone       = providers.TransportNone // hosts that cannot be reached (sim)
)

// Lease is how long a host may be kept.
type Lease struct {
	// Expires is when the host should be checked in. Zero: no lease.
	Expires time.Time `json:"expires,omitzero"`
	// Duration is the lease the host was asked for (what Extend renews).
	Duration time.Duration `json:"duration,omitempty"`
	// Extended counts the extensions so far.
	Extended int `json:"extended,omitempty"`
}

// Remaining is the time left at now; negative once expired, zero without a lease.
func (l Lease) Remaining(now time.Time) time.Duration {
	if l.Expires.IsZero() {
		return 0
	}
	return l.Expires.Sub(now)
}

// Origin says who made a record and from where.
type Origin struct {
	User    string `json:"user,omitempty"`
	Machine string `json:"machine,omitempty"`
	// CI is the URL of the CI job, when broker ran in one.
	CI string `json:"ci,omitempty"`
	// Command is the broker command that made the record (apply, checkout…).
	Command string `json:"command,omitempty"`
}

// Host is broker's record of one host it checked out.
//
// Records are values: backends copy them in and out, and callers may keep
// and change what they were given.
type Host struct {
	// ID is a sortable unique id (NewID), assigned before the provider call.
	ID string `json:"id"`
	// Environment is the namespace the record lives in.
	Environment string `json:"environment"`
	// Address is the stable name inside the environment (host.web[0]);
	// empty for imperative checkouts.
	Address string `json:"address,omitempty"`

	// Provider is the canonical provider type (sim, docker, awx, static).
	Provider string `json:"provider"`
	// Instance is the provider instance's name.
	Instance string `json:"instance"`
	// ProviderID is the provider's own id (container id, VM name, job id).
	ProviderID string `json:"provider_id,omitempty"`

	// Name is the provider's name of the host (container name, VM name,
	// pool member as written).
	Name string `json:"name,omitempty"`
	// Hostname is the host's own name (a container's hostname, a machine's
	// FQDN): what references, listings and --list use. It need not resolve
	// from here: ConnectHost says where to dial.
	Hostname string `json:"hostname,omitempty"`
	// IP is the host's own address where the provider reports one (a
	// container's address on its network).
	IP string `json:"ip,omitempty"`
	// ConnectHost is the address broker dials to reach the host over SSH
	// when that is not the hostname: the engine's address of a container
	// reached through a published port (127.0.0.1 for a local engine).
	// Empty: Hostname, else IP (records written before the field existed
	// kept the connect address in Hostname, so they still work).
	ConnectHost string `json:"connect_host,omitempty"`
	// Port is the SSH port to dial at the connect address; 0: the ssh
	// settings' port, else 22.
	Port      int    `json:"port,omitempty"`
	User      string `json:"user,omitempty"`
	Transport string `json:"transport,omitempty"`
	// Connection is how the manifest's connection block said to reach the
	// host when it was applied, without its secrets: exec, ssh and cp use
	// it when no manifest is given.
	Connection *Connection `json:"connection,omitempty"`

	// Recipe is the arguments the host was made with: what duplicate and
	// replace reuse. Values are JSON-shaped (string, float64, bool, []any,
	// map[string]any). Never holds secrets.
	Recipe map[string]any `json:"recipe,omitempty"`
	// Nick is the nick the host was made from, if any.
	Nick string `json:"nick,omitempty"`
	// Facts are what the provider reported about the host.
	Facts map[string]any `json:"facts,omitempty"`
	// Labels are the user's labels (from the manifest or -l).
	Labels map[string]string `json:"labels,omitempty"`

	Lease  Lease  `json:"lease"`
	Status Status `json:"status"`
	// Reason says why the status is what it is (the error of a failed
	// setup, who tainted it).
	Reason string `json:"reason,omitempty"`
	Origin Origin `json:"origin"`

	// HostKey is the SSH host key pinned on first contact, in
	// authorized_keys format.
	HostKey string `json:"host_key,omitempty"`

	// DependsOn names the host blocks this host's setup, teardown or
	// connection refer to (a manifest's depends-on, recorded so that a
	// check-in without the manifest knows it): this host is checked in
	// before any host of those blocks.
	DependsOn []string `json:"depends_on,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Connection is the non-secret part of a host's connection block as
// resolved at apply. A password is never recorded: PasswordFrom says where
// it came from, so that a command without the manifest can say what to give.
type Connection struct {
	User string `json:"user,omitempty"`
	Port int    `json:"port,omitempty"`
	// PrivateKeyFile and KnownHostsFile are absolute paths.
	PrivateKeyFile string        `json:"private_key_file,omitempty"`
	KnownHostsFile string        `json:"known_hosts_file,omitempty"`
	Agent          *bool         `json:"agent,omitempty"`
	Bastion        string        `json:"bastion,omitempty"`
	Timeout        time.Duration `json:"timeout,omitempty"`
	// PasswordFrom is set when the block gives a password: what its
	// expression reads (var.lab_password, env("NAME")), else "a literal".
	PasswordFrom string `json:"password_from,omitempty"`
	// Manifest is the manifest file the block is in, as it was named.
	Manifest string `json:"manifest,omitempty"`
}

// ConnectAddress is the address to dial: ConnectHost, else Hostname, else IP.
func (h Host) ConnectAddress() string {
	for _, s := range []string{h.ConnectHost, h.Hostname, h.IP} {
		if s != "" {
			return s
		}
	}
	return ""
}

// Intent operations.
const (
	OpCreate  = "create"
	OpDestroy = "destroy"
)

// Intent is written before a provider call that creates or destroys
// something and removed when the record is final.
type Intent struct {
	// ID is unique (NewID). Providers label what they create with it
	// (label broker.intent) so that a later run can find it.
	ID          string `json:"id"`
	Environment string `json:"environment"`
	// Address is the host's address; empty for imperative checkouts.
	Address string `json:"address,omitempty"`
	// Op is OpCreate or OpDestroy.
	Op       string `json:"op"`
	Provider string `json:"provider"`
	Instance string `json:"instance"`
	// HostID is the id the record has or will have.
	HostID string `json:"host_id"`
	// Recipe is the checkout's arguments (for a create) .
	Recipe map[string]any `json:"recipe,omitempty"`
	// ProviderID is filled in when the provider reports it.
	ProviderID string `json:"provider_id,omitempty"`
	// Checkpoint is provider-specific progress (an AWX job id) recorded
	// during the call, so a resumed run can wait on the same job instead of
	// starting another.
	Checkpoint map[string]string `json:"checkpoint,omitempty"`
	Origin     Origin            `json:"origin"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
}

// Label names the host in messages and output prefixes: its address, else
// its hostname, name or id. The one naming rule of hosts.
func (h Host) Label() string {
	for _, s := range []string{h.Address, h.Hostname, h.Name, h.ID} {
		if s != "" {
			return s
		}
	}
	return "?"
}
