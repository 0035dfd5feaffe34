package ostest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Credentials the emulator accepts unless Options say otherwise.
const (
	DefaultUsername      = "admin"
	DefaultPassword      = "secret-password"
	DefaultProject       = "demo"
	DefaultAppCredID     = "appcred-1"
	DefaultAppCredSecret = "appcred-secret"
	DefaultRegion        = "RegionOne"
)

// Options configure an Emulator.
type Options struct {
	// Username, Password and Project are the one account (defaults
	// DefaultUsername, DefaultPassword, DefaultProject; domain Default).
	Username, Password, Project string
	// AppCredID and AppCredSecret are the one application credential
	// (defaults DefaultAppCredID, DefaultAppCredSecret).
	AppCredID, AppCredSecret string
	// Region of every endpoint (default DefaultRegion).
	Region string
	// BuildPolls is how many GETs of a new server answer BUILD before it
	// is ACTIVE (default 1; negative: 0).
	BuildPolls int
	// DeletePolls is how many GETs of a deleted server still answer it
	// (status ACTIVE, task_state deleting) before 404 (default 1).
	DeletePolls int
	// Listen is the address to listen on (default 127.0.0.1:0).
	Listen string
}

// Image, Flavor, Network and Keypair are the emulator's catalogue items.
type Image struct{ ID, Name string }

// Flavor is a Nova flavor.
type Flavor struct {
	ID, Name         string
	VCPUs, RAM, Disk int
}

// Network is a Neutron network; External ones hand out floating IPs.
type Network struct {
	ID, Name string
	External bool
}

// Keypair is a Nova key pair.
type Keypair struct{ Name, PublicKey string }

// Server is what the emulator holds about a server.
type Server struct {
	ID, Name, Status  string
	ImageID, FlavorID string
	KeyName           string
	UserData          string
	Metadata          map[string]string
	Networks          []string // network ids
	FixedIPs          []string // one per network
	FloatingIP        string
	Fault             string
	Created           time.Time
	Deleted           bool

	polls       int
	deletePolls int
	failBuild   string
}

type floatingIP struct {
	ID, Address, NetworkID, PortID, FixedIP, Description string
}

type fault struct {
	method, prefix string
	n              int
}

// Emulator is a running emulator.
type Emulator struct {
	ts   *httptest.Server
	opts Options

	mu         sync.Mutex
	tokens     map[string]bool
	images     []Image
	flavors    []Flavor
	networks   []Network
	keypairs   []Keypair
	servers    map[string]*Server
	order      []string
	fips       map[string]*floatingIP
	seq        int
	faults     []fault
	lose       int
	buildFails []string
	quota      int
	creates    int
	requests   map[string]int
	authBodies []string
	hold       chan struct{} // closed to release held creates
	held       chan string   // ids of creates held
}

// New starts an emulator on 127.0.0.1 with an image "cirros" (and
// "rhel-9.4"), flavors "m1.small" and "m1.large", networks "private" and
// the external "public", and a key pair "default". It panics when it
// cannot listen; Start returns the error.
func New(opts Options) *Emulator {
	e, err := Start(opts)
	if err != nil {
		panic(fmt.Sprintf("ostest: %v", err))
	}
	return e
}

