// Package beakertest is an emulator of the parts of Beaker's hub that
// broker's beaker provider uses, served over real HTTP on 127.0.0.1 for
// tests and demos: the XML-RPC endpoint /client/ (also /RPC2; auth.login_password,
// auth.who_am_i, jobs.upload, jobs.filter, taskactions.to_xml,
// taskactions.stop) with Beaker's session cookie, and the REST resources
// GET /jobs/N, GET /recipes/N and POST /jobs/N/status, in Beaker's JSON
// shapes.
//
// Jobs are deterministic: a submitted job moves from Queued through
// Installing to Running (its /distribution/reservesys task running, or the
// recipe Reserved for a <reservesys/> element) after a number of reads of
// its resources, so tests never sleep. Systems are taken from a pool in
// order.
//
// Faults can be injected: 5xx answers before any effect, a submission that
// takes effect but whose connection is dropped before the answer, jobs
// that abort or stay queued, and cancellation by someone else.
//
// The emulator is test code: it keeps everything in memory and must not be
// used as a hub.
package beakertest

import (
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/labbroker/broker/providers/beaker/xmlrpc"
)

// Outcome is what new jobs do.
type Outcome int

const (
	// Reserve: the recipe gets a system and holds it (the default).
	Reserve Outcome = iota
	// Abort: the job aborts while installing (no system).
	Abort
	// StayQueued: the job never leaves Queued.
	StayQueued
)

// Options configure a Server.
type Options struct {
	// TLS serves HTTPS with a certificate of its own (CACert).
	TLS bool
	// Users maps user names to passwords; nil: admin/password.
	Users map[string]string
	// Systems are the FQDNs jobs are given, in order; nil: five systems
	// lab-01.beaker.example.test ….
	Systems []string
	// Polls is how many reads of a job's resources each stage takes
	// (default 1).
	Polls int
}

// Job is an emulated job, as Jobs returns it.
type Job struct {
	ID          int
	Owner       string
	Whiteboard  string
	XML         string
	Status      string   // Queued, Installing, Running, Reserved, Completed, Cancelled, Aborted
	Systems     []string // the recipes' FQDNs, once installing
	CancelledBy string
}

// recipe is one machine recipe of a job. Until the job runs, its status is
// the job's; then a recipe with a <reservesys/> element is Reserved, one
// with a /distribution/reservesys task Running, and any other Completed.
type recipe struct {
	id      int
	status  string
	system  string
	reserve bool // <reservesys/> element: recipe Reserved
	taskRes bool // /distribution/reservesys task
	distro  string
	arch    string
}

type job struct {
	Job
	reads   int
	outcome Outcome
	recipes []*recipe
}

// Server is a running emulator.
type Server struct {
	ts   *httptest.Server
	opts Options

	mu       sync.Mutex
	jobs     map[int]*job
	nextJob  int
	nextRcp  int
	sessions map[string]string // cookie → user
	nextSess int
	failNext int
	failCode int
	loseNext int
	failSub  int
	outcome  Outcome
	submits  int
	sysNext  int
	requests int
}

// New starts an emulator on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Users == nil {
		opts.Users = map[string]string{"admin": "password"}
	}
	if opts.Systems == nil {
		for i := 1; i <= 5; i++ {
			opts.Systems = append(opts.Systems, fmt.Sprintf("lab-%02d.beaker.example.test", i))
		}
	}
	if opts.Polls <= 0 {
		opts.Polls = 1
	}
	s := &Server{opts: opts, jobs: map[int]*job{}, nextJob: 100, nextRcp: 1000, sessions: map[string]string{}}
	if opts.TLS {
		s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	} else {
		s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	}
	return s
}

// URL is the hub's address.
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

// FailNext answers the next n requests with code (503 when 0) before
// they have any effect.
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	s.failNext, s.failCode = n, code
}

// LoseNextSubmits makes the next n jobs.upload calls queue their job but
// drop the connection before the answer.
func (s *Server) LoseNextSubmits(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext = n
}

// FailNextSubmits answers the next n jobs.upload calls 503 before they
// queue anything.
func (s *Server) FailNextSubmits(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSub = n
}

// SetOutcome sets what jobs submitted from now on do.
func (s *Server) SetOutcome(o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = o
}

