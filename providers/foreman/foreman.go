package foreman

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/providers"
)

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Executor  = (*Provider)(nil)
	_ providers.Adopter   = (*Provider)(nil)
)

func init() { providers.Register(Type()) }

// Type is the foreman provider type for the registry. Names are looked up
// without regard to case, so "Foreman" (the Python broker's) is this type.
func Type() *providers.Type {
	return &providers.Type{
		Name:           "foreman",
		Summary:        "Foreman: hosts built from hostgroups; remote execution job templates",
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
			return Open(s, log.With("provider", "foreman", "instance", cfg.Instance))
		},
	}
}

// Provider is a foreman provider instance; safe for concurrent use.
type Provider struct {
	s   Settings
	c   *client
	log *slog.Logger

	mu         sync.Mutex
	orgID      int
	locID      int
	scopeKnown bool
}

// Open makes a provider; organization and location are looked up on
// first use.
func Open(s Settings, log *slog.Logger) (*Provider, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, err := s.httpClient()
	if err != nil {
		return nil, err
	}
	secret := s.Token
	if secret == "" {
		secret = s.Password
	}
	c := &client{base: s.URL, user: s.Username, secret: secret, hc: hc, log: log, poll: s.PollInterval, maxTry: s.MaxResilientWait}
	return &Provider{s: s, c: c, log: log}, nil
}

func (p *Provider) scope(ctx context.Context) (org, loc int, err error) {
	p.mu.Lock()
	if p.scopeKnown {
		defer p.mu.Unlock()
		return p.orgID, p.locID, nil
	}
	p.mu.Unlock()
	if org, err = p.c.idOf(ctx, "organizations", p.s.Organization); err != nil {
		return 0, 0, err
	}
	if loc, err = p.c.idOf(ctx, "locations", p.s.Location); err != nil {
		return 0, 0, err
	}
	p.mu.Lock()
	p.orgID, p.locID, p.scopeKnown = org, loc, true
	p.mu.Unlock()
	return org, loc, nil
}

// labelsParam is the host parameter that carries broker's labels (JSON).
const labelsParam = "broker_labels"

type param struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

type hostJSON struct {
	ID                  int     `json:"id"`
	Name                string  `json:"name"`
	Certname            string  `json:"certname"`
	IP                  string  `json:"ip"`
	IP6                 string  `json:"ip6"`
	MAC                 string  `json:"mac"`
	HostgroupTitle      string  `json:"hostgroup_title"`
	Build               bool    `json:"build"`
	BuildStatus         *int    `json:"build_status"`
	BuildStatusLabel    string  `json:"build_status_label"`
	OperatingSystemName string  `json:"operatingsystem_name"`
	ArchitectureName    string  `json:"architecture_name"`
	DomainName          string  `json:"domain_name"`
	OrganizationName    string  `json:"organization_name"`
	LocationName        string  `json:"location_name"`
	CreatedAt           string  `json:"created_at"`
	Parameters          []param `json:"parameters"`
}

func (h *hostJSON) labels() map[string]string {
	for _, pr := range h.Parameters {
		if pr.Name == labelsParam {
			s, _ := pr.Value.(string)
			var m map[string]string
			if json.Unmarshal([]byte(s), &m) == nil {
				return m
			}
		}
	}
	return nil
}

var nameSafe = regexp.MustCompile(`[^a-z0-9-]+`)

// hostName is the name of a new host: the name argument, else
// <name_prefix>-<intent id>, so that an interrupted checkout or a lost
// answer finds the host again by its name.
func (p *Provider) hostName(args map[string]any, intent string) string {
	if n, _ := args["name"].(string); n != "" {
		return n
	}
	id := strings.ToLower(intent)
	if id == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	return strings.Trim(nameSafe.ReplaceAllString(strings.ToLower(p.s.NamePrefix)+"-"+id, "-"), "-")
}

