package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/labbroker/broker/test/libvirttest"
)

const libvirtLab = `
environment = "virt"
provider "libvirt" "local" {
  uri             = "%s"
  pool            = "%s"
  network         = "user"
  console_log_dir = "%s"
  name_prefix     = "cli"
}
host "vm" {
  provider = "libvirt.local"
  lease    = "1h"
  args = {
    base_image  = "%s"
    kernel      = "%s"
    initrd      = "%s"
    kernel_args = "%s"
    memory      = "256M"
  }
  setup { run = ["echo set-up > /tmp/marker"] }
}
`

// TestLibvirtApplyExecDestroy boots a real guest on a private libvirtd
// with `broker apply`, killed while it waits for the guest's SSH and run
// again (which adopts the domain rather than making another), runs a
// command on it with `broker exec` over SSH (broker's own key, put on the
// guest's kernel command line), and destroys it, leaving no domain and no
// volume but the base image.
func TestLibvirtApplyExecDestroy(t *testing.T) {
	d := libvirttest.Start(t)
	g := d.Guest(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(libvirtLab, d.URI, d.Pool, d.ConsoleDir(), g.BaseImage, g.Kernel, g.Initrd, g.KernelArgs))

	p := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	p.waitLine(t, "waiting for SSH on cli-virt-vm-0-")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()
	if doms := d.Domains(t); len(doms) != 1 {
		t.Fatalf("domains after the killed apply = %v, want the one it started", doms)
	}
	killed := d.Domains(t)[0]

	code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "adopted domain "+killed) {
		t.Errorf("the second apply did not say it adopted %s:\n%s", killed, errs)
	}
	hosts := inventory(t, dir)
	if len(hosts) != 1 || hosts[0].Transport != "ssh" || hosts[0].Hostname != "127.0.0.1" {
		t.Fatalf("inventory = %+v, want one host reached over SSH at 127.0.0.1", hosts)
	}
	if doms := d.Domains(t); len(doms) != 1 || doms[0] != killed || hosts[0].Name != killed {
		t.Errorf("domains = %v, recorded %s; want only %s, adopted", doms, hosts[0].Name, killed)
	}
	code, out, errs := runBroker(t, dir, "exec", "-f", "lab.hcl", "host.vm", "--", "cat /tmp/marker; uname -r")
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "set-up") || !strings.Contains(out, g.KernelVersion) {
		t.Errorf("exec printed %q, want the setup's marker and the guest's kernel %s", out, g.KernelVersion)
	}

	// An orphan: a domain labelled with this state's identity that no
	// record knows (made here from the live domain's metadata, never
	// started). reap lists it, and removes it with --orphans.
	l := d.Connect(t)
	live, err := l.DomainLookupByName(killed)
	if err != nil {
		t.Fatal(err)
	}
	x, err := l.DomainGetXMLDesc(live, 0)
	if err != nil {
		t.Fatal(err)
	}
	md := x[strings.Index(x, "<metadata>") : strings.Index(x, "</metadata>")+len("</metadata>")]
	md = regexp.MustCompile(`(key="broker\.(id|intent|address)">)[^<]*`).ReplaceAllString(md, "${1}orphan")
	md = regexp.MustCompile(`<broker:volume>[^<]*</broker:volume>`).ReplaceAllString(md, "")
	orphanXML := "<domain type='qemu'><name>cli-orphan</name>" + md + "<memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"
	if _, err := l.DomainDefineXML(orphanXML); err != nil {
		t.Fatalf("define the orphan: %v", err)
	}
	code, out, errs = runBroker(t, dir, "reap", "-f", "lab.hcl", "--dry-run")
	if code != 0 || !strings.Contains(out+errs, "cli-orphan") || strings.Contains(out+errs, "orphan "+killed) {
		t.Fatalf("reap --dry-run: exit %d, want cli-orphan listed:\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runBroker(t, dir, "reap", "-f", "lab.hcl", "--orphans"); code != 0 {
		t.Fatalf("reap --orphans: exit %d\n%s\n%s", code, out, errs)
	}
	if doms := d.Domains(t); len(doms) != 1 || doms[0] != killed {
		t.Errorf("domains after reap --orphans = %v, want only %s", doms, killed)
	}

	if code, _, errs := runBroker(t, dir, "destroy", "-f", "lab.hcl", "--auto-approve"); code != 0 {
		t.Fatalf("destroy: exit %d\n%s", code, errs)
	}
	if doms := d.Domains(t); len(doms) != 0 {
		t.Errorf("domains after destroy = %v", doms)
	}
	if vols := d.Volumes(t); len(vols) != 1 || vols[0] != g.BaseImage {
		t.Errorf("volumes after destroy = %v, want only the base image", vols)
	}
}
