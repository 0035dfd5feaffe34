package app

import (
	"time"

	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// ImportRequest adopts an existing resource at an address of a manifest.
type ImportRequest struct {
	Config      *manifest.Config
	Environment string
	// Address is the manifest's address the record gets (host.db[0]).
	Address string
	// Provider is "type.instance"; ProviderID the provider's id of the
	// resource (a container id, or its unique prefix, or its name).
	Provider, ProviderID string
	// LockTimeout bounds the wait for an environment's lock; 0 does not
	// wait. OnLockWait is told who holds it when the wait begins.
	LockTimeout time.Duration
	OnLockWait  func(holder state.LockInfo)
}

// ImportResult is the record written, and what is worth telling.
type ImportResult struct {
	Host  state.Host
	Notes []string
}

// Import finds the resource through the provider (Adopter, else Sync)
// and writes a ready record for it at the address, under the
// environment's lock. The recipe is the provider's where it reports one,
// else the manifest's; the next plan is then NoOp for the host, or Replace
// with the reason when the recipe differs.
func (a *App) Import(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	var want *planner.Desired
	desired := planner.DesiredHosts(req.Config)
	for i := range desired {
		if desired[i].Address == req.Address {
			want = &desired[i]
		}
	}
	if want == nil {
		return nil, Hint(fmt.Errorf("the manifest has no %s", req.Address), "import to an address the manifest declares: host.NAME[INDEX] with INDEX below the block's count")
	}
	typ, inst, ok := strings.Cut(req.Provider, ".")
	if !ok || typ == "" || inst == "" {
		return nil, fmt.Errorf("give the resource as TYPE.INSTANCE:ID (docker.local:3f2a…), not %q", req.Provider+":"+req.ProviderID)
	}
	t, ok := providers.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("unknown provider type %q (known: %v)", typ, providers.Names())
	}
	typ = t.Name
	pr, err := a.Provider(ctx, req.Config, typ, inst)
	if err != nil {
		return nil, err
	}
	info, err := findResource(ctx, pr, req.ProviderID)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", typ, inst, err)
	}

	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	lock, err := st.Lock(ctx, req.Environment, a.LockInfo("import"), state.LockOptions{Timeout: req.LockTimeout, OnWait: req.OnLockWait})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	recs, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Environment == req.Environment && r.Address == req.Address {
			return nil, Hint(fmt.Errorf("%s already holds host %s in environment %q", req.Address, r.ID, req.Environment),
				"check it in first (broker destroy --target 'address == \""+req.Address+"\"'), or taint it and apply")
		}
		if r.Provider == typ && r.ProviderID == info.ProviderID {
			where := r.Address
			if where == "" {
				where = "without an address"
			}
			return nil, fmt.Errorf("%s is already recorded as host %s (environment %q, %s)", info.ProviderID, r.ID, r.Environment, where)
		}
	}

	now := a.opts.Now()
	origin := a.origin
	origin.Command = "import"
	h := state.Host{
		ID: state.NewID(), Environment: req.Environment, Address: req.Address,
		Provider: typ, Instance: inst, ProviderID: info.ProviderID,
		Name: info.Name, Hostname: info.Hostname, IP: info.IP, ConnectHost: info.ConnectHost, Port: info.Port, User: info.User,
		Transport: info.Transport, Nick: want.Nick,
		Facts: maps.Clone(info.Facts), Labels: maps.Clone(want.Labels),
		Lease: state.Lease{
			Duration: want.Lease,
			Expires:  planner.LeaseExpiry(now, want.Lease, info.Expires),
		},
		Status: state.StatusReady, Origin: origin, Created: now, Updated: now,
	}
	res := &ImportResult{}
	if info.Recipe != nil {
		h.Recipe = maps.Clone(info.Recipe)
	} else {
		h.Recipe = maps.Clone(want.Args)
		res.Notes = append(res.Notes, fmt.Sprintf("%s does not report how the resource was made; recorded with the manifest's args", req.Provider))
	}
	if want.Provider != typ || want.Instance != inst {
		res.Notes = append(res.Notes, fmt.Sprintf("the manifest makes %s with %s.%s: the next plan replaces it", req.Address, want.Provider, want.Instance))
	} else if diff := planner.ChangedKeys(h.Recipe, want.Args); len(diff) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the resource was made with other args (%s): the next plan replaces it", strings.Join(diff, ", ")))
	}
	if err := st.Put(ctx, h); err != nil {
		return nil, err
	}
	res.Host = h
	return res, nil
}