// Start is New with the listener's error returned.
func Start(opts Options) (*Emulator, error) {
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.Project == "" {
		opts.Project = DefaultProject
	}
	if opts.AppCredID == "" {
		opts.AppCredID = DefaultAppCredID
	}
	if opts.AppCredSecret == "" {
		opts.AppCredSecret = DefaultAppCredSecret
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.BuildPolls == 0 {
		opts.BuildPolls = 1
	} else if opts.BuildPolls < 0 {
		opts.BuildPolls = 0
	}
	if opts.DeletePolls == 0 {
		opts.DeletePolls = 1
	} else if opts.DeletePolls < 0 {
		opts.DeletePolls = 0
	}
	e := &Emulator{
		opts:     opts,
		tokens:   map[string]bool{},
		servers:  map[string]*Server{},
		fips:     map[string]*floatingIP{},
		requests: map[string]int{},
		images: []Image{
			{ID: "8a1c2b3d-0000-4000-8000-000000000001", Name: "cirros"},
			{ID: "8a1c2b3d-0000-4000-8000-000000000002", Name: "rhel-9.4"},
		},
		flavors: []Flavor{
			{ID: "1", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
			{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
		},
		networks: []Network{
			{ID: "c0ffee00-0000-4000-8000-000000000001", Name: "private"},
			{ID: "c0ffee00-0000-4000-8000-000000000002", Name: "public", External: true},
		},
		keypairs: []Keypair{{Name: "default", PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatorKey emulator"}},
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	e.ts.Listener = l
	e.ts.Start()
	return e, nil
}

// URL is the emulator's base address.
func (e *Emulator) URL() string { return e.ts.URL }

// AuthURL is Keystone's v3 endpoint, as clouds.yaml's auth_url.
func (e *Emulator) AuthURL() string { return e.ts.URL + "/identity/v3" }

// Close stops the emulator.
func (e *Emulator) Close() { e.ts.Close() }

// FailNext answers the next n requests whose method is method ("" any)
// and whose path starts with prefix with 503, before they take effect.
func (e *Emulator) FailNext(method, prefix string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, fault{method: method, prefix: prefix, n: n})
}

// LoseNextCreates makes the next n server creates take effect and then
// drops the connection before the answer is written.
func (e *Emulator) LoseNextCreates(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lose += n
}

// FailNextBuilds sends the next servers created to ERROR with the fault
// messages given, one per server.
func (e *Emulator) FailNextBuilds(messages ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buildFails = append(e.buildFails, messages...)
}

// HoldCreates makes every server create take effect and then hold its
// answer until ReleaseCreates (or until the client goes away), as a cloud
// whose API is slow to answer; the returned channel receives each held
// server's id. Tests kill the client there to leave a server whose id the
// client never learnt.
func (e *Emulator) HoldCreates() <-chan string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hold = make(chan struct{})
	e.held = make(chan string, 64)
	return e.held
}

// ReleaseCreates answers the held creates and stops holding.
func (e *Emulator) ReleaseCreates() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hold != nil {
		close(e.hold)
		e.hold = nil
	}
}

// ExpireTokens makes every token issued so far invalid (401), as when
// tokens outlive their expiry during a long run.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens = map[string]bool{}
}

// SetQuota limits the number of servers the project may have; 0: no limit.
func (e *Emulator) SetQuota(instances int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.quota = instances
}

// AddImage, AddFlavor, AddNetwork add catalogue items.
func (e *Emulator) AddImage(im Image) { e.mu.Lock(); e.images = append(e.images, im); e.mu.Unlock() }

// AddNetwork adds a network.
func (e *Emulator) AddNetwork(n Network) {
	e.mu.Lock()
	e.networks = append(e.networks, n)
	e.mu.Unlock()
}

// Servers lists the servers not deleted, in creation order.
func (e *Emulator) Servers() []Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Server
	for _, id := range e.order {
		s := e.servers[id]
		if s == nil || s.Deleted {
			continue
		}
		c := *s
		c.Metadata = cloneMap(s.Metadata)
		out = append(out, c)
	}
	return out
}

// FloatingIPs counts the floating IPs allocated.
func (e *Emulator) FloatingIPs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.fips)
}

// Creates counts the server creates that took effect.
func (e *Emulator) Creates() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.creates
}

// Requests counts the requests by "METHOD /path" (path without query).
func (e *Emulator) Requests(methodPath string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests[methodPath]
}

// AuthBodies returns the token requests' bodies, for tests that check
// what credentials were sent.
func (e *Emulator) AuthBodies() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.authBodies)
}

// RemoveServer deletes a server behind the client's back.
func (e *Emulator) RemoveServer(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropServerLocked(id)
}

