package awx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/providers"
)

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Extender = (*Provider)(nil)
	_ providers.Syncer   = (*Provider)(nil)
	_ providers.Executor = (*Provider)(nil)
	_ io.Closer          = (*Provider)(nil)
)

// Extra vars broker adds to what it launches.
const (
	argsVar     = "_broker_args"      // the recipe
	labelsVar   = "_broker_labels"    // broker's labels
	originVar   = "_broker_origin"    // who launched it
	launchIDVar = "_broker_launch_id" // finds a launch whose answer was lost
)

// controlArgs steer the provider and are not passed as extra vars: the
// names ArgsSchema declares.
var controlArgs = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range ArgsSchema.Names() {
		m[n] = true
	}
	return m
}()

func init() { providers.Register(Type()) }

// Type is the awx provider type for the registry.
func Type() *providers.Type {
	return &providers.Type{
		Name:           "awx",
		Aliases:        []string{"AnsibleTower", "aap"},
		Summary:        "AWX / Ansible Tower / AAP: hosts from workflows and job templates",
		SettingsSchema: SettingsSchema,
		ArgsSchema:     ArgsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			s, err := SettingsFromValue(cfg.Settings)
			if err != nil {
				return nil, err
			}
			log := cfg.Logger
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			return Open(ctx, s, log.With("provider", "awx", "instance", cfg.Instance))
		},
	}
}

// Provider is a connected awx provider instance. It is safe for concurrent
// use. Close it to delete a temporary token.
type Provider struct {
	s        Settings
	c        *client
	log      *slog.Logger
	username string // whose inventories Sync lists
}

// Open connects to the service: it finds the API prefix and authenticates
// (making a temporary token when given a username and password).
func Open(ctx context.Context, s Settings, log *slog.Logger) (*Provider, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(s, log)
	if err != nil {
		return nil, err
	}
	if err := c.connect(ctx, s.AAPVersion); err != nil {
		_ = c.close(context.WithoutCancel(ctx))
		return nil, err
	}
	p := &Provider{s: s, c: c, log: log, username: s.Username}
	if p.username == "" {
		p.username = c.username
	}
	return p, nil
}

// Close deletes the temporary token, if one was made.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.c.close(ctx)
}

// APIPrefix is the API path prefix in use (/api/v2/ or /api/controller/v2/).
func (p *Provider) APIPrefix() string { return p.c.prefix }

// Username is the user whose inventories Sync lists by default.
func (p *Provider) Username() string { return p.username }

// structuredString reads a string holding a JSON list or object into that
// structure, as the Python broker's _parse_string_value does for extra vars
// (--repos '[{"name": "baseos"}]' reaches the job as a list); any other
// value, "123" and "true" included, is kept as it is.
func structuredString(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return v
	}
	var out any
	if err := json.Unmarshal([]byte(t), &out); err != nil {
		return v
	}
	switch out.(type) {
	case []any, map[string]any:
		return out
	}
	return v
}

// jobLabels are the AWX labels of a launch: the argument provider_labels
// (a map, from an args file) and the user's labels (-l k=v,k2), but not
// broker's own broker.* labels, which travel as the extra var
// _broker_labels. A label is made "key=value", or "key" without a value,
// as the Python broker makes it.
func jobLabels(args map[string]any, user map[string]any) map[string]any {
	out := map[string]any{}
	if pl, ok := args["provider_labels"].(map[string]any); ok {
		maps.Copy(out, pl)
	}
	maps.Copy(out, user)
	return out
}

// userLabels picks the user's labels out of a request's labels.
func userLabels(labels map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "broker.") {
			out[k] = v
		}
	}
	return out
}

// target names the template args launch.
func target(args map[string]any) (kind, name string, err error) {
	if w, _ := args["workflow"].(string); w != "" {
		return KindWorkflow, w, nil
	}
	if jt, _ := args["job_template"].(string); jt != "" {
		return KindJobTemplate, jt, nil
	}
	return "", "", errors.New("awx: no workflow or job_template argument")
}

// cloneJSON deep-copies JSON-shaped data.
func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return maps.Clone(m)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// run launches a template with extra vars (or adopts job resumeID), waits
// and returns the finished, successful job.
type runSpec struct {
	kind, name string
	args       map[string]any // user args (controls included)
	extra      map[string]any // added extra vars
	labels     map[string]any // AWX labels for the job (key, value or "")
	resumeJob  int
	resumeFind func(map[string]any) bool
	checkpoint func(ctx context.Context, jobID int) error
	progress   func(string)
}