// findByName finds a host whose name is name or starts with "name." (the
// domain Foreman appends); nil: none.
func (p *Provider) findByName(ctx context.Context, name string) (*hostJSON, error) {
	var page struct {
		Results []hostJSON `json:"results"`
	}
	q := url.Values{"per_page": {"100"}, "search": {fmt.Sprintf("name ~ %q", name)}}
	if err := p.c.do(ctx, http.MethodGet, "/api/hosts?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	for i := range page.Results {
		h := &page.Results[i]
		if h.Name == name || strings.HasPrefix(h.Name, name+".") {
			return h, nil
		}
	}
	return nil, nil
}

func (p *Provider) host(ctx context.Context, ref string) (*hostJSON, error) {
	var h hostJSON
	if err := p.c.do(ctx, http.MethodGet, "/api/hosts/"+url.PathEscape(ref), nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Checkout creates a host from the hostgroup, checkpoints its id, waits for
// its build and reports it.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	intent := req.Labels[providers.LabelIntent]
	if req.Resume != nil && req.Resume.IntentID != "" {
		intent = req.Resume.IntentID
	}
	name := p.hostName(req.Args, intent)
	var h *hostJSON
	adopted := false
	if r := req.Resume; r != nil {
		ref := r.Checkpoint["host_id"]
		if ref == "" {
			ref = r.ProviderID
		}
		var err error
		if ref != "" {
			h, err = p.host(ctx, ref)
			if isStatus(err, http.StatusNotFound) {
				h, err = nil, nil
			}
		} else {
			h, err = p.findByName(ctx, name)
		}
		if err != nil {
			return providers.CheckoutResponse{}, fmt.Errorf("foreman: look for the interrupted checkout's host: %w", err)
		}
		if h != nil {
			adopted = true
			p.log.Info("foreman: resuming", "host", h.Name, "id", h.ID)
		}
	}
	if h == nil {
		var err error
		if h, err = p.create(ctx, req, name); err != nil {
			return providers.CheckoutResponse{}, err
		}
	}
	id := strconv.Itoa(h.ID)
	if req.Checkpoint != nil && !adopted {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: id, Data: map[string]string{"host_id": id, "name": h.Name}}); err != nil {
			return providers.CheckoutResponse{}, fmt.Errorf("foreman: record host %s: %w", h.Name, err)
		}
	}
	if req.Progress != nil {
		// After the checkpoint: a host shown is a host recorded.
		verb := "created"
		if adopted {
			verb = "resuming"
		}
		req.Progress(fmt.Sprintf("%s host %s (id %d)", verb, h.Name, h.ID))
	}
	built, err := p.waitBuild(ctx, h, req.Progress)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	info := p.info(built)
	info.Recipe = maps.Clone(req.Args)
	if len(req.Labels) > 0 {
		info.Labels = maps.Clone(req.Labels)
	}
	return providers.CheckoutResponse{Hosts: []providers.HostInfo{info}, Adopted: adopted}, nil
}