// AddServer makes an ACTIVE server outside any client's view, on the
// network named, and returns its id.
func (e *Emulator) AddServer(name, network string, metadata map[string]string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.newServerLocked(name, e.images[0].ID, e.flavors[0].ID, "", "", metadata, []string{e.networkLocked(network).ID})
	s.Status = "ACTIVE"
	return s.ID
}

// SetStatus sets a server's status (and fault message, for ERROR).
func (e *Emulator) SetStatus(id, status, fault string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.servers[id]; ok {
		s.Status, s.Fault, s.polls = status, fault, 0
	}
}

func (e *Emulator) networkLocked(nameOrID string) *Network {
	for i := range e.networks {
		if e.networks[i].ID == nameOrID || e.networks[i].Name == nameOrID {
			return &e.networks[i]
		}
	}
	return &e.networks[0]
}

func (e *Emulator) newServerLocked(name, image, flavor, key, userData string, md map[string]string, nets []string) *Server {
	e.seq++
	s := &Server{
		ID:       newUUID(),
		Name:     name,
		Status:   "BUILD",
		ImageID:  image,
		FlavorID: flavor,
		KeyName:  key,
		UserData: userData,
		Metadata: cloneMap(md),
		Networks: nets,
		Created:  time.Now().UTC().Truncate(time.Second),
	}
	if s.Metadata == nil {
		s.Metadata = map[string]string{}
	}
	for i := range nets {
		// Loopback addresses: nothing listens there, and nothing leaves the
		// machine if a test dials one.
		s.FixedIPs = append(s.FixedIPs, fmt.Sprintf("127.10.%d.%d", i, e.seq%250+1))
	}
	if len(e.buildFails) > 0 {
		s.failBuild, e.buildFails = e.buildFails[0], e.buildFails[1:]
	}
	s.polls = e.opts.BuildPolls
	if s.polls == 0 {
		e.settleLocked(s)
	}
	e.servers[s.ID] = s
	e.order = append(e.order, s.ID)
	return s
}

// settleLocked ends a build.
func (e *Emulator) settleLocked(s *Server) {
	if s.failBuild != "" {
		s.Status = "ERROR"
		s.Fault = s.failBuild
		return
	}
	s.Status = "ACTIVE"
}

func (e *Emulator) dropServerLocked(id string) {
	delete(e.servers, id)
	for k, f := range e.fips {
		if f.PortID == portID(id) {
			f.PortID, f.FixedIP = "", ""
			e.fips[k] = f
		}
	}
}

func (e *Emulator) liveServersLocked() int {
	n := 0
	for _, s := range e.servers {
		if !s.Deleted {
			n++
		}
	}
	return n
}

func portID(serverID string) string { return "port-" + serverID }

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "gAAAA" + hex.EncodeToString(b[:])
}

// serve routes a request.
func (e *Emulator) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requests[r.Method+" "+r.URL.Path]++
	for i := range e.faults {
		f := &e.faults[i]
		if f.n > 0 && (f.method == "" || f.method == r.Method) && strings.HasPrefix(r.URL.Path, f.prefix) {
			f.n--
			e.mu.Unlock()
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "The server is currently unavailable. Please try again at a later time.", "code": 503})
			return
		}
	}
	e.mu.Unlock()
	path := r.URL.Path
	switch {
	case path == "/identity" || path == "/identity/":
		e.versions(w)
		return
	case path == "/identity/v3/auth/tokens" && r.Method == http.MethodPost:
		e.issueToken(w, r)
		return
	case path == "/image" || path == "/image/":
		// Glance's version document (unauthenticated, 300).
		writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": []any{
			map[string]any{"id": "v2.16", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": e.ts.URL + "/image/v2/"}}},
		}})
		return
	case path == "/network" || path == "/network/":
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{
			map[string]any{"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": e.ts.URL + "/network/v2.0/"}}},
		}})
		return
	case path == "/compute" || path == "/compute/":
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{
			map[string]any{"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1", "links": []any{map[string]any{"rel": "self", "href": e.ts.URL + "/compute/v2.1/"}}},
		}})
		return
	}
	e.mu.Lock()
	ok := e.tokens[r.Header.Get("X-Auth-Token")]
	e.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	switch {
	case strings.HasPrefix(path, "/identity/v3/auth/tokens"):
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(path, "/compute/v2.1/"):
		e.compute(w, r, strings.TrimPrefix(path, "/compute/v2.1/"))
	case strings.HasPrefix(path, "/image/v2/"):
		e.image(w, r, strings.TrimPrefix(path, "/image/v2/"))
	case strings.HasPrefix(path, "/network/v2.0/"):
		e.network(w, r, strings.TrimPrefix(path, "/network/v2.0/"))
	default:
		notFound(w, "no such resource "+path)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"itemNotFound": map[string]any{"message": msg, "code": 404}})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"badRequest": map[string]any{"message": msg, "code": 400}})
}

