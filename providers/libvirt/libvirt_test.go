package libvirt_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/libvirt"
	"github.com/labbroker/broker/test/libvirttest"
)

// newProvider makes a provider for the test daemon, with a fresh key that
// may log in.
func newProvider(t testing.TB, d *libvirttest.Daemon, extra map[string]cty.Value) (*libvirt.Provider, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]cty.Value{
		"uri":             cty.StringVal(d.URI),
		"pool":            cty.StringVal(d.Pool),
		"network":         cty.StringVal("user"),
		"console_log_dir": cty.StringVal(d.ConsoleDir()),
		"timeout":         cty.StringVal("5m"),
		"name_prefix":     cty.StringVal("t"),
		"authorized_keys": cty.StringVal(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))),
	}
	for k, v := range extra {
		set[k] = v
	}
	typ, ok := providers.Lookup("libvirt")
	if !ok {
		t.Fatal("libvirt is not registered")
	}
	attrs := map[string]cty.Value{}
	for _, name := range typ.SettingsSchema.Names() {
		attrs[name] = cty.NullVal(cty.DynamicPseudoType)
	}
	for k, v := range set {
		attrs[k] = v
	}
	v := cty.ObjectVal(attrs)
	p, err := libvirt.New(context.Background(), providers.Config{Type: "libvirt", Instance: "lv", Settings: v, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, signer
}

// run runs cmd on the host over SSH and returns its output.
func run(t *testing.T, h providers.HostInfo, signer ssh.Signer, cmd string) string {
	t.Helper()
	c, err := ssh.Dial("tcp", net.JoinHostPort(h.Hostname, strconv.Itoa(h.Port)), &ssh.ClientConfig{
		User:            h.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh to %s:%d: %v", h.Hostname, h.Port, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("ssh %q: %v: %s", cmd, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLifecycle boots one guest and takes it through everything: checkout
// (checkpoint before the wait), SSH, sync, refresh, adoption by intent,
// check-in with its overlay, and a second check-in that finds it gone.
func TestLifecycle(t *testing.T) {
	d := libvirttest.Start(t)
	g := d.Guest(t)
	p, signer := newProvider(t, d, nil)
	ctx := context.Background()

	var mu sync.Mutex
	var checkpoints []providers.Checkpoint
	var lines []string
	labels := map[string]string{
		providers.LabelID:     "h1",
		providers.LabelIntent: "intent-1",
		providers.LabelUser:   "tester",
		providers.LabelState:  "st4te9xyz",
	}
	// With user data, a cloud-init seed goes with the host (the test guest
	// has no cloud-init: it reads the key from its command line).
	args := g.Args()
	args["user_data"] = "#cloud-config\npackages: [python3]\n"
	start := time.Now()
	resp, err := p.Checkout(ctx, providers.CheckoutRequest{
		Args:   args,
		Labels: labels,
		Name:   "web",
		Checkpoint: func(_ context.Context, cp providers.Checkpoint) error {
			mu.Lock()
			defer mu.Unlock()
			checkpoints = append(checkpoints, cp)
			return nil
		},
		Progress: func(s string) {
			mu.Lock()
			lines = append(lines, fmt.Sprintf("%5.1fs %s", time.Since(start).Seconds(), s))
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("checkout: %v\nprogress:\n%s", err, strings.Join(lines, "\n"))
	}
	t.Logf("boot to SSH: %s; the guest says: %s; progress:\n%s", time.Since(start).Round(100*time.Millisecond), readyLine(d), strings.Join(lines, "\n"))
	h := resp.Hosts[0]
	if h.Name != "t-web-st4te9" {
		t.Errorf("name = %q, want t-web-st4te9 (prefix, name, state)", h.Name)
	}
	if len(checkpoints) != 1 || checkpoints[0].ProviderID != h.ProviderID {
		t.Errorf("checkpoints = %v, want one with %s", checkpoints, h.ProviderID)
	}
	if h.Hostname != "127.0.0.1" || h.Port == 0 || h.Transport != providers.TransportSSH || h.User != "root" {
		t.Errorf("host = %+v, want SSH at 127.0.0.1", h)
	}
	if got := run(t, h, signer, "uname -r; cat /sys/block/vda/size; hostname"); got != g.KernelVersion+"\n131072\nbroker-guest" {
		t.Errorf("guest says %q, want its kernel, a 64 MiB vda (the overlay of the base image) and its host name", got)
	}
	vols := d.Volumes(t)
	if !slices.Contains(vols, h.Name+".qcow2") || !slices.Contains(vols, h.Name+"-seed.iso") {
		t.Errorf("volumes %v lack the overlay %s.qcow2 or the seed", vols, h.Name)
	}
	iso := filepath.Join(d.PoolDir, h.Name+"-seed.iso")
	if ud := isoFile(t, iso, "/user-data"); ud != "#cloud-config\npackages: [python3]\n" {
		t.Errorf("seed user-data = %q", ud)
	}
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if md := isoFile(t, iso, "/meta-data"); !strings.Contains(md, "instance-id: "+h.Name) || !strings.Contains(md, strconv.Quote(key)) {
		t.Errorf("seed meta-data lacks the instance id or the key:\n%s", md)
	}
	if lbl := isoLabel(t, iso); lbl != "cidata" {
		t.Errorf("seed volume label = %q, want cidata (NoCloud)", lbl)
	}
	// broker providers libvirt --images lists the pool.
	desc, err := p.Describe(ctx, providers.DescribeRequest{Listing: "images"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range desc.Items {
		names = append(names, it.Name)
	}
	if !slices.Contains(names, g.BaseImage) {
		t.Errorf("images listing = %v, want %s in it", names, g.BaseImage)
	}

	// Sync finds it by its labels; another user's view does not.
	s, err := p.Sync(ctx, providers.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hosts) != 1 || s.Hosts[0].ProviderID != h.ProviderID || s.Hosts[0].Labels[providers.LabelIntent] != "intent-1" || s.Hosts[0].Labels[providers.LabelState] != "st4te9xyz" {
		t.Fatalf("sync = %+v", s.Hosts)
	}
	if s, _ := p.Sync(ctx, providers.SyncRequest{User: "someone-else"}); len(s.Hosts) != 0 {
		t.Errorf("sync of another user = %+v", s.Hosts)
	}
	ref := providers.HostRef{ID: "h1", ProviderID: h.ProviderID, Name: h.Name, Facts: h.Facts}
	if r, _ := p.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{ref}}); r.Hosts["h1"] != providers.PresenceRunning {
		t.Errorf("refresh = %v, want running", r.Hosts)
	}

	// A killed apply comes back: the domain is adopted by its intent, not
	// made again.
	again, err := p.Checkout(ctx, providers.CheckoutRequest{Args: g.Args(), Labels: labels, Name: "web", Resume: &providers.Resume{IntentID: "intent-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Adopted || again.Hosts[0].ProviderID != h.ProviderID {
		t.Errorf("resume = %+v, want the same domain adopted", again)
	}
	if doms := d.Domains(t); len(doms) != 1 {
		t.Errorf("domains after resume = %v, want one", doms)
	}

	// Check-in removes the domain and its overlay.
	if r, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref}); err != nil || r.Gone {
		t.Fatalf("checkin = %+v, %v", r, err)
	}
	if doms := d.Domains(t); len(doms) != 0 {
		t.Errorf("domains after check-in = %v", doms)
	}
	if vols := d.Volumes(t); !slices.Equal(vols, []string{g.BaseImage}) {
		t.Errorf("volumes after check-in = %v, want only the base image (overlay and seed gone)", vols)
	}
	if r, _ := p.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{ref}}); r.Hosts["h1"] != providers.PresenceGone {
		t.Errorf("refresh = %v, want gone", r.Hosts)
	}
	if r, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref}); err != nil || !r.Gone {
		t.Errorf("second checkin = %+v, %v; want gone", r, err)
	}
}

// TestFailedCheckoutLeavesNothing: a domain that cannot start (its kernel
// is missing) is reported with libvirt's reason, and neither it nor its
// overlay stays.
func TestFailedCheckoutLeavesNothing(t *testing.T) {
	d := libvirttest.Start(t)
	g := d.Guest(t)
	p, _ := newProvider(t, d, nil)
	a := g.Args()
	a["kernel"] = d.Dir + "/no-such-kernel"
	_, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: a, Name: "bad", Labels: map[string]string{providers.LabelID: "b"}})
	if err == nil || !strings.Contains(err.Error(), "start domain t-bad") {
		t.Fatalf("checkout = %v, want a start error naming the domain", err)
	}
	if doms := d.Domains(t); len(doms) != 0 {
		t.Errorf("domains = %v, want none", doms)
	}
	if vols := d.Volumes(t); !slices.Equal(vols, []string{g.BaseImage}) {
		t.Errorf("volumes = %v, want only the base image", vols)
	}
	// Volumes a checkout killed before defining its domain left are
	// removed by the next checkout of the same name, which goes on.
	l := d.Connect(t)
	pool, err := l.StoragePoolLookupByName(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.StorageVolCreateXML(pool, "<volume><name>t-left.qcow2</name><capacity>1048576</capacity><target><format type='qcow2'/></target></volume>", 0); err != nil {
		t.Fatal(err)
	}
	a = g.Args()
	a["kernel"] = d.Dir + "/no-such-kernel"
	_, err = p.Checkout(context.Background(), providers.CheckoutRequest{Args: a, Name: "left"})
	if err == nil || !strings.Contains(err.Error(), "start domain t-left") {
		t.Fatalf("checkout over a leftover volume = %v, want it to get as far as starting", err)
	}
	if vols := d.Volumes(t); !slices.Equal(vols, []string{g.BaseImage}) {
		t.Errorf("volumes = %v, want only the base image", vols)
	}
	// A domain of the same name is not broker's to take or remove.
	if _, err := l.DomainDefineXML("<domain type='qemu'><name>t-dup</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"); err != nil {
		t.Fatal(err)
	}
	_, err = p.Checkout(context.Background(), providers.CheckoutRequest{Args: g.Args(), Name: "dup"})
	if err == nil || !strings.Contains(err.Error(), "a domain named t-dup exists already") {
		t.Errorf("checkout onto an existing name = %v", err)
	}
	if doms := d.Domains(t); !slices.Equal(doms, []string{"t-dup"}) {
		t.Errorf("domains = %v, want t-dup left alone", doms)
	}

	// A base image the pool lacks is named, with where to look.
	a = g.Args()
	a["base_image"] = "nope.qcow2"
	if _, err := p.Checkout(context.Background(), providers.CheckoutRequest{Args: a, Name: "bad2"}); err == nil || !strings.Contains(err.Error(), `base image "nope.qcow2" is not a volume of pool broker-test`) {
		t.Errorf("checkout with a missing base image = %v", err)
	}
}

// isoFile reads a file of an ISO 9660 image with isoinfo (genisoimage).
func isoFile(t *testing.T, iso, name string) string {
	t.Helper()
	out, err := exec.Command("isoinfo", "-R", "-i", iso, "-x", name).Output()
	if err != nil {
		t.Fatalf("isoinfo -x %s: %v", name, err)
	}
	return string(out)
}

func isoLabel(t *testing.T, iso string) string {
	t.Helper()
	out, err := exec.Command("isoinfo", "-d", "-i", iso).Output()
	if err != nil {
		t.Fatalf("isoinfo -d: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Volume id: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readyLine is the test guest's "ready" line from its console log, which
// tells how long the guest's own boot took.
func readyLine(d *libvirttest.Daemon) string {
	for _, f := range d.ConsoleLogs() {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "broker-guest: ready") {
				return strings.TrimSpace(l)
			}
		}
	}
	return "(no ready line)"
}
