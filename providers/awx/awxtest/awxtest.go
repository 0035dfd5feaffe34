package awxtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind is what a workflow does when it finishes.
type Kind string

// Kinds of workflow.
const (
	// KindStatic runs the workflow's Nodes and nothing else.
	KindStatic Kind = "static"
	// KindDeploy makes hosts (extra var "count", default 1) in the launch
	// inventory, the workflow's inventory, or "<user>-hosts".
	KindDeploy Kind = "deploy"
	// KindRelease removes the host named by the extra var source_vm.
	KindRelease Kind = "release"
	// KindExtend sets expire_time of the host named by target_vm from
	// new_expire_time.
	KindExtend Kind = "extend"
)

// Options configure a Server.
type Options struct {
	// Users are the accounts; nil: one user "admin" (password "password",
	// token "admin-token").
	Users []User
	// AAP serves the API under /api/controller/v2/ behind a gateway-like
	// /api/ root, as AAP 2.5 and later do.
	AAP bool
	// Workflows and JobTemplates; nil: DefaultWorkflows and
	// DefaultJobTemplates.
	Workflows    []Workflow
	JobTemplates []JobTemplate
	// Inventories exist from the start (more are made on demand).
	Inventories []Inventory
	// Polls is how many polls of a job's detail a job takes to finish
	// (default 2).
	Polls int
	// Now is the emulator's clock (default time.Now). Workflows with a
	// Delay finish once Now has passed launch time plus Delay.
	Now func() time.Time
	// Listen, if set, is the address to listen on (default 127.0.0.1:0).
	Listen string
	// Seed seeds the random fault rate (default 1).
	Seed uint64
}

// User is an account.
type User struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Tokens are personal tokens issued before the start.
	Tokens []string `json:"tokens,omitempty"`
}

// SurveyQuestion is one question of a template's survey.
type SurveyQuestion struct {
	Variable    string `json:"variable,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Type is text, textarea, integer, float, multiplechoice… (default text).
	Type     string   `json:"type,omitempty"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Choices  []string `json:"choices,omitempty"`
}

// Node is one job of a workflow.
type Node struct {
	Name      string         `json:"name,omitempty"`
	Artifacts map[string]any `json:"artifacts,omitempty"`
	// Fail makes the node's job fail with Events as its failed job events.
	Fail   bool    `json:"fail,omitempty"`
	Events []Event `json:"events,omitempty"`
	// Error makes the node's job end in status "error" with Explanation.
	Error       bool   `json:"error,omitempty"`
	Explanation string `json:"explanation,omitempty"`
	// Echo names extra vars the node copies into its artifacts, as a
	// workflow reporting what it was given does.
	Echo []string `json:"echo,omitempty"`
}

// Event is a failed job event.
type Event struct {
	Play   string `json:"play,omitempty"`
	Task   string `json:"task,omitempty"`
	Host   string `json:"host,omitempty"`
	Msg    string `json:"msg,omitempty"`
	Stdout string `json:"stdout,omitempty"`
}

// Workflow is a workflow job template.
type Workflow struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Kind        Kind   `json:"kind,omitempty"`
	// ExtraVars are the template's extra_vars (defaults).
	ExtraVars map[string]any   `json:"extra_vars,omitempty"`
	Survey    []SurveyQuestion `json:"survey,omitempty"`
	// Inventory is the default inventory's name.
	Inventory string `json:"inventory,omitempty"`
	// Polls overrides Options.Polls; Delay adds a clock condition.
	Polls int           `json:"polls,omitempty"`
	Delay time.Duration `json:"delay,omitempty"`
	// Nodes are run after the kind's own nodes (static: the only ones).
	Nodes []Node `json:"nodes,omitempty"`
	// Launchers, if set, are the only users who may launch it.
	Launchers []string `json:"launchers,omitempty"`
}