func (e *Emulator) versions(w http.ResponseWriter) {
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{
		map[string]any{"id": "v3.14", "status": "stable", "links": []any{map[string]any{"rel": "self", "href": e.AuthURL() + "/"}}},
	}}})
}

// issueToken is POST /v3/auth/tokens.
func (e *Emulator) issueToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						ID       string `json:"id"`
						Name     string `json:"name"`
						Password string `json:"password"`
					} `json:"user"`
				} `json:"password"`
				AppCred struct {
					ID     string `json:"id"`
					Name   string `json:"name"`
					Secret string `json:"secret"`
				} `json:"application_credential"`
			} `json:"identity"`
			Scope json.RawMessage `json:"scope"`
		} `json:"auth"`
	}
	dec := json.NewDecoder(r.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "malformed request"}})
		return
	}
	e.mu.Lock()
	e.authBodies = append(e.authBodies, string(raw))
	e.mu.Unlock()
	_ = json.Unmarshal(raw, &req)
	id := req.Auth.Identity
	ok := false
	method := ""
	switch {
	case slices.Contains(id.Methods, "password"):
		method = "password"
		ok = (id.Password.User.Name == e.opts.Username || id.Password.User.ID == "u-"+e.opts.Username) && id.Password.User.Password == e.opts.Password
	case slices.Contains(id.Methods, "application_credential"):
		method = "application_credential"
		ok = (id.AppCred.ID == e.opts.AppCredID || id.AppCred.Name == e.opts.AppCredID) && id.AppCred.Secret == e.opts.AppCredSecret
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	tok := newToken()
	e.mu.Lock()
	e.tokens[tok] = true
	e.mu.Unlock()
	now := time.Now().UTC()
	ep := func(url string) []any {
		var out []any
		for _, iface := range []string{"public", "internal", "admin"} {
			out = append(out, map[string]any{"id": newUUID(), "interface": iface, "region": e.opts.Region, "region_id": e.opts.Region, "url": url})
		}
		return out
	}
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"methods":    []string{method},
		"issued_at":  now.Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": "u-" + e.opts.Username, "name": e.opts.Username, "domain": map[string]any{"id": "default", "name": "Default"}},
		"project":    map[string]any{"id": "p-" + e.opts.Project, "name": e.opts.Project, "domain": map[string]any{"id": "default", "name": "Default"}},
		"roles":      []any{map[string]any{"id": "r-member", "name": "member"}},
		"catalog": []any{
			map[string]any{"type": "identity", "name": "keystone", "id": "s-identity", "endpoints": ep(e.AuthURL())},
			map[string]any{"type": "compute", "name": "nova", "id": "s-compute", "endpoints": ep(e.ts.URL + "/compute/v2.1")},
			map[string]any{"type": "image", "name": "glance", "id": "s-image", "endpoints": ep(e.ts.URL + "/image")},
			map[string]any{"type": "network", "name": "neutron", "id": "s-network", "endpoints": ep(e.ts.URL + "/network")},
		},
	}})
}

