package libvirt

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

// NetworkUser is the network setting or argument that asks for libvirt's
// user-mode networking, with the guest's SSH port forwarded from a free
// port on 127.0.0.1 of the libvirt host.
const NetworkUser = "user"

// settingsSchema declares the provider block.
var settingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "uri", Type: schema.String, Default: "qemu:///system", Checks: []schema.Check{uriCheck},
			Doc: "connection URI: qemu:///system, qemu:///session, qemu+ssh://[user@]host[:port]/system, qemu+unix:///system?socket=PATH"},
		{Name: "socket", Type: schema.String, Doc: "unix socket of the daemon, overriding the one the URI implies"},
		{Name: "pool", Type: schema.String, Default: "default", Doc: "storage pool that holds base images and where overlays and cloud-init seeds are made"},
		{Name: "network", Type: schema.String, Default: "default", Doc: `libvirt network hosts are attached to (address from its DHCP leases), or "user" for user-mode networking with SSH forwarded from 127.0.0.1`},
		{Name: "base_image", Type: schema.String, Doc: "default base image: a qcow2 volume of the pool, or an absolute path on the libvirt host"},
		{Name: "name_prefix", Type: schema.String, Doc: "prefix of domain names; default your user name"},
		{Name: "domain_type", Type: schema.String, Doc: "kvm or qemu (software emulation, TCG); default kvm when the host offers it", Checks: []schema.Check{schema.OneOf("kvm", "qemu")}},
		{Name: "timeout", Type: schema.Duration, Default: "10m", Doc: "how long a guest may take from start to answering SSH", Checks: []schema.Check{schema.Positive()}},
		{Name: "ssh_user", Type: schema.String, Default: "root", Doc: "user broker logs in as"},
		{Name: "authorized_keys", Type: schema.String, Doc: "public keys allowed to log in; default broker's own key"},
		{Name: "ssh_public_key_file", Type: schema.String, Doc: "file of public keys added to authorized_keys"},
		{Name: "console_log_dir", Type: schema.String, Doc: "directory on the libvirt host where each guest's serial console is logged (NAME.log); default none"},
	},
}

// argsSchema declares the checkout arguments.
var argsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "base_image", Type: schema.String, Doc: "qcow2 base image (volume of the pool or absolute path), the backing file of the host's overlay; default the setting"},
		{Name: "vcpus", Type: schema.Int, Default: "1", Doc: "virtual CPUs", Checks: []schema.Check{schema.Positive()}},
		{Name: "memory", Type: schema.String, Default: "1G", Doc: `memory ("512M", "2G")`, Checks: []schema.Check{sizeCheck}},
		{Name: "disk_size", Type: schema.String, Doc: `size of the overlay disk ("20G"); default the base image's size`, Checks: []schema.Check{sizeCheck}},
		{Name: "user_data", Type: schema.String, Doc: "cloud-init user data (NoCloud seed); broker's SSH key goes in the seed's meta-data public-keys"},
		{Name: "network", Type: schema.String, Doc: `libvirt network, or "user"; default the setting`},
		{Name: "kernel", Type: schema.String, Doc: "kernel on the libvirt host for direct kernel boot (with initrd, kernel_args)"},
		{Name: "initrd", Type: schema.String, Doc: "initramfs for direct kernel boot"},
		{Name: "kernel_args", Type: schema.String, Doc: "kernel command line for direct kernel boot; broker adds broker.authorized_keys=BASE64"},
		{Name: "authorized_keys", Type: schema.String, Doc: "public keys allowed to log in; default the setting"},
		{Name: "user", Type: schema.String, Doc: "user broker logs in as; default the setting ssh_user"},
	},
}

var uriCheck = schema.Func("a qemu connection URI", func(v any) error {
	s, _ := v.(string)
	_, err := parseURI(s)
	return err
})

var sizeCheck = schema.Func(`a size such as "512M" or "20G"`, func(v any) error {
	s, _ := v.(string)
	_, err := parseSize(s)
	return err
})