// JobTemplate is a job template; its job ends with Artifacts or fails
// with Events.
type JobTemplate struct {
	Name        string           `json:"name,omitempty"`
	Description string           `json:"description,omitempty"`
	ExtraVars   map[string]any   `json:"extra_vars,omitempty"`
	Survey      []SurveyQuestion `json:"survey,omitempty"`
	Inventory   string           `json:"inventory,omitempty"`
	Artifacts   map[string]any   `json:"artifacts,omitempty"`
	Fail        bool             `json:"fail,omitempty"`
	Events      []Event          `json:"events,omitempty"`
	Polls       int              `json:"polls,omitempty"`
	Launchers   []string         `json:"launchers,omitempty"`
}

// Inventory is an inventory of hosts.
type Inventory struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Hosts       []Host `json:"hosts,omitempty"`
}

// Host is an inventory host.
type Host struct {
	Name      string         `json:"name,omitempty"`
	Variables map[string]any `json:"variables,omitempty"`
}

// Token describes a live token (never its value).
type Token struct {
	ID          int
	User        string
	Description string
}

// DefaultWorkflows are the workflows of the Python broker's README:
// deploy-rhel, remove-vm, extend-vm, plus list-templates and list-flavors
// (what `broker providers AnsibleTower --templates` and `--flavors` run).
func DefaultWorkflows() []Workflow {
	return []Workflow{
		{
			Name:        "deploy-rhel",
			Description: "Deploy a RHEL virtual machine",
			Kind:        KindDeploy,
			ExtraVars:   map[string]any{"deploy_rhel_version": "9.4", "count": 1},
			Survey: []SurveyQuestion{
				{Variable: "deploy_rhel_version", Name: "RHEL version", Description: "RHEL version to deploy", Type: "multiplechoice", Required: true, Default: "9.4", Choices: []string{"8.10", "9.4", "10.0"}},
				{Variable: "count", Name: "Count", Description: "how many hosts", Type: "integer", Default: 1},
			},
		},
		{Name: "remove-vm", Description: "Remove a virtual machine", Kind: KindRelease, ExtraVars: map[string]any{"source_vm": ""}},
		{Name: "extend-vm", Description: "Extend a virtual machine's lease", Kind: KindExtend, ExtraVars: map[string]any{"target_vm": "", "new_expire_time": "+172800"}},
		{Name: "list-templates", Description: "List deployable templates", Kind: KindStatic, Nodes: []Node{{
			Name: "list-templates", Artifacts: map[string]any{"data_out": map[string]any{"list_templates": []any{"rhel-8.10", "rhel-9.4", "rhel-10.0"}}},
		}}},
		{Name: "list-flavors", Description: "List VM flavors", Kind: KindStatic, Nodes: []Node{{
			Name: "list-flavors", Artifacts: map[string]any{"data_out": map[string]any{"list_flavors": []any{"small", "medium", "large"}}},
		}}},
	}
}

// SatelliteWorkflows are the workflows of the broker-scenarios
// deploy_sat_with_cap flow: deploy-satellite and deploy-capsule (deploys),
// and satellite-capsule-integration, whose node reports the hostnames it
// was given and capsule_integration_status "0" in data_out.
func SatelliteWorkflows() []Workflow {
	return []Workflow{
		{Name: "deploy-satellite", Description: "Deploy a Satellite", Kind: KindDeploy,
			ExtraVars: map[string]any{"deploy_network_type": "ipv4", "count": 1}},
		{Name: "deploy-capsule", Description: "Deploy a Capsule", Kind: KindDeploy,
			ExtraVars: map[string]any{"deploy_network_type": "ipv4", "count": 1}},
		{Name: "satellite-capsule-integration", Description: "Configure a Capsule to its Satellite", Kind: KindStatic,
			Nodes: []Node{{
				Name:      "integrate-capsule",
				Artifacts: map[string]any{"data_out": map[string]any{"capsule_integration_status": "0"}},
				Echo:      []string{"satellite_hostname", "satellite_name", "capsule_hostname", "capsule_name", "tower_inventory"},
			}}},
	}
}

// DefaultJobTemplates is one job template, "run-command".
func DefaultJobTemplates() []JobTemplate {
	return []JobTemplate{{
		Name: "run-command", Description: "Run a command on lab hosts",
		ExtraVars: map[string]any{"command": "true"},
		Artifacts: map[string]any{"rc": 0},
	}}
}