// compute serves Nova.
func (e *Emulator) compute(w http.ResponseWriter, r *http.Request, p string) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case parts[0] == "servers" && len(parts) == 1 && r.Method == http.MethodPost:
		e.createServer(w, r)
	case parts[0] == "servers" && len(parts) == 1 && r.Method == http.MethodGet,
		parts[0] == "servers" && len(parts) == 2 && parts[1] == "detail" && r.Method == http.MethodGet:
		e.listServers(w, r)
	case parts[0] == "servers" && len(parts) == 2 && r.Method == http.MethodGet:
		e.mu.Lock()
		s, ok := e.servers[parts[1]]
		if ok {
			e.pollLocked(s)
			s, ok = e.servers[parts[1]]
		}
		var v map[string]any
		if ok {
			v = e.serverJSONLocked(s)
		}
		e.mu.Unlock()
		if !ok {
			notFound(w, fmt.Sprintf("Instance %s could not be found.", parts[1]))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"server": v})
	case parts[0] == "servers" && len(parts) == 2 && r.Method == http.MethodDelete:
		e.mu.Lock()
		s, ok := e.servers[parts[1]]
		if ok && !s.Deleted {
			s.Deleted = true
			s.deletePolls = e.opts.DeletePolls
			if s.deletePolls == 0 {
				e.dropServerLocked(s.ID)
			}
		}
		e.mu.Unlock()
		if !ok {
			notFound(w, fmt.Sprintf("Instance %s could not be found.", parts[1]))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case parts[0] == "servers" && len(parts) == 3 && parts[2] == "metadata":
		e.metadata(w, r, parts[1])
	case parts[0] == "flavors" && r.Method == http.MethodGet:
		e.mu.Lock()
		flavors := slices.Clone(e.flavors)
		e.mu.Unlock()
		js := func(f Flavor) map[string]any {
			return map[string]any{"id": f.ID, "name": f.Name, "vcpus": f.VCPUs, "ram": f.RAM, "disk": f.Disk, "swap": "", "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": true, "rxtx_factor": 1.0}
		}
		if len(parts) == 1 || parts[1] == "detail" {
			var out []any
			for _, f := range flavors {
				out = append(out, js(f))
			}
			writeJSON(w, http.StatusOK, map[string]any{"flavors": out})
			return
		}
		for _, f := range flavors {
			if f.ID == parts[1] {
				writeJSON(w, http.StatusOK, map[string]any{"flavor": js(f)})
				return
			}
		}
		notFound(w, fmt.Sprintf("Flavor %s could not be found.", parts[1]))
	case parts[0] == "os-keypairs" && r.Method == http.MethodGet:
		e.mu.Lock()
		var out []any
		for _, k := range e.keypairs {
			out = append(out, map[string]any{"keypair": map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": "00:11:22", "type": "ssh"}})
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"keypairs": out})
	default:
		notFound(w, "no such compute resource /"+p)
	}
}

// pollLocked advances a server one GET.
func (e *Emulator) pollLocked(s *Server) {
	if s.Deleted {
		if s.deletePolls <= 0 {
			e.dropServerLocked(s.ID)
			return
		}
		s.deletePolls--
		return
	}
	if s.Status == "BUILD" {
		if s.polls > 0 {
			s.polls--
		}
		if s.polls == 0 {
			e.settleLocked(s)
		}
	}
}