// create posts the host. A failure that may have taken effect (a dropped
// connection, a 5xx) is followed by a look for the host by its name before
// another post, so that no second host is made; a 422 "has already been
// taken" for a host carrying this intent's labels is the same host.
func (p *Provider) create(ctx context.Context, req providers.CheckoutRequest, name string) (*hostJSON, error) {
	hg, _ := req.Args["hostgroup"].(string)
	if hg == "" {
		return nil, errors.New("foreman: no hostgroup argument")
	}
	org, loc, err := p.scope(ctx)
	if err != nil {
		return nil, err
	}
	hgID, err := p.c.idOf(ctx, "hostgroups", hg)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	for k, v := range req.Args {
		switch k {
		case "hostgroup", "parameters", "computeresource", "image", "compute_attributes":
		default:
			body[k] = v
		}
	}
	compute := map[string]any{"start": "1"}
	if ca, ok := req.Args["compute_attributes"].(map[string]any); ok {
		maps.Copy(compute, ca)
	}
	if img, _ := req.Args["image"].(string); img != "" {
		cr, _ := req.Args["computeresource"].(string)
		if cr == "" {
			return nil, errors.New("foreman: image needs computeresource")
		}
		crID, err := p.c.idOf(ctx, "compute_resources", cr)
		if err != nil {
			return nil, err
		}
		var imgs struct {
			Results []struct {
				UUID string `json:"uuid"`
			} `json:"results"`
		}
		q := url.Values{"search": {fmt.Sprintf("name = %q", img)}}
		if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("/api/compute_resources/%d/images?%s", crID, q.Encode()), nil, &imgs); err != nil {
			return nil, err
		}
		if len(imgs.Results) == 0 {
			return nil, fmt.Errorf("foreman: no image %q on compute resource %q", img, cr)
		}
		body["compute_resource_id"] = crID
		compute["image_id"] = imgs.Results[0].UUID
		body["provision_method"] = "image"
	}
	var params []map[string]any
	if ps, ok := req.Args["parameters"].(map[string]any); ok {
		for _, k := range sortedKeys(ps) {
			params = append(params, map[string]any{"name": k, "value": fmt.Sprint(ps[k])})
		}
	}
	if len(req.Labels) > 0 {
		b, _ := json.Marshal(req.Labels)
		params = append(params, map[string]any{"name": labelsParam, "value": string(b)})
	}
	body["name"] = name
	body["hostgroup_id"] = hgID
	body["organization_id"] = org
	body["location_id"] = loc
	body["build"] = true
	body["compute_attributes"] = compute
	if len(params) > 0 {
		body["host_parameters_attributes"] = params
	}
	in := map[string]any{"organization_id": org, "location_id": loc, "host": body}
	intent := req.Labels[providers.LabelIntent]
	var h hostJSON
	tried := false
	err = p.c.retry(ctx, func() error {
		if tried {
			found, ferr := p.findByName(ctx, name)
			if ferr != nil {
				return ferr
			}
			if found != nil {
				p.log.Warn("foreman: the creation's answer was lost; adopting the host it made", "host", found.Name)
				h = *found
				return nil
			}
		}
		tried = true
		err := p.c.once(ctx, http.MethodPost, "/api/hosts", in, &h)
		if isStatus(err, http.StatusUnprocessableEntity) && intent != "" {
			if found, ferr := p.findByName(ctx, name); ferr == nil && found != nil {
				if full, ferr := p.host(ctx, strconv.Itoa(found.ID)); ferr == nil && full.labels()[providers.LabelIntent] == intent {
					h = *full
					return nil
				}
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("foreman: create host %s from hostgroup %q: %w", name, hg, err)
	}
	p.log.Info("foreman: created", "host", h.Name, "id", h.ID)
	return &h, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// BuildError is a host whose build failed or did not end in time.
type BuildError struct {
	Host   string
	Status string
	Reason string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("foreman: host %s %s (build status %q)", e.Host, e.Reason, e.Status)
}

// waitBuild polls the host until its build has ended. A failed or
// timed-out build deletes the host, so that nothing leaks.
func (p *Provider) waitBuild(ctx context.Context, h *hostJSON, progress func(string)) (*hostJSON, error) {
	deadline := p.s.Now().Add(p.s.BuildTimeout)
	last := ""
	for {
		cur, err := p.host(ctx, strconv.Itoa(h.ID))
		if isStatus(err, http.StatusNotFound) {
			return nil, &BuildError{Host: h.Name, Status: last, Reason: "was deleted while it built"}
		}
		if err != nil {
			return nil, fmt.Errorf("foreman: watch host %s: %w", h.Name, err)
		}
		st := -1
		if cur.BuildStatus != nil {
			st = *cur.BuildStatus
		}
		switch {
		case st == 0 || (st == -1 && !cur.Build):
			return cur, nil
		case st == 3 || st == 2:
			return nil, p.dropFailed(ctx, cur, &BuildError{Host: cur.Name, Status: cur.BuildStatusLabel, Reason: "did not build"})
		}
		if cur.BuildStatusLabel != last {
			last = cur.BuildStatusLabel
			if progress != nil {
				progress(fmt.Sprintf("%s: %s", cur.Name, last))
			}
		}
		if p.s.Now().After(deadline) {
			return nil, p.dropFailed(ctx, cur, &BuildError{Host: cur.Name, Status: cur.BuildStatusLabel, Reason: fmt.Sprintf("did not build within %s", p.s.BuildTimeout)})
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(p.s.PollInterval):
		}
	}
}

func (p *Provider) dropFailed(ctx context.Context, h *hostJSON, be *BuildError) error {
	if err := p.c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/hosts/%d", h.ID), nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		be.Reason += fmt.Sprintf("; deleting it failed (%v): delete it by hand", err)
		return be
	}
	be.Reason += "; deleted it"
	return be
}

func (p *Provider) info(h *hostJSON) providers.HostInfo {
	name := h.Name
	if name == "" {
		name = h.Certname
	}
	ip := h.IP
	if ip == "" {
		ip = h.IP6
	}
	var created time.Time
	if t, err := time.Parse("2006-01-02 15:04:05 MST", h.CreatedAt); err == nil {
		created = t
	}
	return providers.HostInfo{
		ProviderID: strconv.Itoa(h.ID),
		Name:       name,
		Hostname:   name,
		IP:         ip,
		Transport:  providers.TransportSSH,
		Labels:     h.labels(),
		Created:    created,
		Facts: map[string]any{
			"foreman_id":       float64(h.ID),
			"hostgroup":        h.HostgroupTitle,
			"operating_system": h.OperatingSystemName,
			"architecture":     h.ArchitectureName,
			"domain":           h.DomainName,
			"mac":              h.MAC,
			"organization":     h.OrganizationName,
			"location":         h.LocationName,
			"build_status":     h.BuildStatusLabel,
			"foreman_url":      fmt.Sprintf("%s/hosts/%s", p.s.URL, name),
		},
	}
}

// hostRef is what Foreman knows a recorded host by: its id, else its name.
func hostRef(h providers.HostRef) string {
	for _, s := range []string{h.ProviderID, h.Name, h.Hostname} {
		if s != "" {
			return s
		}
	}
	return ""
}

// Checkin deletes the host; one Foreman no longer knows is Gone.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	ref := hostRef(req.Host)
	if ref == "" {
		return providers.CheckinResponse{}, errors.New("foreman: checkin: the host has no id or name")
	}
	org, loc, err := p.scope(ctx)
	if err != nil {
		return providers.CheckinResponse{}, err
	}
	err = p.c.do(ctx, http.MethodDelete, "/api/hosts/"+url.PathEscape(ref), map[string]any{"organization_id": org, "location_id": loc}, nil)
	if isStatus(err, http.StatusNotFound) {
		return providers.CheckinResponse{Gone: true}, nil
	}
	if err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("foreman: delete %s: %w", ref, err)
	}
	p.log.Info("foreman: deleted", "host", ref)
	return providers.CheckinResponse{}, nil
}

