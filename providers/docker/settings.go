package docker

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

// Pull policies.
const (
	pullMissing = "missing" // pull when the image is not present (default)
	pullNever   = "never"   // never pull
	pullAlways  = "always"  // pull before every checkout
)

// settingsSchema declares the provider block.
var settingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "host", Type: schema.String, Doc: "engine address (unix://, tcp://, ssh://); default DOCKER_HOST, else the engine's local socket"},
		{Name: "engine", Type: schema.String, Doc: "which engine's local socket to use when host is not set", Checks: []schema.Check{engineCheck}},
		{Name: "tls_ca", Type: schema.String, Doc: "CA file for a tcp:// engine"},
		{Name: "tls_cert", Type: schema.String, Doc: "client certificate file for a tcp:// engine (with tls_key)"},
		{Name: "tls_key", Type: schema.String, Doc: "client key file for a tcp:// engine (with tls_cert)"},
		{Name: "name_prefix", Type: schema.String, Doc: "prefix of container names; default your user name"},
		{Name: "network", Type: schema.String, Doc: "network every host is attached to unless its args name one"},
		{Name: "auto_map_ports", Type: schema.Bool, Default: "false", Doc: "publish every port an image exposes"},
		{Name: "publish_address", Type: schema.String, Doc: "host address ports are published on; default 127.0.0.1 on a local engine"},
		{Name: "timeout", Type: schema.Duration, Default: "2m", Doc: "how long one engine call may take", Checks: []schema.Check{schema.Positive()}},
		{Name: "pull", Type: schema.String, Default: pullMissing, Doc: "when to pull an image", Checks: []schema.Check{schema.OneOf(pullMissing, pullNever, pullAlways)}},
		{Name: "authorized_keys", Type: schema.String, Doc: "public keys allowed to log in to sshd images; default broker's own key"},
		{Name: "ssh_public_key_file", Type: schema.String, Doc: "file of public keys added to authorized_keys"},
	},
	Check: func(v schema.Values) error {
		if (v.String("tls_cert") == "") != (v.String("tls_key") == "") {
			return fmt.Errorf("settings tls_cert and tls_key go together")
		}
		return nil
	},
}

// argsSchema declares the checkout arguments (execute takes a subset).
// Beside broker's own names it takes the Python broker's (container_host,
// container_app, environment, name, provider_labels) and the Docker SDK's
// create options it passed through, mapped to the engine API (engine
// options below "Python's engine options"). Any other name is refused,
// naming it.
var argsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "image", Type: schema.String, Required: true, Aliases: []string{"container_host", "container_app"}, Doc: "image to run"},
		{Name: "ports", Type: schema.StringList, Split: true, Doc: `container ports to publish: "22" (a free host port), "22:2222" (container:host), "53/udp", "22/tcp:2222", "127.0.0.1:22:2222"`},
		{Name: "auto_map_ports", Type: schema.Bool, Aliases: []string{"publish_all_ports"}, Doc: "publish every port the image exposes; default the setting"},
		{Name: "env", Type: schema.StringMap, Doc: "environment"},
		{Name: "environment", Type: schema.Any, Doc: `environment as the Python broker takes it: a map, or "A=1,B=2" (merged over env)`},
		{Name: "network", Type: schema.String, Doc: "network to attach; created if missing and removed with its last host"},
		{Name: "command", Type: schema.Any, Doc: `command overriding the image's: a list, or a string split as a shell would ("ls -la /")`},
		{Name: "entrypoint", Type: schema.Any, Doc: "entrypoint overriding the image's: a list or a string"},
		{Name: "privileged", Type: schema.Bool, Default: "false", Doc: "run privileged"},
		{Name: "volumes", Type: schema.StringList, Split: true, Doc: `"/path" (anonymous, removed with the host), "name:/path", "/host/dir:/path:ro"`},
		{Name: "memory", Type: schema.String, Aliases: []string{"mem_limit"}, Doc: `memory limit ("512m", "2g")`},
		{Name: "cpus", Type: schema.Number, Doc: "CPU limit (1.5)", Checks: []schema.Check{schema.Positive()}},
		{Name: "hostname", Type: schema.String, Doc: "container host name; default the container name"},
		{Name: "user", Type: schema.String, Doc: "user the container runs as"},
		{Name: "workdir", Type: schema.String, Aliases: []string{"working_dir"}, Doc: "working directory"},
		{Name: "authorized_keys", Type: schema.String, Doc: "public keys put in env BROKER_AUTHORIZED_KEYS for sshd images"},
		{Name: "pull", Type: schema.String, Doc: "when to pull the image; default the setting", Checks: []schema.Check{schema.OneOf(pullMissing, pullNever, pullAlways)}},
		{Name: "name", Type: schema.String, Doc: "container name (the Python broker's name); default <name_prefix>-<generated>"},
		{Name: "provider_labels", Type: schema.Any, Doc: "labels, a map: each key lands as container label broker.<key> (a null value as \"\")"},
		// Python's engine options (docker-py's create arguments).
		{Name: "labels", Type: schema.Any, Doc: "container labels, a map, set as given (broker's own broker.* labels win)"},
		{Name: "cap_add", Type: schema.StringList, Split: true, Doc: "capabilities to add (NET_ADMIN)"},
		{Name: "cap_drop", Type: schema.StringList, Split: true, Doc: "capabilities to drop"},
		{Name: "dns", Type: schema.StringList, Split: true, Doc: "DNS servers"},
		{Name: "dns_search", Type: schema.StringList, Split: true, Doc: "DNS search domains"},
		{Name: "extra_hosts", Type: schema.Any, Doc: `/etc/hosts entries: a map of host to IP, or a list of "host:ip"`},
		{Name: "devices", Type: schema.StringList, Split: true, Doc: `devices: "/dev/fuse", "/dev/x:/dev/y:rwm"`},
		{Name: "security_opt", Type: schema.StringList, Split: true, Doc: `security options ("label=disable")`},
		{Name: "group_add", Type: schema.StringList, Split: true, Doc: "additional groups"},
		{Name: "sysctls", Type: schema.StringMap, Doc: "kernel parameters"},
		{Name: "tmpfs", Type: schema.Any, Doc: `tmpfs mounts: a list of "/path[:options]" or a map of path to options`},
		{Name: "shm_size", Type: schema.String, Doc: `size of /dev/shm ("256m")`},
		{Name: "domainname", Type: schema.String, Doc: "domain name"},
		{Name: "network_mode", Type: schema.String, Doc: `network mode ("host", "none", "container:NAME"); not created or removed`},
		{Name: "pid_mode", Type: schema.String, Doc: `PID namespace ("host")`},
		{Name: "ipc_mode", Type: schema.String, Doc: `IPC namespace ("host", "shareable")`},
		{Name: "userns_mode", Type: schema.String, Doc: `user namespace ("host")`},
		{Name: "stop_signal", Type: schema.String, Doc: "signal that stops the container"},
		{Name: "init", Type: schema.Bool, Doc: "run an init process"},
		{Name: "read_only", Type: schema.Bool, Doc: "read-only root filesystem"},
		{Name: "tty", Type: schema.Bool, Doc: "allocate a pseudo-terminal"},
		{Name: "stdin_open", Type: schema.Bool, Doc: "keep stdin open"},
	},
}