type runResult struct {
	tmpl    *templateInfo
	job     *jobInfo
	adopted bool
}

func (p *Provider) run(ctx context.Context, rs runSpec) (*runResult, error) {
	t, err := p.c.findTemplate(ctx, rs.kind, rs.name)
	if err != nil {
		return nil, err
	}
	res := &runResult{tmpl: t}
	jobID := rs.resumeJob
	if jobID == 0 && rs.resumeFind != nil {
		if jobID, err = p.c.findJob(ctx, t, rs.resumeFind); err != nil {
			return nil, fmt.Errorf("awx: look for the interrupted checkout's job: %w", err)
		}
	}
	if jobID != 0 {
		var j jobInfo
		err := p.c.do(ctx, http.MethodGet, jobPath(t.kind(), jobID), nil, &j, reqOpts{})
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			p.log.Warn("awx: the interrupted checkout's job is gone, launching again", "job", jobID)
			jobID = 0
		case err != nil:
			return nil, fmt.Errorf("awx: resume job %d: %w", jobID, err)
		default:
			res.adopted = true
			p.log.Info("awx: resuming", "template", t.Name, "job", jobID)
		}
	}
	if jobID == 0 {
		extra := map[string]any{}
		for k, v := range rs.args {
			if !controlArgs[k] {
				extra[k] = structuredString(v)
			}
		}
		maps.Copy(extra, rs.extra)
		extra[launchIDVar] = newLaunchID()
		inv := 0
		invRef := rs.args["inventory"]
		if invRef == nil {
			invRef = rs.args["tower_inventory"]
		}
		if invRef == nil && p.s.Inventory != "" {
			invRef = p.s.Inventory
		}
		if invRef != nil {
			if inv, _, err = p.c.inventoryID(ctx, invRef); err != nil {
				return nil, err
			}
		}
		var labels []int
		if pl := jobLabels(rs.args, rs.labels); len(pl) > 0 {
			if labels, err = p.c.labelIDs(ctx, t, pl); err != nil {
				return nil, err
			}
		}
		if jobID, err = p.c.launch(ctx, t, extra, inv, labels); err != nil {
			return nil, err
		}
		p.log.Info("awx: launched", "template", t.Name, "kind", t.kind(), "job", jobID, "url", p.c.resolve(jobPath(t.kind(), jobID)))
		if rs.progress != nil {
			rs.progress(fmt.Sprintf("launched %s %q: job %d", kindLabel(t.kind()), t.Name, jobID))
		}
		if rs.checkpoint != nil {
			if err := rs.checkpoint(ctx, jobID); err != nil {
				return nil, fmt.Errorf("awx: record job %d: %w", jobID, err)
			}
		}
	}
	j, err := p.c.wait(ctx, t.kind(), jobID, p.s.WorkflowTimeout, rs.progress)
	if err != nil {
		return nil, err
	}
	res.job = j
	if j.Status != "successful" {
		je := p.c.failure(ctx, t.Name, j)
		if p.s.ErrorScope != ErrorScopeAll && len(je.Reasons) > 1 {
			// The Python broker's error_scope "last": the last failed
			// node's reason (failure lists the last node first).
			je.Reasons = je.Reasons[:1]
		}
		p.log.Warn("awx: job failed", "template", t.Name, "job", j.ID, "status", j.Status, "reason", je.Error())
		return res, je
	}
	return res, nil
}

