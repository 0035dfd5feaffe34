package openstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/labbroker/broker/providers"
)

// Checkout creates one server, checkpoints its id, waits for it to be
// ACTIVE and reports it with its address. With req.Resume it adopts the
// server an interrupted checkout made (found by the checkpointed id, else
// by the broker.intent metadata) instead of making another. A create whose
// answer is lost is found by its broker.create nonce, so no duplicate is
// made. A server that goes to ERROR is deleted and reported with Nova's
// fault message; whatever fails, nothing the checkout made is left.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	a, err := p.set.resolveArgs(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	if req.Resume != nil {
		h, ok, err := p.resume(ctx, req, a, progress)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		if ok {
			return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}, Adopted: true}, nil
		}
	}
	name := p.serverName(req)
	id, err := p.create(ctx, req, a, name, progress)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	if req.Checkpoint != nil {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: id}); err != nil {
			p.cleanup(ctx, compute, id, name)
			return providers.CheckoutResponse{}, fmt.Errorf("checkpoint server %s: %w", id, err)
		}
	}
	h, err := p.finish(ctx, id, name, a, progress)
	if err != nil {
		var be *BuildError
		if !errors.As(err, &be) { // a BuildError's server is deleted already
			p.cleanup(ctx, compute, id, name)
		}
		return providers.CheckoutResponse{}, err
	}
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{h}}, nil
}

// finish waits for a server to be ACTIVE, gives it a floating IP when the
// settings ask for one, and describes it.
func (p *Provider) finish(ctx context.Context, id, name string, a args, progress func(string)) (providers.HostInfo, error) {
	s, err := p.waitActive(ctx, id, name, progress)
	if err != nil {
		return providers.HostInfo{}, err
	}
	if p.set.FloatingIPNetwork != "" && floatingAddr(s) == "" {
		if err := p.attachFloatingIP(ctx, s, progress); err != nil {
			return providers.HostInfo{}, err
		}
		if s, err = p.getServer(ctx, id); err != nil {
			return providers.HostInfo{}, err
		}
	}
	return p.hostInfo(s, a.Networks)
}

// cleanup deletes a server the checkout made, and its floating IP.
func (p *Provider) cleanup(ctx context.Context, compute *gophercloud.ServiceClient, id, name string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace+p.set.ServerTimeout)
	defer cancel()
	if err := p.deleteServer(cctx, compute, id); err != nil && !isNotFound(err) {
		p.logger.Warn("openstack: delete failed server", "server", name, "id", id, "err", err)
	}
}

// cleanupGrace bounds the calls of a clean-up (the delete, the floating
// IP's release) beside the wait for the server to go, which server_timeout
// bounds.
const cleanupGrace = 2 * time.Minute

