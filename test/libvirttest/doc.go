// Package libvirttest starts a private libvirt daemon for tests and builds a
// tiny bootable guest for it.
//
// Daemon: Start runs libvirtd from the Debian packages (libvirt-daemon,
// libvirt-daemon-driver-qemu) in session mode, as the unprivileged user
// nobody, with HOME and the XDG directories under a fresh directory, so that
// its socket, configuration, logs and domains are the test's own: no system
// service is used or touched, and no TCP port is opened. Its unix socket is
// reached with the URI qemu+unix:///session?socket=PATH (Daemon.URI). A
// transient directory storage pool (Daemon.Pool) lives in the same
// directory. The daemon and every domain it runs are stopped by the test's
// cleanup.
//
// Guest: Guest builds, in the daemon's directory, a direct-kernel-boot guest
// from what is on the machine: the kernel of /boot/vmlinuz-* (Debian
// package linux-image-cloud-amd64; BROKER_TEST_KERNEL names another) and an
// initramfs written here (newc cpio) holding busybox-static, dropbear
// (dropbear-bin) with the libraries it links, the virtio modules of the
// kernel, and an /init that brings up eth0 by DHCP and starts dropbear on
// port 22. The SSH key that may log in comes on the kernel command line as
// broker.authorized_keys=BASE64 (the libvirt provider puts it there for a
// direct-kernel-boot guest). A tiny empty qcow2 volume in the pool is the
// guest's base image, so that the provider's per-host overlay is exercised;
// the guest sees it as /dev/vda and reports its size.
//
// The guest runs under software emulation (TCG): the daemon runs as nobody,
// which cannot open /dev/kvm, so the tests need no KVM and behave the same
// in CI. Networking is libvirt user-mode networking with SSH forwarded from
// a port on 127.0.0.1 (the provider's network "user").
//
// A missing component (libvirtd, qemu-system-x86_64, qemu-img, a kernel,
// busybox, dropbear) skips the test, or fails it when CI=true.
package libvirttest
