package app

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// SyncRequest names the provider instance whose resources to list.
type SyncRequest struct {
	// Provider is a provider type or one of its aliases (docker,
	// Container, AnsibleTower).
	Provider string
	// Instance is the instance to ask; "": the type's default instance.
	Instance string
	// User, if set, lists that user's resources instead of this one's.
	User string
	// Add records what the provider lists and no record knows, in
	// Environment (default "default"), as the Python broker's sync adds
	// them to its inventory; without it they are only reported. What
	// another broker state made (a broker.id label this state does not
	// know) is never added: that state manages it (OtherState).
	Add         bool
	Environment string
}

// SyncResult is what a provider instance holds, compared with the state.
type SyncResult struct {
	// Provider and Instance name the instance asked (the type's name,
	// not the alias).
	Provider, Instance string
	// Listed is how many resources the provider listed.
	Listed int
	// Updated are the records of listed resources, with the provider's
	// current hostname, address, name, port and facts; Sync writes them.
	// Local fields (labels, recipe, nick, lease) are kept.
	Updated []state.Host
	// Adoptable are listed resources that no record knows.
	Adoptable []providers.HostInfo
	// Added are the records made for them (SyncRequest.Add).
	Added []state.Host
	// Elsewhere are the records of another instance of the type that have
	// the hostname (else the name) of an adoptable resource: one service
	// configured as two instances lists the same hosts. Add skips those
	// resources, as the Python broker keeps one entry per hostname.
	Elsewhere []state.Host
	// OtherState are adoptable resources made by another broker state
	// (their broker.id is no record of this one): not added, since that
	// state, or `broker reap` after an interrupted run, manages them.
	OtherState []providers.HostInfo
	// Unlisted are the instance's records that the provider did not
	// list: gone behind broker's back, or (with User) another user's
	// listing.
	Unlisted []state.Host
}

// Sync lists what a provider instance holds (providers.Syncer) and merges
// it into the state: known records get the provider's current facts, the
// rest is returned as adoptable. Nothing is created or removed.
func (a *App) Sync(ctx context.Context, req SyncRequest) (*SyncResult, error) {
	t, ok := providers.Lookup(req.Provider)
	if !ok {
		return nil, Hint(fmt.Errorf("unknown provider %q", req.Provider), "known providers: "+strings.Join(providers.Names(), ", "))
	}
	inst := req.Instance
	if inst == "" {
		var err error
		if inst, err = a.DefaultInstance(nil, t.Name); err != nil {
			return nil, err
		}
	}
	p, err := a.Provider(ctx, nil, t.Name, inst)
	if err != nil {
		return nil, err
	}
	s, ok := p.(providers.Syncer)
	if !ok {
		return nil, fmt.Errorf("provider %s cannot list what it holds", t.Name)
	}
	resp, err := s.Sync(ctx, providers.SyncRequest{User: req.User})
	if err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	now := a.opts.Now()
	res := mergeSynced(recs, resp.Hosts, t.Name, inst, now)
	if req.Add {
	adoptable:
		for _, info := range res.Adoptable {
			id := info.Labels[providers.LabelID]
			for _, r := range recs {
				if (id != "" && r.ID == id) || (r.Provider == t.Name && r.Instance != inst && sameHost(r, info)) {
					res.Elsewhere = append(res.Elsewhere, r)
					continue adoptable
				}
			}
			if id != "" {
				res.OtherState = append(res.OtherState, info)
				continue
			}
			res.Added = append(res.Added, syncedRecord(info, t.Name, inst, orDefault(req.Environment), a.Origin(), now))
		}
	}
	if put := append(res.Updated, res.Added...); len(put) > 0 {
		if err := st.Put(ctx, put...); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sameHost: r and info name one host, by hostname, else by name.
// (A record of this state with the resource's broker.id is the same host
// too, whatever its instance.)
func sameHost(r state.Host, info providers.HostInfo) bool {
	if info.Hostname != "" {
		return r.Hostname == info.Hostname
	}
	return info.Name != "" && r.Name == info.Name
}

// syncedRecord is the record of a resource a sync found and no record
// knew. Its labels are the user's (broker's own are dropped); its lease is
// the provider's limit, if any.
func syncedRecord(info providers.HostInfo, typ, inst, env string, origin state.Origin, now time.Time) state.Host {
	labels := map[string]string{}
	for k, v := range info.Labels {
		if !strings.HasPrefix(k, "broker.") {
			labels[k] = v
		}
	}
	h := state.Host{ID: state.NewID(), Environment: env, Provider: typ, Instance: inst, ProviderID: info.ProviderID,
		Name: info.Name, Hostname: info.Hostname, IP: info.IP, Port: info.Port, User: info.User, Transport: info.Transport,
		Facts: info.Facts, Recipe: info.Recipe, Labels: labels, Status: state.StatusReady, Origin: origin,
		Created: cmp.Or(info.Created, now), Updated: now}
	if len(h.Labels) == 0 {
		h.Labels = nil
	}
	h.Lease.Expires = info.Expires
	return h
}

// mergeSynced matches what typ.inst listed with the records: by provider
// id, by the broker.id label, or by name for a record that has no
// provider id.
func mergeSynced(recs []state.Host, listed []providers.HostInfo, typ, inst string, now time.Time) *SyncResult {
	res := &SyncResult{Provider: typ, Instance: inst, Listed: len(listed)}
	matched := map[string]bool{}
	for _, info := range listed {
		found := false
		for _, r := range recs {
			if r.Provider != typ || r.Instance != inst {
				continue
			}
			if (info.ProviderID != "" && info.ProviderID == r.ProviderID) || (info.Labels[providers.LabelID] != "" && info.Labels[providers.LabelID] == r.ID) ||
				(r.ProviderID == "" && info.Name != "" && info.Name == r.Name) {
				found = true
				matched[r.ID] = true
				r.Hostname = cmp.Or(info.Hostname, r.Hostname)
				r.IP = cmp.Or(info.IP, r.IP)
				r.ConnectHost = cmp.Or(info.ConnectHost, r.ConnectHost)
				r.Name = cmp.Or(info.Name, r.Name)
				if info.Port != 0 {
					r.Port = info.Port
				}
				facts := make(map[string]any, len(r.Facts)+len(info.Facts))
				for k, v := range r.Facts {
					facts[k] = v
				}
				for k, v := range info.Facts {
					facts[k] = v
				}
				r.Facts = facts
				r.Updated = now
				res.Updated = append(res.Updated, r)
				break
			}
		}
		if !found {
			res.Adoptable = append(res.Adoptable, info)
		}
	}
	for _, r := range recs {
		if r.Provider == typ && r.Instance == inst && !matched[r.ID] {
			res.Unlisted = append(res.Unlisted, r)
		}
	}
	return res
}
