package libvirt

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MetadataNS is the namespace of broker's element in a domain's
// <metadata>: the labels, and the volumes and port the domain owns.
const MetadataNS = "https://github.com/labbroker/broker/libvirt/1"

// meta is broker's element in a domain's metadata.
type meta struct {
	XMLName xml.Name    `xml:"https://github.com/labbroker/broker/libvirt/1 host"`
	Labels  []metaLabel `xml:"https://github.com/labbroker/broker/libvirt/1 label"`
	// Volumes are the pool's volumes made for the domain (overlay, seed),
	// removed with it.
	Volumes []string `xml:"https://github.com/labbroker/broker/libvirt/1 volume"`
	Pool    string   `xml:"pool,attr,omitempty"`
	// SSHPort is the port on 127.0.0.1 forwarded to the guest's port 22
	// (network "user"); zero otherwise.
	SSHPort int    `xml:"ssh_port,attr,omitempty"`
	User    string `xml:"user,attr,omitempty"`
	Network string `xml:"network,attr,omitempty"`
	// Created is when the domain was made (RFC 3339), for orphans' age.
	Created string `xml:"created,attr,omitempty"`
}

type metaLabel struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

func (m meta) labels() map[string]string {
	out := make(map[string]string, len(m.Labels))
	for _, l := range m.Labels {
		out[l.Key] = l.Value
	}
	return out
}

// marshal writes the element with the prefix "broker" (libvirt keeps
// metadata elements as written, and wants them namespaced).
func (m meta) marshal() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<broker:host xmlns:broker=%q", MetadataNS)
	if m.Pool != "" {
		fmt.Fprintf(&b, " pool=\"%s\"", esc(m.Pool))
	}
	if m.SSHPort != 0 {
		fmt.Fprintf(&b, " ssh_port=\"%d\"", m.SSHPort)
	}
	if m.User != "" {
		fmt.Fprintf(&b, " user=\"%s\"", esc(m.User))
	}
	if m.Network != "" {
		fmt.Fprintf(&b, " network=\"%s\"", esc(m.Network))
	}
	if m.Created != "" {
		fmt.Fprintf(&b, " created=\"%s\"", esc(m.Created))
	}
	b.WriteString(">")
	for _, l := range m.Labels {
		fmt.Fprintf(&b, "<broker:label key=\"%s\">%s</broker:label>", esc(l.Key), esc(l.Value))
	}
	for _, v := range m.Volumes {
		fmt.Fprintf(&b, "<broker:volume>%s</broker:volume>", esc(v))
	}
	b.WriteString("</broker:host>")
	return b.String()
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func newMeta(labels map[string]string) meta {
	m := meta{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		m.Labels = append(m.Labels, metaLabel{Key: k, Value: labels[k]})
	}
	return m
}

// domainXML is the part of a domain's description the provider reads.
type domainXML struct {
	Name     string `xml:"name"`
	UUID     string `xml:"uuid"`
	Metadata struct {
		Host *meta `xml:"https://github.com/labbroker/broker/libvirt/1 host"`
	} `xml:"metadata"`
	Memory struct {
		Value int64  `xml:",chardata"`
		Unit  string `xml:"unit,attr"`
	} `xml:"memory"`
	VCPU    int `xml:"vcpu"`
	Devices struct {
		Interfaces []struct {
			Type string `xml:"type,attr"`
			MAC  struct {
				Address string `xml:"address,attr"`
			} `xml:"mac"`
			Source struct {
				Network string `xml:"network,attr"`
			} `xml:"source"`
		} `xml:"interface"`
	} `xml:"devices"`
}

func parseDomain(s string) (domainXML, error) {
	var d domainXML
	err := xml.Unmarshal([]byte(s), &d)
	return d, err
}

