// Package libvirt is broker's provider for virtual machines on a libvirt
// host (QEMU, with KVM or software emulation). It registers the type
// "libvirt".
//
// A checkout makes one domain per host: a qcow2 overlay volume in the
// storage pool (setting pool) whose backing file is the base image
// (argument or setting base_image: a volume of the pool or an absolute
// path), a cloud-init NoCloud seed ISO beside it (user data as given, the
// SSH keys in its meta-data public-keys), and a domain named
// <name_prefix>-<name>-<state id prefix> as docker names containers. Broker's
// labels (broker.id, broker.intent, broker.state, broker.user…, plus
// broker.provider and broker.instance) go into the domain's <metadata> in
// the namespace MetadataNS, with the volumes made for it, so that sync,
// orphan reaping and a resumed checkout find the domain by them. The UUID
// is handed to the request's Checkpoint right after the domain is defined,
// before it starts. The domain type is kvm when the host offers it, else
// qemu (TCG), or the setting domain_type.
//
// Direct kernel boot: with the arguments kernel (and initrd, kernel_args)
// the domain boots that kernel; the seed is then made only when user_data
// is given, and the SSH keys also go on the kernel command line as
// broker.authorized_keys=BASE64 for guests without cloud-init (the test
// guest of package test/libvirttest reads them there).
//
// A host is ready when its domain runs, has an address and an SSH server
// sends its banner there. The address is the first IPv4 address of the
// domain's DHCP lease on its libvirt network (setting or argument network,
// default "default"); with network "user" the domain has QEMU's user-mode
// networking with the guest's port 22 forwarded from a free port on
// 127.0.0.1 of the libvirt host (a local connection only). A domain that
// stops while broker waits is an error naming its state, with the end of
// its console log when console_log_dir is set. Check-in destroys and
// undefines the domain and deletes its volumes; a domain already gone is
// reported Gone.
//
// Connections: the setting uri, qemu:///system or qemu:///session on this
// machine (virtqemud's socket where there is one, else libvirtd's),
// qemu+unix:///…?socket=PATH or the setting socket for a daemon on another
// socket (the tests' private daemon), and qemu+ssh://[user@]host[:port]/…
// through the ssh client, which runs virt-ssh-helper on that host (or, with
// ?socket=, nc -U on it) as libvirt's own client does; libvirt's URI
// parameters keyfile, known_hosts, no_verify=1 and netcat are honoured.
//
// Client: github.com/digitalocean/go-libvirt, which speaks libvirt's RPC
// protocol in pure Go. libvirt.org/go/libvirt binds the C library with cgo,
// which would make broker need libvirt's headers to build and libvirt's
// shared library to run, everywhere, for one provider; the RPC protocol is
// stable and go-libvirt generates its calls from libvirt's own protocol
// definition. The few elements of domain and volume XML the provider
// writes and reads are declared here (domain.go) rather than through
// libvirt.org/go/libvirtxml, which would be a large dependency for them.
//
// Settings and arguments are declared once, in settings.go (package
// providers/schema): the argument set is closed, so an unknown argument is
// refused at validate time and on the command line.
//
// Package libvirt must not import state or print: progress goes to the
// request's Progress function.
package libvirt
