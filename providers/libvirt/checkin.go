package libvirt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/labbroker/broker/providers"
)

// Checkin destroys and undefines the host's domain and removes the
// volumes made for it (overlay, seed). A domain already gone is not an
// error: the response says Gone, and the volumes recorded for it are
// removed all the same.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	l, err := p.client(ctx)
	if err != nil {
		return providers.CheckinResponse{}, err
	}
	dom, ok, err := p.find(l, req.Host)
	if err != nil {
		return providers.CheckinResponse{}, err
	}
	if !ok {
		var vols []string
		if vs, ok := req.Host.Facts["volumes"].([]any); ok {
			for _, v := range vs {
				if s, ok := v.(string); ok {
					vols = append(vols, s)
				}
			}
		}
		p.removeVolumes(l, vols)
		return providers.CheckinResponse{Gone: true}, nil
	}
	var vols []string
	if x, err := l.DomainGetXMLDesc(dom, 0); err == nil {
		if d, err := parseDomain(x); err == nil && d.Metadata.Host != nil {
			vols = d.Metadata.Host.Volumes
		}
	}
	if err := p.remove(ctx, l, dom.Name, vols); err != nil {
		return providers.CheckinResponse{}, err
	}
	return providers.CheckinResponse{}, nil
}

// find looks a host's domain up by UUID, else by name.
func (p *Provider) find(l *golibvirt.Libvirt, h providers.HostRef) (golibvirt.Domain, bool, error) {
	if u, ok := parseUUID(h.ProviderID); ok {
		dom, err := l.DomainLookupByUUID(u)
		if err == nil {
			return dom, true, nil
		}
		if !isNotFound(err) {
			return dom, false, fmt.Errorf("look up domain %s: %w", h.ProviderID, err)
		}
	}
	for _, n := range []string{h.Name, h.ProviderID} {
		if n == "" || strings.Count(n, "-") == 4 && len(n) == 36 {
			continue
		}
		dom, err := l.DomainLookupByName(n)
		if err == nil {
			return dom, true, nil
		}
		if !isNotFound(err) {
			return dom, false, fmt.Errorf("look up domain %s: %w", n, err)
		}
	}
	return golibvirt.Domain{}, false, nil
}

// remove destroys and undefines the named domain (if it exists) and
// deletes the volumes.
func (p *Provider) remove(_ context.Context, l *golibvirt.Libvirt, name string, vols []string) error {
	dom, err := l.DomainLookupByName(name)
	switch {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("look up domain %s: %w", name, err)
	default:
		if st, _, err := l.DomainGetState(dom, 0); err == nil && st != stateShutoff {
			if err := l.DomainDestroy(dom); err != nil && !isNotFound(err) && !notRunning(err) {
				return fmt.Errorf("stop domain %s: %w", name, err)
			}
		}
		flags := golibvirt.DomainUndefineManagedSave | golibvirt.DomainUndefineSnapshotsMetadata | golibvirt.DomainUndefineNvram
		if err := l.DomainUndefineFlags(dom, flags); err != nil && !isNotFound(err) {
			return fmt.Errorf("undefine domain %s: %w", name, err)
		}
	}
	return p.removeVolumes(l, vols)
}

func notRunning(err error) bool {
	var e golibvirt.Error
	return errors.As(err, &e) && golibvirt.ErrorNumber(e.Code) == golibvirt.ErrOperationInvalid
}

