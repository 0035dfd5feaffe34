package docker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// The Python broker's container arguments and the engine create options it
// passed through (docker-py's names), mapped to the engine API here.

// decodeDerived reads the arguments that come in several shapes:
// environment (a map or "A=1,B=2", merged over env), command and
// entrypoint (a list, or a string split as a shell would), extra_hosts,
// tmpfs, labels and provider_labels.
func (a *args) decodeDerived() error {
	env, err := environmentMap(a.Environment)
	if err != nil {
		return err
	}
	if len(env) > 0 {
		if a.Env == nil {
			a.Env = map[string]string{}
		}
		maps.Copy(a.Env, env)
	}
	if a.Command, err = commandList("command", a.CommandArg); err != nil {
		return err
	}
	if a.Entrypoint, err = commandList("entrypoint", a.EntrypointArg); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"labels", a.Labels}, {"provider_labels", a.ProviderLabels}} {
		if _, err := stringMap(f.name, f.v); err != nil {
			return err
		}
	}
	if _, err := extraHosts(a.ExtraHosts); err != nil {
		return err
	}
	if _, err := tmpfsMap(a.Tmpfs); err != nil {
		return err
	}
	// Read into Env, Command and Entrypoint.
	a.Environment, a.CommandArg, a.EntrypointArg = nil, nil, nil
	return nil
}

// environmentMap reads the Python broker's environment: a map, or
// "A=1,B=2" (a value keeps further "=").
func environmentMap(v any) (map[string]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		out := map[string]string{}
		for _, kv := range strings.Split(x, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf(`argument environment: %q is not NAME=VALUE (write environment="A=1,B=2" or a map)`, kv)
			}
			out[k] = val
		}
		return out, nil
	}
	return stringMap("environment", v)
}

// stringMap reads a map whose values are scalars; null is "" (the Python
// broker's provider_labels {"l2": None} is label broker.l2="").
func stringMap(name string, v any) (map[string]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]string:
		return x, nil
	case map[string]any:
		out := make(map[string]string, len(x))
		for k, e := range x {
			switch ev := e.(type) {
			case nil:
				out[k] = ""
			case string:
				out[k] = ev
			case bool, float64, int, int64:
				out[k] = fmt.Sprint(ev)
			default:
				return nil, fmt.Errorf("argument %s: the value of %q is not a string", name, k)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("argument %s: want a map, got %T", name, v)
}

// commandList reads a command: a list of strings, or one string split as a
// shell would (docker-py splits a string command with shlex).
func commandList(name string, v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return shellSplit(name, x)
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			switch ev := e.(type) {
			case string:
				out = append(out, ev)
			case float64, bool:
				out = append(out, fmt.Sprint(ev))
			default:
				return nil, fmt.Errorf("argument %s: element %d is not a string", name, i)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("argument %s: want a list of strings or a string, got %T", name, v)
}

// shellSplit splits words as a POSIX shell does, with '…', "…" and
// backslash escapes; nothing is expanded.
func shellSplit(name, s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("argument %s: %q has an unterminated quote or escape", name, s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// extraHosts reads a map of host to IP, or a list of "host:ip".
func extraHosts(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' }), nil
	case []any:
		var out []string
		for i, e := range x {
			s, ok := e.(string)
			if !ok || !strings.Contains(s, ":") {
				return nil, fmt.Errorf("argument extra_hosts: element %d is not \"host:ip\"", i)
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		m, err := stringMap("extra_hosts", x)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, k+":"+m[k])
		}
		return out, nil
	}
	return nil, fmt.Errorf("argument extra_hosts: want a map of host to IP or a list of \"host:ip\", got %T", v)
}

// tmpfsMap reads a map of path to mount options, or a list of
// "/path[:options]".
func tmpfsMap(v any) (map[string]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, []any:
		var items []string
		if s, ok := x.(string); ok {
			items = strings.Fields(s)
		} else {
			for i, e := range x.([]any) {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("argument tmpfs: element %d is not a string", i)
				}
				items = append(items, s)
			}
		}
		out := map[string]string{}
		for _, it := range items {
			p, opts, _ := strings.Cut(it, ":")
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("argument tmpfs: %q: the path must be absolute", it)
			}
			out[p] = opts
		}
		return out, nil
	}
	return stringMap("tmpfs", v)
}

// containerLabels are the labels of a container: the labels argument as
// given, then the user's labels (-l k=v, the provider_labels argument) as
// broker.<key>, as the Python broker puts them, then broker's own labels,
// which nothing overrides.
func containerLabels(own map[string]string, a args) map[string]string {
	out := map[string]string{}
	given, _ := stringMap("labels", a.Labels)
	maps.Copy(out, given)
	pl, _ := stringMap("provider_labels", a.ProviderLabels)
	for k, v := range pl {
		out["broker."+strings.TrimPrefix(k, "broker.")] = v
	}
	for k, v := range own {
		if !strings.HasPrefix(k, "broker.") {
			out["broker."+k] = v
		}
	}
	for k, v := range own {
		if strings.HasPrefix(k, "broker.") {
			out[k] = v
		}
	}
	return out
}

// applyEngineOptions sets the engine create options of the arguments on
// cfg and hc.
func applyEngineOptions(cfg *container.Config, hc *container.HostConfig, a args) error {
	hc.CapAdd = a.CapAdd
	hc.CapDrop = a.CapDrop
	for _, s := range a.DNS {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("argument dns: %q is not an IP address", s)
		}
		hc.DNS = append(hc.DNS, ip)
	}
	hc.DNSSearch = a.DNSSearch
	hosts, err := extraHosts(a.ExtraHosts)
	if err != nil {
		return err
	}
	hc.ExtraHosts = hosts
	for _, d := range a.Devices {
		parts := strings.Split(d, ":")
		m := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		switch len(parts) {
		case 1:
		case 2:
			m.PathInContainer = parts[1]
		case 3:
			m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
		default:
			return fmt.Errorf("argument devices: %q is not /dev/host[:/dev/container[:rwm]]", d)
		}
		hc.Devices = append(hc.Devices, m)
	}
	hc.SecurityOpt = a.SecurityOpt
	hc.GroupAdd = a.GroupAdd
	hc.Sysctls = a.Sysctls
	if hc.Tmpfs, err = tmpfsMap(a.Tmpfs); err != nil {
		return err
	}
	if a.ShmSize != "" {
		n, err := units.RAMInBytes(a.ShmSize)
		if err != nil || n <= 0 {
			return fmt.Errorf("argument shm_size: %q is not a size such as 256m", a.ShmSize)
		}
		hc.ShmSize = n
	}
	if a.NetworkMode != "" {
		hc.NetworkMode = container.NetworkMode(a.NetworkMode)
	}
	hc.PidMode = container.PidMode(a.PidMode)
	hc.IpcMode = container.IpcMode(a.IpcMode)
	hc.UsernsMode = container.UsernsMode(a.UsernsMode)
	hc.Init = a.Init
	hc.ReadonlyRootfs = a.ReadOnly
	cfg.Domainname = a.Domainname
	cfg.StopSignal = a.StopSignal
	cfg.Tty = a.Tty
	cfg.OpenStdin = a.StdinOpen
	return nil
}
