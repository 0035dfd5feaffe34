package docker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

// removalInProgressEngine sits at the engine-client boundary and plays what
// a broker process killed during `docker rm` leaves behind: its DELETE
// reached the engine, which is still removing the container when the next
// destroy asks again and gets "removal of container … is already in
// progress". A real engine removes a container in milliseconds, too fast
// to kill a process in between on purpose, so the transport answers the
// first DELETE with the engine's conflict itself and makes the real
// removal happen only once the caller waits for it: the wait then ends on
// the engine's own "removed" event.
type removalInProgressEngine struct {
	base http.RoundTripper

	mu          sync.Mutex
	pending     *http.Request // the "killed" DELETE, not yet sent
	conflicts   int
	waits       int
	removeErrCh chan error
}

func (e *removalInProgressEngine) RoundTrip(req *http.Request) (*http.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case req.Method == http.MethodDelete && strings.Contains(req.URL.Path, "/containers/") && e.conflicts == 0:
		e.conflicts++
		e.pending = req.Clone(context.Background())
		id := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
		body := fmt.Sprintf(`{"message":"removal of container %s is already in progress"}`, id)
		return &http.Response{
			StatusCode: http.StatusConflict, Status: "409 Conflict", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(strings.NewReader(body)),
			Request: req,
		}, nil
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/wait") && e.pending != nil:
		e.waits++
		// The engine sends the headers once the wait is registered.
		resp, err := e.base.RoundTrip(req)
		pending := e.pending
		e.pending = nil
		go func() {
			resp, err := e.base.RoundTrip(pending)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					err = fmt.Errorf("the removal in progress: %s", resp.Status)
				}
			}
			e.removeErrCh <- err
		}()
		return resp, err
	}
	return e.base.RoundTrip(req)
}

// TestCheckinWaitsForRemovalInProgress: a destroy that finds its container
// already being removed waits for that removal and succeeds.
func TestCheckinWaitsForRemovalInProgress(t *testing.T) {
	image := dockertest.Image(t, "busybox")
	run := dockertest.NewRun(t)
	p := newTestProvider(t, run, nil)
	ctx := t.Context()
	resp, err := p.Checkout(ctx, request(run, "in-progress", map[string]any{"image": image}, nil))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Hosts[0].ProviderID

	host := p.api.DaemonHost()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{}
	if u.Scheme == "unix" {
		base.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", u.Path)
		}
	}
	eng := &removalInProgressEngine{base: base, removeErrCh: make(chan error, 1)}
	api, err := client.New(client.WithHost(host), client.WithHTTPClient(&http.Client{Transport: eng}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	p.api = api

	if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: id, Name: "in-progress"}}); err != nil {
		t.Fatalf("checkin during a removal in progress: %v", err)
	}
	if err := <-eng.removeErrCh; err != nil {
		t.Fatal(err)
	}
	if eng.conflicts != 1 || eng.waits != 1 {
		t.Errorf("%d conflicts, %d waits; want 1 and 1", eng.conflicts, eng.waits)
	}
	if _, err := run.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after checkin: %v, want it gone", err)
	}
	assertNothingLeft(t, run)
}
