package awx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) for a template or inventory AWX does
// not have (or does not show this user).
var ErrNotFound = errors.New("not found")

// Template kinds.
const (
	KindWorkflow    = "workflow"
	KindJobTemplate = "job_template"
)

// Final job statuses.
func finalStatus(s string) bool {
	switch s {
	case "successful", "failed", "error", "canceled":
		return true
	}
	return false
}

type templateInfo struct {
	ID            int    `json:"id"`
	Type          string `json:"type"`
	URL           string `json:"url"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	ExtraVars     string `json:"extra_vars"`
	Inventory     *int   `json:"inventory"`
	SurveyEnabled bool   `json:"survey_enabled"`
	Related       struct {
		Launch     string `json:"launch"`
		SurveySpec string `json:"survey_spec"`
	} `json:"related"`
	SummaryFields struct {
		UserCapabilities map[string]bool `json:"user_capabilities"`
		Organization     *struct {
			ID int `json:"id"`
		} `json:"organization"`
	} `json:"summary_fields"`
}

func (t *templateInfo) kind() string {
	if t.Type == "job_template" {
		return KindJobTemplate
	}
	return KindWorkflow
}

func templatePath(kind string) string {
	if kind == KindJobTemplate {
		return "job_templates/"
	}
	return "workflow_job_templates/"
}

func jobPath(kind string, id int) string {
	if kind == KindJobTemplate {
		return fmt.Sprintf("jobs/%d/", id)
	}
	return fmt.Sprintf("workflow_jobs/%d/", id)
}

func kindLabel(kind string) string {
	if kind == KindJobTemplate {
		return "job template"
	}
	return "workflow"
}

func (c *client) findTemplate(ctx context.Context, kind, name string) (*templateInfo, error) {
	ts, err := listAll[templateInfo](ctx, c, templatePath(kind), url.Values{"name": {name}}, 0, reqOpts{})
	if err != nil {
		return nil, fmt.Errorf("awx: look up %s %q: %w", kindLabel(kind), name, err)
	}
	for i := range ts {
		if ts[i].Name == name {
			if ts[i].Type == "" {
				ts[i].Type = map[string]string{KindWorkflow: "workflow_job_template", KindJobTemplate: "job_template"}[kind]
			}
			return &ts[i], nil
		}
	}
	return nil, fmt.Errorf("awx: %s %q: %w", kindLabel(kind), name, ErrNotFound)
}

type inventoryInfo struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Kind        string `json:"kind"`
	TotalHosts  int    `json:"total_hosts"`
}

// inventoryID resolves an inventory given by id or name.
func (c *client) inventoryID(ctx context.Context, ref any) (int, string, error) {
	switch v := ref.(type) {
	case float64:
		return int(v), "", nil
	case int:
		return v, "", nil
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n, "", nil
		}
		invs, err := listAll[inventoryInfo](ctx, c, "inventories/", url.Values{"name": {v}}, 0, reqOpts{})
		if err != nil {
			return 0, "", fmt.Errorf("awx: look up inventory %q: %w", v, err)
		}
		for _, in := range invs {
			if in.Name == v {
				return in.ID, in.Name, nil
			}
		}
		return 0, "", fmt.Errorf("awx: inventory %q: %w", v, ErrNotFound)
	}
	return 0, "", fmt.Errorf("awx: inventory must be a name or an id, not %T", ref)
}

type jobInfo struct {
	ID              int            `json:"id"`
	Type            string         `json:"type"`
	URL             string         `json:"url"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	Failed          bool           `json:"failed"`
	ExtraVars       string         `json:"extra_vars"`
	JobExplanation  string         `json:"job_explanation"`
	ResultTraceback string         `json:"result_traceback"`
	Artifacts       map[string]any `json:"artifacts"`
	Elapsed         float64        `json:"elapsed"`
	Started         *string        `json:"started"`
	Finished        *string        `json:"finished"`
}

func (j *jobInfo) kind() string {
	if j.Type == "job" {
		return KindJobTemplate
	}
	return KindWorkflow
}

func (j *jobInfo) extraVars() map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(j.ExtraVars), &m)
	return m
}

