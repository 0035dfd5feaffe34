// Package foremantest is an emulator of the parts of Foreman's API v2 that
// broker's foreman provider uses, served over real HTTP on 127.0.0.1 for
// tests and demos: organizations, locations, hostgroups, hosts (create,
// show, search, delete, with build status and parameters), job templates
// and job invocations of remote execution with their outputs. Answers
// follow Foreman's shapes: paginated {"total", "subtotal", "page",
// "per_page", "search", "results"} lists, 422 {"error": {"errors",
// "full_messages"}} for invalid records, 404 {"message"} for unknown ones,
// HTTP basic authentication (a personal access token is a password).
//
// Builds are deterministic: a new host is "Pending installation" for a
// number of reads of it, then "Installed" (or "Installation error", or
// pending for ever, as injected), so tests never sleep.
//
// Faults can be injected: 5xx answers before any effect, a host creation
// that takes effect but whose connection is dropped before the answer,
// builds that fail or never end, hosts deleted by someone else.
//
// The emulator is test code: it keeps everything in memory.
package foremantest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Build is what builds of new hosts do.
type Build int

const (
	// Built: the host installs (the default).
	Built Build = iota
	// Fail: the installation fails (build_status 3).
	Fail
	// Pending: the host stays "Pending installation".
	Pending
)

// Hostgroup is a hostgroup.
type Hostgroup struct {
	ID                  int
	Name, Title         string
	Description         string
	OperatingSystemName string
	DomainName          string
	SubnetName          string
}

// Host is an emulated host, as Hosts returns it.
type Host struct {
	ID          int
	Name        string
	IP          string
	HostgroupID int
	Build       bool
	BuildStatus int // 0 installed, 1 pending, 3 installation error
	Parameters  map[string]string
	Compute     map[string]any
}

// Options configure a Server.
type Options struct {
	// TLS serves HTTPS with a certificate of its own (CACert).
	TLS bool
	// Users maps user names to passwords (or personal access tokens);
	// nil: admin/changeme.
	Users map[string]string
	// Hostgroups; nil: DefaultHostgroups.
	Hostgroups []Hostgroup
	// BuildPolls is how many reads of a new host its build takes
	// (default 1).
	BuildPolls int
	// Domain is the domain of host names (default foreman.example.test).
	Domain string
}

// DefaultHostgroups are the emulator's hostgroups unless told otherwise.
var DefaultHostgroups = []Hostgroup{
	{ID: 1, Name: "rhel9", Title: "rhel9", Description: "RHEL 9 on libvirt", OperatingSystemName: "RedHat 9.4", DomainName: "foreman.example.test", SubnetName: "lab"},
	{ID: 2, Name: "satellite", Title: "qe/satellite", Description: "Satellite testing", OperatingSystemName: "RedHat 8.10", DomainName: "foreman.example.test", SubnetName: "lab"},
}

type host struct {
	Host
	reads   int
	outcome Build
	created time.Time
}

type invocation struct {
	id     int
	hostID int
	status int
	output string
}

// Server is a running emulator.
type Server struct {
	ts   *httptest.Server
	opts Options

	mu       sync.Mutex
	hosts    map[int]*host
	nextHost int
	jobs     map[int]*invocation
	nextJob  int
	failNext int
	failCode int
	loseNext int
	failPost int
	build    Build
	creates  int
}

const (
	orgID, locID = 1, 2
	orgName      = "Default Organization"
	locName      = "Default Location"
	templateID   = 7
	templateName = "Run Command - Script Default"
)

// New starts an emulator on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Users == nil {
		opts.Users = map[string]string{"admin": "changeme"}
	}
	if opts.Hostgroups == nil {
		opts.Hostgroups = DefaultHostgroups
	}
	if opts.BuildPolls <= 0 {
		opts.BuildPolls = 1
	}
	if opts.Domain == "" {
		opts.Domain = "foreman.example.test"
	}
	s := &Server{opts: opts, hosts: map[int]*host{}, jobs: map[int]*invocation{}, nextHost: 10, nextJob: 40}
	if opts.TLS {
		s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	} else {
		s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	}
	return s
}

// URL is the server's address.
func (s *Server) URL() string { return s.ts.URL }

// CACert is the PEM of the certificate a TLS server presents (nil
// without TLS), for a client's ca_file.
func (s *Server) CACert() []byte {
	c := s.ts.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Close stops the emulator.
func (s *Server) Close() { s.ts.Close() }

// FailNext answers the next n requests with code (503 when 0) before they
// have any effect.
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	s.failNext, s.failCode = n, code
}

