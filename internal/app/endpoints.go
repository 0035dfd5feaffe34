package app

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/labbroker/broker/state"
)

// Endpoint is how another program (OpenSSH, Ansible) reaches one host as
// broker does: what `inventory --format ssh-config|ansible` renders.
type Endpoint struct {
	Host state.Host
	// Alias is the host's name in the rendered file: its hostname, else
	// its name, else its id, the first that no other listed host shares,
	// with characters other programs read specially (":" is a port to
	// Ansible) replaced by "-".
	Alias string
	// Transport is state.TransportSSH or state.TransportDockerExec.
	Transport string
	// SSH: the address dialled, its port, the login and broker's key (or
	// the connection block's); Agent when the block lets the agent's keys
	// in too.
	Address      string
	Port         int
	User         string
	IdentityFile string
	Agent        bool
	// ProxyJump is the bastion as user@host:port, if any.
	ProxyJump string
	// HostKeyAlias names the host in KnownHostsFile (broker-ID): a
	// container's port on 127.0.0.1 is reused by the next container, so
	// keys are looked up by record, not by address.
	HostKeyAlias   string
	KnownHostsFile string
	// Pinned: the record holds the host key, written to KnownHostsFile, so
	// the key is checked strictly. Otherwise the first key seen is
	// accepted into KnownHostsFile (as broker itself trusts on first use).
	Pinned bool
	// Container is the container id of a docker-exec host.
	Container string
	// Err is why the host cannot be reached without its manifest (a
	// password broker does not record); the other fields are best effort.
	Err error
}

// KnownHostsFile is the known-hosts file broker writes for other programs:
// one line per host whose key is pinned in its record, under the alias
// broker-ID.
func (a *App) KnownHostsFile() string { return filepath.Join(a.Dir, "ssh", "known_hosts") }

// Endpoints works out how OpenSSH and Ansible reach hosts with broker's
// settings and each host's recorded connection block, and writes the
// pinned host keys of those reached over SSH into KnownHostsFile (keeping
// the lines of other hosts).
func (a *App) Endpoints(hosts []state.Host) ([]Endpoint, error) {
	aliases := endpointAliases(hosts)
	eps := make([]Endpoint, 0, len(hosts))
	pinned := map[string]string{}
	for i, h := range hosts {
		ep := Endpoint{Host: h, Alias: aliases[i], Transport: h.Transport}
		switch h.Transport {
		case state.TransportDockerExec:
			ep.Container = h.ProviderID
		case state.TransportSSH:
			cfg, err := a.SSHConfig(&h, SessionOptions{})
			if err != nil {
				ep.Err = err
				// Still say where it is; the caller warns.
				cfg, _ = a.SSHConfig(&state.Host{ConnectHost: h.ConnectAddress(), Port: h.Port, User: h.User}, SessionOptions{})
			}
			host, port, _ := net.SplitHostPort(cfg.Addr)
			ep.Address = host
			ep.Port, _ = strconv.Atoi(port)
			ep.User = cfg.User
			if len(cfg.Auth.PrivateKeyFiles) > 0 {
				ep.IdentityFile = cfg.Auth.PrivateKeyFiles[0]
			}
			ep.Agent = cfg.Auth.Agent
			if b := cfg.Bastion; b != nil {
				ep.ProxyJump = b.Addr
				if b.User != "" {
					ep.ProxyJump = b.User + "@" + b.Addr
				}
			}
			ep.HostKeyAlias = "broker-" + h.ID
			ep.KnownHostsFile = a.KnownHostsFile()
			if h.HostKey != "" {
				ep.Pinned = true
				pinned[ep.HostKeyAlias] = h.HostKey
			}
		default:
			continue
		}
		eps = append(eps, ep)
	}
	if len(pinned) > 0 {
		if err := writeKnownHosts(a.KnownHostsFile(), pinned); err != nil {
			return eps, fmt.Errorf("write %s: %w", a.KnownHostsFile(), err)
		}
	}
	return eps, nil
}

var aliasUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// endpointAliases names each host by the first of hostname, name and id
// that no other of hosts shares.
func endpointAliases(hosts []state.Host) []string {
	count := map[string]int{}
	for _, h := range hosts {
		for _, s := range uniqueCandidates(h) {
			count[s]++
		}
	}
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.ID
		for _, s := range uniqueCandidates(h) {
			if count[s] == 1 {
				out[i] = s
				break
			}
		}
		out[i] = aliasUnsafe.ReplaceAllString(out[i], "-")
	}
	return out
}

func uniqueCandidates(h state.Host) []string {
	var out []string
	for _, s := range []string{h.Hostname, h.Name} {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// writeKnownHosts sets the lines of the given aliases in file, keeping
// every other line, under an exclusive lock of the file.
func writeKnownHosts(file string, keys map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		first, _, _ := strings.Cut(line, " ")
		if _, ours := keys[first]; ours {
			continue
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, alias := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(&out, "%s %s\n", alias, strings.TrimSpace(keys[alias]))
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(out.Bytes(), 0)
	return err
}