func newLaunchID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// launch starts a template. extra must hold launchIDVar; a launch whose
// answer is lost is found again by it rather than launched twice.
func (c *client) launch(ctx context.Context, t *templateInfo, extra map[string]any, inventory int, labels []int) (int, error) {
	body := map[string]any{"extra_vars": extra}
	if inventory != 0 {
		body["inventory"] = inventory
	}
	if len(labels) > 0 {
		body["labels"] = labels
	}
	p := t.Related.Launch
	if p == "" {
		p = fmt.Sprintf("%s%d/launch/", templatePath(t.kind()), t.ID)
	}
	launchID, _ := extra[launchIDVar].(string)
	start := time.Now()
	delay := c.retryBase()
	for attempt := 1; ; attempt++ {
		var out map[string]any
		err := c.do(ctx, http.MethodPost, p, body, &out, reqOpts{once: true})
		if err == nil {
			for _, k := range []string{"workflow_job", "job", "id"} {
				if f, ok := out[k].(float64); ok && f > 0 {
					return int(f), nil
				}
			}
			return 0, fmt.Errorf("awx: launch %s %q: the answer names no job", kindLabel(t.kind()), t.Name)
		}
		if !errors.Is(err, errTransient) || ctx.Err() != nil {
			return 0, fmt.Errorf("awx: launch %s %q: %w", kindLabel(t.kind()), t.Name, err)
		}
		// The launch may have happened: look for it before trying again.
		if launchID != "" {
			if id, ferr := c.findJob(ctx, t, func(ev map[string]any) bool { return ev[launchIDVar] == launchID }); ferr == nil && id != 0 {
				c.log.Info("awx: found the job of a launch whose answer was lost", "template", t.Name, "job", id)
				return id, nil
			} else if ferr != nil {
				err = ferr
			}
		}
		if time.Since(start)+delay > c.maxTry {
			return 0, fmt.Errorf("awx: launch %s %q: giving up after %d attempts: %w", kindLabel(t.kind()), t.Name, attempt, err)
		}
		c.log.Debug("awx: retrying launch", "template", t.Name, "attempt", attempt, "error", err.Error())
		tm := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			tm.Stop()
			return 0, ctx.Err()
		case <-tm.C:
		}
		delay = min(delay*2, c.retryCap())
	}
}

// findJob looks through the template's recent jobs for one whose extra vars
// satisfy match.
func (c *client) findJob(ctx context.Context, t *templateInfo, match func(map[string]any) bool) (int, error) {
	list, filter := "workflow_jobs/", "workflow_job_template"
	if t.kind() == KindJobTemplate {
		list, filter = "jobs/", "job_template"
	}
	q := url.Values{filter: {strconv.Itoa(t.ID)}, "order_by": {"-id"}, "page_size": {"100"}}
	jobs, err := listAll[jobInfo](ctx, c, list, q, 200, reqOpts{})
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if match(j.extraVars()) {
			return j.ID, nil
		}
	}
	return 0, nil
}

// wait polls a job until it reaches a final status, with a growing
// interval, for at most timeout.
func (c *client) wait(ctx context.Context, kind string, id int, timeout time.Duration, progress func(string)) (*jobInfo, error) {
	start := time.Now()
	interval := c.poll
	last := ""
	for {
		var j jobInfo
		if err := c.do(ctx, http.MethodGet, jobPath(kind, id), nil, &j, reqOpts{}); err != nil {
			return nil, fmt.Errorf("awx: wait for %s job %d: %w", kindLabel(kind), id, err)
		}
		if j.Status != last {
			last = j.Status
			if progress != nil {
				progress(fmt.Sprintf("%s job %d (%s): %s", kindLabel(kind), id, j.Name, j.Status))
			}
			c.log.Debug("awx: job status", "job", id, "status", j.Status)
		}
		if finalStatus(j.Status) {
			return &j, nil
		}
		if time.Since(start)+interval > timeout {
			return nil, fmt.Errorf("awx: %s job %d (%s) still %s after %s (workflow_timeout)", kindLabel(kind), id, j.Name, j.Status, timeout)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		interval = min(interval*3/2+1, 4*c.poll)
	}
}

type workflowNode struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Related struct {
		Job string `json:"job"`
	} `json:"related"`
	SummaryFields struct {
		Job *struct {
			ID     int    `json:"id"`
			Name   string `json:"name"`
			Status string `json:"status"`
			Failed bool   `json:"failed"`
			Type   string `json:"type"`
		} `json:"job"`
	} `json:"summary_fields"`
}

// nodes lists a workflow job's nodes that ran a job, by job id.
func (c *client) nodes(ctx context.Context, workflowJob int) ([]workflowNode, error) {
	all, err := listAll[workflowNode](ctx, c, fmt.Sprintf("workflow_jobs/%d/workflow_nodes/", workflowJob), nil, 0, reqOpts{})
	if err != nil {
		return nil, fmt.Errorf("awx: list the nodes of workflow job %d: %w", workflowJob, err)
	}
	var out []workflowNode
	for _, n := range all {
		if n.SummaryFields.Job != nil && n.SummaryFields.Job.ID != 0 {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SummaryFields.Job.ID < out[j].SummaryFields.Job.ID })
	return out, nil
}

