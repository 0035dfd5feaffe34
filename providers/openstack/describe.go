package openstack

import (
	"context"
	"fmt"
	"sort"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/labbroker/broker/providers"
)

// Listings `broker providers openstack --LISTING` offers; images,
// flavors, networks and templates are the Python broker's.
var listings = []string{"images", "flavors", "networks", "keypairs", "templates", "servers"}

// Describe tells what the provider does, or lists images, flavors,
// networks, key pairs, the settings' templates or broker's servers.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	resp := providers.DescribeResponse{
		Summary:  "servers on OpenStack",
		Listings: listings,
		Actions: []providers.Action{
			{Name: "checkout", Summary: "create a server per host, wait for ACTIVE, reach it over SSH", Args: providers.HelpOf(argsSchema)},
		},
		Detail: map[string]any{},
	}
	for k, v := range map[string]string{"auth_url": p.set.AuthURL, "cloud": p.set.Cloud, "region": p.set.Region} {
		if v != "" {
			resp.Detail[k] = v
		}
	}
	if t := p.set.templateNames(); len(t) > 0 {
		resp.Detail["templates"] = t
	}
	if req.Listing == "" {
		return resp, nil
	}
	items, err := p.listing(ctx, req.Listing)
	if err != nil {
		return resp, err
	}
	for _, it := range items {
		if req.Item == "" || req.Item == it.Name || req.Item == fmt.Sprint(it.Detail["id"]) {
			resp.Items = append(resp.Items, it)
		}
	}
	if req.Item != "" && len(resp.Items) == 0 {
		return resp, fmt.Errorf("no %s %q", req.Listing, req.Item)
	}
	sort.SliceStable(resp.Items, func(i, j int) bool { return resp.Items[i].Name < resp.Items[j].Name })
	return resp, nil
}

func (p *Provider) listing(ctx context.Context, name string) ([]providers.Item, error) {
	var out []providers.Item
	switch name {
	case "templates":
		for _, n := range p.set.templateNames() {
			t := p.set.templates[n]
			d := map[string]any{}
			if t.Image != "" {
				d["image"] = t.Image
			}
			if t.Flavor != "" {
				d["flavor"] = t.Flavor
			}
			if len(t.Networks) > 0 {
				d["networks"] = t.Networks
			}
			if t.KeyName != "" {
				d["key_name"] = t.KeyName
			}
			out = append(out, providers.Item{Name: n, Description: fmt.Sprintf("image %s, flavor %s", t.Image, t.Flavor), Detail: d})
		}
		return out, nil
	case "servers":
		s, err := p.Sync(ctx, providers.SyncRequest{AllUsers: true})
		if err != nil {
			return nil, err
		}
		for _, h := range s.Hosts {
			out = append(out, providers.Item{Name: h.Name, Description: fmt.Sprint(h.Facts["status"]), Detail: h.Facts})
		}
		return out, nil
	}
	compute, image, network, err := p.clients(ctx)
	if err != nil {
		return nil, err
	}
	switch name {
	case "images":
		var list []images.Image
		err = p.retry(ctx, "list images", func() error {
			pages, err := images.List(image, images.ListOpts{}).AllPages(ctx)
			if err != nil {
				return err
			}
			list, err = images.ExtractImages(pages)
			return err
		})
		if err != nil {
			return nil, apiError("list images", err)
		}
		for _, im := range list {
			if im.Status != images.ImageStatusActive {
				continue
			}
			out = append(out, providers.Item{Name: im.Name, Description: im.ID, Detail: map[string]any{"id": im.ID, "size": im.SizeBytes}})
		}
	case "flavors":
		var err error
		var list []providersFlavor
		err = p.retry(ctx, "list flavors", func() error {
			fl, err := p.flavorList(ctx)
			list = list[:0]
			for _, f := range fl {
				list = append(list, providersFlavor{f.ID, f.Name, f.VCPUs, f.RAM, f.Disk})
			}
			return err
		})
		if err != nil {
			return nil, apiError("list flavors", err)
		}
		for _, f := range list {
			out = append(out, providers.Item{Name: f.name, Description: fmt.Sprintf("%d vCPU, %d MiB RAM, %d GiB disk", f.vcpus, f.ram, f.disk),
				Detail: map[string]any{"id": f.id, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk}})
		}
	case "networks":
		var list []networks.Network
		err = p.retry(ctx, "list networks", func() error {
			pages, err := networks.List(network, networks.ListOpts{}).AllPages(ctx)
			if err != nil {
				return err
			}
			list, err = networks.ExtractNetworks(pages)
			return err
		})
		if err != nil {
			return nil, apiError("list networks", err)
		}
		for _, n := range list {
			out = append(out, providers.Item{Name: n.Name, Description: n.ID, Detail: map[string]any{"id": n.ID, "status": n.Status}})
		}
	case "keypairs":
		var list []keypairs.KeyPair
		err = p.retry(ctx, "list key pairs", func() error {
			pages, err := keypairs.List(compute, nil).AllPages(ctx)
			if err != nil {
				return err
			}
			list, err = keypairs.ExtractKeyPairs(pages)
			return err
		})
		if err != nil {
			return nil, apiError("list key pairs", err)
		}
		for _, k := range list {
			out = append(out, providers.Item{Name: k.Name, Description: k.Fingerprint, Detail: map[string]any{"fingerprint": k.Fingerprint}})
		}
	default:
		return nil, fmt.Errorf("unknown listing %q (one of %v): %w", name, listings, providers.ErrNotSupported)
	}
	return out, nil
}

type providersFlavor struct {
	id, name         string
	vcpus, ram, disk int
}