// removeVolumes deletes the named volumes of the pool; missing ones are
// fine.
func (p *Provider) removeVolumes(l *golibvirt.Libvirt, vols []string) error {
	if len(vols) == 0 {
		return nil
	}
	pool, err := l.StoragePoolLookupByName(p.set.Pool)
	if err != nil {
		return fmt.Errorf("storage pool %s: %w", p.set.Pool, err)
	}
	var errs []error
	for _, v := range vols {
		vol, err := l.StorageVolLookupByName(pool, v)
		if isNotFound(err) {
			continue
		}
		if err == nil {
			err = l.StorageVolDelete(vol, 0)
		}
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete volume %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}

// resume looks for the domain of an interrupted checkout. ok reports that
// it was adopted; one that does not run is removed and ok is false.
func (p *Provider) resume(ctx context.Context, l *golibvirt.Libvirt, req providers.CheckoutRequest, progress func(string)) (providers.HostInfo, bool, error) {
	doms, err := p.domains(l)
	if err != nil {
		return providers.HostInfo{}, false, err
	}
	var mine []listed
	for _, d := range doms {
		if d.meta.labels()[providers.LabelIntent] == req.Resume.IntentID || (req.Resume.ProviderID != "" && uuidString(d.dom.UUID) == req.Resume.ProviderID) {
			mine = append(mine, d)
		}
	}
	var adopted *providers.HostInfo
	for _, d := range mine {
		if adopted == nil && d.state == stateRunning {
			h, err := p.waitReady(ctx, l, d.dom, d.meta, progress)
			if err == nil {
				progress(fmt.Sprintf("adopted domain %s of the interrupted checkout", d.dom.Name))
				adopted = &h
				continue
			}
			if ctx.Err() != nil {
				return providers.HostInfo{}, false, ctx.Err()
			}
		}
		progress(fmt.Sprintf("removing domain %s left broken by an interrupted checkout", d.dom.Name))
		if err := p.remove(context.WithoutCancel(ctx), l, d.dom.Name, d.meta.Volumes); err != nil {
			return providers.HostInfo{}, false, err
		}
	}
	if adopted == nil {
		return providers.HostInfo{}, false, nil
	}
	return *adopted, true, nil
}

type listed struct {
	dom   golibvirt.Domain
	xml   domainXML
	meta  meta
	state int32
}

// domains lists the domains that carry broker's metadata.
func (p *Provider) domains(l *golibvirt.Libvirt) ([]listed, error) {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	var out []listed
	for _, dom := range doms {
		x, err := l.DomainGetXMLDesc(dom, 0)
		if err != nil {
			continue // gone meanwhile
		}
		d, err := parseDomain(x)
		if err != nil || d.Metadata.Host == nil {
			continue
		}
		st, _, _ := l.DomainGetState(dom, 0)
		out = append(out, listed{dom: dom, xml: d, meta: *d.Metadata.Host, state: st})
	}
	return out, nil
}

// Extend only computes the new end: a domain has no lease of its own, so
// the lease lives in broker's state.
func (p *Provider) Extend(_ context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	if req.Lease <= 0 {
		return providers.ExtendResponse{}, fmt.Errorf("extend %s: no lease duration given", req.Host.Name)
	}
	return providers.ExtendResponse{Expires: time.Now().Add(req.Lease).UTC()}, nil
}

// Sync lists the domains that carry broker's labels (broker.id): the
// current user's, or req.User's, or with AllUsers everyone's, keeping those
// that carry all of req.Labels. Domains without broker's metadata are
// never listed.
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	l, err := p.client(ctx)
	if err != nil {
		return providers.SyncResponse{}, err
	}
	doms, err := p.domains(l)
	if err != nil {
		return providers.SyncResponse{}, err
	}
	user := req.User
	if user == "" {
		user = p.user
	}
	var resp providers.SyncResponse
outer:
	for _, d := range doms {
		labels := d.meta.labels()
		if labels[providers.LabelID] == "" {
			continue
		}
		if !req.AllUsers && labels[providers.LabelUser] != user {
			continue
		}
		for k, v := range req.Labels {
			if labels[k] != v {
				continue outer
			}
		}
		resp.Hosts = append(resp.Hosts, p.hostInfo(l, d.dom, d.xml, d.state))
	}
	slices.SortFunc(resp.Hosts, func(a, b providers.HostInfo) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

// Refresh tells, read-only, whether each host's domain runs, stopped, or
// is gone.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	resp := providers.RefreshResponse{Hosts: make(map[string]providers.Presence, len(req.Hosts))}
	l, err := p.client(ctx)
	if err != nil {
		for _, h := range req.Hosts {
			resp.Hosts[h.ID] = providers.PresenceUnknown
		}
		return resp, err
	}
	for _, h := range req.Hosts {
		dom, ok, err := p.find(l, h)
		switch {
		case err != nil:
			resp.Hosts[h.ID] = providers.PresenceUnknown
		case !ok:
			resp.Hosts[h.ID] = providers.PresenceGone
		default:
			st, _, err := l.DomainGetState(dom, 0)
			switch {
			case isNotFound(err):
				resp.Hosts[h.ID] = providers.PresenceGone
			case err != nil:
				resp.Hosts[h.ID] = providers.PresenceUnknown
			case st == stateRunning:
				resp.Hosts[h.ID] = providers.PresenceRunning
			default:
				resp.Hosts[h.ID] = providers.PresenceStopped
			}
		}
	}
	return resp, nil
}
