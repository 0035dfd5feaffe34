package libvirt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/labbroker/broker/providers"
)

// Domain states (virDomainState).
const (
	stateRunning  = 1
	stateShutoff  = 5
	stateCrashed  = 6
	statePaused   = 3
	stateShutdown = 4
)

var stateNames = map[int32]string{0: "no state", 1: "running", 2: "blocked", 3: "paused", 4: "shutting down", 5: "shut off", 6: "crashed", 7: "suspended"}

// maxCmdline is what the x86 kernel takes of a command line, less room.
const maxCmdline = 2000

// Checkout defines and starts one domain on an overlay of the base image,
// waits for its address and SSH, and reports it. With req.Resume it adopts
// the domain an interrupted checkout made (found by its broker.intent
// label, or the checkpointed UUID) when it runs, and removes it when it
// does not. Whatever fails, nothing it made is left.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	a, err := decodeArgs(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	if a.BaseImage == "" {
		a.BaseImage = p.set.BaseImage
	}
	if a.BaseImage == "" && a.Kernel == "" {
		return providers.CheckoutResponse{}, errors.New("argument base_image is required (or the setting base_image, or a kernel to boot)")
	}
	if a.Initrd != "" && a.Kernel == "" {
		return providers.CheckoutResponse{}, errors.New("argument initrd needs kernel")
	}
	if a.Network == "" {
		a.Network = p.set.Network
	}
	if a.Network == NetworkUser && p.target.Remote {
		return providers.CheckoutResponse{}, fmt.Errorf("network %q forwards SSH from 127.0.0.1 of the libvirt host, which broker cannot reach over %s: use a libvirt network", NetworkUser, p.set.URI)
	}
	if a.User == "" {
		a.User = p.set.SSHUser
	}
	if a.AuthorizedKeys == "" {
		a.AuthorizedKeys = p.set.AuthorizedKeys
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	l, err := p.client(ctx)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	if req.Resume != nil {
		h, ok, err := p.resume(ctx, l, req, progress)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		if ok {
			return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}, Adopted: true}, nil
		}
	}
	name := p.domainName(req)
	m := newMeta(req.Labels)
	m.Labels = append(m.Labels, metaLabel{Key: LabelProvider, Value: "libvirt"}, metaLabel{Key: LabelInstance, Value: p.instance})
	m.Pool, m.User, m.Network = p.set.Pool, a.User, a.Network
	m.Created = time.Now().UTC().Format(time.RFC3339)
	dom, err := p.create(ctx, l, req, a, name, &m, progress)
	var h providers.HostInfo
	if err == nil {
		h, err = p.waitReady(ctx, l, dom, m, progress)
	}
	if err != nil {
		// Nothing half made stays: the domain if this checkout defined it,
		// and the volumes it made.
		cctx := context.WithoutCancel(ctx)
		rerr := p.removeVolumes(l, m.Volumes)
		if dom.Name != "" {
			rerr = p.remove(cctx, l, name, m.Volumes)
		}
		if rerr != nil {
			p.logger.Warn("remove failed domain", "domain", name, "err", rerr)
		}
		return providers.CheckoutResponse{}, err
	}
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}}, nil
}

