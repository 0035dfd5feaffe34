package docker

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

// TestAdoptAnyContainer: broker import can adopt a container broker did not
// make (no broker labels), found by name or id; a stopped one is refused.
func TestAdoptAnyContainer(t *testing.T) {
	dockertest.Each(t, func(t *testing.T, e *dockertest.Engine) {
		image := e.Image(t, "busybox")
		run := e.NewRun(t)
		p := newTestProvider(t, run, nil)
		ctx := t.Context()

		made := func(name string, start bool) string {
			t.Helper()
			c, err := run.API.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name:   run.Prefix + "-" + name,
				Config: &container.Config{Image: image, Labels: run.Labels()},
			})
			if err != nil {
				t.Fatal(err)
			}
			if start {
				if _, err := run.API.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			return c.ID
		}
		id := made("adoptee", true)
		stopped := made("stopped", false)

		for _, ref := range []string{id, run.Prefix + "-adoptee"} {
			h, err := p.Adopt(ctx, providers.AdoptRequest{ProviderID: ref})
			if err != nil {
				t.Fatalf("adopt %s: %v", ref, err)
			}
			if h.ProviderID != id || h.Name != run.Prefix+"-adoptee" || h.Transport != providers.TransportDockerExec {
				t.Errorf("adopt %s: got id %s name %s transport %s", ref, h.ProviderID, h.Name, h.Transport)
			}
		}
		if _, err := p.Adopt(ctx, providers.AdoptRequest{ProviderID: stopped}); err == nil || !strings.Contains(err.Error(), "not running") {
			t.Errorf("adopting a stopped container: %v, want a not-running error", err)
		}
		if _, err := p.Adopt(ctx, providers.AdoptRequest{ProviderID: run.Prefix + "-nosuch"}); err == nil {
			t.Error("adopting a missing container succeeded")
		}
	})
}