// serverName is the request's name, else name_prefix-<random>.
func (p *Provider) serverName(req providers.CheckoutRequest) string {
	if req.Name != "" {
		return req.Name
	}
	return p.set.NamePrefix + "-" + randomHex(4)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// metadata is what a new server carries: the user's metadata argument,
// then broker's labels, the provider's own labels and the create nonce.
func (p *Provider) metadata(req providers.CheckoutRequest, a args, nonce string) map[string]string {
	md := map[string]string{}
	maps.Copy(md, a.Metadata)
	maps.Copy(md, req.Labels)
	md[LabelProvider] = "openstack"
	md[LabelInstance] = p.instance
	md[LabelCreate] = nonce
	if md[providers.LabelUser] == "" && p.user != "" {
		md[providers.LabelUser] = p.user
	}
	return md
}

// create resolves the image, flavor and networks and creates the server.
// A create that fails without a clear answer (5xx, dropped connection) may
// still have taken effect: the server is then looked for by the create's
// nonce and adopted, and only when none is found is the create sent again.
func (p *Provider) create(ctx context.Context, req providers.CheckoutRequest, a args, name string, progress func(string)) (string, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return "", err
	}
	imageID, err := p.resolveImage(ctx, a.Image)
	if err != nil {
		return "", err
	}
	flavorID, err := p.resolveFlavor(ctx, a.Flavor)
	if err != nil {
		return "", err
	}
	var nets []servers.Network
	for _, n := range a.Networks {
		id, err := p.resolveNetwork(ctx, n)
		if err != nil {
			return "", err
		}
		nets = append(nets, servers.Network{UUID: id})
	}
	nonce := randomHex(8)
	opts := servers.CreateOpts{
		Name:             name,
		ImageRef:         imageID,
		FlavorRef:        flavorID,
		Networks:         nets,
		Metadata:         p.metadata(req, a, nonce),
		SecurityGroups:   a.SecurityGroups,
		AvailabilityZone: a.AvailabilityZone,
	}
	if a.UserData != "" {
		opts.UserData = []byte(a.UserData)
	}
	var builder servers.CreateOptsBuilder = opts
	if a.KeyName != "" {
		builder = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: a.KeyName}
	}
	progress(fmt.Sprintf("creating server %s (image %s, flavor %s, network %s)", name, a.Image, a.Flavor, strings.Join(a.Networks, ", ")))
	op := "create server " + name
	for attempt := 0; ; attempt++ {
		s, err := servers.Create(ctx, compute, builder, nil).Extract()
		if err == nil {
			return s.ID, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if !transient(err) {
			return "", apiError(op, err)
		}
		// The create may have taken effect before its answer was lost.
		found, ferr := p.findByLabel(ctx, LabelCreate, nonce)
		if ferr == nil && len(found) > 0 {
			progress(fmt.Sprintf("the answer to the create of %s was lost; found server %s by its broker.create label", name, found[0].ID))
			for _, extra := range found[1:] {
				p.cleanup(ctx, compute, extra.ID, extra.Name)
			}
			return found[0].ID, nil
		}
		if attempt >= p.set.Retries {
			return "", apiError(op, err)
		}
		progress(fmt.Sprintf("create of %s failed (%v); trying again", name, shortErr(err)))
		if err := p.pause(ctx); err != nil {
			return "", err
		}
	}
}

func shortErr(err error) string {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return fmt.Sprintf("%d %s", ue.Actual, serviceMessage(ue.Body))
	}
	return err.Error()
}

// resume finds the server of an interrupted checkout: by the checkpointed
// id, else by the intent label. A usable one is adopted (waiting for it to
// be ACTIVE); one in ERROR is deleted and ok is false.
func (p *Provider) resume(ctx context.Context, req providers.CheckoutRequest, a args, progress func(string)) (providers.HostInfo, bool, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return providers.HostInfo{}, false, err
	}
	var cands []servers.Server
	if id := req.Resume.ProviderID; id != "" {
		s, err := p.getServer(ctx, id)
		switch {
		case err == nil:
			cands = append(cands, *s)
		case !isNotFound(err):
			return providers.HostInfo{}, false, err
		}
	}
	if len(cands) == 0 && req.Resume.IntentID != "" {
		found, err := p.findByLabel(ctx, providers.LabelIntent, req.Resume.IntentID)
		if err != nil {
			return providers.HostInfo{}, false, fmt.Errorf("look for the server of intent %s: %w", req.Resume.IntentID, err)
		}
		cands = found
	}
	var adopted *providers.HostInfo
	for _, s := range cands {
		if adopted == nil && s.Status != "ERROR" {
			h, err := p.finish(ctx, s.ID, s.Name, a, progress)
			if err == nil {
				progress(fmt.Sprintf("adopted server %s (%s) of the interrupted checkout", s.Name, s.ID))
				adopted = &h
				continue
			}
			var be *BuildError
			if errors.As(err, &be) {
				progress(err.Error())
				continue
			}
			if ctx.Err() != nil {
				return providers.HostInfo{}, false, ctx.Err()
			}
		}
		progress(fmt.Sprintf("deleting server %s (%s) left broken by an interrupted checkout", s.Name, s.ID))
		p.cleanup(ctx, compute, s.ID, s.Name)
	}
	if adopted == nil {
		return providers.HostInfo{}, false, nil
	}
	return *adopted, true, nil
}