// create makes the volumes and defines and starts the domain. m.Volumes
// lists what it made, even on error, for the caller to remove, and the
// domain it returns, named once defined, is the caller's to remove too.
func (p *Provider) create(ctx context.Context, l *golibvirt.Libvirt, req providers.CheckoutRequest, a args, name string, m *meta, progress func(string)) (golibvirt.Domain, error) {
	var dom golibvirt.Domain
	memory, err := parseSize(a.Memory)
	if err != nil {
		return dom, fmt.Errorf("argument memory: %w", err)
	}
	pool, err := l.StoragePoolLookupByName(p.set.Pool)
	if err != nil {
		if isNotFound(err) {
			return dom, fmt.Errorf("storage pool %q does not exist at %s\nhint: the setting pool names it; virsh -c %s pool-list --all lists them", p.set.Pool, p.set.URI, p.set.URI)
		}
		return dom, fmt.Errorf("storage pool %s: %w", p.set.Pool, err)
	}
	dtype, err := p.domainType(l)
	if err != nil {
		return dom, err
	}
	s := spec{Type: dtype, Name: name, MemoryMiB: memory >> 20, VCPUs: a.VCPUs, Kernel: a.Kernel, Initrd: a.Initrd, MAC: randomMAC()}
	if s.VCPUs <= 0 {
		s.VCPUs = 1
	}
	if a.Kernel != "" {
		s.Cmdline = strings.TrimSpace(a.KernelArgs)
		if a.AuthorizedKeys != "" {
			s.Cmdline = strings.TrimSpace(s.Cmdline + " " + keyArg(a.AuthorizedKeys))
		}
		if len(s.Cmdline) > maxCmdline {
			return dom, fmt.Errorf("kernel command line with the SSH keys is %d bytes, more than the kernel takes (%d): give fewer keys (argument authorized_keys)", len(s.Cmdline), maxCmdline)
		}
	}
	if p.set.ConsoleLogDir != "" {
		s.ConsoleLog = filepath.Join(p.set.ConsoleLogDir, name+".log")
	}

	// A domain of this name is another host's (names carry the host's
	// address and the state's identity); volumes of this name without one
	// are what a checkout killed before it defined its domain left.
	if _, err := l.DomainLookupByName(name); err == nil {
		return dom, fmt.Errorf("a domain named %s exists already at %s\nhint: `broker providers libvirt --domains` lists broker's domains; check the host in, or remove the domain (virsh destroy, undefine)", name, p.set.URI)
	} else if !isNotFound(err) {
		return dom, fmt.Errorf("look up domain %s: %w", name, err)
	}
	for _, v := range []string{name + ".qcow2", name + "-seed.iso"} {
		if vol, err := l.StorageVolLookupByName(pool, v); err == nil {
			progress(fmt.Sprintf("removing volume %s left by an interrupted checkout", v))
			if err := l.StorageVolDelete(vol, 0); err != nil && !isNotFound(err) {
				return dom, fmt.Errorf("remove leftover volume %s: %w", v, err)
			}
		}
	}

	// The overlay disk.
	progress(fmt.Sprintf("creating disk %s.qcow2 on %s", name, orNone(a.BaseImage)))
	disk, err := p.overlay(l, pool, name+".qcow2", a, m)
	if err != nil {
		return dom, err
	}
	s.Disk = disk
	if a.UserData != "" || a.Kernel == "" {
		progress(fmt.Sprintf("writing cloud-init seed %s-seed.iso", name))
		seed, err := p.seed(ctx, l, pool, name, a, m)
		if err != nil {
			return dom, err
		}
		s.Seed = seed
	}
	if a.Network == NetworkUser {
		port, err := freePort()
		if err != nil {
			return dom, err
		}
		s.SSHPort, m.SSHPort = port, port
	} else {
		if _, err := l.NetworkLookupByName(a.Network); err != nil {
			if isNotFound(err) {
				return dom, fmt.Errorf("network %q does not exist at %s\nhint: the setting or argument network names a libvirt network (virsh net-list --all), or \"user\" for user-mode networking", a.Network, p.set.URI)
			}
			return dom, fmt.Errorf("network %s: %w", a.Network, err)
		}
		s.Network = a.Network
	}
	s.Meta = *m
	dom, err = l.DomainDefineXML(s.xml())
	if err != nil {
		return golibvirt.Domain{}, fmt.Errorf("define domain %s: %w", name, err)
	}
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: uuidString(dom.UUID), Data: map[string]string{"domain": name}}); err != nil {
			return dom, fmt.Errorf("checkpoint: %w", err)
		}
	}
	progress(fmt.Sprintf("starting domain %s (%s, %d vCPU, %d MiB)", name, dtype, s.VCPUs, s.MemoryMiB))
	if err := l.DomainCreate(dom); err != nil {
		return dom, fmt.Errorf("start domain %s: %w", name, err)
	}
	return dom, nil
}

func orNone(s string) string {
	if s == "" {
		return "a blank disk"
	}
	return s
}

