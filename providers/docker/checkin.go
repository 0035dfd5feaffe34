package docker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/executor/remote/dockerexec"
	"github.com/labbroker/broker/providers"
)

// ref is how a HostRef names its container: the provider id, else the
// name.
func ref(h providers.HostRef) string {
	if h.ProviderID != "" {
		return h.ProviderID
	}
	return h.Name
}

// Checkin removes the container with its anonymous volumes, whatever its
// state, and a network the provider made once its last container is gone.
// A container already gone is reported as Gone.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	id := ref(req.Host)
	if id == "" {
		return providers.CheckinResponse{}, fmt.Errorf("host %s has no container id or name", req.Host.ID)
	}
	if err := p.ping(ctx); err != nil {
		return providers.CheckinResponse{}, err
	}
	in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return providers.CheckinResponse{Gone: true}, nil
	}
	if err != nil {
		return providers.CheckinResponse{}, p.engineErr(fmt.Errorf("inspect container %s: %w", shortID(id), err))
	}
	var nets []string
	if ns := in.Container.NetworkSettings; ns != nil {
		nets = slices.Sorted(maps.Keys(ns.Networks))
	}
	if err := p.remove(ctx, in.Container.ID); err != nil {
		if cerrdefs.IsNotFound(err) {
			return providers.CheckinResponse{Gone: true}, nil
		}
		return providers.CheckinResponse{}, err
	}
	for _, n := range nets {
		p.removeNetworkIfUnused(context.WithoutCancel(ctx), n)
	}
	return providers.CheckinResponse{}, nil
}

// Extend only computes the new end: a container has no lease of its own
// (its labels cannot change), so the lease lives in broker's state.
func (p *Provider) Extend(_ context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	if req.Lease <= 0 {
		return providers.ExtendResponse{}, fmt.Errorf("extend %s: no lease duration given", req.Host.Name)
	}
	return providers.ExtendResponse{Expires: time.Now().Add(req.Lease).UTC()}, nil
}

// Sync lists the containers that carry broker's labels (broker.id):
// the current user's, or req.User's, or with AllUsers everyone's, keeping
// those that carry all of req.Labels. Containers without broker's labels
// are never listed.
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	if err := p.ping(ctx); err != nil {
		return providers.SyncResponse{}, err
	}
	f := client.Filters{}.Add("label", providers.LabelID)
	if !req.AllUsers {
		user := req.User
		if user == "" {
			user = p.user
		}
		f.Add("label", providers.LabelUser+"="+user)
	}
	for k, v := range req.Labels {
		// The user's labels are on containers as broker.<key>
		// (containerLabels).
		if !strings.HasPrefix(k, "broker.") {
			k = "broker." + k
		}
		f.Add("label", k+"="+v)
	}
	list, err := p.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return providers.SyncResponse{}, p.engineErr(fmt.Errorf("list containers: %w", err))
	}
	var resp providers.SyncResponse
	for _, c := range list.Items {
		if c.Labels[providers.LabelID] == "" || c.Labels[LabelExecute] != "" {
			continue
		}
		resp.Hosts = append(resp.Hosts, hostFromSummary(c, p.pubHost))
	}
	slices.SortFunc(resp.Hosts, func(a, b providers.HostInfo) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

func hostFromSummary(c container.Summary, pubHost string) providers.HostInfo {
	h := providers.HostInfo{
		ProviderID: c.ID,
		Labels:     maps.Clone(c.Labels),
		Created:    time.Unix(c.Created, 0).UTC(),
		Transport:  "docker-exec",
	}
	if len(c.Names) > 0 {
		h.Name = strings.TrimPrefix(c.Names[0], "/")
	}
	// A listing does not say the container's hostname (it may be the
	// hostname argument): left empty, so that a sync keeps the record's.
	ports := map[string]any{}
	for _, pt := range c.Ports {
		if pt.PublicPort == 0 || (pt.IP.IsValid() && pt.IP.Is6()) {
			continue
		}
		key := fmt.Sprintf("%d/%s", pt.PrivatePort, pt.Type)
		ports[key] = fmt.Sprintf("%s:%d", pubHost, pt.PublicPort)
		if pt.PrivatePort == 22 && pt.Type == "tcp" {
			h.ConnectHost, h.Port, h.Transport, h.User = pubHost, int(pt.PublicPort), "ssh", "root"
		}
	}
	var nets []any
	if c.NetworkSettings != nil {
		for _, n := range slices.Sorted(maps.Keys(c.NetworkSettings.Networks)) {
			nets = append(nets, n)
			if e := c.NetworkSettings.Networks[n]; e != nil && h.IP == "" && e.IPAddress.IsValid() {
				h.IP = e.IPAddress.String()
			}
		}
	}
	h.Facts = map[string]any{
		"image":          c.Image,
		"image_id":       c.ImageID,
		"container_name": h.Name,
		"ports":          ports,
		"networks":       nets,
		"state":          string(c.State),
		"engine_address": pubHost,
	}
	return h
}

// Refresh tells, read-only, whether each host's container runs, stopped,
// or is gone.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	resp := providers.RefreshResponse{Hosts: make(map[string]providers.Presence, len(req.Hosts))}
	if err := p.ping(ctx); err != nil {
		for _, h := range req.Hosts {
			resp.Hosts[h.ID] = providers.PresenceUnknown
		}
		return resp, err
	}
	for _, h := range req.Hosts {
		id := ref(h)
		if id == "" {
			resp.Hosts[h.ID] = providers.PresenceGone
			continue
		}
		in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			resp.Hosts[h.ID] = providers.PresenceGone
		case err != nil:
			resp.Hosts[h.ID] = providers.PresenceUnknown
		case in.Container.State != nil && in.Container.State.Running:
			resp.Hosts[h.ID] = providers.PresenceRunning
		default:
			resp.Hosts[h.ID] = providers.PresenceStopped
		}
	}
	return resp, nil
}

// OpenSession opens a docker-exec session on the host's container. The
// session shares the provider's engine client; closing it leaves the
// client open.
func (p *Provider) OpenSession(ctx context.Context, h providers.HostRef) (remote.Session, error) {
	id := ref(h)
	if id == "" {
		return nil, fmt.Errorf("host %s has no container id or name", h.ID)
	}
	if err := p.ping(ctx); err != nil {
		return nil, err
	}
	in, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("container %s of host %s is gone", shortID(id), h.Name)
	}
	if err != nil {
		return nil, p.engineErr(fmt.Errorf("inspect container %s: %w", shortID(id), err))
	}
	if in.Container.State == nil || !in.Container.State.Running {
		return nil, fmt.Errorf("container %s of host %s is not running", strings.TrimPrefix(in.Container.Name, "/"), h.Name)
	}
	var opts dockerexec.Options
	if u, ok := h.Recipe["user"].(string); ok {
		opts.User = u
	}
	if w, ok := h.Recipe["workdir"].(string); ok {
		opts.WorkDir = w
	}
	return dockerexec.New(p.api, in.Container.ID, opts), nil
}