// SetJobOutcome changes what job id does from now on (a queued job that
// was told to stay queued may go on).
func (s *Server) SetJobOutcome(id int, o Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return fmt.Errorf("no job %d", id)
	}
	j.outcome = o
	return nil
}

// Cancel cancels job id as someone else would.
func (s *Server) Cancel(id int, by string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return fmt.Errorf("no job %d", id)
	}
	j.setStatus("Cancelled")
	j.CancelledBy = by
	return nil
}

// Submits counts the jobs.upload calls that queued a job.
func (s *Server) Submits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submits
}

// Requests counts every request the emulator answered or failed.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Jobs lists the jobs by id.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for _, j := range s.jobs {
		out = append(out, j.Job)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// AddJob queues a job as another client would (owner, XML) and returns
// its id.
func (s *Server) AddJob(owner, jobXML string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.newJob(owner, jobXML)
	if err != nil {
		return 0, err
	}
	return j.ID, nil
}

const sessionCookie = "beaker_auth_token"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	if s.failNext > 0 {
		s.failNext--
		code := s.failCode
		s.mu.Unlock()
		http.Error(w, "Service Unavailable (injected fault)", code)
		return
	}
	s.mu.Unlock()
	if r.URL.Path == "/RPC2" || r.URL.Path == "/client/" {
		s.rpc(w, r)
		return
	}
	s.rest(w, r)
}

