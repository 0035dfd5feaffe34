package awxtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	// Roots need no authentication, as on the real service.
	switch {
	case p == "/api/":
		if s.opts.AAP {
			writeJSON(w, 200, map[string]any{
				"description": "Ansible Automation Platform gateway",
				"apis":        map[string]any{"gateway": "/api/gateway/", "controller": "/api/controller/", "eda": "/api/eda/"},
			})
			return
		}
		writeJSON(w, 200, map[string]any{
			"description": "AWX REST API", "current_version": "/api/v2/",
			"available_versions": map[string]any{"v2": "/api/v2/"}, "oauth2": "/api/o/",
		})
		return
	case s.opts.AAP && p == "/api/controller/":
		writeJSON(w, 200, map[string]any{
			"description": "AWX REST API", "current_version": s.prefix,
			"available_versions": map[string]any{"v2": s.prefix},
		})
		return
	case !strings.HasPrefix(p, s.prefix):
		notFound(w)
		return
	}
	rest := strings.Trim(strings.TrimPrefix(p, s.prefix), "/")
	var parts []string
	if rest != "" {
		parts = strings.Split(rest, "/")
	}
	if len(parts) == 1 && parts[0] == "ping" {
		writeJSON(w, 200, map[string]any{"version": "24.6.1", "active_node": "awxtest"})
		return
	}
	u, tok, ok := s.authenticate(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Authentication credentials were not provided. To establish a login session, visit /api/login/."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	id := func(i int) (int, bool) {
		if len(parts) <= i {
			return 0, false
		}
		n, err := strconv.Atoi(parts[i])
		return n, err == nil
	}
	if len(parts) == 0 {
		writeJSON(w, 200, map[string]any{"me": s.prefix + "me/", "workflow_job_templates": s.prefix + "workflow_job_templates/"})
		return
	}
	switch parts[0] {
	case "me":
		s.list(w, r, []any{s.userJSON(u)})
	case "users":
		n, ok := id(1)
		if !ok || len(parts) != 3 || parts[2] != "personal_tokens" || r.Method != http.MethodPost {
			notFound(w)
			return
		}
		if n != u.id {
			writeJSON(w, http.StatusForbidden, map[string]any{"detail": "You do not have permission to perform this action."})
			return
		}
		s.createToken(w, r, u)
	case "tokens":
		switch {
		case len(parts) == 1 && r.Method == http.MethodPost:
			s.createToken(w, r, u)
		case len(parts) == 1:
			var items []any
			for _, t := range s.sortedTokens() {
				if t.user != u || (q.Get("description") != "" && q.Get("description") != t.description) {
					continue
				}
				items = append(items, s.tokenJSON(t, false))
			}
			s.list(w, r, items)
		case len(parts) == 2 && r.Method == http.MethodDelete:
			n, _ := id(1)
			for v, t := range s.tokens {
				if t.id == n && t.user == u {
					delete(s.tokens, v)
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
			notFound(w)
		default:
			notFound(w)
		}
	case "workflow_job_templates", "job_templates":
		s.templates(w, r, u, parts, parts[0] == "workflow_job_templates")
	case "workflow_jobs", "jobs":
		s.jobsRoute(w, r, parts, parts[0] == "workflow_jobs")
	case "inventories":
		if len(parts) == 1 {
			var items []any
			for _, in := range s.invs {
				if !match(q, "name", in.name) || (q.Get("search") != "" && !strings.Contains(in.name, q.Get("search"))) {
					continue
				}
				items = append(items, s.inventoryJSON(in))
			}
			s.list(w, r, items)
			return
		}
		n, _ := id(1)
		var in *inventory
		for _, x := range s.invs {
			if x.id == n {
				in = x
			}
		}
		switch {
		case in == nil:
			notFound(w)
		case len(parts) == 2:
			writeJSON(w, 200, s.inventoryJSON(in))
		case len(parts) == 3 && parts[2] == "hosts":
			var items []any
			for _, h := range in.hosts {
				items = append(items, s.hostJSON(h))
			}
			s.list(w, r, items)
		default:
			notFound(w)
		}
	case "hosts":
		if len(parts) == 1 {
			var items []any
			for _, in := range s.invs {
				for _, h := range in.hosts {
					if match(q, "name", h.name) {
						items = append(items, s.hostJSON(h))
					}
				}
			}
			s.list(w, r, items)
			return
		}
		n, _ := id(1)
		for _, in := range s.invs {
			for _, h := range in.hosts {
				if h.id != n {
					continue
				}
				if len(parts) == 3 && parts[2] == "ansible_facts" {
					writeJSON(w, 200, map[string]any{})
				} else {
					writeJSON(w, 200, s.hostJSON(h))
				}
				return
			}
		}
		notFound(w)
	case "labels":
		if r.Method == http.MethodPost {
			var body struct {
				Name string `json:"name"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			if _, dup := s.labels[body.Name]; dup {
				writeJSON(w, 400, map[string]any{"__all__": []string{"Label with this Name and Organization already exists."}})
				return
			}
			s.seq++
			s.labels[body.Name] = s.seq
			writeJSON(w, 201, map[string]any{"id": s.seq, "name": body.Name, "type": "label"})
			return
		}
		var items []any
		for name, lid := range s.labels {
			if match(q, "name", name) {
				items = append(items, map[string]any{"id": lid, "name": name, "type": "label"})
			}
		}
		s.list(w, r, items)
	default:
		notFound(w)
	}
	_ = tok
}

func match(q url.Values, key, value string) bool {
	v := q.Get(key)
	return v == "" || v == value
}

func (s *Server) sortedTokens() []*token {
	var ts []*token
	for _, t := range s.tokens {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	return ts
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, u *user) {
	var body struct {
		Description string `json:"description"`
		Scope       string `json:"scope"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.seq++
	t := &token{id: s.seq, value: fmt.Sprintf("awxtest-%d-%x", s.seq, s.rng.Uint64()), user: u, description: body.Description}
	s.tokens[t.value] = t
	writeJSON(w, http.StatusCreated, s.tokenJSON(t, true))
}

func (s *Server) tokenJSON(t *token, reveal bool) map[string]any {
	v := "************"
	if reveal {
		v = t.value
	}
	return map[string]any{
		"id": t.id, "type": "o_auth2_access_token", "url": fmt.Sprintf("%stokens/%d/", s.prefix, t.id),
		"description": t.description, "user": t.user.id, "token": v, "refresh_token": nil,
		"application": nil, "scope": "write",
	}
}

func (s *Server) userJSON(u *user) map[string]any {
	return map[string]any{"id": u.id, "type": "user", "url": fmt.Sprintf("%susers/%d/", s.prefix, u.id), "username": u.username}
}

// list writes a paginated answer: count, next, previous, results.
func (s *Server) list(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 25
	}
	size = min(size, 200)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	link := func(p int) any {
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		return r.URL.Path + "?" + qq.Encode()
	}
	var next, prev any
	if end < len(items) {
		next = link(page + 1)
	}
	if page > 1 {
		prev = link(page - 1)
	}
	results := items[start:end]
	if results == nil {
		results = []any{}
	}
	writeJSON(w, 200, map[string]any{"count": len(items), "next": next, "previous": prev, "results": results})
}

func canStart(launchers []string, u *user) bool {
	if len(launchers) == 0 {
		return true
	}
	for _, l := range launchers {
		if l == u.username {
			return true
		}
	}
	return false
}

func (s *Server) templateJSON(t *template, u *user) map[string]any {
	kind, path := "job_template", "job_templates"
	desc, vars, survey, invName, launchers := t.jt.Description, t.jt.ExtraVars, t.jt.Survey, t.jt.Inventory, t.jt.Launchers
	if t.workflow {
		kind, path = "workflow_job_template", "workflow_job_templates"
		desc, vars, survey, invName, launchers = t.wf.Description, t.wf.ExtraVars, t.wf.Survey, t.wf.Inventory, t.wf.Launchers
	}
	ev := ""
	if len(vars) > 0 {
		b, _ := json.Marshal(vars)
		ev = string(b)
	}
	var inv any
	if invName != "" {
		for _, in := range s.invs {
			if in.name == invName {
				inv = in.id
			}
		}
	}
	self := fmt.Sprintf("%s%s/%d/", s.prefix, path, t.id)
	return map[string]any{
		"id": t.id, "type": kind, "url": self, "name": t.name(), "description": desc,
		"extra_vars": ev, "inventory": inv, "survey_enabled": len(survey) > 0,
		"ask_inventory_on_launch": true, "ask_variables_on_launch": true, "ask_labels_on_launch": true,
		"related": map[string]any{"launch": self + "launch/", "survey_spec": self + "survey_spec/"},
		"summary_fields": map[string]any{
			"organization":      map[string]any{"id": 1, "name": "Default"},
			"user_capabilities": map[string]any{"edit": false, "delete": false, "start": canStart(launchers, u), "schedule": false, "copy": false},
		},
	}
}

func (s *Server) templates(w http.ResponseWriter, r *http.Request, u *user, parts []string, workflow bool) {
	all := s.jts
	if workflow {
		all = s.wfjts
	}
	q := r.URL.Query()
	if len(parts) == 1 {
		var items []any
		for _, t := range all {
			if match(q, "name", t.name()) {
				items = append(items, s.templateJSON(t, u))
			}
		}
		s.list(w, r, items)
		return
	}
	n, err := strconv.Atoi(parts[1])
	var t *template
	for _, x := range all {
		if err == nil && x.id == n {
			t = x
		}
	}
	if t == nil {
		notFound(w)
		return
	}
	switch {
	case len(parts) == 2:
		writeJSON(w, 200, s.templateJSON(t, u))
	case len(parts) == 3 && parts[2] == "survey_spec":
		survey := t.jt.Survey
		if workflow {
			survey = t.wf.Survey
		}
		var spec []any
		for _, q := range survey {
			typ := q.Type
			if typ == "" {
				typ = "text"
			}
			def := q.Default
			if def == nil {
				def = ""
			}
			spec = append(spec, map[string]any{
				"question_name": q.Name, "question_description": q.Description, "variable": q.Variable,
				"type": typ, "required": q.Required, "default": def, "choices": strings.Join(q.Choices, "\n"),
			})
		}
		if spec == nil {
			writeJSON(w, 200, map[string]any{})
			return
		}
		writeJSON(w, 200, map[string]any{"name": "", "description": "", "spec": spec})
	case len(parts) == 3 && parts[2] == "launch" && r.Method == http.MethodPost:
		launchers := t.jt.Launchers
		if workflow {
			launchers = t.wf.Launchers
		}
		if !canStart(launchers, u) {
			writeJSON(w, http.StatusForbidden, map[string]any{"detail": "You do not have permission to perform this action."})
			return
		}
		var body struct {
			ExtraVars json.RawMessage `json:"extra_vars"`
			Inventory any             `json:"inventory"`
			Labels    []int           `json:"labels"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, map[string]any{"detail": "JSON parse error - " + err.Error()})
			return
		}
		extra, err := decodeExtraVars(body.ExtraVars)
		if err != nil {
			writeJSON(w, 400, map[string]any{"extra_vars": []string{err.Error()}})
			return
		}
		var inv *inventory
		if body.Inventory != nil {
			for _, in := range s.invs {
				if f, ok := body.Inventory.(float64); ok && int(f) == in.id {
					inv = in
				}
			}
			if inv == nil {
				writeJSON(w, 400, map[string]any{"inventory": []string{fmt.Sprintf("Invalid pk \"%v\" - object does not exist.", body.Inventory)}})
				return
			}
		}
		j := s.launchLocked(t, u, extra, inv, body.Labels)
		if s.loseNext > 0 {
			s.loseNext--
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
		out := s.jobJSON(j)
		if workflow {
			out["workflow_job"] = j.id
		} else {
			out["job"] = j.id
		}
		out["ignored_fields"] = map[string]any{}
		writeJSON(w, http.StatusCreated, out)
	default:
		notFound(w)
	}
}

// decodeExtraVars accepts extra_vars as an object or as a JSON string, as
// AWX does.
func decodeExtraVars(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err == nil {
		return m, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, fmt.Errorf("extra_vars must be an object or a JSON string")
	}
	if str == "" {
		return map[string]any{}, nil
	}
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		return nil, fmt.Errorf("cannot parse extra_vars as JSON: %v", err)
	}
	return m, nil
}

func (s *Server) jobPath(j *job) string {
	if j.workflow {
		return fmt.Sprintf("%sworkflow_jobs/%d/", s.prefix, j.id)
	}
	return fmt.Sprintf("%sjobs/%d/", s.prefix, j.id)
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (s *Server) jobJSON(j *job) map[string]any {
	ev, _ := json.Marshal(j.extraVars)
	self := s.jobPath(j)
	out := map[string]any{
		"id": j.id, "url": self, "name": j.name, "status": j.status, "failed": j.status == "failed" || j.status == "error",
		"extra_vars": string(ev), "created": timeOrNil(j.launched), "started": timeOrNil(j.launched),
		"finished": timeOrNil(j.finished), "job_explanation": j.explanation, "launched_by": map[string]any{"id": j.user.id, "name": j.user.username},
	}
	if j.inventory != nil {
		out["inventory"] = j.inventory.id
	} else {
		out["inventory"] = nil
	}
	sf := map[string]any{"created_by": map[string]any{"id": j.user.id, "username": j.user.username}}
	if j.workflow {
		out["type"] = "workflow_job"
		out["workflow_job_template"] = j.tmpl.id
		out["related"] = map[string]any{"workflow_nodes": self + "workflow_nodes/"}
		sf["workflow_job_template"] = map[string]any{"id": j.tmpl.id, "name": j.tmpl.name()}
	} else {
		out["type"] = "job"
		out["artifacts"] = j.artifacts
		if out["artifacts"] == nil {
			out["artifacts"] = map[string]any{}
		}
		out["result_traceback"] = ""
		out["related"] = map[string]any{"job_events": self + "job_events/", "stdout": self + "stdout/"}
		if j.parent == nil {
			out["job_template"] = j.tmpl.id
			sf["job_template"] = map[string]any{"id": j.tmpl.id, "name": j.tmpl.name()}
		} else {
			sf["source_workflow_job"] = map[string]any{"id": j.parent.id, "name": j.parent.name, "status": j.parent.status}
		}
		if j.status == "error" {
			out["result_traceback"] = j.explanation
		}
	}
	out["summary_fields"] = sf
	return out
}

func (s *Server) jobsRoute(w http.ResponseWriter, r *http.Request, parts []string, workflow bool) {
	q := r.URL.Query()
	if len(parts) == 1 {
		var ids []int
		for id, j := range s.jobs {
			if j.workflow != workflow {
				continue
			}
			if v := q.Get("workflow_job_template"); v != "" && (j.tmpl == nil || strconv.Itoa(j.tmpl.id) != v || j.parent != nil) {
				continue
			}
			if v := q.Get("job_template"); v != "" && (j.parent != nil || strconv.Itoa(j.tmpl.id) != v) {
				continue
			}
			if v := q.Get("status"); v != "" && j.status != v {
				continue
			}
			ids = append(ids, id)
		}
		sort.Ints(ids)
		if q.Get("order_by") == "-id" {
			sort.Sort(sort.Reverse(sort.IntSlice(ids)))
		}
		var items []any
		for _, id := range ids {
			items = append(items, s.jobJSON(s.jobs[id]))
		}
		s.list(w, r, items)
		return
	}
	n, err := strconv.Atoi(parts[1])
	j, ok := s.jobs[n]
	if err != nil || !ok || j.workflow != workflow {
		notFound(w)
		return
	}
	switch {
	case len(parts) == 2:
		s.advanceLocked(j)
		writeJSON(w, 200, s.jobJSON(j))
	case workflow && len(parts) == 3 && parts[2] == "workflow_nodes":
		var items []any
		for i, c := range j.nodes {
			items = append(items, map[string]any{
				"id": c.id*10 + i, "type": "workflow_job_node", "job": c.id, "workflow_job": j.id,
				"identifier": fmt.Sprintf("node-%d", i), "do_not_run": false,
				"related": map[string]any{"job": s.jobPath(c), "workflow_job": s.jobPath(j)},
				"summary_fields": map[string]any{
					"job":                  map[string]any{"id": c.id, "name": c.name, "status": c.status, "failed": c.status == "failed" || c.status == "error", "type": "job"},
					"workflow_job":         map[string]any{"id": j.id, "name": j.name},
					"unified_job_template": map[string]any{"id": j.tmpl.id, "name": c.name, "unified_job_type": "job"},
				},
			})
		}
		s.list(w, r, items)
	case !workflow && len(parts) == 3 && parts[2] == "job_events":
		var items []any
		for i, e := range j.events {
			item := map[string]any{
				"id": j.id*100 + i, "type": "job_event", "event": "runner_on_failed", "failed": true,
				"host_name": e.Host, "play": e.Play, "task": e.Task, "stdout": e.Stdout, "job": j.id,
				"event_data": map[string]any{"play": e.Play, "task": e.Task, "host": e.Host, "res": map[string]any{"msg": e.Msg, "failed": true}},
			}
			items = append(items, item)
		}
		if q.Get("failed") == "false" {
			items = nil
		}
		s.list(w, r, items)
	default:
		notFound(w)
	}
}

func (s *Server) inventoryJSON(in *inventory) map[string]any {
	return map[string]any{
		"id": in.id, "type": "inventory", "url": fmt.Sprintf("%sinventories/%d/", s.prefix, in.id),
		"name": in.name, "description": in.description, "kind": "", "organization": 1,
		"total_hosts": len(in.hosts), "related": map[string]any{"hosts": fmt.Sprintf("%sinventories/%d/hosts/", s.prefix, in.id)},
	}
}

func (s *Server) hostJSON(h *host) map[string]any {
	vars := ""
	if len(h.vars) > 0 {
		b, _ := json.Marshal(h.vars)
		vars = string(b)
	}
	self := fmt.Sprintf("%shosts/%d/", s.prefix, h.id)
	return map[string]any{
		"id": h.id, "type": "host", "url": self, "name": h.name, "inventory": h.inv.id, "enabled": true,
		"variables": vars, "related": map[string]any{"ansible_facts": self + "ansible_facts/"},
		"summary_fields": map[string]any{"inventory": map[string]any{"id": h.inv.id, "name": h.inv.name}},
	}
}