// Checkout launches the workflow or job template of req.Args and builds
// hosts from the job's artifacts. With req.Resume carrying a job_id
// checkpoint, it waits on that job instead of launching.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	kind, name, err := target(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	recipe := cloneJSON(req.Args)
	if recipe == nil {
		recipe = map[string]any{}
	}
	extra := map[string]any{argsVar: recipe}
	if len(req.Labels) > 0 {
		extra[labelsVar] = maps.Clone(req.Labels)
		if o := req.Labels[providers.LabelOrigin]; o != "" {
			extra[originVar] = o
		}
	}
	rs := runSpec{kind: kind, name: name, args: req.Args, extra: extra, labels: userLabels(req.Labels), progress: req.Progress}
	if r := req.Resume; r != nil {
		if s := r.Checkpoint["job_id"]; s != "" {
			if rs.resumeJob, err = strconv.Atoi(s); err != nil {
				return providers.CheckoutResponse{}, fmt.Errorf("awx: checkpoint job_id %q is not a number", s)
			}
		} else if r.IntentID != "" {
			id := r.IntentID
			rs.resumeFind = func(ev map[string]any) bool {
				l, _ := ev[labelsVar].(map[string]any)
				return l[providers.LabelIntent] == id
			}
		}
	}
	if req.Checkpoint != nil {
		rs.checkpoint = func(ctx context.Context, jobID int) error {
			return req.Checkpoint(ctx, providers.Checkpoint{Data: map[string]string{
				"job_id": strconv.Itoa(jobID), "kind": kind, "template": name,
			}})
		}
	}
	res, err := p.run(ctx, rs)
	var je *JobError
	if errors.As(err, &je) && res != nil && res.job != nil {
		p.handleDangling(ctx, res.job, je)
	}
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	strategy, _ := req.Args["artifacts"].(string)
	arts, err := p.c.artifacts(ctx, res.job, strategy)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	hosts := p.hostsFrom(arts, recipe)
	if len(hosts) == 0 {
		return providers.CheckoutResponse{}, fmt.Errorf("awx: %s %q job %d succeeded but its artifacts name no host (no key ending in fqdn)", kindLabel(kind), name, res.job.ID)
	}
	return providers.CheckoutResponse{Hosts: hosts, Adopted: res.adopted}, nil
}

// handleDangling deals with the hosts a failed workflow made before it
// failed (vm_name in the artifacts of its successful nodes) as the setting
// dangling_behavior says. checkin (the default, as the Python broker's)
// checks them in, so that a failed checkout leaks nothing; it is best
// effort, failures are logged and named in je. store and prompt keep them
// and name them in je, with the command that checks them in: a provider
// cannot ask on the terminal, and keeping is the choice that loses nothing.
func (p *Provider) handleDangling(ctx context.Context, j *jobInfo, je *JobError) {
	if j.kind() != KindWorkflow {
		return
	}
	names := p.danglingHosts(ctx, j)
	if len(names) == 0 {
		return
	}
	if p.s.DanglingBehavior != DanglingCheckin {
		for _, name := range names {
			p.log.Warn("awx: keeping a host left by the failed job", "job", j.ID, "host", name, "dangling_behavior", p.s.DanglingBehavior)
		}
		je.Dangling, je.DanglingKept = names, p.s.DanglingBehavior
		return
	}
	for _, name := range names {
		p.log.Warn("awx: checking in a host left by the failed job", "job", j.ID, "host", name)
		resp, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ProviderID: name, Name: name}})
		switch {
		case err != nil:
			p.log.Error("awx: could not check in the host left by the failed job; check it in by hand", "host", name, "error", err.Error())
			je.Dangling = append(je.Dangling, name)
			je.DanglingKept = "checkin failed"
		case resp.Gone:
			p.log.Info("awx: the host left by the failed job is already gone", "host", name)
		}
	}
}