func (s *Server) user(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func writeXML(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(doc)
}

func fault(w http.ResponseWriter, msg string) {
	writeXML(w, xmlrpc.EncodeFault(&xmlrpc.Fault{Code: 1, String: msg}))
}

func (s *Server) rpc(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	method, params, err := xmlrpc.DecodeCall(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	str := func(i int) string {
		if i < len(params) {
			v, _ := params[i].(string)
			return v
		}
		return ""
	}
	if method == "auth.login_password" {
		u, pw := str(0), str(1)
		want, ok := s.opts.Users[u]
		if !ok || want != pw {
			fault(w, "bkr.common.bexceptions.BX:Invalid username or password")
			return
		}
		s.mu.Lock()
		s.nextSess++
		tok := fmt.Sprintf("session-%d", s.nextSess)
		s.sessions[tok] = u
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/"})
		doc, _ := xmlrpc.EncodeResponse(u)
		writeXML(w, doc)
		return
	}
	who := s.user(r)
	if who == "" {
		fault(w, "turbogears.identity.exceptions.IdentityFailure: Anonymous access denied")
		return
	}
	var out any
	switch method {
	case "auth.who_am_i":
		out = who
	case "jobs.upload":
		s.mu.Lock()
		if s.failSub > 0 {
			s.failSub--
			s.mu.Unlock()
			http.Error(w, "Service Unavailable (injected fault)", http.StatusServiceUnavailable)
			return
		}
		j, err := s.newJob(who, str(0))
		if err != nil {
			s.mu.Unlock()
			fault(w, "bkr.common.bexceptions.BX:"+err.Error())
			return
		}
		s.submits++
		lose := s.loseNext > 0
		if lose {
			s.loseNext--
		}
		s.mu.Unlock()
		if lose {
			dropConn(w)
			return
		}
		out = fmt.Sprintf("J:%d", j.ID)
	case "jobs.filter":
		f, _ := params[0].(map[string]any)
		out = s.filter(who, f)
	case "taskactions.to_xml":
		s.mu.Lock()
		j := s.byTaskID(str(0))
		s.mu.Unlock()
		if j == nil {
			fault(w, fmt.Sprintf("bkr.common.bexceptions.BX:Invalid %s", str(0)))
			return
		}
		out = j.XML
	case "taskactions.stop":
		s.mu.Lock()
		j := s.byTaskID(str(0))
		switch {
		case j == nil:
			s.mu.Unlock()
			fault(w, fmt.Sprintf("bkr.common.bexceptions.BX:Invalid %s", str(0)))
			return
		case j.Owner != who:
			s.mu.Unlock()
			fault(w, "bkr.common.bexceptions.BX:You don't have permission to cancel "+str(0))
			return
		}
		if !finished(j.Status) {
			j.setStatus("Cancelled")
		}
		s.mu.Unlock()
		out = ""
	default:
		fault(w, fmt.Sprintf("<class 'cherrypy._cperror.NotFound'>:method %q is not supported", method))
		return
	}
	doc, err := xmlrpc.EncodeResponse(out)
	if err != nil {
		fault(w, err.Error())
		return
	}
	writeXML(w, doc)
}

func dropConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func finished(status string) bool {
	return status == "Completed" || status == "Cancelled" || status == "Aborted"
}

// byTaskID finds "J:123" (or "123"). Callers hold s.mu.
func (s *Server) byTaskID(t string) *job {
	id, err := strconv.Atoi(strings.TrimPrefix(t, "J:"))
	if err != nil {
		return nil
	}
	return s.jobs[id]
}

type jobXML struct {
	XMLName    xml.Name `xml:"job"`
	Whiteboard string   `xml:"whiteboard"`
	RecipeSets []struct {
		Recipes []struct {
			Reservesys *struct{} `xml:"reservesys"`
			Tasks      []struct {
				Name string `xml:"name,attr"`
			} `xml:"task"`
			Distro struct {
				And struct {
					Family []struct {
						Value string `xml:"value,attr"`
					} `xml:"distro_family"`
					Arch []struct {
						Value string `xml:"value,attr"`
					} `xml:"distro_arch"`
				} `xml:"and"`
			} `xml:"distroRequires"`
		} `xml:"recipe"`
	} `xml:"recipeSet"`
}

// newJob queues a job. Callers hold s.mu.
func (s *Server) newJob(owner, doc string) (*job, error) {
	var jx jobXML
	if err := xml.Unmarshal([]byte(doc), &jx); err != nil {
		return nil, fmt.Errorf("invalid job XML: %v", err)
	}
	if len(jx.RecipeSets) == 0 || len(jx.RecipeSets[0].Recipes) == 0 {
		return nil, errors.New("job has no recipes")
	}
	s.nextJob++
	j := &job{Job: Job{ID: s.nextJob, Owner: owner, Whiteboard: strings.TrimSpace(jx.Whiteboard), XML: doc, Status: "Queued"},
		outcome: s.outcome}
	for _, rs := range jx.RecipeSets {
		for _, rc := range rs.Recipes {
			s.nextRcp++
			r := &recipe{id: s.nextRcp, status: "Queued", reserve: rc.Reservesys != nil, distro: "RHEL-9.4.0", arch: "x86_64"}
			for _, t := range rc.Tasks {
				if t.Name == "/distribution/reservesys" {
					r.taskRes = true
				}
			}
			if f := rc.Distro.And.Family; len(f) > 0 {
				r.distro = f[0].Value
			}
			if a := rc.Distro.And.Arch; len(a) > 0 {
				r.arch = a[0].Value
			}
			j.recipes = append(j.recipes, r)
		}
	}
	s.jobs[j.ID] = j
	return j, nil
}

// setStatus sets the job's and its unfinished recipes' status (Cancelled,
// Aborted). Callers hold s.mu.
func (j *job) setStatus(st string) {
	j.Status = st
	for _, r := range j.recipes {
		if !finished(r.status) {
			r.status = st
		}
	}
}

// advance moves a job on by one read. Callers hold s.mu.
func (s *Server) advance(j *job) {
	if j.Status != "Queued" && j.Status != "Installing" {
		return
	}
	j.reads++
	if j.outcome == StayQueued || j.reads < s.opts.Polls {
		return
	}
	j.reads = 0
	switch j.Status {
	case "Queued":
		if j.outcome == Abort {
			j.setStatus("Aborted")
			return
		}
		j.Status = "Installing"
		j.Systems = nil
		for _, r := range j.recipes {
			r.status = "Installing"
			r.system = s.opts.Systems[s.sysNext%len(s.opts.Systems)]
			s.sysNext++
			j.Systems = append(j.Systems, r.system)
		}
	case "Installing":
		all, reserved := true, false
		for _, r := range j.recipes {
			switch {
			case r.reserve:
				r.status, reserved, all = "Reserved", true, false
			case r.taskRes:
				r.status, all = "Running", false
			default:
				r.status = "Completed"
			}
		}
		switch {
		case all:
			j.Status = "Completed"
		case reserved:
			j.Status = "Reserved"
		default:
			j.Status = "Running"
		}
	}
}

func (s *Server) filter(who string, f map[string]any) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, _ := f["owner"].(string)
	if mine, _ := f["mine"].(bool); mine {
		owner = who
	}
	wb, _ := f["whiteboard"].(string)
	limit, _ := f["limit"].(int)
	ids := make([]int, 0, len(s.jobs))
	for id := range s.jobs {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	out := []any{}
	for _, id := range ids {
		j := s.jobs[id]
		if owner != "" && j.Owner != owner {
			continue
		}
		if wb != "" && !strings.Contains(j.Whiteboard, wb) {
			continue
		}
		if fin, ok := f["is_finished"].(bool); ok && fin != finished(j.Status) {
			continue
		}
		out = append(out, fmt.Sprintf("J:%d", id))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	who := s.user(r)
	if who == "" {
		http.Error(w, "Authenticated user required", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	id, err := strconv.Atoi(parts[1])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case parts[0] == "jobs" && len(parts) == 2 && r.Method == http.MethodGet:
		j, ok := s.jobs[id]
		if !ok {
			http.Error(w, "Job not found", http.StatusNotFound)
			return
		}
		s.advance(j)
		writeJSON(w, http.StatusOK, s.jobJSON(j))
	case parts[0] == "jobs" && len(parts) == 3 && parts[2] == "status" && r.Method == http.MethodPost:
		j, ok := s.jobs[id]
		if !ok {
			http.Error(w, "Job not found", http.StatusNotFound)
			return
		}
		var body struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Status != "Cancelled" {
			http.Error(w, "Status must be Cancelled", http.StatusBadRequest)
			return
		}
		if j.Owner != who {
			http.Error(w, "Cannot cancel job", http.StatusForbidden)
			return
		}
		if !finished(j.Status) {
			j.setStatus("Cancelled")
		}
		w.WriteHeader(http.StatusNoContent)
	case parts[0] == "recipes" && len(parts) == 2 && r.Method == http.MethodGet:
		for _, j := range s.jobs {
			for _, rc := range j.recipes {
				if rc.id == id {
					s.advance(j)
					writeJSON(w, http.StatusOK, s.recipeJSON(j, rc))
					return
				}
			}
		}
		http.Error(w, "Recipe not found", http.StatusNotFound)
	default:
		http.NotFound(w, r)
	}
}

func result(status string) string {
	switch status {
	case "Cancelled", "Aborted":
		return "Warn"
	case "Completed":
		return "Pass"
	}
	return "New"
}

func (s *Server) recipeJSON(j *job, r *recipe) map[string]any {
	var resource any
	if r.system != "" && r.status != "Queued" {
		resource = map[string]any{"fqdn": r.system, "type": "system"}
	}
	tasks := []any{map[string]any{"name": "/distribution/check-install", "status": taskStatus(r.status, false), "result": "Pass"}}
	if r.taskRes {
		tasks = append(tasks, map[string]any{"name": "/distribution/reservesys", "status": taskStatus(r.status, true), "result": "New"})
	}
	return map[string]any{
		"id": r.id, "t_id": fmt.Sprintf("R:%d", r.id), "status": r.status,
		"is_finished": finished(r.status), "result": result(r.status), "whiteboard": "",
		"resource": resource, "job_id": fmt.Sprintf("J:%d", j.ID), "recipe_id": r.id,
		"distro_tree": map[string]any{"distro": map[string]any{"name": r.distro}, "arch": r.arch},
		"tasks":       tasks,
	}
}

func taskStatus(status string, reservesys bool) string {
	switch status {
	case "Queued":
		return "Queued"
	case "Installing":
		return "Waiting"
	case "Running", "Reserved":
		if reservesys {
			return "Running"
		}
		return "Completed"
	}
	return status
}

func (s *Server) jobJSON(j *job) map[string]any {
	var recipes []any
	for _, r := range j.recipes {
		recipes = append(recipes, s.recipeJSON(j, r))
	}
	return map[string]any{
		"id": j.ID, "t_id": fmt.Sprintf("J:%d", j.ID), "status": j.Status, "result": result(j.Status),
		"is_finished": finished(j.Status), "whiteboard": j.Whiteboard,
		"owner": map[string]any{"user_name": j.Owner, "display_name": j.Owner, "email_address": j.Owner + "@example.test"},
		"recipesets": []any{map[string]any{
			"id": j.ID, "t_id": fmt.Sprintf("RS:%d", j.ID), "status": j.Status, "is_finished": finished(j.Status),
			"machine_recipes": recipes,
		}},
	}
}