// overlay creates the host's disk: a qcow2 volume backed by the base image
// (or blank without one). Its name goes into m.Volumes once made.
func (p *Provider) overlay(l *golibvirt.Libvirt, pool golibvirt.StoragePool, volName string, a args, m *meta) (string, error) {
	var capacity uint64
	if a.DiskSize != "" {
		n, err := parseSize(a.DiskSize)
		if err != nil {
			return "", fmt.Errorf("argument disk_size: %w", err)
		}
		capacity = uint64(n)
	}
	backing, format := "", "qcow2"
	if a.BaseImage != "" {
		var base golibvirt.StorageVol
		var err error
		if strings.HasPrefix(a.BaseImage, "/") {
			base, err = l.StorageVolLookupByPath(a.BaseImage)
			if err != nil && !isNotFound(err) {
				return "", fmt.Errorf("base image %s: %w", a.BaseImage, err)
			}
			backing = a.BaseImage
		} else {
			base, err = l.StorageVolLookupByName(pool, a.BaseImage)
			if err != nil {
				if isNotFound(err) {
					return "", fmt.Errorf("base image %q is not a volume of pool %s\nhint: `broker providers libvirt --images` lists them; an absolute path names a file on the libvirt host", a.BaseImage, p.set.Pool)
				}
				return "", fmt.Errorf("base image %s: %w", a.BaseImage, err)
			}
		}
		if err == nil {
			if backing, err = l.StorageVolGetPath(base); err != nil {
				return "", fmt.Errorf("base image %s: %w", a.BaseImage, err)
			}
			if x, err := l.StorageVolGetXMLDesc(base, 0); err == nil {
				var v struct {
					Format struct {
						Type string `xml:"type,attr"`
					} `xml:"target>format"`
				}
				if xml.Unmarshal([]byte(x), &v) == nil && v.Format.Type != "" {
					format = v.Format.Type
				}
			}
			if _, c, _, err := l.StorageVolGetInfo(base); err == nil && c > capacity {
				capacity = c
			}
		} else if capacity == 0 {
			return "", fmt.Errorf("base image %s is in no storage pool, so its size is unknown: give disk_size", a.BaseImage)
		}
	}
	if capacity == 0 {
		capacity = 10 << 30
	}
	x := fmt.Sprintf("<volume><name>%s</name><capacity unit=\"bytes\">%d</capacity><target><format type=\"qcow2\"/></target>", esc(volName), capacity)
	if backing != "" {
		x += fmt.Sprintf("<backingStore><path>%s</path><format type=\"%s\"/></backingStore>", esc(backing), esc(format))
	}
	x += "</volume>"
	vol, err := l.StorageVolCreateXML(pool, x, 0)
	if err != nil {
		return "", fmt.Errorf("create disk %s in pool %s: %w", volName, p.set.Pool, err)
	}
	m.Volumes = append(m.Volumes, volName)
	path, err := l.StorageVolGetPath(vol)
	if err != nil {
		return "", fmt.Errorf("disk %s: %w", volName, err)
	}
	return path, nil
}

// seed writes a cloud-init NoCloud seed ISO (volume label cidata) with the
// user data and, in its meta-data, the SSH keys, and uploads it to the
// pool.
func (p *Provider) seed(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, name string, a args, m *meta) (string, error) {
	iso, err := seedISO(ctx, name, a.UserData, a.AuthorizedKeys)
	if err != nil {
		return "", err
	}
	volName := name + "-seed.iso"
	x := fmt.Sprintf("<volume><name>%s</name><capacity unit=\"bytes\">%d</capacity><target><format type=\"raw\"/></target></volume>", esc(volName), len(iso))
	vol, err := l.StorageVolCreateXML(pool, x, 0)
	if err != nil {
		return "", fmt.Errorf("create seed %s in pool %s: %w", volName, p.set.Pool, err)
	}
	m.Volumes = append(m.Volumes, volName)
	if err := l.StorageVolUpload(vol, bytes.NewReader(iso), 0, uint64(len(iso)), 0); err != nil {
		return "", fmt.Errorf("upload seed %s: %w", volName, err)
	}
	return l.StorageVolGetPath(vol)
}

// isoTools are the programs that can write the seed, with their leading
// arguments.
var isoTools = [][]string{{"genisoimage"}, {"mkisofs"}, {"xorriso", "-as", "mkisofs"}}

