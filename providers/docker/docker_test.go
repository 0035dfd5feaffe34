package docker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sync/errgroup"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

func TestRegistered(t *testing.T) {
	for _, n := range []string{"docker", "podman", "Container", "container"} {
		ty, ok := providers.Lookup(n)
		if !ok || ty.Name != "docker" {
			t.Errorf("Lookup(%q) = %v, %v", n, ty, ok)
		}
	}
}

func readBanner(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read banner from %s: %v", addr, err)
	}
	return line
}

// TestCheckoutSSHHosts checks out five sshd hosts at once on a network the
// provider makes, reaches each by SSH banner and by docker exec, moves a
// tree in and out, and checks them in: nothing is left, the network
// neither.
func TestCheckoutSSHHosts(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "sshd")
		run := e.NewRun(t)
		const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrokerTestKeyOnlyForTheTestsXXXXXXXXXXXXXX broker-test"
		p := newTestProvider(t, run, map[string]cty.Value{"authorized_keys": cty.StringVal(key)})
		ctx := t.Context()
		netName := run.Prefix + "-lab"

		const n = 5
		hosts := make([]providers.HostInfo, n)
		var mu sync.Mutex
		checkpoints := map[string]string{}
		var g errgroup.Group
		for i := range n {
			g.Go(func() error {
				req := request(run, fmt.Sprintf("client-%d", i), map[string]any{
					"image": image, "ports": []any{"22"}, "network": netName,
					"env": map[string]any{"ROLE": "client"},
				}, nil)
				req.Checkpoint = func(_ context.Context, cp providers.Checkpoint) error {
					mu.Lock()
					defer mu.Unlock()
					checkpoints[cp.ProviderID] = cp.Data["container"]
					return nil
				}
				resp, err := p.Checkout(ctx, req)
				if err != nil {
					return err
				}
				hosts[i] = resp.Hosts[0]
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := run.API.NetworkInspect(ctx, netName, client.NetworkInspectOptions{}); err != nil {
			t.Fatalf("network %s not created: %v", netName, err)
		}
		for i, h := range hosts {
			if h.Transport != providers.TransportSSH || h.ConnectHost != "127.0.0.1" || h.Port == 0 || h.User != "root" {
				t.Errorf("host %d: %+v", i, h)
			}
			// The record names the container, not the address it is
			// reached at.
			if h.Hostname != containerHostname(h.Name) {
				t.Errorf("host %d hostname %q, want its container name's %q", i, h.Hostname, containerHostname(h.Name))
			}
			if want := run.Prefix + "-client-" + strconv.Itoa(i); h.Name != want {
				t.Errorf("host %d name %q, want %q", i, h.Name, want)
			}
			if checkpoints[h.ProviderID] != h.Name {
				t.Errorf("host %d: checkpoint %q for %s", i, checkpoints[h.ProviderID], h.ProviderID)
			}
			// Podman names the image in full (localhost/… for a local
			// one); Docker as it was asked for.
			if h.IP == "" || (h.Facts["image"] != image && h.Facts["image"] != "localhost/"+image) {
				t.Errorf("host %d: ip %q facts %v", i, h.IP, h.Facts)
			}
			if nets, _ := h.Facts["networks"].([]any); len(nets) != 1 || nets[0] != netName {
				t.Errorf("host %d networks %v", i, h.Facts["networks"])
			}
			if h.Labels[providers.LabelUser] != testUser || h.Labels[dockertest.LabelKey] != run.Value {
				t.Errorf("host %d labels %v", i, h.Labels)
			}
			addr := net.JoinHostPort(h.ConnectHost, strconv.Itoa(h.Port))
			if b := readBanner(t, addr); !strings.HasPrefix(b, "SSH-2.0-OpenSSH") {
				t.Errorf("host %d banner %q", i, b)
			}
		}

		src := filepath.Join(t.TempDir(), "tree")
		if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "bin", "hello"), []byte("#!/bin/sh\necho hello from $(hostname)\n"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "conf"), []byte("x=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for i, h := range hosts {
			ref := providers.HostRef{ID: strconv.Itoa(i), ProviderID: h.ProviderID, Name: h.Name}
			s, err := p.OpenSession(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Run(ctx, "echo $ROLE; cat /root/.ssh/authorized_keys; echo oops >&2; exit 4", remote.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 4 || res.Stdout != "client\n"+key+"\n" || res.Stderr != "oops\n" {
				t.Errorf("host %d run: %+v", i, res)
			}
			// Hosts on one network find each other by name (on Podman
			// 4.3 with CNI, through the dnsname plugin).
			peer := hosts[(i+1)%n]
			res, err = s.Run(ctx, "getent hosts "+peer.Name, remote.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if f := strings.Fields(res.Stdout); res.Status != 0 || len(f) == 0 || f[0] != peer.IP {
				t.Errorf("host %d: getent hosts %s: %+v, want %s", i, peer.Name, res, peer.IP)
			}
			if err := s.Upload(ctx, src, "/srv/tree"); err != nil {
				t.Fatal(err)
			}
			res, err = s.Run(ctx, "/srv/tree/bin/hello && stat -c '%a' /srv/tree/bin/hello /srv/tree/conf", remote.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := "hello from " + h.Name + "\n750\n600\n"; res.Stdout != want {
				t.Errorf("host %d: %q, want %q (stderr %q)", i, res.Stdout, want, res.Stderr)
			}
			back := filepath.Join(t.TempDir(), "back")
			if err := s.Download(ctx, "/srv/tree", back); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(back, "bin", "hello")); err != nil || fi.Mode().Perm() != 0o750 {
				t.Errorf("host %d: downloaded hello: %v %v", i, fi, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}

		for i, h := range hosts {
			resp, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ID: strconv.Itoa(i), ProviderID: h.ProviderID, Name: h.Name}})
			if err != nil || resp.Gone {
				t.Fatalf("checkin %d: %+v %v", i, resp, err)
			}
			_, err = run.API.NetworkInspect(ctx, netName, client.NetworkInspectOptions{})
			if last := i == n-1; last != (err != nil) {
				t.Errorf("after check-in %d of %d: network inspect err %v", i+1, n, err)
			}
		}
		assertNothingLeft(t, run)
	})
}

func TestNetworkNotOursIsKept(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()
		netName := run.Prefix + "-theirs"
		if _, err := run.API.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Labels: run.Labels()}); err != nil {
			t.Fatal(err)
		}
		resp, err := p.Checkout(ctx, request(run, "", map[string]any{"image": image, "network": netName}, nil))
		if err != nil {
			t.Fatal(err)
		}
		h := resp.Hosts[0]
		if h.Transport != providers.TransportDockerExec || !strings.HasPrefix(h.Name, run.Prefix+"-") {
			t.Errorf("host %+v", h)
		}
		if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: h.ProviderID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := run.API.NetworkInspect(ctx, netName, client.NetworkInspectOptions{}); err != nil {
			t.Errorf("a network the provider did not make was removed: %v", err)
		}
	})
}