// danglingHosts names the hosts the successful nodes of a failed workflow
// report as vm_name.
func (p *Provider) danglingHosts(ctx context.Context, j *jobInfo) []string {
	nodes, err := p.c.nodes(ctx, j.ID)
	if err != nil {
		p.log.Warn("awx: cannot look for hosts left by the failed job", "job", j.ID, "error", err.Error())
		return nil
	}
	var names []string
	for _, n := range nodes {
		if n.SummaryFields.Job.Failed {
			continue
		}
		child, err := p.c.nodeJob(ctx, n)
		if err != nil {
			continue
		}
		for _, v := range asList(child.Artifacts["vm_name"]) {
			if s := asString(v); s != "" && !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	return names
}

// flatten joins nested keys with "_", as the Python broker does, so that
// {"data": {"fqdn": …}} offers "data_fqdn".
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "_" + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// pick finds the first of keys (exact) or, with suffix, the first key in
// sorted order ending in it.
func pick(flat map[string]any, exact []string, suffix string) (string, any) {
	for _, k := range exact {
		if v, ok := flat[k]; ok && v != nil && v != "" {
			return k, v
		}
	}
	if suffix != "" {
		for _, k := range slices.Sorted(maps.Keys(flat)) {
			if strings.HasSuffix(k, suffix) && flat[k] != nil && flat[k] != "" {
				return k, flat[k]
			}
		}
	}
	return "", nil
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// hostsFrom builds hosts from a job's artifacts.
func (p *Provider) hostsFrom(arts map[string]any, recipe map[string]any) []providers.HostInfo {
	arts = p.scrubMap(arts)
	if bf, ok := arts["_broker_facts"].(map[string]any); ok {
		// The Python broker's newer convention: facts and args apart.
		if ba, ok := arts[argsVar].(map[string]any); ok {
			recipe = mergeMaps(cloneJSON(recipe), ba)
		}
		rest := maps.Clone(arts)
		delete(rest, "_broker_facts")
		delete(rest, argsVar)
		arts = mergeMaps(rest, bf)
	}
	if list, ok := arts["hosts"].([]any); ok && len(list) > 0 {
		var out []providers.HostInfo
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, p.hostsFrom(m, recipe)...)
		}
		return out
	}
	flat := map[string]any{}
	flatten("", arts, flat)
	_, hv := pick(flat, []string{"fqdn", "hostname"}, "fqdn")
	_, nv := pick(flat, []string{"name", "vm_provisioned"}, "")
	_, iv := pick(flat, []string{"ip", "ansible_host", "ip_address"}, "")
	hostnames, names, ips := asList(hv), asList(nv), asList(iv)
	if len(hostnames) == 0 {
		return nil
	}
	expires, err := ExpiryFrom(p.s.Now(), p.s.NewExpireTime)
	if err != nil {
		p.log.Warn("awx: new_expire_time is not understood; no expiry recorded", "error", err.Error())
	}
	now := p.s.Now()
	var out []providers.HostInfo
	for i, h := range hostnames {
		hi := providers.HostInfo{
			Hostname:  asString(h),
			Transport: providers.TransportSSH,
			Recipe:    cloneJSON(recipe),
			Expires:   expires,
			Created:   now,
		}
		if i < len(names) {
			hi.Name = asString(names[i])
		}
		if i < len(ips) {
			hi.IP = asString(ips[i])
		}
		if hi.Name == "" {
			hi.Name = hi.Hostname
		}
		hi.ProviderID = hi.Name
		facts := cloneJSON(arts)
		if len(hostnames) > 1 {
			// Each host sees its own element of the listed values.
			for _, k := range []string{"fqdn", "hostname", "name", "vm_provisioned", "ip", "ansible_host", "ip_address"} {
				if l, ok := facts[k].([]any); ok && len(l) == len(hostnames) {
					facts[k] = l[i]
				}
			}
		}
		hi.Facts = facts
		out = append(out, hi)
	}
	return out
}

// scrubMap drops secret-looking keys and values equal to a secret.
func (p *Provider) scrubMap(m map[string]any) map[string]any {
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, vv := range x {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "password") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") {
					continue
				}
				out[k] = walk(vv)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, vv := range x {
				out[i] = walk(vv)
			}
			return out
		case string:
			return p.c.scrub(x)
		}
		return v
	}
	if m == nil {
		return map[string]any{}
	}
	return walk(m).(map[string]any)
}

// hostVars are the extra vars of the release and extend workflows: the
// stored recipe without what steered the checkout.
func hostVars(ref providers.HostRef) (map[string]any, any) {
	vars := cloneJSON(ref.Recipe)
	if vars == nil {
		vars = map[string]any{}
	}
	inv := vars["tower_inventory"]
	if inv == nil {
		inv = vars["inventory"]
	}
	for k := range vars {
		if controlArgs[k] || strings.HasPrefix(k, "_broker_") {
			delete(vars, k)
		}
	}
	return vars, inv
}

func vmName(ref providers.HostRef) string {
	for _, s := range []string{ref.ProviderID, ref.Name, ref.Hostname} {
		if s != "" {
			return s
		}
	}
	return ""
}

// notFoundLike tells whether a failure says the host is unknown.
func notFoundLike(e *JobError) bool {
	for _, r := range e.Reasons {
		m := strings.ToLower(r.Message)
		for _, s := range []string{"not found", "does not exist", "no such", "unknown host", "could not find", "not exist"} {
			if strings.Contains(m, s) {
				return true
			}
		}
	}
	return false
}