// Sync lists the hosts whose name carries name_prefix (with their labels).
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	var page struct {
		Results []hostJSON `json:"results"`
	}
	q := url.Values{"per_page": {"1000"}, "search": {fmt.Sprintf("name ~ %q", p.s.NamePrefix+"-")}}
	if err := p.c.do(ctx, http.MethodGet, "/api/hosts?"+q.Encode(), nil, &page); err != nil {
		return providers.SyncResponse{}, fmt.Errorf("foreman: sync: %w", err)
	}
	var out []providers.HostInfo
	for _, h := range page.Results {
		if !strings.HasPrefix(h.Name, p.s.NamePrefix+"-") {
			continue
		}
		full, err := p.host(ctx, strconv.Itoa(h.ID))
		if isStatus(err, http.StatusNotFound) {
			continue
		}
		if err != nil {
			return providers.SyncResponse{}, fmt.Errorf("foreman: sync %s: %w", h.Name, err)
		}
		hi := p.info(full)
		if matchLabels(hi.Labels, req.Labels) {
			out = append(out, hi)
		}
	}
	return providers.SyncResponse{Hosts: out}, nil
}

func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Adopt finds a host by id or name, for import.
func (p *Provider) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.HostInfo, error) {
	h, err := p.host(ctx, req.ProviderID)
	if err != nil {
		return providers.HostInfo{}, err
	}
	return p.info(h), nil
}

