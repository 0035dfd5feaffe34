package libvirttest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Guest is a bootable guest in a daemon's directory.
type Guest struct {
	// Kernel and Initrd are files for direct kernel boot; KernelArgs the
	// command line they need (the provider adds the SSH key).
	Kernel, Initrd, KernelArgs string
	// BaseImage is the name of a qcow2 volume in the daemon's pool, a
	// backing file for the provider's overlays.
	BaseImage string
	// KernelVersion is the kernel's release (uname -r in the guest).
	KernelVersion string
}

// Args are the libvirt provider's checkout arguments that boot the guest.
func (g Guest) Args() map[string]any {
	return map[string]any{
		"base_image":  g.BaseImage,
		"kernel":      g.Kernel,
		"initrd":      g.Initrd,
		"kernel_args": g.KernelArgs,
		"memory":      "256M",
		"vcpus":       1.0,
	}
}

// guestInit is the guest's /init. The key comes on the kernel command line
// as broker.authorized_keys=BASE64 (standard encoding).
const guestInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
echo "broker-guest: init"
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko; done
hostname broker-guest
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -q -n -t 20 -T 1 -s /etc/udhcpc.sh || echo "broker-guest: no DHCP lease"
mkdir -p /root/.ssh /etc/dropbear
chmod 700 /root /root/.ssh
for w in $(cat /proc/cmdline); do
  case "$w" in
  broker.authorized_keys=*) echo "${w#broker.authorized_keys=}" | base64 -d > /root/.ssh/authorized_keys ;;
  esac