// spec is what a domain is made of.
type spec struct {
	Type       string // kvm or qemu
	Name       string
	Meta       meta
	MemoryMiB  int64
	VCPUs      int
	Disk       string // overlay path
	Seed       string // cloud-init seed ISO path; empty: none
	Kernel     string
	Initrd     string
	Cmdline    string
	Network    string // libvirt network; empty with SSHPort for user networking
	MAC        string
	SSHPort    int
	ConsoleLog string // file on the libvirt host; empty: a pty
}

// xml writes the domain's XML.
func (s spec) xml() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	ns := ""
	if s.Network == "" {
		ns = ` xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"`
	}
	w("<domain type=\"%s\"%s>\n", esc(s.Type), ns)
	w("  <name>%s</name>\n", esc(s.Name))
	w("  <metadata>%s</metadata>\n", s.Meta.marshal())
	w("  <memory unit=\"MiB\">%d</memory>\n", s.MemoryMiB)
	w("  <vcpu>%d</vcpu>\n", s.VCPUs)
	w("  <os>\n    <type arch=\"x86_64\">hvm</type>\n")
	if s.Kernel != "" {
		w("    <kernel>%s</kernel>\n", esc(s.Kernel))
		if s.Initrd != "" {
			w("    <initrd>%s</initrd>\n", esc(s.Initrd))
		}
		w("    <cmdline>%s</cmdline>\n", esc(s.Cmdline))
	} else {
		w("    <boot dev=\"hd\"/>\n")
	}
	w("  </os>\n  <features><acpi/><apic/></features>\n")
	if s.Type == "kvm" {
		w("  <cpu mode=\"host-passthrough\"/>\n")
	}
	w("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n")
	w("  <devices>\n")
	w("    <disk type=\"file\" device=\"disk\"><driver name=\"qemu\" type=\"qcow2\"/><source file=\"%s\"/><target dev=\"vda\" bus=\"virtio\"/></disk>\n", esc(s.Disk))
	if s.Seed != "" {
		w("    <disk type=\"file\" device=\"cdrom\"><driver name=\"qemu\" type=\"raw\"/><source file=\"%s\"/><target dev=\"hdc\" bus=\"ide\"/><readonly/></disk>\n", esc(s.Seed))
	}
	if s.Network != "" {
		w("    <interface type=\"network\"><source network=\"%s\"/><mac address=\"%s\"/><model type=\"virtio\"/></interface>\n", esc(s.Network), s.MAC)
	}
	if s.ConsoleLog != "" {
		w("    <serial type=\"file\"><source path=\"%s\"/><target port=\"0\"/></serial>\n", esc(s.ConsoleLog))
	} else {
		w("    <serial type=\"pty\"><target port=\"0\"/></serial>\n")
	}
	// Entropy from the host: under emulation a guest's own pool fills
	// slowly, and sshd waits on it for its host keys.
	w("    <rng model=\"virtio\"><backend model=\"random\">/dev/urandom</backend></rng>\n")
	w("    <memballoon model=\"none\"/>\n")
	w("  </devices>\n")
	if s.Network == "" {
		// User-mode networking with a port forward: libvirt's own
		// <interface type="user"> forwards ports only with the passt
		// backend, which not every host has; QEMU's slirp does it on any.
		w("  <qemu:commandline>\n")
		w("    <qemu:arg value=\"-netdev\"/><qemu:arg value=\"user,id=brokernet0,hostfwd=tcp:127.0.0.1:%d-:22\"/>\n", s.SSHPort)
		w("    <qemu:arg value=\"-device\"/><qemu:arg value=\"virtio-net-pci,netdev=brokernet0,mac=%s,bus=pci.0,addr=0x1e\"/>\n", s.MAC)
		w("  </qemu:commandline>\n")
	}
	w("</domain>\n")
	return b.String()
}

// keyArg is the kernel command line word that carries SSH keys to a
// direct-kernel-boot guest: broker.authorized_keys=BASE64.
func keyArg(keys string) string {
	return "broker.authorized_keys=" + base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(keys)+"\n"))
}