// findResource asks the provider for the resource id names: Adopt where
// the provider can, else among what Sync lists (every user's), by id,
// unique id prefix or name.
func findResource(ctx context.Context, pr providers.Provider, id string) (providers.HostInfo, error) {
	if ad, ok := pr.(providers.Adopter); ok {
		info, err := ad.Adopt(ctx, providers.AdoptRequest{ProviderID: id})
		if !errors.Is(err, providers.ErrNotSupported) {
			return info, err
		}
	}
	s, ok := pr.(providers.Syncer)
	if !ok {
		return providers.HostInfo{}, fmt.Errorf("the provider cannot look resources up, so it cannot import: %w", providers.ErrNotSupported)
	}
	resp, err := s.Sync(ctx, providers.SyncRequest{AllUsers: true})
	if err != nil {
		return providers.HostInfo{}, fmt.Errorf("sync: %w", err)
	}
	var hits []providers.HostInfo
	for _, h := range resp.Hosts {
		switch {
		case h.ProviderID == id || h.Name == id:
			return h, nil
		case len(id) >= 4 && strings.HasPrefix(h.ProviderID, id):
			hits = append(hits, h)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return providers.HostInfo{}, fmt.Errorf("no resource %q among those carrying broker's labels", id)
	}
	return providers.HostInfo{}, fmt.Errorf("%q names %d resources; give more of the id", id, len(hits))
}

// InventoryImport is what ImportInventory did.
type InventoryImport struct {
	// Added are the records written; Skipped the hosts the state already
	// holds (same provider instance and provider id).
	Added, Skipped []state.Host
	// Unsupported say which hosts of the file cannot be recorded, and
	// why (a provider this build lacks).
	Unsupported []string
}

// ImportInventory records the hosts of a Python broker inventory file
// (inventory.yaml) in env, skipping those the state already holds.
func (a *App) ImportInventory(ctx context.Context, src []byte, env string) (*InventoryImport, error) {
	hosts, unsupported, err := pyconfig.ConvertInventory(src, orDefault(env), a.Origin(), a.Now())
	if err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	existing, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return nil, err
	}
	a.defaultInstances(hosts)
	out := &InventoryImport{Added: []state.Host{}, Unsupported: unsupported}
	for _, h := range hosts {
		if slices.ContainsFunc(existing, func(e state.Host) bool {
			return e.Provider == h.Provider && e.Instance == h.Instance && e.ProviderID == h.ProviderID
		}) {
			out.Skipped = append(out.Skipped, h)
			continue
		}
		out.Added = append(out.Added, h)
	}
	if len(out.Added) > 0 {
		if err := st.Put(ctx, out.Added...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PythonInventoryFile is the Python broker's inventory, in the broker
// directory; its hosts are adopted into the state (see adoptPythonInventory).
const PythonInventoryFile = "inventory.yaml"

// adoptedSuffix names the file listing the hosts of inventory.yaml
// already adopted, so that a host checked in here is not adopted again.
const adoptedSuffix = ".adopted"

// adoptPythonInventory reads the Python broker's <dir>/inventory.yaml in
// place: the hosts it lists that were never adopted (by provider,
// instance and id) are recorded in the default environment, as broker
// inventory import would, and noted on stderr. Hosts of providers this
// build lacks are noted and left out. Called with the store just opened;
// a failure is a warning (the next run tries again), never the command's.
func (a *App) adoptPythonInventory(ctx context.Context, st state.Store) {
	if err := a.adoptPythonInventoryErr(ctx, st); err != nil {
		fmt.Fprintf(a.opts.Stderr, "broker: warning: the Python broker's %s was not adopted (the next command tries again): %v\n",
			filepath.Join(a.Dir, PythonInventoryFile), err)
	}
}

func (a *App) adoptPythonInventoryErr(ctx context.Context, st state.Store) error {
	path := filepath.Join(a.Dir, PythonInventoryFile)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	hosts, unsupported, err := pyconfig.ConvertInventory(src, DefaultEnvironment, a.Origin(), a.Now())
	if err != nil {
		return fmt.Errorf("%w; fix it, or move it away and run broker inventory import on a fixed copy", err)
	}
	a.defaultInstances(hosts)
	marker := path + adoptedSuffix
	done := map[string]bool{}
	if b, err := os.ReadFile(marker); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			done[l] = true
		}
	}
	key := func(h state.Host) string { return h.Provider + " " + h.Instance + " " + h.ProviderID }
	var todo []state.Host
	for _, h := range hosts {
		if !done[key(h)] {
			todo = append(todo, h)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	lock, err := st.Lock(ctx, DefaultEnvironment, a.LockInfo("inventory import"), state.LockOptions{})
	if err != nil {
		return err
	}
	defer lock.Unlock()
	existing, err := st.Hosts(ctx, state.Query{})
	if err != nil {
		return err
	}
	var add []state.Host
	for _, h := range todo {
		if !slices.ContainsFunc(existing, func(e state.Host) bool {
			return e.Provider == h.Provider && e.Instance == h.Instance && e.ProviderID == h.ProviderID
		}) {
			add = append(add, h)
		}
	}
	if len(add) > 0 {
		if err := st.Put(ctx, add...); err != nil {
			return err
		}
	}
	var lines []string
	for k := range done {
		if k != "" {
			lines = append(lines, k)
		}
	}
	for _, h := range todo {
		lines = append(lines, key(h))
	}
	sort.Strings(lines)
	if err := writeFileAtomic(marker, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return err
	}
	if len(add) > 0 {
		fmt.Fprintf(a.opts.Stderr, "broker: note: adopted %d host(s) of the Python broker's %s into the state (environment %q); broker owns them from now on (%s lists the hosts adopted)\n",
			len(add), path, DefaultEnvironment, marker)
	}
	for _, u := range unsupported {
		fmt.Fprintf(a.opts.Stderr, "broker: note: %s: %s; left out\n", path, u)
	}
	return nil
}

// defaultInstances gives the hosts of a Python inventory that name no
// provider instance the type's default instance, as the Python broker
// would use.
func (a *App) defaultInstances(hosts []state.Host) {
	for i := range hosts {
		if hosts[i].Instance != "" {
			continue
		}
		hosts[i].Instance = "default"
		if inst, err := a.DefaultInstance(nil, hosts[i].Provider); err == nil && inst != "" {
			hosts[i].Instance = inst
		}
	}
}