func (e *Emulator) createServer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Server struct {
			Name      string            `json:"name"`
			ImageRef  string            `json:"imageRef"`
			FlavorRef string            `json:"flavorRef"`
			KeyName   string            `json:"key_name"`
			UserData  string            `json:"user_data"`
			Metadata  map[string]string `json:"metadata"`
			Networks  json.RawMessage   `json:"networks"`
		} `json:"server"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "Malformed request body")
		return
	}
	rs := req.Server
	if rs.Name == "" {
		badRequest(w, "Invalid input for field/attribute server. Value: {}. 'name' is a required property")
		return
	}
	for k, v := range rs.Metadata {
		if len(k) > 255 || len(v) > 255 {
			badRequest(w, "Invalid input for field/attribute metadata: longer than 255 characters")
			return
		}
	}
	var nets []struct {
		UUID string `json:"uuid"`
	}
	_ = json.Unmarshal(rs.Networks, &nets)
	e.mu.Lock()
	if !slices.ContainsFunc(e.images, func(i Image) bool { return i.ID == rs.ImageRef }) {
		e.mu.Unlock()
		badRequest(w, fmt.Sprintf("Can not find requested image %s", rs.ImageRef))
		return
	}
	if !slices.ContainsFunc(e.flavors, func(f Flavor) bool { return f.ID == rs.FlavorRef }) {
		e.mu.Unlock()
		badRequest(w, fmt.Sprintf("Flavor %s could not be found.", rs.FlavorRef))
		return
	}
	if rs.KeyName != "" && !slices.ContainsFunc(e.keypairs, func(k Keypair) bool { return k.Name == rs.KeyName }) {
		e.mu.Unlock()
		badRequest(w, fmt.Sprintf("Invalid key_name provided. Keypair %s not found.", rs.KeyName))
		return
	}
	var netIDs []string
	for _, n := range nets {
		if !slices.ContainsFunc(e.networks, func(x Network) bool { return x.ID == n.UUID }) {
			e.mu.Unlock()
			badRequest(w, fmt.Sprintf("Network %s could not be found.", n.UUID))
			return
		}
		netIDs = append(netIDs, n.UUID)
	}
	if len(netIDs) == 0 {
		netIDs = []string{e.networks[0].ID}
	}
	if e.quota > 0 && e.liveServersLocked() >= e.quota {
		used := e.liveServersLocked()
		e.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"forbidden": map[string]any{
			"message": fmt.Sprintf("Quota exceeded for instances: Requested 1, but already used %d of %d instances", used, e.quota), "code": 403}})
		return
	}
	s := e.newServerLocked(rs.Name, rs.ImageRef, rs.FlavorRef, rs.KeyName, rs.UserData, rs.Metadata, netIDs)
	e.creates++
	lose := e.lose > 0
	if lose {
		e.lose--
	}
	hold, held := e.hold, e.held
	e.mu.Unlock()
	if hold != nil {
		select {
		case held <- s.ID:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if lose {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": s.ID, "adminPass": "emulator", "OS-DCF:diskConfig": "MANUAL",
		"links":           []any{map[string]any{"rel": "self", "href": e.ts.URL + "/compute/v2.1/servers/" + s.ID}},
		"security_groups": []any{map[string]any{"name": "default"}},
	}})
}

func (e *Emulator) listServers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var nameRE *regexp.Regexp
	if n := q.Get("name"); n != "" {
		var err error
		if nameRE, err = regexp.Compile(n); err != nil {
			badRequest(w, "Invalid name filter")
			return
		}
	}
	e.mu.Lock()
	var out []any
	for _, id := range e.order {
		s, ok := e.servers[id]
		if !ok || s.Deleted {
			continue
		}
		if nameRE != nil && !nameRE.MatchString(s.Name) {
			continue
		}
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, s.Status) {
			continue
		}
		out = append(out, e.serverJSONLocked(s))
	}
	e.mu.Unlock()
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": out})
}

func (e *Emulator) serverJSONLocked(s *Server) map[string]any {
	addrs := map[string]any{}
	for i, nid := range s.Networks {
		n := e.networkLocked(nid)
		list := []any{map[string]any{"addr": s.FixedIPs[i], "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}}
		if i == 0 && s.FloatingIP != "" {
			list = append(list, map[string]any{"addr": s.FloatingIP, "version": 4, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"})
		}
		addrs[n.Name] = list
	}
	v := map[string]any{
		"id":                    s.ID,
		"name":                  s.Name,
		"status":                s.Status,
		"tenant_id":             "p-" + e.opts.Project,
		"user_id":               "u-" + e.opts.Username,
		"created":               s.Created.Format(time.RFC3339),
		"updated":               s.Created.Format(time.RFC3339),
		"image":                 map[string]any{"id": s.ImageID},
		"flavor":                map[string]any{"id": s.FlavorID},
		"key_name":              s.KeyName,
		"metadata":              cloneMap(s.Metadata),
		"addresses":             addrs,
		"hostId":                "emulator",
		"links":                 []any{},
		"OS-EXT-STS:task_state": nil,
		"OS-EXT-STS:vm_state":   strings.ToLower(s.Status),
	}
	if s.Deleted {
		v["OS-EXT-STS:task_state"] = "deleting"
	}
	if s.Status == "ERROR" {
		v["fault"] = map[string]any{"code": 500, "message": s.Fault, "created": s.Created.Format(time.RFC3339)}
	}
	return v
}

func (e *Emulator) metadata(w http.ResponseWriter, r *http.Request, id string) {
	var req struct {
		Metadata map[string]string `json:"metadata"`
	}
	if r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			badRequest(w, "Malformed request body")
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.servers[id]
	if !ok || s.Deleted {
		notFound(w, fmt.Sprintf("Instance %s could not be found.", id))
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.Metadata = cloneMap(req.Metadata)
	case http.MethodPost:
		for k, v := range req.Metadata {
			s.Metadata[k] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metadata": cloneMap(s.Metadata)})
}

// image serves Glance.
func (e *Emulator) image(w http.ResponseWriter, r *http.Request, p string) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if parts[0] != "images" || r.Method != http.MethodGet {
		notFound(w, "no such image resource /"+p)
		return
	}
	e.mu.Lock()
	images := slices.Clone(e.images)
	e.mu.Unlock()
	js := func(im Image) map[string]any {
		return map[string]any{"id": im.ID, "name": im.Name, "status": "active", "visibility": "public", "disk_format": "qcow2", "container_format": "bare",
			"size": 21430272, "min_disk": 0, "min_ram": 0, "protected": false, "tags": []string{},
			"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
			"self": "/v2/images/" + im.ID, "file": "/v2/images/" + im.ID + "/file", "schema": "/v2/schemas/image"}
	}
	if len(parts) == 1 {
		name := r.URL.Query().Get("name")
		out := []any{}
		for _, im := range images {
			if name == "" || im.Name == name {
				out = append(out, js(im))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"images": out, "first": "/v2/images", "schema": "/v2/schemas/images"})
		return
	}
	for _, im := range images {
		if im.ID == parts[1] {
			writeJSON(w, http.StatusOK, js(im))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "404 Not Found\n\nNo image found with ID %s\n", parts[1])
}

// network serves Neutron.
func (e *Emulator) network(w http.ResponseWriter, r *http.Request, p string) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	q := r.URL.Query()
	nf := func(msg string) {
		writeJSON(w, http.StatusNotFound, map[string]any{"NeutronError": map[string]any{"type": "NotFound", "message": msg, "detail": ""}})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	netJS := func(n Network) map[string]any {
		return map[string]any{"id": n.ID, "name": n.Name, "status": "ACTIVE", "admin_state_up": true, "shared": false,
			"router:external": n.External, "subnets": []string{"sub-" + n.ID}, "tenant_id": "p-" + e.opts.Project, "project_id": "p-" + e.opts.Project}
	}
	fipJS := func(f *floatingIP) map[string]any {
		var port any
		if f.PortID != "" {
			port = f.PortID
		}
		return map[string]any{"id": f.ID, "floating_ip_address": f.Address, "floating_network_id": f.NetworkID,
			"port_id": port, "fixed_ip_address": f.FixedIP, "description": f.Description, "status": "ACTIVE",
			"tenant_id": "p-" + e.opts.Project, "project_id": "p-" + e.opts.Project}
	}
	switch {
	case parts[0] == "networks" && r.Method == http.MethodGet:
		if len(parts) == 2 {
			for _, n := range e.networks {
				if n.ID == parts[1] {
					writeJSON(w, http.StatusOK, map[string]any{"network": netJS(n)})
					return
				}
			}
			nf(fmt.Sprintf("Network %s could not be found.", parts[1]))
			return
		}
		out := []any{}
		for _, n := range e.networks {
			if name := q.Get("name"); name != "" && n.Name != name {
				continue
			}
			if id := q.Get("id"); id != "" && n.ID != id {
				continue
			}
			out = append(out, netJS(n))
		}
		writeJSON(w, http.StatusOK, map[string]any{"networks": out})
	case parts[0] == "ports" && r.Method == http.MethodGet:
		out := []any{}
		for _, id := range e.order {
			s, ok := e.servers[id]
			if !ok || s.Deleted {
				continue
			}
			if d := q.Get("device_id"); d != "" && d != s.ID {
				continue
			}
			for i, nid := range s.Networks {
				if i > 0 {
					break // one port per server is enough for floating IPs
				}
				out = append(out, map[string]any{"id": portID(s.ID), "device_id": s.ID, "device_owner": "compute:nova", "network_id": nid,
					"status": "ACTIVE", "fixed_ips": []any{map[string]any{"ip_address": s.FixedIPs[i], "subnet_id": "sub-" + nid}}})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ports": out})
	case parts[0] == "floatingips" && len(parts) == 1 && r.Method == http.MethodGet:
		out := []any{}
		keys := make([]string, 0, len(e.fips))
		for k := range e.fips {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := e.fips[k]
			if v := q.Get("port_id"); v != "" && v != f.PortID {
				continue
			}
			if v := q.Get("description"); v != "" && v != f.Description {
				continue
			}
			if v := q.Get("floating_network_id"); v != "" && v != f.NetworkID {
				continue
			}
			out = append(out, fipJS(f))
		}
		writeJSON(w, http.StatusOK, map[string]any{"floatingips": out})
	case parts[0] == "floatingips" && len(parts) == 1 && r.Method == http.MethodPost:
		var req struct {
			FIP struct {
				NetworkID   string `json:"floating_network_id"`
				PortID      string `json:"port_id"`
				Description string `json:"description"`
			} `json:"floatingip"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"NeutronError": map[string]any{"type": "BadRequest", "message": "malformed body"}})
			return
		}
		ext := false
		for _, n := range e.networks {
			if n.ID == req.FIP.NetworkID && n.External {
				ext = true
			}
		}
		if !ext {
			writeJSON(w, http.StatusBadRequest, map[string]any{"NeutronError": map[string]any{"type": "BadRequest", "message": fmt.Sprintf("Network %s is not a valid external network", req.FIP.NetworkID)}})
			return
		}
		e.seq++
		f := &floatingIP{ID: newUUID(), Address: fmt.Sprintf("127.20.0.%d", e.seq%250+1), NetworkID: req.FIP.NetworkID, Description: req.FIP.Description}
		if req.FIP.PortID != "" {
			sid := strings.TrimPrefix(req.FIP.PortID, "port-")
			s, ok := e.servers[sid]
			if !ok {
				nf(fmt.Sprintf("Port %s could not be found.", req.FIP.PortID))
				return
			}
			f.PortID, f.FixedIP = req.FIP.PortID, s.FixedIPs[0]
			s.FloatingIP = f.Address
		}
		e.fips[f.ID] = f
		writeJSON(w, http.StatusCreated, map[string]any{"floatingip": fipJS(f)})
	case parts[0] == "floatingips" && len(parts) == 2 && r.Method == http.MethodDelete:
		f, ok := e.fips[parts[1]]
		if !ok {
			nf(fmt.Sprintf("Floating IP %s could not be found.", parts[1]))
			return
		}
		if f.PortID != "" {
			if s, ok := e.servers[strings.TrimPrefix(f.PortID, "port-")]; ok {
				s.FloatingIP = ""
			}
		}
		delete(e.fips, parts[1])
		w.WriteHeader(http.StatusNoContent)
	default:
		nf("no such network resource /" + p)
	}
}