// LoseNextCreates makes the next n host creations take effect but drop
// the connection before the answer.
func (s *Server) LoseNextCreates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext = n
}

// FailNextCreates answers the next n host creations 503 before they have
// any effect.
func (s *Server) FailNextCreates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPost = n
}

// SetBuild sets what builds of hosts created from now on do.
func (s *Server) SetBuild(b Build) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.build = b
}

// Creates counts the host creations that made a host.
func (s *Server) Creates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// Hosts lists the hosts by id.
func (s *Server) Hosts() []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Host
	for _, h := range s.hosts {
		out = append(out, h.Host)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// DeleteHost removes a host as someone else would.
func (s *Server) DeleteHost(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.hosts {
		if h.Name == name {
			delete(s.hosts, id)
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, kind, id string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("Resource %s not found by id '%s'", kind, id)})
}

func unprocessable(w http.ResponseWriter, errs map[string][]string) {
	var full []string
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := strings.ToUpper(k[:1]) + strings.ReplaceAll(k[1:], "_", " ")
		for _, m := range errs[k] {
			full = append(full, field+" "+m)
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{"id": nil, "errors": errs, "full_messages": full}})
}

func list(results []any, search string) map[string]any {
	return map[string]any{"total": len(results), "subtotal": len(results), "page": 1, "per_page": 1000, "search": search, "results": results}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.failNext > 0 {
		s.failNext--
		code := s.failCode
		s.mu.Unlock()
		http.Error(w, "Service Unavailable (injected fault)", code)
		return
	}
	s.mu.Unlock()
	u, pw, ok := r.BasicAuth()
	if want, known := s.opts.Users[u]; !ok || !known || want != pw {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Unable to authenticate user " + u}})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "api" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Route not found"})
		return
	}
	parts = parts[1:]
	if parts[0] == "v2" {
		parts = parts[1:]
	}
	search := r.URL.Query().Get("search")
	switch {
	case len(parts) == 1 && parts[0] == "organizations" && r.Method == http.MethodGet:
		writeJSON(w, 200, list(filterNamed([]map[string]any{{"id": orgID, "name": orgName, "title": orgName}}, search), search))
	case len(parts) == 1 && parts[0] == "locations" && r.Method == http.MethodGet:
		writeJSON(w, 200, list(filterNamed([]map[string]any{{"id": locID, "name": locName, "title": locName}}, search), search))
	case len(parts) == 1 && parts[0] == "job_templates" && r.Method == http.MethodGet:
		writeJSON(w, 200, list(filterNamed([]map[string]any{{"id": templateID, "name": templateName, "job_category": "Commands"}}, search), search))
	case len(parts) == 1 && parts[0] == "hostgroups" && r.Method == http.MethodGet:
		var all []map[string]any
		for _, hg := range s.opts.Hostgroups {
			all = append(all, hostgroupJSON(hg))
		}
		writeJSON(w, 200, list(filterNamed(all, search), search))
	case len(parts) == 2 && parts[0] == "hostgroups" && r.Method == http.MethodGet:
		for _, hg := range s.opts.Hostgroups {
			if strconv.Itoa(hg.ID) == parts[1] || hg.Title == parts[1] {
				writeJSON(w, 200, hostgroupJSON(hg))
				return
			}
		}
		notFound(w, "hostgroup", parts[1])
	case len(parts) == 1 && parts[0] == "hosts" && r.Method == http.MethodGet:
		s.mu.Lock()
		var all []map[string]any
		ids := make([]int, 0, len(s.hosts))
		for id := range s.hosts {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			all = append(all, s.hostJSON(s.hosts[id], false))
		}
		s.mu.Unlock()
		writeJSON(w, 200, list(filterNamed(all, search), search))
	case len(parts) == 1 && parts[0] == "hosts" && r.Method == http.MethodPost:
		s.createHost(w, r)
	case len(parts) == 2 && parts[0] == "hosts" && r.Method == http.MethodGet:
		s.mu.Lock()
		h := s.find(parts[1])
		if h == nil {
			s.mu.Unlock()
			notFound(w, "host", parts[1])
			return
		}
		s.advance(h)
		out := s.hostJSON(h, true)
		s.mu.Unlock()
		writeJSON(w, 200, out)
	case len(parts) == 2 && parts[0] == "hosts" && r.Method == http.MethodDelete:
		s.mu.Lock()
		h := s.find(parts[1])
		if h == nil {
			s.mu.Unlock()
			notFound(w, "host", parts[1])
			return
		}
		delete(s.hosts, h.ID)
		out := s.hostJSON(h, false)
		s.mu.Unlock()
		writeJSON(w, 200, out)
	case len(parts) == 1 && parts[0] == "job_invocations" && r.Method == http.MethodPost:
		s.invoke(w, r)
	case len(parts) >= 2 && parts[0] == "job_invocations" && r.Method == http.MethodGet:
		s.mu.Lock()
		id, _ := strconv.Atoi(parts[1])
		j, ok := s.jobs[id]
		s.mu.Unlock()
		if !ok {
			notFound(w, "job_invocation", parts[1])
			return
		}
		label := "succeeded"
		if j.status != 0 {
			label = "failed"
		}
		if len(parts) == 3 && parts[2] == "outputs" {
			out := []any{map[string]any{"output_type": "stdout", "output": j.output, "timestamp": 1.0}, map[string]any{"output_type": "stdout", "output": fmt.Sprintf("Exit status: %d", j.status), "timestamp": 1.0}}
			if j.status != 0 {
				out = append(out, map[string]any{"output_type": "debug", "output": "StandardError: Job execution failed", "timestamp": 1.0})
			}
			writeJSON(w, 200, map[string]any{"outputs": []any{map[string]any{"host_id": j.hostID, "refreshed": false, "output": out}}})
			return
		}
		writeJSON(w, 200, map[string]any{"id": j.id, "status_label": label, "succeeded": boolInt(j.status == 0), "failed": boolInt(j.status != 0), "pending": 0, "total": 1})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Route not found"})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// filterNamed applies the searches broker makes: name = "x", title = "x",
// name ~ "x" (substring), or a bare word (substring of the name).
func filterNamed(all []map[string]any, search string) []any {
	out := []any{}
	field, op, val := "", "", strings.TrimSpace(search)
	for _, o := range []string{" ~ ", " = ", "~", "="} {
		if f, v, ok := strings.Cut(search, o); ok {
			field, op, val = strings.TrimSpace(f), strings.TrimSpace(o), strings.Trim(strings.TrimSpace(v), `"`)
			break
		}
	}
	for _, m := range all {
		if search == "" {
			out = append(out, m)
			continue
		}
		name, _ := m["name"].(string)
		got := name
		if field == "title" {
			got, _ = m["title"].(string)
		}
		switch op {
		case "=":
			if got == val || (field == "" && name == val) {
				out = append(out, m)
			}
		default:
			if strings.Contains(got, val) {
				out = append(out, m)
			}
		}
	}
	return out
}

func hostgroupJSON(hg Hostgroup) map[string]any {
	return map[string]any{"id": hg.ID, "name": hg.Name, "title": hg.Title, "description": hg.Description,
		"operatingsystem_name": hg.OperatingSystemName, "domain_name": hg.DomainName, "subnet_name": hg.SubnetName}
}

// find looks a host up by id or name. Callers hold s.mu.
func (s *Server) find(ref string) *host {
	if id, err := strconv.Atoi(ref); err == nil {
		return s.hosts[id]
	}
	for _, h := range s.hosts {
		if h.Name == ref {
			return h
		}
	}
	return nil
}

// advance moves a build on by one read. Callers hold s.mu.
func (s *Server) advance(h *host) {
	if h.BuildStatus != 1 || h.outcome == Pending {
		return
	}
	h.reads++
	if h.reads < s.opts.BuildPolls {
		return
	}
	if h.outcome == Fail {
		h.BuildStatus = 3
		return
	}
	h.BuildStatus, h.Build = 0, false
}

var buildLabels = map[int]string{0: "Installed", 1: "Pending installation", 2: "Token expired", 3: "Installation error"}

func (s *Server) hostJSON(h *host, detail bool) map[string]any {
	hgTitle := ""
	for _, hg := range s.opts.Hostgroups {
		if hg.ID == h.HostgroupID {
			hgTitle = hg.Title
		}
	}
	m := map[string]any{
		"id": h.ID, "name": h.Name, "certname": h.Name, "ip": h.IP, "hostgroup_id": h.HostgroupID, "hostgroup_title": hgTitle,
		"hostgroup_name": hgTitle, "build": h.Build, "build_status": h.BuildStatus, "build_status_label": buildLabels[h.BuildStatus],
		"organization_id": orgID, "organization_name": orgName, "location_id": locID, "location_name": locName,
		"operatingsystem_name": "RedHat 9.4", "architecture_name": "x86_64", "domain_name": s.opts.Domain,
		"mac": fmt.Sprintf("52:54:00:00:00:%02x", h.ID%256), "created_at": h.created.UTC().Format("2006-01-02 15:04:05 UTC"),
	}
	if detail {
		params := []any{}
		keys := make([]string, 0, len(h.Parameters))
		for k := range h.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			params = append(params, map[string]any{"id": i + 1, "name": k, "value": h.Parameters[k], "parameter_type": "string"})
		}
		m["parameters"] = params
		m["all_parameters"] = params
	}
	return m
}