// engineCheck accepts docker and podman in any case.
var engineCheck = schema.Func("docker or podman", func(v any) error {
	if e, _ := v.(string); !strings.EqualFold(e, "docker") && !strings.EqualFold(e, "podman") {
		return fmt.Errorf("%q is not docker or podman", e)
	}
	return nil
})

// settings is the decoded provider block.
type settings struct {
	Host           string        `schema:"host"`
	Engine         string        `schema:"engine"`
	TLSCA          string        `schema:"tls_ca"`
	TLSCert        string        `schema:"tls_cert"`
	TLSKey         string        `schema:"tls_key"`
	NamePrefix     string        `schema:"name_prefix"`
	Network        string        `schema:"network"`
	AutoMapPorts   bool          `schema:"auto_map_ports"`
	PublishAddress string        `schema:"publish_address"`
	publishSet     bool          //
	Timeout        time.Duration `schema:"timeout"`
	Pull           string        `schema:"pull"`
	AuthorizedKeys string        `schema:"authorized_keys"`
	SSHKeyFile     string        `schema:"ssh_public_key_file"`
}

func decodeSettings(v cty.Value) (settings, error) {
	var s settings
	if err := settingsSchema.DecodeSettings(v, &s); err != nil {
		return s, err
	}
	s.publishSet = s.PublishAddress != ""
	s.Engine = strings.ToLower(s.Engine)
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
	Image          string            `schema:"image"`
	Ports          []string          `schema:"ports"`
	Env            map[string]string `schema:"env"`
	Environment    any               `schema:"environment"`
	Network        string            `schema:"network"`
	CommandArg     any               `schema:"command"`
	EntrypointArg  any               `schema:"entrypoint"`
	Command        []string          // from CommandArg
	Entrypoint     []string          // from EntrypointArg
	Name           string            `schema:"name"`
	ProviderLabels any               `schema:"provider_labels"`
	// Python's engine options.
	Labels         any               `schema:"labels"`
	CapAdd         []string          `schema:"cap_add"`
	CapDrop        []string          `schema:"cap_drop"`
	DNS            []string          `schema:"dns"`
	DNSSearch      []string          `schema:"dns_search"`
	ExtraHosts     any               `schema:"extra_hosts"`
	Devices        []string          `schema:"devices"`
	SecurityOpt    []string          `schema:"security_opt"`
	GroupAdd       []string          `schema:"group_add"`
	Sysctls        map[string]string `schema:"sysctls"`
	Tmpfs          any               `schema:"tmpfs"`
	ShmSize        string            `schema:"shm_size"`
	Domainname     string            `schema:"domainname"`
	NetworkMode    string            `schema:"network_mode"`
	PidMode        string            `schema:"pid_mode"`
	IpcMode        string            `schema:"ipc_mode"`
	UsernsMode     string            `schema:"userns_mode"`
	StopSignal     string            `schema:"stop_signal"`
	Init           *bool             `schema:"init"`
	ReadOnly       bool              `schema:"read_only"`
	Tty            bool              `schema:"tty"`
	StdinOpen      bool              `schema:"stdin_open"`
	Privileged     bool              `schema:"privileged"`
	Volumes        []string          `schema:"volumes"`
	Memory         string            `schema:"memory"`
	CPUs           float64           `schema:"cpus"`
	Hostname       string            `schema:"hostname"`
	AutoMapPorts   *bool             `schema:"auto_map_ports"`
	User           string            `schema:"user"`
	WorkDir        string            `schema:"workdir"`
	AuthorizedKeys string            `schema:"authorized_keys"`
	Pull           string            `schema:"pull"`
}

// decodeArgs reads JSON-shaped arguments, tolerating the shapes imperative
// command lines produce ("22 80" for a list, "2" for a number).
func decodeArgs(m map[string]any) (args, error) {
	var a args
	if err := argsSchema.DecodeArgs(m, &a); err != nil {
		return a, err
	}
	if err := a.decodeDerived(); err != nil {
		return a, err
	}
	return a, nil
}