// Server is a running emulator.
type Server struct {
	ts     *httptest.Server
	prefix string
	opts   Options

	mu       sync.Mutex
	seq      int // ids of jobs, tokens, hosts, inventories
	users    []*user
	tokens   map[string]*token
	wfjts    []*template
	jts      []*template
	invs     []*inventory
	jobs     map[int]*job
	launches map[string]int
	failNext int
	failCode int
	failRate float64
	dropNext int
	loseNext int
	latency  time.Duration
	rng      *rand.Rand
	requests int
	vmSeq    int
	ipSeq    int
	labels   map[string]int
}

type user struct {
	id                 int
	username, password string
}

type token struct {
	id          int
	value       string
	user        *user
	description string
	expired     bool
}

type template struct {
	id       int
	workflow bool
	wf       Workflow
	jt       JobTemplate
}

func (t *template) name() string {
	if t.workflow {
		return t.wf.Name
	}
	return t.jt.Name
}

type inventory struct {
	id          int
	name        string
	description string
	hosts       []*host
}

type host struct {
	id   int
	name string
	vars map[string]any
	inv  *inventory
}

type job struct {
	id          int
	workflow    bool
	tmpl        *template
	name        string
	user        *user
	status      string
	extraVars   map[string]any
	inventory   *inventory
	polls       int
	launched    time.Time
	finished    time.Time
	nodes       []*job // workflow: node jobs
	parent      *job
	artifacts   map[string]any
	explanation string
	events      []Event
	labels      []int
}

// New starts a server.
func New(opts Options) *Server {
	if opts.Users == nil {
		opts.Users = []User{{Username: "admin", Password: "password", Tokens: []string{"admin-token"}}}
	}
	if opts.Workflows == nil {
		opts.Workflows = DefaultWorkflows()
	}
	if opts.JobTemplates == nil {
		opts.JobTemplates = DefaultJobTemplates()
	}
	if opts.Polls <= 0 {
		opts.Polls = 2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	s := &Server{
		opts:     opts,
		prefix:   "/api/v2/",
		tokens:   map[string]*token{},
		jobs:     map[int]*job{},
		launches: map[string]int{},
		labels:   map[string]int{},
		rng:      rand.New(rand.NewPCG(opts.Seed, 7)),
	}
	if opts.AAP {
		s.prefix = "/api/controller/v2/"
	}
	for _, u := range opts.Users {
		s.seq++
		uu := &user{id: s.seq, username: u.Username, password: u.Password}
		s.users = append(s.users, uu)
		for _, tv := range u.Tokens {
			s.seq++
			s.tokens[tv] = &token{id: s.seq, value: tv, user: uu, description: "issued"}
		}
	}
	for _, w := range opts.Workflows {
		s.seq++
		s.wfjts = append(s.wfjts, &template{id: s.seq, workflow: true, wf: w})
	}
	for _, jt := range opts.JobTemplates {
		s.seq++
		s.jts = append(s.jts, &template{id: s.seq, jt: jt})
	}
	for _, inv := range opts.Inventories {
		in := s.inventoryLocked(inv.Name)
		in.description = inv.Description
		for _, h := range inv.Hosts {
			s.addHostLocked(in, h.Name, h.Variables)
		}
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if opts.Listen != "" {
		l, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			panic(fmt.Sprintf("awxtest: listen on %s: %v", opts.Listen, err))
		}
		s.ts.Listener.Close()
		s.ts.Listener = l
	}
	s.ts.Start()
	return s
}

// URL is the server's base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return s.ts.URL }

// Prefix is the API path prefix (/api/v2/ or /api/controller/v2/).
func (s *Server) Prefix() string { return s.prefix }

// Close stops the server.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Launches counts the launches of the template (workflow or job template)
// with this name.
func (s *Server) Launches(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.launches[name]
}

// Requests counts the requests served (faults included).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext answers the next n requests with HTTP status code (a 5xx).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, code
}

