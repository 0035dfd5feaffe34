package views

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/state"
)

// SSHConfig writes an ssh_config(5) Host entry per SSH host, so that
// `ssh -F FILE ALIAS` logs in as broker does: HostName and Port are the
// connect address, IdentityFile broker's key, and the host key is looked
// up under HostKeyAlias in broker's known-hosts file, strictly where the
// record pins it. Docker-exec hosts have no entry.
func SSHConfig(w io.Writer, eps []app.Endpoint) error {
	bw := bufio.NewWriter(w)
	for _, ep := range eps {
		if ep.Transport != state.TransportSSH {
			continue
		}
		line := func(k, v string) { bw.WriteString("  " + k + " " + v + "\n") }
		bw.WriteString("Host " + ep.Alias + "\n")
		line("HostName", ep.Address)
		line("Port", strconv.Itoa(ep.Port))
		if ep.User != "" {
			line("User", sshQuote(ep.User))
		}
		if ep.IdentityFile != "" {
			line("IdentityFile", sshQuote(ep.IdentityFile))
			if !ep.Agent {
				line("IdentitiesOnly", "yes")
			}
		}
		if ep.ProxyJump != "" {
			line("ProxyJump", ep.ProxyJump)
		}
		line("HostKeyAlias", ep.HostKeyAlias)
		line("UserKnownHostsFile", sshQuote(ep.KnownHostsFile))
		line("StrictHostKeyChecking", strictness(ep))
		line("HashKnownHosts", "no")
		bw.WriteString("\n")
	}
	return bw.Flush()
}

func strictness(ep app.Endpoint) string {
	if ep.Pinned {
		return "yes"
	}
	return "accept-new"
}

// sshQuote quotes a value ssh_config would split.
func sshQuote(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return `"` + strings.ReplaceAll(s, `"`, ``) + `"`
	}
	return s
}

// AnsibleInventory writes an Ansible YAML inventory, one entry per host
// under all.hosts: SSH hosts with ansible_host, ansible_port,
// ansible_user, ansible_ssh_private_key_file and the same host key
// handling as SSHConfig (through ansible_ssh_common_args); docker-exec
// hosts with ansible_connection docker.
func AnsibleInventory(w io.Writer, eps []app.Endpoint) error {
	hs := map[string]any{}
	for _, ep := range eps {
		v := map[string]any{}
		switch ep.Transport {
		case state.TransportSSH:
			v["ansible_host"] = ep.Address
			v["ansible_port"] = ep.Port
			if ep.User != "" {
				v["ansible_user"] = ep.User
			}
			if ep.IdentityFile != "" {
				v["ansible_ssh_private_key_file"] = ep.IdentityFile
			}
			args := []string{"-o HostKeyAlias=" + ep.HostKeyAlias,
				"-o UserKnownHostsFile=" + shellQuote(ep.KnownHostsFile),
				"-o StrictHostKeyChecking=" + strictness(ep)}
			if ep.IdentityFile != "" && !ep.Agent {
				args = append(args, "-o IdentitiesOnly=yes")
			}
			if ep.ProxyJump != "" {
				args = append(args, "-o ProxyJump="+ep.ProxyJump)
			}
			v["ansible_ssh_common_args"] = strings.Join(args, " ")
		case state.TransportDockerExec:
			v["ansible_connection"] = "docker"
			v["ansible_host"] = firstNonEmpty(ep.Container, ep.Host.Name)
		}
		if ep.Host.User != "" && ep.Transport == state.TransportDockerExec {
			v["ansible_user"] = ep.Host.User
		}
		hs[ep.Alias] = v
	}
	b, err := yaml.Marshal(map[string]any{"all": map[string]any{"hosts": hs}})
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// shellQuote quotes s for the shlex split Ansible applies to ssh args.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