// Refresh tells whether hosts still exist.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	out := providers.RefreshResponse{Hosts: map[string]providers.Presence{}}
	for _, r := range req.Hosts {
		_, err := p.host(ctx, hostRef(r))
		switch {
		case isStatus(err, http.StatusNotFound):
			out.Hosts[r.ID] = providers.PresenceGone
		case err != nil:
			return out, err
		default:
			out.Hosts[r.ID] = providers.PresenceRunning
		}
	}
	return out, nil
}

// Execute runs a job template on a host through remote execution, as the
// Python broker does: job_template (default "Run Command - Script
// Default"), hostname, and every other argument as the template's inputs
// (command for Run Command). The result has the exit status, stdout and
// stderr the job's output reports.
func (p *Provider) Execute(ctx context.Context, req providers.ExecuteRequest) (providers.ExecuteResponse, error) {
	args := maps.Clone(req.Args)
	tmpl, _ := args["job_template"].(string)
	if tmpl == "" {
		tmpl = DefaultJobTemplate
	}
	target, _ := args["hostname"].(string)
	if target == "" {
		return providers.ExecuteResponse{}, errors.New("foreman: execute needs hostname (the host to run the job template on)")
	}
	delete(args, "job_template")
	delete(args, "hostname")
	if len(req.Command) > 0 && args["command"] == nil {
		args["command"] = strings.Join(req.Command, " ")
	}
	org, loc, err := p.scope(ctx)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	tid, err := p.c.idOf(ctx, "job_templates", tmpl)
	if err != nil {
		return providers.ExecuteResponse{}, err
	}
	inputs := map[string]any{}
	for k, v := range args {
		inputs[k] = fmt.Sprint(v)
	}
	in := map[string]any{"organization_id": org, "location_id": loc, "job_invocation": map[string]any{
		"job_template_id": tid, "targeting_type": "static_query", "inputs": inputs, "search_query": "name = " + target,
	}}
	var ji struct {
		ID          int    `json:"id"`
		StatusLabel string `json:"status_label"`
	}
	// Not retried: a job run twice is worse than an error.
	if err := p.c.once(ctx, http.MethodPost, "/api/job_invocations", in, &ji); err != nil {
		return providers.ExecuteResponse{}, fmt.Errorf("foreman: run %q on %s: %w", tmpl, target, err)
	}
	if req.Progress != nil {
		req.Progress(fmt.Sprintf("job invocation %d: %q on %s", ji.ID, tmpl, target))
	}
	for ji.StatusLabel == "running" || ji.StatusLabel == "queued" || ji.StatusLabel == "pending" || ji.StatusLabel == "" {
		select {
		case <-ctx.Done():
			return providers.ExecuteResponse{}, ctx.Err()
		case <-time.After(p.s.PollInterval):
		}
		if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("/api/job_invocations/%d", ji.ID), nil, &ji); err != nil {
			return providers.ExecuteResponse{}, err
		}
	}
	var outs struct {
		Outputs []struct {
			Output []struct {
				OutputType string `json:"output_type"`
				Output     string `json:"output"`
			} `json:"output"`
		} `json:"outputs"`
	}
	if err := p.c.do(ctx, http.MethodGet, fmt.Sprintf("/api/job_invocations/%d/outputs", ji.ID), nil, &outs); err != nil {
		return providers.ExecuteResponse{}, err
	}
	status, stdout := 0, []string{}
	if len(outs.Outputs) > 0 {
		lines := outs.Outputs[0].Output
		for _, l := range lines {
			if rest, ok := strings.CutPrefix(l.Output, "Exit status: "); ok {
				status, _ = strconv.Atoi(strings.TrimSpace(rest))
				continue
			}
			if l.OutputType == "debug" {
				continue
			}
			stdout = append(stdout, l.Output)
		}
	}
	out := strings.Join(stdout, "")
	if req.Stdout != nil {
		_, _ = fmt.Fprint(req.Stdout, out)
	}
	res := map[string]any{"status": float64(status), "stdout": out, "stderr": "", "job_id": float64(ji.ID), "job_status": ji.StatusLabel}
	return providers.ExecuteResponse{Result: res, Status: status}, nil
}