func seedISO(ctx context.Context, name, userData, keys string) ([]byte, error) {
	var tool []string
	for _, t := range isoTools {
		if p, err := exec.LookPath(t[0]); err == nil {
			tool = append([]string{p}, t[1:]...)
			break
		}
	}
	if tool == nil {
		return nil, errors.New("no genisoimage, mkisofs or xorriso to write the cloud-init seed with\nhint: install one (Debian: apt-get install genisoimage)")
	}
	dir, err := os.MkdirTemp("", "broker-seed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if userData == "" {
		// Let broker in as root, with the keys of the meta-data.
		userData = "#cloud-config\ndisable_root: false\n"
	}
	var md strings.Builder
	fmt.Fprintf(&md, "instance-id: %s\nlocal-hostname: %s\n", name, name)
	if ks := nonEmptyLines(keys); len(ks) > 0 {
		md.WriteString("public-keys:\n")
		for _, k := range ks {
			fmt.Fprintf(&md, "  - %s\n", strconv.Quote(k))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "user-data"), []byte(userData), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "meta-data"), []byte(md.String()), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "seed.iso")
	argv := append(tool[1:], "-quiet", "-output", out, "-volid", "cidata", "-joliet", "-rock", filepath.Join(dir, "user-data"), filepath.Join(dir, "meta-data"))
	if b, err := exec.CommandContext(ctx, tool[0], argv...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("write cloud-init seed with %s: %v: %s", filepath.Base(tool[0]), err, strings.TrimSpace(string(b)))
	}
	return os.ReadFile(out)
}

func nonEmptyLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// domainType is the setting, else kvm when the host offers it, else qemu.
func (p *Provider) domainType(l *golibvirt.Libvirt) (string, error) {
	if p.set.DomainType != "" {
		return p.set.DomainType, nil
	}
	caps, err := l.ConnectGetCapabilities()
	if err != nil {
		return "", fmt.Errorf("read the host's capabilities: %w", err)
	}
	var c struct {
		Guests []struct {
			Arch struct {
				Name    string `xml:"name,attr"`
				Domains []struct {
					Type string `xml:"type,attr"`
				} `xml:"domain"`
			} `xml:"arch"`
		} `xml:"guest"`
	}
	if err := xml.Unmarshal([]byte(caps), &c); err != nil {
		return "", fmt.Errorf("read the host's capabilities: %w", err)
	}
	found := false
	for _, g := range c.Guests {
		if g.Arch.Name != "x86_64" {
			continue
		}
		found = true
		for _, d := range g.Arch.Domains {
			if d.Type == "kvm" {
				return "kvm", nil
			}
		}
	}
	if !found {
		return "", fmt.Errorf("the libvirt host at %s runs no x86_64 guests\nhint: install QEMU there (Debian: qemu-system-x86)", p.set.URI)
	}
	return "qemu", nil
}

// stateSuffixLen is how much of the state's identity a domain name carries.
const stateSuffixLen = 6

