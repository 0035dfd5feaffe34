package providers

import "context"

// Adopter finds one resource by the provider's own id, whether broker
// made it or not, so that `broker import` can record it. Providers that
// lack it are searched with Sync, which finds only resources carrying
// broker's labels.
type Adopter interface {
	Adopt(ctx context.Context, req AdoptRequest) (HostInfo, error)
}

// AdoptRequest names a resource.
type AdoptRequest struct {
	// ProviderID is the provider's id (a container id or name, a VM name).
	ProviderID string
}