func (c *client) nodeJob(ctx context.Context, n workflowNode) (*jobInfo, error) {
	p := n.Related.Job
	if p == "" {
		kind := KindJobTemplate
		if n.SummaryFields.Job.Type == "workflow_job" {
			kind = KindWorkflow
		}
		p = jobPath(kind, n.SummaryFields.Job.ID)
	}
	var j jobInfo
	if err := c.do(ctx, http.MethodGet, p, nil, &j, reqOpts{}); err != nil {
		return nil, fmt.Errorf("awx: get job %d: %w", n.SummaryFields.Job.ID, err)
	}
	return &j, nil
}

// Artifact strategies.
const (
	ArtifactsLast  = "last"
	ArtifactsMerge = "merge"
)

// artifacts gathers a job's artifacts: the last node's ("last") or all
// nodes' merged in job order ("merge"), descending into nested workflows.
func (c *client) artifacts(ctx context.Context, j *jobInfo, strategy string) (map[string]any, error) {
	out := map[string]any{}
	if j.Artifacts != nil {
		out = mergeMaps(out, j.Artifacts)
	}
	if j.kind() != KindWorkflow {
		return out, nil
	}
	nodes, err := c.nodes(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	if strategy != ArtifactsMerge && len(nodes) > 0 {
		nodes = nodes[len(nodes)-1:]
	}
	for _, n := range nodes {
		child, err := c.nodeJob(ctx, n)
		if err != nil {
			return nil, err
		}
		a, err := c.artifacts(ctx, child, strategy)
		if err != nil {
			return nil, err
		}
		if strategy == ArtifactsMerge {
			out = mergeMaps(out, a)
		} else {
			out = a
		}
	}
	return out, nil
}

// mergeMaps merges src into dst, maps recursively, src winning.
func mergeMaps(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// Reason is one cause of a job's failure.
type Reason struct {
	Node    string `json:"node,omitempty"`
	JobID   int    `json:"job_id,omitempty"`
	Task    string `json:"task,omitempty"`
	Message string `json:"message"`
}

// JobError is a job that ended in a status other than successful.
type JobError struct {
	Kind     string // KindWorkflow or KindJobTemplate
	Template string
	JobID    int
	Status   string
	Reasons  []Reason
	URL      string
	// Dangling names hosts the failed workflow made and broker did not
	// check in (dangling_behavior store or prompt, or a failed check-in),
	// DanglingKept says why.
	Dangling     []string
	DanglingKept string
}

func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "awx: %s %q job %d %s", kindLabel(e.Kind), e.Template, e.JobID, e.Status)
	for i, r := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if r.Node != "" {
			fmt.Fprintf(&b, "node %q", r.Node)
			if r.JobID != 0 {
				fmt.Fprintf(&b, " (job %d)", r.JobID)
			}
			b.WriteString(" ")
		}
		if r.Task != "" {
			fmt.Fprintf(&b, "task %q ", r.Task)
		}
		b.WriteString(r.Message)
	}
	if len(e.Dangling) > 0 {
		fmt.Fprintf(&b, "; hosts it made were kept (%s): %s; check each in with `broker checkin --provider awx --name NAME`", danglingWhy(e.DanglingKept), strings.Join(e.Dangling, ", "))
	}
	return b.String()
}

func danglingWhy(kept string) string {
	switch kept {
	case DanglingStore, DanglingPrompt:
		return "dangling_behavior = " + kept
	}
	return kept
}

// Detail is the error as JSON-shaped data (execute's result).
func (e *JobError) Detail() map[string]any {
	reasons := make([]any, 0, len(e.Reasons))
	for _, r := range e.Reasons {
		m := map[string]any{"message": r.Message}
		if r.Node != "" {
			m["node"] = r.Node
		}
		if r.JobID != 0 {
			m["job_id"] = float64(r.JobID)
		}
		if r.Task != "" {
			m["task"] = r.Task
		}
		reasons = append(reasons, m)
	}
	out := map[string]any{
		kindLabel(e.Kind): e.Template, "job_id": float64(e.JobID), "status": e.Status, "reasons": reasons, "url": e.URL,
	}
	if len(e.Dangling) > 0 {
		kept := make([]any, len(e.Dangling))
		for i, n := range e.Dangling {
			kept[i] = n
		}
		out["dangling_hosts"] = kept
	}
	return out
}

type jobEvent struct {
	Event     string `json:"event"`
	Failed    bool   `json:"failed"`
	Task      string `json:"task"`
	Stdout    string `json:"stdout"`
	EventData struct {
		Task string `json:"task"`
		Res  struct {
			Msg any `json:"msg"`
		} `json:"res"`
	} `json:"event_data"`
}