// domainName is <name_prefix>-<req.Name or a random suffix>-<the first
// characters of the state's identity>, as docker names containers.
func (p *Provider) domainName(req providers.CheckoutRequest) string {
	n := sanitizeName(req.Name)
	if n == "" {
		n = randomHex(4)
	}
	if st := sanitizeName(req.Labels[providers.LabelState]); st != "" {
		n += "-" + st[:min(len(st), stateSuffixLen)]
	}
	return p.set.NamePrefix + "-" + n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomMAC is a locally administered address in QEMU's prefix.
func randomMAC() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func uuidString(u golibvirt.UUID) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func parseUUID(s string) (golibvirt.UUID, bool) {
	var u golibvirt.UUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(u) {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

// waitReady waits until the domain has an address and an SSH server sends
// its banner there, and describes it. A domain that stops meanwhile is an
// error naming its state, with the end of its console log where the
// provider can read it.
func (p *Provider) waitReady(ctx context.Context, l *golibvirt.Libvirt, dom golibvirt.Domain, m meta, progress func(string)) (providers.HostInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, p.set.Timeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	said := ""
	say := func(s string) {
		if s != said {
			progress(s)
			said = s
		}
	}
	for {
		st, _, err := l.DomainGetState(dom, 0)
		if err != nil {
			return providers.HostInfo{}, fmt.Errorf("domain %s: %w", dom.Name, err)
		}
		if st != stateRunning {
			return providers.HostInfo{}, fmt.Errorf("domain %s is %s: it stopped while broker waited for SSH%s", dom.Name, stateNames[st], p.consoleTail(dom.Name))
		}
		host, port := p.address(l, dom, m)
		if host == "" {
			say(fmt.Sprintf("waiting for the address of %s", dom.Name))
		} else {
			addr := net.JoinHostPort(host, strconv.Itoa(port))
			say(fmt.Sprintf("waiting for SSH on %s at %s", dom.Name, addr))
			if sshBanner(ctx, addr) {
				progress(fmt.Sprintf("%s answers SSH at %s after %s", dom.Name, addr, time.Since(start).Round(100*time.Millisecond)))
				return p.describe(l, dom)
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				what := "an address"
				if host != "" {
					what = "SSH at " + net.JoinHostPort(host, strconv.Itoa(port))
				}
				return providers.HostInfo{}, fmt.Errorf("domain %s: no %s within %s (setting timeout)%s", dom.Name, what, p.set.Timeout, p.consoleTail(dom.Name))
			}
			return providers.HostInfo{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// address is where the domain's SSH is reached: 127.0.0.1 and the
// forwarded port for user networking, else the first IPv4 address of its
// DHCP lease. Empty: none yet.
func (p *Provider) address(l *golibvirt.Libvirt, dom golibvirt.Domain, m meta) (string, int) {
	if m.SSHPort != 0 {
		return "127.0.0.1", m.SSHPort
	}
	ifaces, err := l.DomainInterfaceAddresses(dom, 0, 0) // source: DHCP leases
	if err != nil {
		return "", 0
	}
	for _, i := range ifaces {
		for _, a := range i.Addrs {
			if a.Type == 0 && a.Addr != "" { // IPv4
				return a.Addr, 22
			}
		}
	}
	return "", 0
}

// consoleTail is the end of a domain's console log, where it is local.
func (p *Provider) consoleTail(name string) string {
	if p.set.ConsoleLogDir == "" || p.target.Remote {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(p.set.ConsoleLogDir, name+".log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nconsole (last lines):\n  " + strings.Join(lines, "\n  ")
}

// sshBanner tells whether an SSH server sends its banner at addr: a TCP
// connect proves nothing, as QEMU's port forward accepts before the guest
// listens.
func sshBanner(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// describe reports a domain as a host.
func (p *Provider) describe(l *golibvirt.Libvirt, dom golibvirt.Domain) (providers.HostInfo, error) {
	x, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return providers.HostInfo{}, fmt.Errorf("domain %s: %w", dom.Name, err)
	}
	d, err := parseDomain(x)
	if err != nil {
		return providers.HostInfo{}, fmt.Errorf("domain %s: read its XML: %w", dom.Name, err)
	}
	st, _, _ := l.DomainGetState(dom, 0)
	return p.hostInfo(l, dom, d, st), nil
}

func (p *Provider) hostInfo(l *golibvirt.Libvirt, dom golibvirt.Domain, d domainXML, st int32) providers.HostInfo {
	h := providers.HostInfo{
		ProviderID: uuidString(dom.UUID),
		Name:       dom.Name,
		Hostname:   dom.Name,
		Transport:  providers.TransportSSH,
		User:       "root",
	}
	m := meta{}
	if d.Metadata.Host != nil {
		m = *d.Metadata.Host
	}
	h.Labels = m.labels()
	if t, err := time.Parse(time.RFC3339, m.Created); err == nil {
		h.Created = t
	}
	if m.User != "" {
		h.User = m.User
	}
	facts := map[string]any{
		"domain":     dom.Name,
		"state":      stateNames[st],
		"vcpus":      d.VCPU,
		"memory_mib": memMiB(d.Memory.Value, d.Memory.Unit),
		"pool":       m.Pool,
		"network":    m.Network,
		"uri":        p.set.URI,
	}
	var vols []any
	for _, v := range m.Volumes {
		vols = append(vols, v)
	}
	facts["volumes"] = vols
	if len(d.Devices.Interfaces) > 0 {
		facts["mac"] = d.Devices.Interfaces[0].MAC.Address
	}
	if st == stateRunning {
		if host, port := p.address(l, dom, m); host != "" {
			h.Hostname, h.Port = host, port
			if m.SSHPort == 0 {
				h.IP = host
			}
		}
	}
	if m.SSHPort != 0 {
		facts["ssh_port"] = m.SSHPort
	}
	h.Facts = facts
	return h
}

func memMiB(v int64, unit string) int64 {
	switch strings.ToLower(unit) {
	case "", "k", "kib":
		return v >> 10
	case "m", "mib":
		return v
	case "g", "gib":
		return v << 10
	case "b", "bytes":
		return v >> 20
	}
	return v
}
