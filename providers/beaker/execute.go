package beaker

import (
	"context"
	"fmt"
	"time"

	"github.com/labbroker/broker/providers"
)

var _ providers.Executor = (*Provider)(nil)

// Execute runs a job to its end, as the Python broker's `execute --job-xml`
// does: it submits job_xml (or a clone of job_id), waits until the job has
// finished (at most max_wait or max_job_wait, after which it is
// cancelled), and returns its id, status, result and systems. A job whose
// result is not Pass is a *JobError, with the same summary as Result.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	maxWait, err := p.maxWait(req.Args)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	doc, err := p.jobXML(ctx, req.Args)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	mark := marker(newMarkID())
	if doc, err = withMarker(doc, mark); err != nil {
		return providers.ExecuteResponse{}, err
	}
	id, err := p.submit(ctx, doc, mark)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	progress := req.Progress
	if progress == nil && req.Stdout != nil {
		progress = func(s string) { fmt.Fprintln(req.Stdout, s) }
	}
	if progress != nil {
		progress(fmt.Sprintf("submitted J:%d: %s", id, p.c.jobURL(id)))
	}
	deadline := p.s.Now().Add(maxWait)
	last := ""
	for {
		j, err := p.c.job(ctx, id)
		if err != nil {
			return providers.ExecuteResponse{}, fmt.Errorf("beaker: watch J:%d: %w", id, err)
		}
		if j.IsFinished {
			res := p.summary(j)
			if j.Result != "Pass" {
				return providers.ExecuteResponse{Result: res, Status: 1}, &JobError{JobID: fmt.Sprintf("J:%d", id), Status: j.Status, Result: j.Result, URL: p.c.jobURL(id), Reason: "finished without passing"}
			}
			return providers.ExecuteResponse{Result: res}, nil
		}
		if j.Status != last {
			last = j.Status
			if progress != nil {
				progress(fmt.Sprintf("J:%d %s", id, j.Status))
			}
		}
		if p.s.Now().After(deadline) {
			reason := fmt.Sprintf("did not finish within %s; cancelled it", maxWait)
			if cerr := p.cancel(ctx, id, "broker: the job did not finish within its max wait"); cerr != nil {
				reason = fmt.Sprintf("did not finish within %s, and cancelling it failed (%v): cancel it by hand", maxWait, cerr)
			}
			return providers.ExecuteResponse{Result: p.summary(j), Status: 1}, &JobError{JobID: fmt.Sprintf("J:%d", id), Status: j.Status, Result: j.Result, URL: p.c.jobURL(id), Reason: reason}
		}
		select {
		case <-ctx.Done():
			return providers.ExecuteResponse{}, ctx.Err()
		case <-time.After(p.s.PollInterval):
		}
	}
}

// summary is a job's result for Execute, as the Python broker curates it.
func (p *Provider) summary(j *jobJSON) map[string]any {
	var systems, distros []any
	for _, r := range allRecipes(j) {
		if f := r.fqdn(); f != "" {
			systems = append(systems, f)
		}
		distros = append(distros, r.DistroTree.Distro.Name)
	}
	out := map[string]any{
		"job_id": fmt.Sprintf("J:%d", j.ID), "status": j.Status, "result": j.Result,
		"whiteboard": markerRE.ReplaceAllString(j.Whiteboard, ""), "url": p.c.jobURL(j.ID),
		"systems": systems, "distros": distros,
	}
	if len(systems) > 0 {
		out["hostname"] = systems[0]
	}
	return out
}
