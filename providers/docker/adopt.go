package docker

import (
	"context"
	"errors"

	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
)

var _ providers.Adopter = (*Provider)(nil)

// Adopt implements providers.Adopter for `broker import`: any container of
// the engine, found by id or name, whether broker made it or not. It must
// be running: a stopped container is no usable host.
func (p *Provider) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.HostInfo, error) {
	if req.ProviderID == "" {
		return providers.HostInfo{}, errors.New("docker: adopt: no container id or name given")
	}
	in, err := p.api.ContainerInspect(ctx, req.ProviderID, client.ContainerInspectOptions{})
	if err != nil {
		return providers.HostInfo{}, p.engineErr(err)
	}
	if in.Container.State == nil || !in.Container.State.Running {
		return providers.HostInfo{}, errors.New("docker: adopt: container " + req.ProviderID + " is not running: start it first")
	}
	return hostFromInspect(in.Container, p.pubHost), nil
}
