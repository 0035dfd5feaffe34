package beaker

import (
	"context"
	"fmt"
	"strings"

	"github.com/labbroker/broker/providers"
)

// Describe tells what the provider does; listing "jobs" lists the user's
// jobs (newest first, at most 50), item "job" J:123 shows a job with the
// XML a clone of it would submit.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	switch strings.ToLower(strings.ReplaceAll(req.Listing, "-", "_")) {
	case "":
		return providers.DescribeResponse{
			Summary: fmt.Sprintf("Beaker hub %s as %s: checkout submits a job and waits for its recipe to reserve a system; check-in cancels the job; extend runs %s on the host", p.s.HubURL, p.s.Username, p.s.ExtendCommand),
			Actions: []providers.Action{
				{Name: "checkout", Summary: "submit job XML (or clone a job) and wait for the reservation", Args: providers.HelpOf(ArgsSchema)},
				{Name: "execute", Summary: "submit job XML (or clone a job) and wait for it to finish; its status and result", Args: providers.HelpOf(ArgsSchema)},
				{Name: "extend", Summary: "run " + p.s.ExtendCommand + " HOURS on the host over SSH (1 to 99 hours; default the lease)"},
			},
			Listings: []string{"jobs", "job"},
		}, nil
	case "jobs":
		if req.Item != "" {
			return p.describeJob(ctx, req.Item)
		}
		ids, err := p.c.filter(ctx, map[string]any{"owner": p.s.Username, "limit": 50})
		if err != nil {
			return providers.DescribeResponse{}, err
		}
		var items []providers.Item
		for _, s := range ids {
			n, ok := jobNumber(s)
			if !ok {
				continue
			}
			j, err := p.c.job(ctx, n)
			if err != nil {
				return providers.DescribeResponse{}, err
			}
			var systems []string
			for _, r := range allRecipes(j) {
				if f := r.fqdn(); f != "" {
					systems = append(systems, f)
				}
			}
			desc := j.Status
			if wb := strings.TrimSpace(markerRE.ReplaceAllString(j.Whiteboard, "")); wb != "" {
				desc += ": " + wb
			}
			if len(systems) > 0 {
				desc += " (" + strings.Join(systems, ", ") + ")"
			}
			items = append(items, providers.Item{Name: s, Description: desc, Detail: map[string]any{"status": j.Status, "result": j.Result, "whiteboard": j.Whiteboard, "systems": systems, "url": p.c.jobURL(n)}})
		}
		return providers.DescribeResponse{Summary: fmt.Sprintf("%d jobs of %s", len(items), p.s.Username), Items: items}, nil
	case "job":
		if req.Item == "" {
			return providers.DescribeResponse{}, fmt.Errorf("beaker: --job needs a job id (J:123)")
		}
		return p.describeJob(ctx, req.Item)
	}
	return providers.DescribeResponse{}, fmt.Errorf("beaker: no listing %q (have jobs, job J:123): %w", req.Listing, providers.ErrNotSupported)
}

func (p *Provider) describeJob(ctx context.Context, item string) (providers.DescribeResponse, error) {
	n, ok := jobNumber(item)
	if !ok {
		return providers.DescribeResponse{}, fmt.Errorf("beaker: %q is not a job id (J:123)", item)
	}
	j, err := p.c.job(ctx, n)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	v, err := p.c.call(ctx, "taskactions.to_xml", fmt.Sprintf("J:%d", n), true, false, false)
	if err != nil {
		return providers.DescribeResponse{}, err
	}
	doc, _ := v.(string)
	return providers.DescribeResponse{
		// The XML a clone submits, as it is, for reading and copying.
		Summary: fmt.Sprintf("J:%d %s (%s); a clone submits:\n\n%s", n, j.Status, p.c.jobURL(n), strings.TrimSpace(doc)),
		Detail:  map[string]any{"job_id": fmt.Sprintf("J:%d", n), "status": j.Status, "result": j.Result, "whiteboard": j.Whiteboard, "url": p.c.jobURL(n)},
	}, nil
}