// hostKnown tells whether any inventory has a host by this name.
func (p *Provider) hostKnown(ctx context.Context, name string) (bool, error) {
	hs, err := listAll[struct {
		Name string `json:"name"`
	}](ctx, p.c, "hosts/", url.Values{"name": {name}}, 1, reqOpts{})
	if err != nil {
		return false, err
	}
	return len(hs) > 0, nil
}

// Checkin runs the release workflow with source_vm and the stored recipe.
// A host AWX no longer knows is Gone. The release job's id is checkpointed
// (release_job_id) as soon as it is launched; with req.Resume carrying
// one, Checkin waits on that job instead of launching again.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	name := vmName(req.Host)
	if name == "" {
		return providers.CheckinResponse{}, errors.New("awx: checkin: the host has no name")
	}
	vars, inv := hostVars(req.Host)
	vars["source_vm"] = name
	args := map[string]any{"workflow": p.s.ReleaseWorkflow}
	if inv != nil {
		args["inventory"] = inv
	}
	maps.Copy(args, vars)
	rs := runSpec{kind: KindWorkflow, name: p.s.ReleaseWorkflow, args: args}
	// A check-in killed after its launch left the release job's id in
	// the destroy intent: wait on that job rather than launch another.
	if r := req.Resume; r != nil && r.Checkpoint["release_job_id"] != "" {
		id, err := strconv.Atoi(r.Checkpoint["release_job_id"])
		if err != nil {
			return providers.CheckinResponse{}, fmt.Errorf("awx: checkpoint release_job_id %q is not a number", r.Checkpoint["release_job_id"])
		}
		rs.resumeJob = id
	}
	if req.Checkpoint != nil {
		rs.checkpoint = func(ctx context.Context, jobID int) error {
			return req.Checkpoint(ctx, providers.Checkpoint{Data: map[string]string{
				"release_job_id": strconv.Itoa(jobID), "template": p.s.ReleaseWorkflow,
			}})
		}
	}
	_, err := p.run(ctx, rs)
	var je *JobError
	if errors.As(err, &je) {
		known, kerr := p.hostKnown(ctx, name)
		if notFoundLike(je) || (kerr == nil && !known) {
			p.log.Info("awx: host already gone", "host", name)
			return providers.CheckinResponse{Gone: true}, nil
		}
	}
	if err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("awx: check in %s: %w", name, err)
	}
	return providers.CheckinResponse{}, nil
}

// Extend runs the extend workflow with target_vm and new_expire_time
// (req.NewExpireTime, else "+<lease seconds>", else the setting).
func (p *Provider) Extend(ctx context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	name := vmName(req.Host)
	if name == "" {
		return providers.ExtendResponse{}, errors.New("awx: extend: the host has no name")
	}
	net := req.NewExpireTime
	if net == "" && req.Lease > 0 {
		net = fmt.Sprintf("+%d", int64(req.Lease/time.Second))
	}
	if net == "" {
		net = p.s.NewExpireTime
	}
	now := p.s.Now()
	expires, err := ExpiryFrom(now, net)
	if err != nil {
		return providers.ExtendResponse{}, fmt.Errorf("awx: extend %s: %w", name, err)
	}
	_, inv := hostVars(req.Host)
	args := map[string]any{"workflow": p.s.ExtendWorkflow, "target_vm": name, "new_expire_time": net}
	if inv != nil {
		args["inventory"] = inv
	}
	if _, err := p.run(ctx, runSpec{kind: KindWorkflow, name: p.s.ExtendWorkflow, args: args}); err != nil {
		return providers.ExtendResponse{}, fmt.Errorf("awx: extend %s: %w", name, err)
	}
	return providers.ExtendResponse{Expires: expires}, nil
}

type hostJSON struct {
	ID            int    `json:"id"`
	Name          string `json:"name"`
	Variables     string `json:"variables"`
	SummaryFields struct {
		Inventory struct {
			Name string `json:"name"`
		} `json:"inventory"`
	} `json:"summary_fields"`
}

// parseVars reads host variables, JSON or YAML.
func parseVars(s string) map[string]any {
	m := map[string]any{}
	if strings.TrimSpace(s) == "" {
		return m
	}
	if json.Unmarshal([]byte(s), &m) == nil {
		return m
	}
	var y map[string]any
	if yaml.Unmarshal([]byte(s), &y) == nil && y != nil {
		// Round-trip through JSON for JSON-shaped values.
		if b, err := json.Marshal(y); err == nil {
			_ = json.Unmarshal(b, &m)
		}
	}
	return m
}