// findByLabel lists the servers whose metadata has key=value.
func (p *Provider) findByLabel(ctx context.Context, key, value string) ([]servers.Server, error) {
	all, err := p.listServers(ctx)
	if err != nil {
		return nil, err
	}
	var out []servers.Server
	for _, s := range all {
		if s.Metadata[key] == value {
			out = append(out, s)
		}
	}
	return out, nil
}

// listServers lists the project's servers with details.
func (p *Provider) listServers(ctx context.Context) ([]servers.Server, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return nil, err
	}
	var out []servers.Server
	err = p.retry(ctx, "list servers", func() error {
		pages, err := servers.List(compute, servers.ListOpts{}).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = servers.ExtractServers(pages)
		return err
	})
	if err != nil {
		return nil, apiError("list servers", err)
	}
	return out, nil
}

// getServer reads one server; a missing one is an error isNotFound accepts.
func (p *Provider) getServer(ctx context.Context, id string) (*servers.Server, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return nil, err
	}
	var s *servers.Server
	err = p.retry(ctx, "get server", func() error {
		var err error
		s, err = servers.Get(ctx, compute, id).Extract()
		return err
	})
	if err != nil {
		return nil, apiError("get server "+id, err)
	}
	return s, nil
}

func orNone(status string) string {
	if status == "" {
		return "unknown (no answer yet)"
	}
	return status
}

// progressEvery is how often a wait that sees no change says it goes on.
var progressEvery = 30 * time.Second

// waitActive polls a server until it is ACTIVE. One that goes to ERROR is
// deleted and reported as a *BuildError with Nova's fault message.
func (p *Provider) waitActive(ctx context.Context, id, name string, progress func(string)) (*servers.Server, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, p.set.ServerTimeout)
	defer cancel()
	last := ""
	start, said := time.Now(), time.Now()
	for {
		s, err := p.getServer(wctx, id)
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return nil, fmt.Errorf("server %s (%s) is not ACTIVE after %s (server_timeout); last status %s", name, id, p.set.ServerTimeout, orNone(last))
			}
			if isNotFound(err) {
				return nil, fmt.Errorf("server %s (%s) vanished while it was built", name, id)
			}
			return nil, err
		}
		switch {
		case s.Status != last:
			progress(fmt.Sprintf("server %s (%s): %s", name, id, s.Status))
			last, said = s.Status, time.Now()
		case time.Since(said) >= progressEvery:
			// A long build still says that it goes on.
			progress(fmt.Sprintf("server %s (%s): still %s after %s", name, id, s.Status, time.Since(start).Round(time.Second)))
			said = time.Now()
		}
		switch s.Status {
		case "ACTIVE":
			return s, nil
		case "ERROR":
			be := &BuildError{Name: name, ID: id, Fault: s.Fault.Message}
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace+p.set.ServerTimeout)
			derr := p.deleteServer(dctx, compute, id)
			dcancel()
			if derr != nil && !isNotFound(derr) {
				return nil, fmt.Errorf("%w (and deleting it failed: %v)", be, derr)
			}
			return nil, be
		}
		if err := p.pause(wctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("server %s (%s) is not ACTIVE after %s (server_timeout); last status %s", name, id, p.set.ServerTimeout, orNone(last))
		}
	}
}