func TestAnonymousVolumesRemoved(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()
		resp, err := p.Checkout(ctx, request(run, "vol", map[string]any{"image": image, "volumes": []any{"/data"}, "memory": "64m", "cpus": 0.5}, nil))
		if err != nil {
			t.Fatal(err)
		}
		in, err := run.API.ContainerInspect(ctx, resp.Hosts[0].ProviderID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Container.Mounts) != 1 || in.Container.Mounts[0].Name == "" {
			t.Fatalf("mounts %+v", in.Container.Mounts)
		}
		if in.Container.HostConfig.Memory != 64<<20 || in.Container.HostConfig.NanoCPUs != 5e8 {
			t.Errorf("limits: memory %d cpus %d", in.Container.HostConfig.Memory, in.Container.HostConfig.NanoCPUs)
		}
		vol := in.Container.Mounts[0].Name
		if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: resp.Hosts[0].ProviderID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := run.API.VolumeInspect(ctx, vol, client.VolumeInspectOptions{}); err == nil {
			t.Errorf("anonymous volume %s left after check-in", vol)
		}
	})
}

func TestSyncByLabels(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()
		for _, role := range []string{"a", "b"} {
			if _, err := p.Checkout(ctx, request(run, "role-"+role, map[string]any{"image": image}, map[string]string{"role": role})); err != nil {
				t.Fatal(err)
			}
		}
		other := request(run, "other-user", map[string]any{"image": image}, map[string]string{providers.LabelUser: "someone-else", "role": "a"})
		if _, err := p.Checkout(ctx, other); err != nil {
			t.Fatal(err)
		}
		// A container with the run's label but not broker's is never listed.
		_, err := run.API.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:   run.Prefix + "-stranger",
			Config: &container.Config{Image: image, Labels: map[string]string{dockertest.LabelKey: run.Value, "role": "a"}},
		})
		if err != nil {
			t.Fatal(err)
		}

		names := func(req providers.SyncRequest) []string {
			t.Helper()
			req.Labels = mergeLabels(req.Labels, run.Labels())
			resp, err := p.Sync(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, h := range resp.Hosts {
				out = append(out, strings.TrimPrefix(h.Name, run.Prefix+"-"))
			}
			return out
		}
		tests := []struct {
			name string
			req  providers.SyncRequest
			want string
		}{
			{"mine", providers.SyncRequest{}, "role-a role-b"},
			{"mine by label", providers.SyncRequest{Labels: map[string]string{"role": "a"}}, "role-a"},
			{"all users by label", providers.SyncRequest{AllUsers: true, Labels: map[string]string{"role": "a"}}, "other-user role-a"},
			{"one other user", providers.SyncRequest{User: "someone-else"}, "other-user"},
			{"nobody", providers.SyncRequest{User: "nobody"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := strings.Join(names(tt.req), " "); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestRefreshBehindItsBack(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()
		resp, err := p.Checkout(ctx, request(run, "r", map[string]any{"image": image}, nil))
		if err != nil {
			t.Fatal(err)
		}
		ref := providers.HostRef{ID: "h1", ProviderID: resp.Hosts[0].ProviderID, Name: resp.Hosts[0].Name}
		presence := func() providers.Presence {
			t.Helper()
			r, err := p.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{ref}})
			if err != nil {
				t.Fatal(err)
			}
			return r.Hosts["h1"]
		}
		if got := presence(); got != providers.PresenceRunning {
			t.Errorf("fresh host: %v", got)
		}
		if _, err := run.API.ContainerStop(ctx, ref.ProviderID, client.ContainerStopOptions{Signal: "KILL"}); err != nil {
			t.Fatal(err)
		}
		if got := presence(); got != providers.PresenceStopped {
			t.Errorf("stopped host: %v", got)
		}
		if _, err := run.API.ContainerRemove(ctx, ref.ProviderID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if got := presence(); got != providers.PresenceGone {
			t.Errorf("removed host: %v", got)
		}
		ci, err := p.Checkin(ctx, providers.CheckinRequest{Host: ref})
		if err != nil || !ci.Gone {
			t.Errorf("checkin of a removed host: %+v %v", ci, err)
		}
	})
}

// TestResume: an interrupted checkout left a running container labelled
// with its intent; the resumed checkout adopts it. A broken one (stopped)
// is replaced.
func TestResume(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()

		interrupted := func(name string) (providers.CheckoutRequest, string) {
			req := request(run, name, map[string]any{"image": image}, nil)
			a, err := decodeArgs(req.Args)
			if err != nil {
				t.Fatal(err)
			}
			// What a killed broker leaves: created and started, never
			// reported.
			id, err := p.start(ctx, req, a, p.containerName(req), "", func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			req.Resume = &providers.Resume{IntentID: req.Labels[providers.LabelIntent], ProviderID: id}
			return req, id
		}
		byIntent := func(req providers.CheckoutRequest) client.Filters {
			return client.Filters{}.Add("label", providers.LabelIntent+"="+req.Resume.IntentID)
		}

		req, id := interrupted("resume-ok")
		resp, err := p.Checkout(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Adopted || resp.Hosts[0].ProviderID != id {
			t.Errorf("resume: adopted %v id %s, want %s", resp.Adopted, resp.Hosts[0].ProviderID, id)
		}
		if n := containerCount(t, run, byIntent(req)); n != 1 {
			t.Errorf("%d containers with the intent, want 1", n)
		}

		req, id = interrupted("resume-broken")
		if _, err := run.API.ContainerStop(ctx, id, client.ContainerStopOptions{Signal: "KILL"}); err != nil {
			t.Fatal(err)
		}
		resp, err = p.Checkout(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Adopted || resp.Hosts[0].ProviderID == id {
			t.Errorf("broken resume: adopted %v id %s (old %s)", resp.Adopted, resp.Hosts[0].ProviderID, id)
		}
		if n := containerCount(t, run, byIntent(req)); n != 1 {
			t.Errorf("%d containers with the intent, want 1", n)
		}
	})
}

func TestEngineNotReachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-engine.sock")
	p, err := New(context.Background(), providers.Config{
		Type: "docker", Instance: "gone", User: testUser,
		Settings: settingsVal(map[string]cty.Value{"host": cty.StringVal("unix://" + sock)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Checkout(t.Context(), providers.CheckoutRequest{Args: map[string]any{"image": "broker-busybox:latest"}})
	var ee *EngineError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v (%T), want *EngineError", err, err)
	}
	if !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "\nhint: ") || ee.Hint() == "" {
		t.Errorf("error text lacks the socket or the hint:\n%v", err)
	}
	var h Hinter = ee
	if !strings.Contains(h.Hint(), "DOCKER_HOST") {
		t.Errorf("hint %q", h.Hint())
	}
}

func TestCheckoutErrors(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		sshd := e.Image(t, "sshd")
		busybox := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()

		t.Run("image missing, pull off", func(t *testing.T) {
			_, err := p.Checkout(ctx, request(run, "", map[string]any{"image": "broker-no-such-image:none", "pull": "never"}, nil))
			var ie *ImageError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "not present locally") || !strings.Contains(err.Error(), "make images") {
				t.Errorf("err = %v", err)
			}
		})
		t.Run("image missing, pull fails", func(t *testing.T) {
			// A registry on a loopback port nothing listens on: the pull
			// fails without leaving this machine.
			_, err := p.Checkout(ctx, request(run, "", map[string]any{"image": "127.0.0.1:1/broker-missing:none"}, nil))
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Err == nil || !strings.Contains(err.Error(), "could not be pulled") {
				t.Errorf("err = %v", err)
			}
		})
		t.Run("port taken", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			_, err = p.Checkout(ctx, request(run, "port", map[string]any{"image": sshd, "ports": []any{"22:" + port}}, nil))
			var pe *PortError
			if !errors.As(err, &pe) || pe.Port != port || !strings.Contains(err.Error(), "hint:") {
				t.Errorf("err = %v", err)
			}
		})
		t.Run("name clash", func(t *testing.T) {
			first, err := p.Checkout(ctx, request(run, "twin", map[string]any{"image": busybox}, nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Checkout(ctx, request(run, "twin", map[string]any{"image": busybox}, nil))
			var ne *NameError
			if !errors.As(err, &ne) || ne.Name != run.Prefix+"-twin" {
				t.Errorf("err = %v", err)
			}
			r, err := p.Refresh(ctx, providers.RefreshRequest{Hosts: []providers.HostRef{{ID: "1", ProviderID: first.Hosts[0].ProviderID}}})
			if err != nil || r.Hosts["1"] != providers.PresenceRunning {
				t.Errorf("the first holder of the name suffered: %v %v", r.Hosts, err)
			}
			if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: first.Hosts[0].ProviderID}}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("exits at once", func(t *testing.T) {
			_, err := p.Checkout(ctx, request(run, "quitter", map[string]any{
				"image": sshd, "ports": []any{"22"},
				"command": []any{"sh", "-c", "echo boom-$((6*7)) >&2; exit 3"},
			}, nil))
			var xe *ExitError
			if !errors.As(err, &xe) || xe.Status != 3 || !strings.Contains(xe.Logs, "boom-42") || !strings.Contains(err.Error(), "boom-42") {
				t.Errorf("err = %v", err)
			}
		})
		t.Run("bad arguments", func(t *testing.T) {
			for _, a := range []map[string]any{
				{},
				{"image": busybox, "ports": []any{"x"}},
				{"image": busybox, "memory": "lots"},
				{"image": busybox, "volumes": []any{"rel:path"}},
			} {
				if _, err := p.Checkout(ctx, request(run, "", a, nil)); err == nil {
					t.Errorf("checkout with %v succeeded", a)
				}
			}
		})
		assertNothingLeft(t, run)
	})
}

func TestExecute(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()
		var out, errb bytes.Buffer
		resp, err := p.Execute(ctx, providers.ExecuteRequest{
			Args:    map[string]any{"image": image, "env": map[string]any{"WHO": "broker"}},
			Command: []string{"sh", "-c", "echo hi $WHO; echo warn >&2; exit 5"},
			Stdout:  &out, Stderr: &errb,
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != "hi broker\n" || errb.String() != "warn\n" || resp.Status != 5 {
			t.Errorf("stdout %q stderr %q status %d", out.String(), errb.String(), resp.Status)
		}
		// Captured when no writer is given.
		resp, err = p.Execute(ctx, providers.ExecuteRequest{Args: map[string]any{"image": image}, Command: []string{"echo", "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := resp.Result.(map[string]any); r["stdout"] != "hi\n" || resp.Status != 0 {
			t.Errorf("result %v status %d", resp.Result, resp.Status)
		}
		if n := containerCount(t, run, client.Filters{}.Add("name", run.Prefix)); n != 0 {
			t.Errorf("%d one-off containers left", n)
		}
	})
}

func BenchmarkCheckout20(b *testing.B) {
	image := dockertest.Image(b, "busybox")
	run := dockertest.NewRun(b)
	p := newTestProvider(b, run, nil)
	ctx := context.Background()
	for b.Loop() {
		ids := make([]string, 20)
		var g errgroup.Group
		g.SetLimit(10)
		for i := range ids {
			g.Go(func() error {
				resp, err := p.Checkout(ctx, request(run, "", map[string]any{"image": image}, nil))
				if err != nil {
					return err
				}
				ids[i] = resp.Hosts[0].ProviderID
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			g.Go(func() error {
				_, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: id}})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPodmanUsualSocket: engine = "podman" without host finds a Podman
// serving at $XDG_RUNTIME_DIR/podman/podman.sock and checks out there.
func TestPodmanUsualSocket(t *testing.T) {
	e := dockertest.Podman(t)
	image := e.Image(t, "busybox")
	run := e.NewRun(t)
	xdg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "podman"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.TrimPrefix(e.Host, "unix://"), filepath.Join(xdg, "podman", "podman.sock")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	p, err := New(context.Background(), providers.Config{
		Type: "docker", Instance: "usual", User: testUser,
		Settings: settingsVal(map[string]cty.Value{"engine": cty.StringVal("podman"), "name_prefix": cty.StringVal(run.Prefix)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if want := "unix://" + filepath.Join(xdg, "podman", "podman.sock"); p.Host() != want {
		t.Errorf("host %q, want %q", p.Host(), want)
	}
	resp, err := p.Checkout(t.Context(), request(run, "usual", map[string]any{"image": image}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Checkin(t.Context(), providers.CheckinRequest{Host: providers.HostRef{ProviderID: resp.Hosts[0].ProviderID}}); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, run)
}