func (s *Server) createHost(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Host struct {
			Name              string         `json:"name"`
			HostgroupID       any            `json:"hostgroup_id"`
			OrganizationID    any            `json:"organization_id"`
			LocationID        any            `json:"location_id"`
			Build             bool           `json:"build"`
			ComputeAttributes map[string]any `json:"compute_attributes"`
			Parameters        []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"host_parameters_attributes"`
		} `json:"host"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "Invalid JSON: " + err.Error(), "full_messages": []string{"Invalid JSON"}}})
		return
	}
	b := body.Host
	errs := map[string][]string{}
	if b.Name == "" {
		errs["name"] = append(errs["name"], "can't be blank")
	}
	hgID, _ := strconv.Atoi(fmt.Sprint(b.HostgroupID))
	found := false
	for _, hg := range s.opts.Hostgroups {
		found = found || hg.ID == hgID
	}
	if !found {
		errs["hostgroup_id"] = append(errs["hostgroup_id"], "is invalid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPost > 0 {
		s.failPost--
		http.Error(w, "Service Unavailable (injected fault)", http.StatusServiceUnavailable)
		return
	}
	name := b.Name
	if name != "" && !strings.Contains(name, ".") {
		name += "." + s.opts.Domain
	}
	if name != "" && s.find(name) != nil {
		errs["name"] = append(errs["name"], "has already been taken")
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	s.nextHost++
	h := &host{Host: Host{ID: s.nextHost, Name: name, IP: fmt.Sprintf("192.0.2.%d", s.nextHost%250+1), HostgroupID: hgID,
		Build: b.Build, BuildStatus: 1, Parameters: map[string]string{}, Compute: b.ComputeAttributes}, outcome: s.build, created: time.Now()}
	if !b.Build {
		h.BuildStatus = 0
	}
	for _, p := range b.Parameters {
		h.Parameters[p.Name] = p.Value
	}
	s.hosts[h.ID] = h
	s.creates++
	if s.loseNext > 0 {
		s.loseNext--
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusCreated, s.hostJSON(h, true))
}

// invoke runs a job invocation: the emulated hosts are not machines, so
// "Run Command" prints what it would run; a command "exit N" fails with N.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		JobInvocation struct {
			JobTemplateID any            `json:"job_template_id"`
			TargetingType string         `json:"targeting_type"`
			Inputs        map[string]any `json:"inputs"`
			SearchQuery   string         `json:"search_query"`
		} `json:"job_invocation"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": err.Error()}})
		return
	}
	ji := body.JobInvocation
	if fmt.Sprint(ji.JobTemplateID) != strconv.Itoa(templateID) {
		unprocessable(w, map[string][]string{"job_template": []string{"can't be blank"}})
		return
	}
	_, target, _ := strings.Cut(ji.SearchQuery, "=")
	target = strings.Trim(strings.TrimSpace(target), `"`)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.find(target)
	if h == nil {
		unprocessable(w, map[string][]string{"targeting": []string{fmt.Sprintf("no hosts match %q", ji.SearchQuery)}})
		return
	}
	cmd := fmt.Sprint(ji.Inputs["command"])
	j := &invocation{hostID: h.ID, output: cmd + "\n"}
	if rest, ok := strings.CutPrefix(cmd, "exit "); ok {
		j.status, _ = strconv.Atoi(rest)
		j.output = ""
	}
	s.nextJob++
	j.id = s.nextJob
	s.jobs[j.id] = j
	writeJSON(w, http.StatusCreated, map[string]any{"id": j.id, "status_label": "running"})
}