// failure builds the JobError of a job that did not succeed: for a
// workflow, the failed nodes' job events (latest first).
func (c *client) failure(ctx context.Context, template string, j *jobInfo) *JobError {
	e := &JobError{Kind: j.kind(), Template: template, JobID: j.ID, Status: j.Status, URL: c.resolve(jobPath(j.kind(), j.ID))}
	if j.kind() == KindWorkflow {
		nodes, err := c.nodes(ctx, j.ID)
		if err != nil {
			e.Reasons = append(e.Reasons, Reason{Message: "cannot read the workflow's nodes: " + c.scrub(err.Error())})
		}
		for i := len(nodes) - 1; i >= 0; i-- {
			n := nodes[i]
			if !n.SummaryFields.Job.Failed {
				continue
			}
			child, err := c.nodeJob(ctx, n)
			if err != nil {
				e.Reasons = append(e.Reasons, Reason{Node: n.SummaryFields.Job.Name, JobID: n.SummaryFields.Job.ID, Message: c.scrub(err.Error())})
				continue
			}
			if child.kind() == KindWorkflow {
				sub := c.failure(ctx, child.Name, child)
				e.Reasons = append(e.Reasons, sub.Reasons...)
				continue
			}
			e.Reasons = append(e.Reasons, c.jobReasons(ctx, child)...)
		}
	} else {
		e.Reasons = c.jobReasons(ctx, j)
	}
	if len(e.Reasons) == 0 {
		msg := j.JobExplanation
		if msg == "" {
			msg = "unable to determine the failure cause"
		}
		e.Reasons = []Reason{{Message: c.scrub(msg)}}
	}
	return e
}

func (c *client) jobReasons(ctx context.Context, j *jobInfo) []Reason {
	if j.Status == "error" || j.Status == "canceled" {
		msg := j.ResultTraceback
		if msg == "" {
			msg = j.JobExplanation
		}
		if msg == "" {
			msg = "job " + j.Status
		}
		return []Reason{{Node: j.Name, JobID: j.ID, Message: c.scrub(truncate(strings.TrimSpace(msg), 1000))}}
	}
	events, err := listAll[jobEvent](ctx, c, fmt.Sprintf("jobs/%d/job_events/", j.ID), url.Values{"failed": {"true"}}, 50, reqOpts{})
	if err != nil {
		return []Reason{{Node: j.Name, JobID: j.ID, Message: "cannot read the job's events: " + c.scrub(err.Error())}}
	}
	var out []Reason
	for _, ev := range events {
		if !ev.Failed {
			continue
		}
		msg := ""
		switch m := ev.EventData.Res.Msg.(type) {
		case string:
			msg = m
		case nil:
		default:
			b, _ := json.Marshal(m)
			msg = string(b)
		}
		if msg == "" {
			msg = ev.Stdout
		}
		if msg == "" {
			continue
		}
		task := ev.EventData.Task
		if task == "" {
			task = ev.Task
		}
		out = append(out, Reason{Node: j.Name, JobID: j.ID, Task: task, Message: c.scrub(truncate(strings.TrimSpace(msg), 1000))})
	}
	if len(out) == 0 && j.JobExplanation != "" {
		out = append(out, Reason{Node: j.Name, JobID: j.ID, Message: c.scrub(j.JobExplanation)})
	}
	return out
}

// labelIDs resolves AWX labels ("key=value", or "key" for an empty value)
// to ids, making those missing in the template's organization.
// labelID finds a label by name; 0: none.
func (c *client) labelID(ctx context.Context, name string) (int, error) {
	found, err := listAll[struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}](ctx, c, "labels/", url.Values{"name": {name}}, 0, reqOpts{})
	if err != nil {
		return 0, fmt.Errorf("awx: look up label %q: %w", name, err)
	}
	for _, l := range found {
		if l.Name == name {
			return l.ID, nil
		}
	}
	return 0, nil
}

func (c *client) labelIDs(ctx context.Context, t *templateInfo, labels map[string]any) ([]int, error) {
	org := 0
	if o := t.SummaryFields.Organization; o != nil {
		org = o.ID
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ids []int
	for _, k := range keys {
		name := k
		if v := asString(labels[k]); v != "" {
			name = k + "=" + v
		}
		id, err := c.labelID(ctx, name)
		if err != nil {
			return nil, err
		}
		if id == 0 {
			var made struct {
				ID int `json:"id"`
			}
			err := c.do(ctx, http.MethodPost, "labels/", map[string]any{"name": name, "organization": org}, &made, reqOpts{})
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
				// Made meanwhile by a concurrent launch (AWX answers a
				// duplicate with 400), as the Python broker expects:
				// look it up again.
				if id, _ = c.labelID(ctx, name); id != 0 {
					err = nil
				}
			} else {
				id = made.ID
			}
			if err != nil {
				return nil, fmt.Errorf("awx: create label %q: %w", name, err)
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}