done
chmod 600 /root/.ssh/authorized_keys
dropbear -R -E -p 22
echo "broker-guest: ready, uptime $(cut -d" " -f1 /proc/uptime) s"
while true; do sleep 3600; done
`

const udhcpcScript = `#!/bin/sh
case "$1" in
bound|renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/${mask:-24}" dev "$interface"
  [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
  echo "broker-guest: address $ip"
  ;;
esac
exit 0
`

// modules the guest's initramfs loads, in order, with what they need.
var guestModules = []string{"virtio_pci", "virtio_net", "virtio_blk", "virtio-rng"}

// findKernel returns the kernel to boot and its modules directory.
func findKernel(t testing.TB) (kernel, version string) {
	t.Helper()
	if k := os.Getenv("BROKER_TEST_KERNEL"); k != "" {
		v := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		return k, v
	}
	m, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Strings(m)
	for i := len(m) - 1; i >= 0; i-- {
		v := strings.TrimPrefix(filepath.Base(m[i]), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", v, "modules.dep")); err == nil {
			return m[i], v
		}
	}
	skip(t, "no guest kernel: no /boot/vmlinuz-* with its modules (Debian: apt-get install linux-image-cloud-amd64; test/deps.sh does)")
	return "", ""
}

// Guest builds the guest in the daemon's directory and its base image in
// the pool.
func (d *Daemon) Guest(t testing.TB) Guest {
	t.Helper()
	kernel, version := findKernel(t)
	busybox := "/bin/busybox"
	if !isExec(busybox) {
		skip(t, "no /bin/busybox (Debian: apt-get install busybox-static)")
	}
	dropbear := lookBin("dropbear")
	if dropbear == "" {
		skip(t, "no dropbear (Debian: apt-get install dropbear-bin)")
	}
	g := Guest{
		Kernel:        filepath.Join(d.Dir, "vmlinuz"),
		Initrd:        filepath.Join(d.Dir, "initrd.img"),
		KernelArgs:    "console=ttyS0 quiet panic=-1",
		BaseImage:     "base.qcow2",
		KernelVersion: version,
	}
	if err := copyFile(kernel, g.Kernel); err != nil {
		t.Fatalf("libvirttest: copy kernel: %v", err)
	}
	c := newCpio()
	for _, dir := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "lib", "lib/modules", "lib64", "lib/x86_64-linux-gnu", "var", "var/log", "etc/dropbear"} {
		c.dir(dir, 0o755)
	}
	c.file("init", []byte(guestInit), 0o755)
	c.file("etc/udhcpc.sh", []byte(udhcpcScript), 0o755)
	c.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	c.file("etc/group", []byte("root:x:0:\n"), 0o644)
	c.file("etc/shells", []byte("/bin/sh\n"), 0o644)
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	c.file("bin/busybox", bb, 0o755)
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("libvirttest: busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			c.symlink("bin/"+a, "busybox")
		}
	}
	// dropbear and its libraries; sftp-server where there is one.
	bins := []string{dropbear}
	if isExec("/usr/lib/openssh/sftp-server") {
		bins = append(bins, "/usr/lib/openssh/sftp-server")
	}
	seen := map[string]bool{}
	for _, b := range bins {
		libs, err := sharedLibs(b)
		if err != nil {
			t.Fatalf("libvirttest: %v", err)
		}
		for _, p := range append([]string{b}, libs...) {
			if seen[p] {
				continue
			}
			seen[p] = true
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(p, "/")
			c.mkdirs(filepath.Dir(rel))
			c.file(rel, raw, 0o755)
		}
	}
	// Modules, dependencies first.
	order, err := moduleOrder(version, guestModules)
	if err != nil {
		t.Fatalf("libvirttest: %v", err)
	}
	var names []string
	for _, m := range order {
		raw, err := os.ReadFile(filepath.Join("/lib/modules", version, m))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(m), ".ko")
		c.file("lib/modules/"+name+".ko", raw, 0o644)
		names = append(names, name)
	}
	c.file("etc/modules", []byte(strings.Join(names, "\n")+"\n"), 0o644)
	if err := os.WriteFile(g.Initrd, c.close(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The base image: a small empty qcow2 in the pool.
	base := filepath.Join(d.PoolDir, g.BaseImage)
	if out, err := exec.Command(lookBin("qemu-img"), "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("libvirttest: qemu-img create: %v: %s", err, out)
	}
	if err := chownTree(d.Dir); err != nil {
		t.Fatal(err)
	}
	l := d.Connect(t)
	p, err := l.StoragePoolLookupByName(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoragePoolRefresh(p, 0); err != nil {
		t.Fatal(err)
	}
	return g
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// sharedLibs lists the shared libraries bin loads (ldd), the loader too.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := lddLine.FindStringSubmatch(sc.Text()); m != nil {
			// The name the loader asks for; ReadFile follows links.
			libs = append(libs, m[1])
		}
	}
	return libs, nil
}

// moduleOrder returns the module files (relative to the modules directory)
// for mods and what they depend on, dependencies first.
func moduleOrder(version string, mods []string) ([]string, error) {
	f, err := os.Open(filepath.Join("/lib/modules", version, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[file] = strings.Fields(rest)
		byName[strings.TrimSuffix(filepath.Base(file), ".ko")] = file
	}
	var out []string
	var visit func(string)
	visit = func(file string) {
		if slices.Contains(out, file) {
			return
		}
		ds := deps[file]
		for i := len(ds) - 1; i >= 0; i-- {
			visit(ds[i])
		}
		out = append(out, file)
	}
	for _, m := range mods {
		file, ok := byName[m]
		if !ok {
			// Built in: nothing to load.
			continue
		}
		visit(file)
	}
	return out, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cpio writes a newc archive (the initramfs format).
type cpio struct {
	buf  bytes.Buffer
	ino  int
	dirs map[string]bool
}

func newCpio() *cpio { return &cpio{dirs: map[string]bool{}} }

func (c *cpio) entry(name string, mode uint32, data []byte) {
	c.ino++
	fmt.Fprintf(&c.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.buf.WriteString(name)
	c.buf.WriteByte(0)
	c.pad()
	c.buf.Write(data)
	c.pad()
}

func (c *cpio) pad() {
	for c.buf.Len()%4 != 0 {
		c.buf.WriteByte(0)
	}
}

func (c *cpio) dir(name string, perm uint32) {
	if c.dirs[name] {
		return
	}
	c.dirs[name] = true
	c.entry(name, 0o040000|perm, nil)
}

func (c *cpio) mkdirs(name string) {
	if name == "." || name == "" || c.dirs[name] {
		return
	}
	c.mkdirs(filepath.Dir(name))
	c.dir(name, 0o755)
}

func (c *cpio) file(name string, data []byte, perm uint32) {
	c.entry(name, 0o100000|perm, data)
}

func (c *cpio) symlink(name, target string) {
	c.entry(name, 0o120000|0o777, []byte(target))
}

func (c *cpio) close() []byte {
	c.entry("TRAILER!!!", 0, nil)
	return c.buf.Bytes()
}
