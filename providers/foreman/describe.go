package foreman

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labbroker/broker/providers"
)

type hostgroupJSON struct {
	ID                  int    `json:"id"`
	Name                string `json:"name"`
	Title               string `json:"title"`
	Description         string `json:"description"`
	OperatingSystemName string `json:"operatingsystem_name"`
	DomainName          string `json:"domain_name"`
	SubnetName          string `json:"subnet_name"`
	Subnet6Name         string `json:"subnet6_name"`
}

// Describe tells what the provider does; listing "hostgroups" lists the
// hostgroups by title, item "hostgroup" NAME shows one.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	switch strings.ToLower(strings.ReplaceAll(req.Listing, "-", "_")) {
	case "":
		return providers.DescribeResponse{
			Summary: fmt.Sprintf("Foreman %s as %s (organization %q, location %q): checkout builds a host from a hostgroup, check-in deletes it", p.s.URL, p.s.Username, p.s.Organization, p.s.Location),
			Actions: []providers.Action{
				{Name: "checkout", Summary: "create a host from a hostgroup and wait for its build", Args: providers.HelpOf(ArgsSchema)},
				{Name: "execute", Summary: "run a job template on a host through remote execution", Args: []providers.ArgHelp{
					{Name: "hostname", Type: "string", Required: true, Description: "the host to run on"},
					{Name: "job_template", Type: "string", Default: DefaultJobTemplate, Description: "job template name"},
					{Name: "command", Type: "string", Description: "input of Run Command templates; every other argument is an input too"},
				}},
			},
			Listings: []string{"hostgroups", "hostgroup"},
		}, nil
	case "hostgroups":
		if req.Item != "" {
			return p.describeHostgroup(ctx, req.Item)
		}
		var page struct {
			Results []hostgroupJSON `json:"results"`
		}
		if err := p.c.do(ctx, http.MethodGet, "/api/hostgroups?per_page=1000", nil, &page); err != nil {
			return providers.DescribeResponse{}, err
		}
		var items []providers.Item
		for _, hg := range page.Results {
			items = append(items, providers.Item{Name: hg.Title, Description: hg.Description})
		}
		return providers.DescribeResponse{Summary: fmt.Sprintf("%d hostgroups", len(items)), Items: items}, nil
	case "hostgroup":
		if req.Item == "" {
			return providers.DescribeResponse{}, fmt.Errorf("foreman: --hostgroup needs a name")
		}
		return p.describeHostgroup(ctx, req.Item)
	}
	return providers.DescribeResponse{}, fmt.Errorf("foreman: no listing %q (have hostgroups, hostgroup NAME): %w", req.Listing, providers.ErrNotSupported)
}

func (p *Provider) describeHostgroup(ctx context.Context, name string) (providers.DescribeResponse, error) {
	id, err := p.c.idOf(ctx, "hostgroups", name)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	var hg hostgroupJSON
	if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("/api/hostgroups/%d", id), nil, &hg); err != nil {
		return providers.DescribeResponse{}, err
	}
	detail := map[string]any{"name": hg.Title}
	for k, v := range map[string]string{
		"Description": hg.Description, "Operating System": hg.OperatingSystemName, "Domain": hg.DomainName,
		"Subnet": hg.SubnetName, "Subnet6": hg.Subnet6Name,
	} {
		if v != "" {
			detail[k] = v
		}
	}
	return providers.DescribeResponse{Summary: fmt.Sprintf("hostgroup %s (%s)", hg.Title, p.s.URL+"/hostgroups/"+url.PathEscape(strings.ToLower(hg.Name))), Detail: detail}, nil
}