// attachFloatingIP allocates a floating IP from floating_ip_network for
// the server's first port, described so that check-in releases it.
func (p *Provider) attachFloatingIP(ctx context.Context, s *servers.Server, progress func(string)) error {
	_, _, network, err := p.clients(ctx)
	if err != nil {
		return err
	}
	extID, err := p.resolveNetwork(ctx, p.set.FloatingIPNetwork)
	if err != nil {
		return err
	}
	var portList []ports.Port
	err = p.retry(ctx, "list ports", func() error {
		pages, err := ports.List(network, ports.ListOpts{DeviceID: s.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		portList, err = ports.ExtractPorts(pages)
		return err
	})
	if err != nil {
		return apiError("list the ports of server "+s.Name, err)
	}
	if len(portList) == 0 {
		return fmt.Errorf("server %s (%s) has no port to give a floating IP", s.Name, s.ID)
	}
	desc := fipDescription(s.ID)
	// One left by an earlier try (a lost answer, a resumed checkout).
	var existing []floatingips.FloatingIP
	err = p.retry(ctx, "list floating IPs", func() error {
		pages, err := floatingips.List(network, floatingips.ListOpts{Description: desc}).AllPages(ctx)
		if err != nil {
			return err
		}
		existing, err = floatingips.ExtractFloatingIPs(pages)
		return err
	})
	if err != nil {
		return apiError("list floating IPs", err)
	}
	if len(existing) > 0 {
		return nil
	}
	fip, err := floatingips.Create(ctx, network, floatingips.CreateOpts{FloatingNetworkID: extID, PortID: portList[0].ID, Description: desc}).Extract()
	if err != nil {
		return apiError("allocate a floating IP from "+p.set.FloatingIPNetwork+" for "+s.Name, err)
	}
	progress(fmt.Sprintf("server %s: floating IP %s", s.Name, fip.FloatingIP))
	return nil
}

// hostInfo describes a server as a host.
func (p *Provider) hostInfo(s *servers.Server, nets []string) (providers.HostInfo, error) {
	fixed := fixedAddr(s, nets)
	floating := floatingAddr(s)
	addr := ""
	switch p.set.Address {
	case addressFixed:
		addr = fixed
	case addressFloating:
		addr = floating
		if addr == "" {
			return providers.HostInfo{}, fmt.Errorf("server %s (%s) has no floating IP (setting address = %q; set floating_ip_network to allocate one)", s.Name, s.ID, addressFloating)
		}
	default:
		addr = floating
		if addr == "" {
			addr = fixed
		}
	}
	if addr == "" {
		return providers.HostInfo{}, fmt.Errorf("server %s (%s) has no address", s.Name, s.ID)
	}
	facts := map[string]any{
		"instance_id": s.ID,
		"status":      s.Status,
		"flavor":      fmt.Sprint(s.Flavor["id"]),
		"key_name":    s.KeyName,
		"addresses":   addressFacts(s),
	}
	if id, ok := s.Image["id"]; ok {
		facts["image"] = fmt.Sprint(id)
	}
	if fixed != "" {
		facts["fixed_ip"] = fixed
	}
	if floating != "" {
		facts["floating_ip"] = floating
	}
	h := providers.HostInfo{
		ProviderID: s.ID,
		Name:       s.Name,
		Hostname:   addr,
		IP:         addr,
		Port:       22,
		User:       p.set.SSHUser,
		Transport:  providers.TransportSSH,
		Facts:      facts,
		Labels:     maps.Clone(s.Metadata),
		Created:    s.Created,
	}
	if t, err := time.Parse(time.RFC3339, s.Metadata[providers.LabelExpires]); err == nil {
		h.Expires = t
	}
	return h, nil
}

// addressEntry is one of a server's addresses as Nova lists them.
type addressEntry struct {
	network, addr, kind string
	version             int
}

func addresses(s *servers.Server) []addressEntry {
	var out []addressEntry
	names := make([]string, 0, len(s.Addresses))
	for k := range s.Addresses {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		list, _ := s.Addresses[n].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			addr, _ := m["addr"].(string)
			kind, _ := m["OS-EXT-IPS:type"].(string)
			v, _ := m["version"].(float64)
			if addr != "" {
				out = append(out, addressEntry{network: n, addr: addr, kind: kind, version: int(v)})
			}
		}
	}
	return out
}

func addressFacts(s *servers.Server) map[string]any {
	out := map[string]any{}
	for _, e := range addresses(s) {
		l, _ := out[e.network].([]any)
		out[e.network] = append(l, map[string]any{"addr": e.addr, "type": e.kind})
	}
	return out
}

func floatingAddr(s *servers.Server) string {
	for _, e := range addresses(s) {
		if e.kind == "floating" {
			return e.addr
		}
	}
	return ""
}

// fixedAddr is the fixed IPv4 address on the first of nets that has one
// (nets may be names or ids; Nova keys addresses by name), else the first
// fixed address.
func fixedAddr(s *servers.Server, nets []string) string {
	all := addresses(s)
	for _, n := range nets {
		for _, e := range all {
			if e.network == n && e.kind != "floating" && e.version == 4 {
				return e.addr
			}
		}
	}
	for _, e := range all {
		if e.kind != "floating" && e.version == 4 {
			return e.addr
		}
	}
	for _, e := range all {
		if e.kind != "floating" {
			return e.addr
		}
	}
	return ""
}

// resolveImage finds an image by id, then by exact name.
func (p *Provider) resolveImage(ctx context.Context, ref string) (string, error) {
	_, image, _, err := p.clients(ctx)
	if err != nil {
		return "", err
	}
	var list []images.Image
	err = p.retry(ctx, "find image", func() error {
		im, err := images.Get(ctx, image, ref).Extract()
		if err == nil {
			list = []images.Image{*im}
			return nil
		}
		if !gophercloud.ResponseCodeIs(err, 404) && !gophercloud.ResponseCodeIs(err, 400) {
			return err
		}
		pages, err := images.List(image, images.ListOpts{Name: ref}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = images.ExtractImages(pages)
		return err
	})
	if err != nil {
		return "", apiError("find image "+ref, err)
	}
	switch len(list) {
	case 0:
		return "", fmt.Errorf("image %q not found (by id or name)\nhint: broker providers openstack --images lists them", ref)
	case 1:
		return list[0].ID, nil
	}
	return "", fmt.Errorf("image name %q is ambiguous (%d images); give its id", ref, len(list))
}

// resolveFlavor finds a flavor by id, then by exact name.
func (p *Provider) resolveFlavor(ctx context.Context, ref string) (string, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return "", err
	}
	var id string
	err = p.retry(ctx, "find flavor", func() error {
		f, err := flavors.Get(ctx, compute, ref).Extract()
		if err == nil {
			id = f.ID
			return nil
		}
		if !gophercloud.ResponseCodeIs(err, 404) {
			return err
		}
		list, err := p.flavorList(ctx)
		if err != nil {
			return err
		}
		for _, f := range list {
			if f.Name == ref {
				id = f.ID
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return "", apiError("find flavor "+ref, err)
	}
	if id == "" {
		return "", fmt.Errorf("flavor %q not found (by id or name)\nhint: broker providers openstack --flavors lists them", ref)
	}
	return id, nil
}

func (p *Provider) flavorList(ctx context.Context) ([]flavors.Flavor, error) {
	compute, _, _, err := p.clients(ctx)
	if err != nil {
		return nil, err
	}
	pages, err := flavors.ListDetail(compute, flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return flavors.ExtractFlavors(pages)
}

// resolveNetwork finds a network by id, then by exact name.
func (p *Provider) resolveNetwork(ctx context.Context, ref string) (string, error) {
	_, _, network, err := p.clients(ctx)
	if err != nil {
		return "", err
	}
	var list []networks.Network
	err = p.retry(ctx, "find network", func() error {
		n, err := networks.Get(ctx, network, ref).Extract()
		if err == nil {
			list = []networks.Network{*n}
			return nil
		}
		if !gophercloud.ResponseCodeIs(err, 404) {
			return err
		}
		pages, err := networks.List(network, networks.ListOpts{Name: ref}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = networks.ExtractNetworks(pages)
		return err
	})
	if err != nil {
		return "", apiError("find network "+ref, err)
	}
	switch len(list) {
	case 0:
		return "", fmt.Errorf("network %q not found (by id or name)\nhint: broker providers openstack --networks lists them", ref)
	case 1:
		return list[0].ID, nil
	}
	return "", fmt.Errorf("network name %q is ambiguous (%d networks); give its id", ref, len(list))
}