// Sync lists the hosts of the inventories whose name contains the user
// (every inventory with AllUsers or user "@ll").
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	user := req.User
	if user == "" {
		user = p.username
	}
	all := req.AllUsers || user == "@ll"
	invs, err := listAll[inventoryInfo](ctx, p.c, "inventories/", nil, 0, reqOpts{})
	if err != nil {
		return providers.SyncResponse{}, fmt.Errorf("awx: sync: %w", err)
	}
	var hosts []providers.HostInfo
	for _, in := range invs {
		if !all && !strings.Contains(in.Name, user) {
			continue
		}
		hs, err := listAll[hostJSON](ctx, p.c, fmt.Sprintf("inventories/%d/hosts/", in.ID), nil, 0, reqOpts{})
		if err != nil {
			return providers.SyncResponse{}, fmt.Errorf("awx: sync inventory %q: %w", in.Name, err)
		}
		for _, h := range hs {
			hi := p.syncHost(h, in.Name)
			if matchLabels(hi.Labels, req.Labels) {
				hosts = append(hosts, hi)
			}
		}
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return providers.SyncResponse{Hosts: hosts}, nil
}

func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (p *Provider) syncHost(h hostJSON, inventory string) providers.HostInfo {
	vars := p.scrubMap(parseVars(h.Variables))
	hi := providers.HostInfo{ProviderID: h.Name, Name: h.Name, Transport: providers.TransportSSH}
	hi.Hostname = asString(vars["fqdn"])
	if hi.Hostname == "" {
		hi.Hostname = h.Name
	}
	hi.IP = asString(vars["ansible_host"])
	if ba, ok := vars[argsVar].(map[string]any); ok {
		hi.Recipe = ba
	}
	if bl, ok := vars[labelsVar].(map[string]any); ok {
		hi.Labels = map[string]string{}
		for k, v := range bl {
			hi.Labels[k] = asString(v)
		}
	}
	for _, k := range []string{"expire_time", "expire_date", "expires"} {
		if s := asString(vars[k]); s != "" {
			if t, err := ExpiryFrom(p.s.Now(), s); err == nil && !strings.HasPrefix(s, "+") {
				hi.Expires = t
				break
			}
		}
	}
	facts := map[string]any{}
	for k, v := range vars {
		if !strings.HasPrefix(k, "_broker_") {
			facts[k] = v
		}
	}
	facts["tower_inventory"] = inventory
	hi.Facts = facts
	return hi
}

// Execute launches a workflow or job template with args, waits, and returns
// its artifacts ("last" or "merge"), or, without a strategy, the job's
// summary. A failed job returns its details as Result and a *JobError.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	kind, name, err := target(req.Args)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	strategy := req.Artifacts
	if strategy == "" {
		strategy, _ = req.Args["artifacts"].(string)
	}
	if strategy != "" && strategy != ArtifactsLast && strategy != ArtifactsMerge {
		return providers.ExecuteResponse{}, fmt.Errorf("awx: artifacts must be %q or %q, not %q", ArtifactsLast, ArtifactsMerge, strategy)
	}
	progress := req.Progress
	if req.Stdout != nil && progress == nil {
		progress = func(s string) { fmt.Fprintln(req.Stdout, s) }
	}
	res, err := p.run(ctx, runSpec{kind: kind, name: name, args: req.Args, labels: userLabels(req.Labels), progress: progress})
	var je *JobError
	if errors.As(err, &je) {
		return providers.ExecuteResponse{Result: je.Detail(), Status: 1}, err
	}
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	if strategy != "" {
		arts, err := p.c.artifacts(ctx, res.job, strategy)
		if err != nil {
			return providers.ExecuteResponse{}, err
		}
		return providers.ExecuteResponse{Result: p.scrubMap(arts)}, nil
	}
	return providers.ExecuteResponse{Result: map[string]any{
		kindLabel(kind): name, "job_id": float64(res.job.ID), "status": res.job.Status,
		"elapsed": res.job.Elapsed, "url": p.c.resolve(jobPath(kind, res.job.ID)),
	}}, nil
}
