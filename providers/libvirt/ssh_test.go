package libvirt_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/test/libvirttest"
	"github.com/labbroker/broker/test/sshdtest"
)

// ncUnix is `nc -U SOCKET` in Python: stdin to the socket, the socket to
// stdout.
const ncUnix = `#!/usr/bin/python3
import os, socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[2])
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(b)
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
`

// TestSSHTransport reaches the test daemon as a remote one, qemu+ssh://
// through a real sshd on 127.0.0.1, with libvirt's keyfile, known_hosts,
// socket and netcat URI parameters: listings, sync and a checkout
// (of a domain that fails to start, so no guest boots) work over it and
// leave nothing behind.
func TestSSHTransport(t *testing.T) {
	d := libvirttest.Start(t)
	g := d.Guest(t)
	srv := sshdtest.Start(t, sshdtest.Options{})
	// The daemon is nobody's session daemon: a root login reaches its
	// socket with netcat (virt-ssh-helper run as root would ask for the
	// system daemon). This machine has no nc, so the test brings one.
	nc := filepath.Join(t.TempDir(), "nc-unix")
	if err := os.WriteFile(nc, []byte(ncUnix), 0o755); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"keyfile": {srv.KeyFile}, "known_hosts": {srv.KnownHosts(t)}, "socket": {d.Socket}, "netcat": {nc}}
	uri := fmt.Sprintf("qemu+ssh://%s@127.0.0.1:%d/session?%s", srv.User, srv.Port, q.Encode())
	p, _ := newProvider(t, d, map[string]cty.Value{"uri": cty.StringVal(uri), "network": cty.StringVal("default")})
	ctx := context.Background()

	desc, err := p.Describe(ctx, providers.DescribeRequest{Listing: "images"})
	if err != nil {
		t.Fatalf("images over ssh: %v", err)
	}
	if len(desc.Items) != 1 || desc.Items[0].Name != g.BaseImage {
		t.Errorf("images over ssh = %+v, want %s", desc.Items, g.BaseImage)
	}
	// user networking forwards a port of the remote host's loopback:
	// refused for a remote daemon.
	a := g.Args()
	a["network"] = "user"
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: a, Name: "x"}); err == nil || !strings.Contains(err.Error(), "which broker cannot reach") {
		t.Errorf("user networking over ssh = %v", err)
	}
	// A network the remote daemon lacks is named, and nothing stays.
	if _, err := p.Checkout(ctx, providers.CheckoutRequest{Args: g.Args(), Name: "x"}); err == nil || !strings.Contains(err.Error(), `network "default" does not exist`) {
		t.Errorf("checkout on a missing network = %v", err)
	}
	if vols := d.Volumes(t); !slices.Equal(vols, []string{g.BaseImage}) {
		t.Errorf("volumes = %v, want only the base image", vols)
	}
	if s, err := p.Sync(ctx, providers.SyncRequest{AllUsers: true}); err != nil || len(s.Hosts) != 0 {
		t.Errorf("sync over ssh = %+v, %v", s.Hosts, err)
	}
}