// SetFailureRate answers this fraction of requests with 503, chosen by a
// seeded random source.
func (s *Server) SetFailureRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate = rate
}

// DropNext closes the connection of the next n requests without an answer.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext = n
}

// LoseNextLaunchAnswers makes the next n launches happen but drops their
// connections before the answer, as a proxy timing out would: the client
// cannot tell whether the job started.
func (s *Server) LoseNextLaunchAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext = n
}

// ExpireAllTokens makes every token stop working.
func (s *Server) ExpireAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireToken makes a token stop working (401), as an expired one does.
func (s *Server) ExpireToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[value]; ok {
		t.expired = true
	}
}

// Tokens lists the live tokens.
func (s *Server) Tokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Token
	for _, t := range s.tokens {
		out = append(out, Token{ID: t.id, User: t.user.username, Description: t.description})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Hosts lists the hosts of an inventory (all inventories when name is
// empty), sorted by name.
func (s *Server) Hosts(inventoryName string) []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Host
	for _, in := range s.invs {
		if inventoryName != "" && in.name != inventoryName {
			continue
		}
		for _, h := range in.hosts {
			out = append(out, Host{Name: h.name, Variables: cloneMap(h.vars)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AddHost puts a host into an inventory, making the inventory if needed.
func (s *Server) AddHost(inventoryName string, h Host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addHostLocked(s.inventoryLocked(inventoryName), h.Name, h.Variables)
}

// RemoveHost deletes a host from every inventory, as someone cleaning up
// behind broker's back would.
func (s *Server) RemoveHost(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeHostLocked(name)
}

// Launch launches a template as a user, as another client would; it
// returns the job id.
func (s *Server) Launch(username, templateName string, extraVars map[string]any) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *user
	for _, x := range s.users {
		if x.username == username {
			u = x
		}
	}
	if u == nil {
		return 0, fmt.Errorf("no user %q", username)
	}
	for _, t := range append(slices.Clone(s.wfjts), s.jts...) {
		if t.name() == templateName {
			j := s.launchLocked(t, u, cloneMap(extraVars), nil, nil)
			return j.id, nil
		}
	}
	return 0, fmt.Errorf("no template %q", templateName)
}

// JobStatus is a job's status ("" for an unknown job). It does not count as
// a poll.
func (s *Server) JobStatus(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.status
	}
	return ""
}

// JobLabels names the labels a job was launched with.
func (s *Server) JobLabels(id int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil
	}
	var out []string
	for _, lid := range j.labels {
		for name, x := range s.labels {
			if x == lid {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// JobExtraVars is the extra vars a job was launched with.
func (s *Server) JobExtraVars(id int) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return cloneMap(j.extraVars)
	}
	return nil
}

func (s *Server) inventoryLocked(name string) *inventory {
	for _, in := range s.invs {
		if in.name == name {
			return in
		}
	}
	s.seq++
	in := &inventory{id: s.seq, name: name}
	s.invs = append(s.invs, in)
	return in
}

func (s *Server) addHostLocked(in *inventory, name string, vars map[string]any) {
	s.seq++
	in.hosts = append(in.hosts, &host{id: s.seq, name: name, vars: cloneMap(vars), inv: in})
}

func (s *Server) findHostLocked(name string) *host {
	for _, in := range s.invs {
		for _, h := range in.hosts {
			if h.name == name {
				return h
			}
		}
	}
	return nil
}

func (s *Server) removeHostLocked(name string) bool {
	found := false
	for _, in := range s.invs {
		in.hosts = slices.DeleteFunc(in.hosts, func(h *host) bool {
			if h.name == name {
				found = true
				return true
			}
			return false
		})
	}
	return found
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (s *Server) launchLocked(t *template, u *user, extra map[string]any, inv *inventory, labels []int) *job {
	s.seq++
	s.launches[t.name()]++
	vars := map[string]any{}
	defaults := t.jt.ExtraVars
	if t.workflow {
		defaults = t.wf.ExtraVars
	}
	for k, v := range cloneMap(defaults) {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = v
	}
	j := &job{id: s.seq, workflow: t.workflow, tmpl: t, name: t.name(), user: u, status: "pending",
		extraVars: vars, inventory: inv, launched: s.opts.Now(), labels: labels}
	s.jobs[j.id] = j
	return j
}

func (s *Server) pollsFor(t *template) int {
	n := t.jt.Polls
	if t.workflow {
		n = t.wf.Polls
	}
	if n <= 0 {
		n = s.opts.Polls
	}
	return n
}

// advanceLocked moves a top-level job on by one poll.
func (s *Server) advanceLocked(j *job) {
	if final(j.status) || j.parent != nil {
		return
	}
	j.polls++
	if j.polls < s.pollsFor(j.tmpl) || (j.workflow && s.opts.Now().Before(j.launched.Add(j.tmpl.wf.Delay))) {
		if j.polls == 1 {
			j.status = "waiting"
		} else {
			j.status = "running"
		}
		return
	}
	s.finishLocked(j)
}

func final(status string) bool {
	switch status {
	case "successful", "failed", "error", "canceled":
		return true
	}
	return false
}

func (s *Server) childLocked(parent *job, n Node) *job {
	s.seq++
	c := &job{id: s.seq, name: n.Name, user: parent.user, parent: parent, status: "successful",
		extraVars: parent.extraVars, inventory: parent.inventory, launched: parent.launched,
		finished: s.opts.Now(), artifacts: cloneMap(n.Artifacts), events: n.Events, tmpl: parent.tmpl}
	if n.Fail {
		c.status = "failed"
	}
	if n.Error {
		c.status = "error"
		c.explanation = n.Explanation
	}
	if c.artifacts == nil {
		c.artifacts = map[string]any{}
	}
	for _, k := range n.Echo {
		if v, ok := parent.extraVars[k]; ok {
			c.artifacts[k] = v
		}
	}
	s.jobs[c.id] = c
	parent.nodes = append(parent.nodes, c)
	return c
}

func (s *Server) finishLocked(j *job) {
	j.finished = s.opts.Now()
	if !j.workflow {
		if j.tmpl.jt.Fail {
			j.status = "failed"
			j.events = j.tmpl.jt.Events
		} else {
			j.status = "successful"
			j.artifacts = cloneMap(j.tmpl.jt.Artifacts)
		}
		return
	}
	wf := j.tmpl.wf
	ok := true
	switch wf.Kind {
	case KindDeploy:
		ok = s.deployLocked(j)
	case KindRelease:
		ok = s.releaseLocked(j)
	case KindExtend:
		ok = s.extendLocked(j)
	}
	if ok {
		for _, n := range wf.Nodes {
			c := s.childLocked(j, n)
			if c.status != "successful" {
				ok = false
				break
			}
		}
	}
	if ok {
		j.status = "successful"
	} else {
		j.status = "failed"
		j.explanation = "Workflow job failed"
	}
}

func (s *Server) deployLocked(j *job) bool {
	count := 1
	switch c := j.extraVars["count"].(type) {
	case float64:
		count = int(c)
	case string:
		fmt.Sscan(c, &count)
	}
	count = max(count, 1)
	in := j.inventory
	if in == nil && j.tmpl.wf.Inventory != "" {
		in = s.inventoryLocked(j.tmpl.wf.Inventory)
	}
	if in == nil {
		in = s.inventoryLocked(j.user.username + "-hosts")
	}
	var names, fqdns, ips []any
	for range count {
		s.vmSeq++
		s.ipSeq++
		name := fmt.Sprintf("%s-vm-%04d", j.user.username, s.vmSeq)
		fqdn := name + ".lab.example.test"
		ip := fmt.Sprintf("10.0.%d.%d", s.ipSeq/250, s.ipSeq%250+1)
		vars := map[string]any{
			"fqdn":         fqdn,
			"ansible_host": ip,
			"expire_time":  s.opts.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
		}
		if v, ok := j.extraVars["deploy_rhel_version"]; ok {
			vars["os_distribution_version"] = v
			vars["os_distribution"] = "RedHat"
		}
		for _, k := range []string{"_broker_args", "_broker_labels", "_broker_origin"} {
			if v, ok := j.extraVars[k]; ok {
				vars[k] = v
			}
		}
		s.addHostLocked(in, name, vars)
		names, fqdns, ips = append(names, name), append(fqdns, fqdn), append(ips, ip)
	}
	s.childLocked(j, Node{Name: "provision-vm", Artifacts: map[string]any{"vm_name": names[0], "stage": "provision", "provisioned_by": j.user.username}})
	final := map[string]any{"stage": "finalize", "tower_inventory": in.name}
	if count == 1 {
		final["fqdn"], final["vm_provisioned"], final["ip"] = fqdns[0], names[0], ips[0]
	} else {
		final["fqdn"], final["vm_provisioned"], final["ip"] = fqdns, names, ips
	}
	s.childLocked(j, Node{Name: "finalize-vm", Artifacts: final})
	return true
}

func (s *Server) releaseLocked(j *job) bool {
	name, _ := j.extraVars["source_vm"].(string)
	if !s.removeHostLocked(name) {
		c := s.childLocked(j, Node{Name: "remove-vm", Fail: true, Events: []Event{{
			Play: "Remove VM", Task: "Find the VM", Host: "localhost",
			Msg: fmt.Sprintf("VM %s not found", name), Stdout: fmt.Sprintf("fatal: [localhost]: FAILED! => VM %s not found", name),
		}}})
		return c.status == "successful"
	}
	s.childLocked(j, Node{Name: "remove-vm", Artifacts: map[string]any{"vm_removed": name}})
	return true
}

func (s *Server) extendLocked(j *job) bool {
	name, _ := j.extraVars["target_vm"].(string)
	h := s.findHostLocked(name)
	if h == nil {
		s.childLocked(j, Node{Name: "extend-vm", Fail: true, Events: []Event{{
			Play: "Extend VM", Task: "Find the VM", Host: "localhost",
			Msg: fmt.Sprintf("VM %s not found", name), Stdout: fmt.Sprintf("fatal: [localhost]: FAILED! => VM %s not found", name),
		}}})
		return false
	}
	exp, _ := j.extraVars["new_expire_time"].(string)
	t := s.opts.Now()
	var secs int
	if _, err := fmt.Sscanf(exp, "+%d", &secs); err == nil {
		t = t.Add(time.Duration(secs) * time.Second)
	} else if p, err := time.Parse(time.RFC3339, exp); err == nil {
		t = p
	}
	if h.vars == nil {
		h.vars = map[string]any{}
	}
	h.vars["expire_time"] = t.UTC().Format(time.RFC3339)
	s.childLocked(j, Node{Name: "extend-vm", Artifacts: map[string]any{"vm_extended": name, "expire_time": h.vars["expire_time"]}})
	return true
}

// faultLocked decides a request's fault: "drop", a status code, or "".
func (s *Server) fault() (drop bool, code int, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	latency = s.latency
	if s.dropNext > 0 {
		s.dropNext--
		return true, 0, latency
	}
	if s.failNext > 0 {
		s.failNext--
		return false, s.failCode, latency
	}
	if s.failRate > 0 && s.rng.Float64() < s.failRate {
		return false, http.StatusServiceUnavailable, latency
	}
	return false, 0, latency
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	drop, code, latency := s.fault()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if code != 0 {
		writeJSON(w, code, map[string]any{"detail": "Service temporarily unavailable (injected fault)"})
		return
	}
	s.route(w, r)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
}

// authenticate returns the request's user, or nil.
func (s *Server) authenticate(r *http.Request) (*user, *token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		t, ok := s.tokens[strings.TrimPrefix(h, "Bearer ")]
		if !ok || t.expired {
			return nil, nil, false
		}
		return t.user, t, true
	}
	if un, pw, ok := r.BasicAuth(); ok {
		for _, u := range s.users {
			if u.username == un && u.password == pw && pw != "" {
				return u, nil, true
			}
		}
	}
	return nil, nil, false
}
