package openstack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"

	"github.com/labbroker/broker/providers"
)

// Checkin releases the server's floating IP (if the provider allocated
// one), deletes the server and waits for it to be gone. A server already
// gone is Gone, not an error.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return providers.CheckinResponse{}, err
	}
	id := req.Host.ProviderID
	if id == "" {
		return providers.CheckinResponse{}, fmt.Errorf("host %s has no server id", req.Host.Name)
	}
	if _, err := p.getServer(ctx, id); err != nil {
		if isNotFound(err) {
			p.releaseFloatingIPs(ctx, id)
			return providers.CheckinResponse{Gone: true}, nil
		}
		return providers.CheckinResponse{}, err
	}
	if err := p.deleteServer(ctx, compute, id); err != nil {
		if isNotFound(err) {
			return providers.CheckinResponse{Gone: true}, nil
		}
		return providers.CheckinResponse{}, err
	}
	return providers.CheckinResponse{}, nil
}

// deleteServer releases the server's floating IPs, deletes it and waits
// until Nova no longer answers it.
func (p *Provider) deleteServer(ctx context.Context, compute *gophercloud.ServiceClient, id string) error {
	p.releaseFloatingIPs(ctx, id)
	err := p.retry(ctx, "delete server", func() error { return servers.Delete(ctx, compute, id).ExtractErr() })
	if err != nil {
		return apiError("delete server "+id, err)
	}
	wctx, cancel := context.WithTimeout(ctx, p.set.ServerTimeout)
	defer cancel()
	for {
		_, err := p.getServer(wctx, id)
		if isNotFound(err) {
			return nil
		}
		if err != nil && wctx.Err() == nil {
			return err
		}
		if perr := p.pause(wctx); perr != nil || wctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("server %s is still there %s after its delete (server_timeout)", id, p.set.ServerTimeout)
		}
	}
}

// releaseFloatingIPs deletes the floating IPs the provider allocated for
// a server; failures are logged (a floating IP left is not a host left).
func (p *Provider) releaseFloatingIPs(ctx context.Context, serverID string) {
	_, _, network, err := p.clients(ctx)
	if err != nil {
		return
	}
	var list []floatingips.FloatingIP
	err = p.retry(ctx, "list floating IPs", func() error {
		pages, err := floatingips.List(network, floatingips.ListOpts{Description: fipDescription(serverID)}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = floatingips.ExtractFloatingIPs(pages)
		return err
	})
	if err != nil {
		p.logger.Warn("openstack: list floating IPs", "server", serverID, "err", err)
		return
	}
	for _, f := range list {
		if err := p.retry(ctx, "delete floating IP", func() error { return floatingips.Delete(ctx, network, f.ID).ExtractErr() }); err != nil && !isNotFound(err) {
			p.logger.Warn("openstack: release floating IP", "server", serverID, "ip", f.FloatingIP, "err", err)
		}
	}
}

// Refresh tells whether servers are there and ACTIVE, read-only.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	out := providers.RefreshResponse{Hosts: map[string]providers.Presence{}}
	for _, h := range req.Hosts {
		if h.ProviderID == "" {
			out.Hosts[h.ID] = providers.PresenceUnknown
			continue
		}
		s, err := p.getServer(ctx, h.ProviderID)
		switch {
		case isNotFound(err):
			out.Hosts[h.ID] = providers.PresenceGone
		case err != nil:
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			out.Hosts[h.ID] = providers.PresenceUnknown
		default:
			out.Hosts[h.ID] = presence(s.Status)
		}
	}
	return out, nil
}

func presence(status string) providers.Presence {
	switch status {
	case "ACTIVE":
		return providers.PresenceRunning
	case "SHUTOFF", "STOPPED", "PAUSED", "SUSPENDED", "SHELVED", "SHELVED_OFFLOADED", "ERROR":
		return providers.PresenceStopped
	case "DELETED", "SOFT_DELETED":
		return providers.PresenceGone
	}
	return providers.PresenceUnknown
}

// Sync lists the servers broker made (metadata broker.id) through this
// provider instance, the current user's unless req says otherwise.
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	all, err := p.listServers(ctx)
	if err != nil {
		return providers.SyncResponse{}, err
	}
	user := req.User
	if user == "" {
		user = p.user
	}
	var resp providers.SyncResponse
	for i := range all {
		s := &all[i]
		md := s.Metadata
		if md[providers.LabelID] == "" || md[LabelProvider] != "openstack" {
			continue
		}
		if !req.AllUsers && md[providers.LabelUser] != user {
			continue
		}
		match := true
		for k, v := range req.Labels {
			if md[k] != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		h, err := p.hostInfo(s, nil)
		if err != nil {
			// No address yet (building): still broker's.
			h = providers.HostInfo{ProviderID: s.ID, Name: s.Name, Labels: md, Created: s.Created, Transport: providers.TransportSSH,
				Facts: map[string]any{"instance_id": s.ID, "status": s.Status}}
		}
		resp.Hosts = append(resp.Hosts, h)
	}
	slices.SortFunc(resp.Hosts, func(a, b providers.HostInfo) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

// Extend moves the server's broker.lease.expires metadata: leases are
// broker's, OpenStack has none.
func (p *Provider) Extend(ctx context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return providers.ExtendResponse{}, err
	}
	until := time.Now().Add(req.Lease).UTC().Truncate(time.Second)
	err = p.retry(ctx, "update metadata", func() error {
		_, err := servers.UpdateMetadata(ctx, compute, req.Host.ProviderID, servers.MetadataOpts{providers.LabelExpires: until.Format(time.RFC3339)}).Extract()
		return err
	})
	if err != nil {
		return providers.ExtendResponse{}, apiError("extend server "+req.Host.ProviderID, err)
	}
	return providers.ExtendResponse{Expires: until}, nil
}

// Adopt describes a server by id or exact name, whether broker made it or
// not, for `broker import`.
func (p *Provider) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.HostInfo, error) {
	s, err := p.getServer(ctx, req.ProviderID)
	if isNotFound(err) {
		all, lerr := p.listServers(ctx)
		if lerr != nil {
			return providers.HostInfo{}, lerr
		}
		var found []servers.Server
		for _, c := range all {
			if c.Name == req.ProviderID {
				found = append(found, c)
			}
		}
		switch len(found) {
		case 0:
			return providers.HostInfo{}, fmt.Errorf("no server %q (by id or name)", req.ProviderID)
		case 1:
			s, err = &found[0], nil
		default:
			return providers.HostInfo{}, fmt.Errorf("server name %q is ambiguous (%d servers); give its id", req.ProviderID, len(found))
		}
	}
	if err != nil {
		return providers.HostInfo{}, err
	}
	return p.hostInfo(s, nil)
}