// parseSize reads "512M", "20G", "1024" (MiB when bare) into bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	if strings.Trim(s, "0123456789") == "" {
		s += "M"
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 512M or 20G", s)
	}
	return n, nil
}

// settings is the decoded provider block.
type settings struct {
	URI            string        `schema:"uri"`
	Socket         string        `schema:"socket"`
	Pool           string        `schema:"pool"`
	Network        string        `schema:"network"`
	BaseImage      string        `schema:"base_image"`
	NamePrefix     string        `schema:"name_prefix"`
	DomainType     string        `schema:"domain_type"`
	Timeout        time.Duration `schema:"timeout"`
	SSHUser        string        `schema:"ssh_user"`
	AuthorizedKeys string        `schema:"authorized_keys"`
	SSHKeyFile     string        `schema:"ssh_public_key_file"`
	ConsoleLogDir  string        `schema:"console_log_dir"`
}

func decodeSettings(v cty.Value) (settings, error) {
	var s settings
	if err := settingsSchema.DecodeSettings(v, &s); err != nil {
		return s, err
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
	BaseImage      string `schema:"base_image"`
	VCPUs          int    `schema:"vcpus"`
	Memory         string `schema:"memory"`
	DiskSize       string `schema:"disk_size"`
	UserData       string `schema:"user_data"`
	Network        string `schema:"network"`
	Kernel         string `schema:"kernel"`
	Initrd         string `schema:"initrd"`
	KernelArgs     string `schema:"kernel_args"`
	AuthorizedKeys string `schema:"authorized_keys"`
	User           string `schema:"user"`
}

func decodeArgs(m map[string]any) (args, error) {
	var a args
	err := argsSchema.DecodeArgs(m, &a)
	return a, err
}

// target is where a URI leads: the local socket to dial or the ssh
// destination, and the URI the daemon is asked to open.
type target struct {
	// Open is the URI without transport and host (qemu:///system).
	Open string
	// Socket is a local unix socket; empty for ssh.
	Socket string
	// SSH is the ssh destination ([user@]host) and SSHPort its port.
	SSH     string
	SSHPort string
	// Remote is true for qemu+ssh.
	Remote bool
	// KeyFile, KnownHosts, NoVerify and Netcat are libvirt's URI
	// parameters of the ssh transport (keyfile, known_hosts, no_verify=1,
	// netcat: the remote netcat that reaches socket).
	KeyFile, KnownHosts, Netcat string
	NoVerify                    bool
}

// parseURI reads a qemu connection URI.
func parseURI(s string) (target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("%q is not a URI: %v", s, err)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return target{}, fmt.Errorf("%q: only qemu connections are supported (qemu:///system, qemu:///session, qemu+ssh://host/system)", s)
	}
	path := u.Path
	if path != "/system" && path != "/session" {
		return target{}, fmt.Errorf("%q: the path is /system or /session", s)
	}
	t := target{Open: "qemu://" + path, Socket: u.Query().Get("socket")}
	switch transport {
	case "", "unix":
		if u.Host != "" && transport == "" {
			return target{}, fmt.Errorf("%q: a remote host needs a transport (qemu+ssh://%s%s)", s, u.Host, path)
		}
	case "ssh":
		if u.Hostname() == "" {
			return target{}, fmt.Errorf("%q: qemu+ssh needs a host", s)
		}
		t.Remote = true
		t.SSH = u.Hostname()
		if u.User != nil && u.User.Username() != "" {
			t.SSH = u.User.Username() + "@" + t.SSH
		}
		t.SSHPort = u.Port()
		q := u.Query()
		t.KeyFile, t.KnownHosts, t.NoVerify = q.Get("keyfile"), q.Get("known_hosts"), q.Get("no_verify") == "1"
		t.Netcat = q.Get("netcat")
	default:
		return target{}, fmt.Errorf("%q: transport %q is not supported (unix or ssh)", s, transport)
	}
	return t, nil
}
