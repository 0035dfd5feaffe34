package beaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/schema"
)

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Extender  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Adopter   = (*Provider)(nil)
)

func init() { providers.Register(Type()) }

// Type is the beaker provider type for the registry. Names are looked up
// without regard to case, so "Beaker" (the Python broker's) is this type.
func Type() *providers.Type {
	return &providers.Type{
		Name:           "beaker",
		Summary:        "Beaker: lab systems reserved by jobs (job XML or a cloned job)",
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
			return Open(s, log.With("provider", "beaker", "instance", cfg.Instance))
		},
	}
}

// Provider is a beaker provider instance; safe for concurrent use.
type Provider struct {
	s   Settings
	c   *client
	log *slog.Logger
}

// Open makes a provider; it logs in on first use.
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
	c := &client{hub: s.HubURL, hc: hc, user: s.Username, password: s.Password, log: log, poll: s.PollInterval, maxTry: s.MaxResilientWait}
	return &Provider{s: s, c: c, log: log}, nil
}

// markerPrefix starts the tag broker adds to a job's whiteboard, by which
// a job whose submission answer was lost, or an interrupted checkout's
// job, is found again.
const markerPrefix = "broker.intent="

func marker(id string) string { return "[" + markerPrefix + id + "]" }

var markerRE = regexp.MustCompile(`\[broker\.intent=([^\]\s]+)\]`)

// JobError is a job that ended, or waited too long, without a system.
type JobError struct {
	JobID  string // J:123
	Status string
	Result string
	URL    string
	Reason string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("beaker: job %s %s (status %s, result %s): %s", e.JobID, e.Reason, e.Status, e.Result, e.URL)
}

// jobNumber reads "J:123" or "123".
func jobNumber(s string) (int, bool) {
	s = strings.TrimSpace(s)
	s, _, _ = strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimPrefix(s, "J:"))
	return n, err == nil && n > 0
}

// maxWait is the argument max_wait, else the max_job_wait setting.
func (p *Provider) maxWait(args map[string]any) (time.Duration, error) {
	switch v := args["max_wait"].(type) {
	case nil:
		return p.s.MaxJobWait, nil
	case time.Duration:
		return v, nil
	case float64:
		return time.Duration(v * float64(time.Second)), nil
	case string:
		d, err := schema.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("beaker: max_wait %q: %w", v, err)
		}
		return d, nil
	}
	return 0, fmt.Errorf("beaker: max_wait: want a duration, not %v", args["max_wait"])
}

// jobXML returns the XML to submit: job_xml (a path, or the XML itself),
// or the clone of job_id.
func (p *Provider) jobXML(ctx context.Context, args map[string]any) (string, error) {
	if x, _ := args["job_xml"].(string); x != "" {
		if strings.HasPrefix(strings.TrimSpace(x), "<") {
			return x, nil
		}
		b, err := os.ReadFile(x)
		if err != nil {
			return "", fmt.Errorf("beaker: job_xml: %w", err)
		}
		return string(b), nil
	}
	if id, _ := args["job_id"].(string); id != "" {
		n, ok := jobNumber(id)
		if !ok {
			return "", fmt.Errorf("beaker: job_id %q: want J:123 or 123", id)
		}
		v, err := p.c.call(ctx, "taskactions.to_xml", fmt.Sprintf("J:%d", n), true, false, false)
		if err != nil {
			return "", fmt.Errorf("beaker: clone J:%d: %w", n, err)
		}
		s, _ := v.(string)
		if s == "" {
			return "", fmt.Errorf("beaker: clone J:%d: the hub returned no XML", n)
		}
		return s, nil
	}
	return "", errors.New("beaker: no job_xml or job_id argument")
}

var (
	whiteboardRE = regexp.MustCompile(`(?s)<whiteboard\s*/>|<whiteboard>(.*?)</whiteboard>`)
	jobOpenRE    = regexp.MustCompile(`<job(\s[^>]*)?>`)
)

// withMarker puts the marker into the job's whiteboard, replacing an old
// marker (a cloned job carries its original's).
func withMarker(doc, mark string) (string, error) {
	var probe struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal([]byte(doc), &probe); err != nil {
		return "", fmt.Errorf("beaker: not job XML: %w", err)
	}
	if probe.XMLName.Local != "job" {
		return "", fmt.Errorf("beaker: job XML: the root element is <%s>, want <job>", probe.XMLName.Local)
	}
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	if m := whiteboardRE.FindStringSubmatchIndex(doc); m != nil {
		old := ""
		if m[2] >= 0 {
			old = doc[m[2]:m[3]]
		}
		old = strings.TrimSpace(markerRE.ReplaceAllString(old, ""))
		text := mark
		if old != "" {
			text = old + " " + esc(mark)
		} else {
			text = esc(mark)
		}
		return doc[:m[0]] + "<whiteboard>" + text + "</whiteboard>" + doc[m[1]:], nil
	}
	loc := jobOpenRE.FindStringIndex(doc)
	if loc == nil {
		return "", errors.New("beaker: job XML: no <job> element")
	}
	return doc[:loc[1]] + "<whiteboard>" + esc(mark) + "</whiteboard>" + doc[loc[1]:], nil
}

func newMarkID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "launch-" + hex.EncodeToString(b)
}

// findMarked finds the newest job of the user whose whiteboard carries
// the marker; 0: none.
func (p *Provider) findMarked(ctx context.Context, mark string) (int, error) {
	ids, err := p.c.filter(ctx, map[string]any{"owner": p.s.Username, "whiteboard": mark, "limit": 1})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if n, ok := jobNumber(id); ok {
			return n, nil
		}
	}
	return 0, nil
}

// submit uploads the job. A failure that may have taken effect (a dropped
// connection, a 5xx) is followed by a look for the marked job before
// another upload, so that no second job is queued.
func (p *Provider) submit(ctx context.Context, doc, mark string) (int, error) {
	if err := p.c.ensureLogin(ctx); err != nil {
		return 0, err
	}
	var id int
	err := p.c.retry(ctx, func() error {
		v, err := p.c.rawCall(ctx, "jobs.upload", doc)
		if err == nil {
			s, _ := v.(string)
			n, ok := jobNumber(s)
			if !ok {
				return fmt.Errorf("beaker: jobs.upload answered %q, not a job id", s)
			}
			id = n
			return nil
		}
		if !p.c.transient(err) {
			return err
		}
		found, ferr := p.findMarked(ctx, mark)
		if ferr != nil {
			return err
		}
		if found != 0 {
			p.log.Warn("beaker: the submission's answer was lost; adopting the job it queued", "job", found)
			id = found
			return nil
		}
		return err
	})
	return id, err
}

// Checkout submits the job (job_xml, or a clone of job_id), checkpoints
// its id, waits until its recipes reserve their systems, and reports them.
func (p *Provider) Checkout(ctx context.Context, req providers.CheckoutRequest) (providers.CheckoutResponse, error) {
	maxWait, err := p.maxWait(req.Args)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	id, adopted := 0, false
	mark := marker(req.Labels[providers.LabelIntent])
	if req.Labels[providers.LabelIntent] == "" {
		mark = marker(newMarkID())
	}
	if r := req.Resume; r != nil {
		if n, ok := jobNumber(r.Checkpoint["job_id"]); ok {
			id = n
		} else if n, ok := jobNumber(r.ProviderID); ok {
			id = n
		} else if r.IntentID != "" {
			mark = marker(r.IntentID)
			n, err := p.findMarked(ctx, mark)
			if err != nil {
				return providers.CheckoutResponse{}, fmt.Errorf("beaker: look for the interrupted checkout's job: %w", err)
			}
			id = n
		}
		if id != 0 {
			j, err := p.c.job(ctx, id)
			var he *HubError
			switch {
			case errors.As(err, &he) && he.Status == http.StatusNotFound:
				id = 0
			case err != nil:
				return providers.CheckoutResponse{}, fmt.Errorf("beaker: resume J:%d: %w", id, err)
			case j.IsFinished:
				p.log.Warn("beaker: the interrupted checkout's job has ended; submitting again", "job", id, "status", j.Status)
				id = 0
			default:
				adopted = true
				p.log.Info("beaker: resuming", "job", id)
			}
		}
	}
	var submitted string // the XML submitted, for the reservation's length
	if id == 0 {
		doc, err := p.jobXML(ctx, req.Args)
		if err != nil {
			return providers.CheckoutResponse{}, err
		}
		if doc, err = withMarker(doc, mark); err != nil {
			if x, _ := req.Args["job_xml"].(string); x != "" && !strings.HasPrefix(strings.TrimSpace(x), "<") {
				return providers.CheckoutResponse{}, fmt.Errorf("%w (in %s)", err, x)
			}
			return providers.CheckoutResponse{}, err
		}
		if id, err = p.submit(ctx, doc, mark); err != nil {
			return providers.CheckoutResponse{}, err
		}
		submitted = doc
		p.log.Info("beaker: submitted", "job", id, "url", p.c.jobURL(id))
	}
	jid := fmt.Sprintf("J:%d", id)
	if req.Checkpoint != nil && !adopted {
		if err := req.Checkpoint(ctx, providers.Checkpoint{ProviderID: jid, Data: map[string]string{"job_id": jid}}); err != nil {
			return providers.CheckoutResponse{}, fmt.Errorf("beaker: record job %s: %w", jid, err)
		}
	}
	if req.Progress != nil {
		// After the checkpoint: a job shown is a job recorded.
		verb := "submitted"
		if adopted {
			verb = "resuming"
		}
		req.Progress(fmt.Sprintf("%s %s: %s", verb, jid, p.c.jobURL(id)))
	}
	j, err := p.wait(ctx, id, maxWait, req.Progress)
	if err != nil {
		return providers.CheckoutResponse{}, err
	}
	hosts := p.hostsOf(j, req.Args, req.Labels)
	if submitted == "" {
		// Resumed: the hub has the job's XML.
		if v, err := p.c.call(ctx, "taskactions.to_xml", jid, false, false, false); err == nil {
			submitted, _ = v.(string)
		}
	}
	if d, ok := reserveTime(submitted); ok {
		for i := range hosts {
			hosts[i].Expires = p.s.Now().Add(d)
		}
	}
	return providers.CheckoutResponse{Hosts: hosts, Adopted: adopted}, nil
}

// wait polls the job until every recipe holds its system, the job ends
// (an error with its status and link), or maxWait passes (the job is
// cancelled, so that it reserves nothing later).
func (p *Provider) wait(ctx context.Context, id int, maxWait time.Duration, progress func(string)) (*jobJSON, error) {
	deadline := p.s.Now().Add(maxWait)
	last := ""
	for {
		j, err := p.c.job(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("beaker: watch J:%d: %w", id, err)
		}
		recipes := allRecipes(j)
		reserved := len(recipes) > 0
		for _, r := range recipes {
			if !r.reserved() {
				reserved = false
			}
		}
		if reserved {
			return j, nil
		}
		if j.IsFinished || anyFinished(recipes) {
			reason := "ended without reserving a system"
			if j.Status == "Cancelled" {
				reason = "was cancelled before it reserved a system"
			} else if j.Status == "Aborted" {
				reason = "aborted"
			}
			if !j.IsFinished {
				// A recipe ended while others hold systems: the
				// job is no use, and is not left holding them.
				if err := p.cancel(ctx, id, "broker: a recipe ended without a reservation"); err != nil {
					reason += fmt.Sprintf("; cancelling the job failed (%v): cancel it by hand", err)
				} else {
					reason += "; cancelled the job"
				}
			}
			return nil, &JobError{JobID: fmt.Sprintf("J:%d", id), Status: j.Status, Result: j.Result, URL: p.c.jobURL(id), Reason: reason}
		}
		if s := j.Status; s != last {
			last = s
			if progress != nil {
				progress(fmt.Sprintf("J:%d %s", id, s))
			}
		}
		if p.s.Now().After(deadline) {
			cerr := p.cancel(ctx, id, "broker: no system within max_job_wait")
			reason := fmt.Sprintf("got no system within %s; cancelled it", maxWait)
			if cerr != nil {
				reason = fmt.Sprintf("got no system within %s, and cancelling it failed (%v): cancel it by hand", maxWait, cerr)
			}
			return nil, &JobError{JobID: fmt.Sprintf("J:%d", id), Status: j.Status, Result: j.Result, URL: p.c.jobURL(id), Reason: reason}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(p.s.PollInterval):
		}
	}
}

func allRecipes(j *jobJSON) []recipeJSON {
	var out []recipeJSON
	for _, rs := range j.RecipeSets {
		out = append(out, rs.MachineRecipes...)
	}
	return out
}

func anyFinished(rs []recipeJSON) bool {
	for _, r := range rs {
		if r.IsFinished {
			return true
		}
	}
	return false
}

// DefaultReserveTime is how long Beaker's reservesys holds a system when
// the job does not say (RESERVETIME, or <reservesys duration>).
const DefaultReserveTime = 24 * time.Hour

var (
	reserveTimeRE = regexp.MustCompile(`(?s)<param\s+name="RESERVETIME"\s+value="(\d+)"`)
	reserveElemRE = regexp.MustCompile(`<reservesys(?:\s+duration="(\d+)")?[^>]*/?>`)
)

// reserveTime is how long the job's reservation lasts from when it
// starts: its RESERVETIME parameter or <reservesys duration>, else
// Beaker's default; false when the job reserves nothing broker can tell.
func reserveTime(doc string) (time.Duration, bool) {
	if m := reserveTimeRE.FindStringSubmatch(doc); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		return time.Duration(n) * time.Second, err == nil
	}
	if m := reserveElemRE.FindStringSubmatch(doc); m != nil {
		if m[1] == "" {
			return DefaultReserveTime, true
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		return time.Duration(n) * time.Second, err == nil
	}
	if strings.Contains(doc, "/distribution/reservesys") {
		return DefaultReserveTime, true
	}
	return 0, false
}

// hostsOf makes a host of each reserved recipe.
func (p *Provider) hostsOf(j *jobJSON, args map[string]any, labels map[string]string) []providers.HostInfo {
	recipes := allRecipes(j)
	var out []providers.HostInfo
	for _, r := range recipes {
		if !r.reserved() {
			continue
		}
		pid := j.TID
		if pid == "" {
			pid = fmt.Sprintf("J:%d", j.ID)
		}
		if len(recipes) > 1 {
			pid += "/" + r.TID
		}
		fqdn := r.fqdn()
		hl := maps.Clone(labels)
		if m := markerRE.FindStringSubmatch(j.Whiteboard); m != nil {
			if hl == nil {
				hl = map[string]string{}
			}
			if hl[providers.LabelIntent] == "" && !strings.HasPrefix(m[1], "launch-") {
				hl[providers.LabelIntent] = m[1]
			}
		}
		out = append(out, providers.HostInfo{
			ProviderID: pid,
			Name:       fqdn,
			Hostname:   fqdn,
			Transport:  providers.TransportSSH,
			Labels:     hl,
			Recipe:     cloneArgs(args),
			Created:    p.s.Now(),
			Facts: map[string]any{
				"job_id":        fmt.Sprintf("J:%d", j.ID),
				"recipe_id":     r.TID,
				"whiteboard":    strings.TrimSpace(markerRE.ReplaceAllString(j.Whiteboard, "")),
				"distro":        r.DistroTree.Distro.Name,
				"arch":          fmt.Sprint(r.DistroTree.Arch),
				"job_status":    j.Status,
				"job_url":       p.c.jobURL(j.ID),
				"reserved_for":  j.Owner.UserName,
				"beaker_hub":    p.s.HubURL,
				"recipe_status": r.Status,
			},
		})
	}
	return out
}

func cloneArgs(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	maps.Copy(out, m)
	return out
}

func (p *Provider) cancel(ctx context.Context, id int, msg string) error {
	return p.c.rest(ctx, http.MethodPost, fmt.Sprintf("/jobs/%d/status", id), map[string]any{"status": "Cancelled", "msg": msg}, nil)
}

// jobOf finds the job of a recorded host: its provider id (J:123), its
// job_id fact (Python broker inventories), else among the user's running
// jobs the one holding its FQDN.
func (p *Provider) jobOf(ctx context.Context, h providers.HostRef) (int, error) {
	if n, ok := recordedJob(h); ok {
		return n, nil
	}
	fqdn := h.Hostname
	if fqdn == "" {
		fqdn = h.Name
	}
	ids, err := p.c.filter(ctx, map[string]any{"owner": p.s.Username, "is_finished": false})
	if err != nil {
		return 0, err
	}
	for _, s := range ids {
		n, ok := jobNumber(s)
		if !ok {
			continue
		}
		j, err := p.c.job(ctx, n)
		if err != nil {
			return 0, err
		}
		for _, r := range allRecipes(j) {
			if r.fqdn() == fqdn {
				return n, nil
			}
		}
	}
	return 0, nil
}

// recordedJob is the job a record names: its provider id (J:123), else
// its job_id fact (Python broker inventories).
func recordedJob(h providers.HostRef) (int, bool) {
	if n, ok := jobNumber(h.ProviderID); ok {
		return n, true
	}
	if h.Facts != nil && h.Facts["job_id"] != nil {
		return jobNumber(fmt.Sprint(h.Facts["job_id"]))
	}
	return 0, false
}

// Checkin cancels the host's job, which returns the reservation. A job
// that has ended or that the hub no longer knows is Gone.
func (p *Provider) Checkin(ctx context.Context, req providers.CheckinRequest) (providers.CheckinResponse, error) {
	id, err := p.jobOf(ctx, req.Host)
	if err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("beaker: check in %s: %w", req.Host.Hostname, err)
	}
	if id == 0 {
		return providers.CheckinResponse{Gone: true}, nil
	}
	j, err := p.c.job(ctx, id)
	var he *HubError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return providers.CheckinResponse{Gone: true}, nil
	}
	if err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("beaker: check in J:%d: %w", id, err)
	}
	if j.IsFinished {
		p.log.Info("beaker: the job has already ended", "job", id, "status", j.Status)
		return providers.CheckinResponse{Gone: true}, nil
	}
	if err := p.cancel(ctx, id, "broker checkin"); err != nil {
		return providers.CheckinResponse{}, fmt.Errorf("beaker: cancel J:%d (%s): %w", id, p.c.jobURL(id), err)
	}
	p.log.Info("beaker: cancelled", "job", id)
	return providers.CheckinResponse{}, nil
}

// extendHours is what extendtesttime.sh is given: NewExpireTime when it is
// a number of hours, else the lease rounded up to hours, else 99; within
// 1..99 as the script takes.
func extendHours(req providers.ExtendRequest) (int, error) {
	if s := strings.TrimSpace(req.NewExpireTime); s != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
		if err != nil || n < 1 || n > 99 {
			return 0, fmt.Errorf("beaker: extend duration %q: want whole hours from 1 to 99", s)
		}
		return n, nil
	}
	if req.Lease <= 0 {
		return DefaultExtendHours, nil
	}
	h := int((req.Lease + time.Hour - 1) / time.Hour)
	return max(1, min(h, 99)), nil
}

// Extend runs extendtesttime.sh on the host over SSH, as the Python broker
// does: the reservation is the host's own watchdog.
func (p *Provider) Extend(ctx context.Context, req providers.ExtendRequest) (providers.ExtendResponse, error) {
	host := req.Host.Hostname
	if host == "" {
		host = req.Host.Name
	}
	hours, err := extendHours(req)
	if err != nil {
		return providers.ExtendResponse{}, err
	}
	cmd := fmt.Sprintf("%s %d", p.s.ExtendCommand, hours)
	hint := fmt.Sprintf("try running: ssh root@%s %s", host, cmd)
	if req.Session == nil {
		return providers.ExtendResponse{}, fmt.Errorf("beaker: extend %s: no SSH session to run %s on it; %s", host, p.s.ExtendCommand, hint)
	}
	sess, err := req.Session(ctx)
	if err != nil {
		return providers.ExtendResponse{}, fmt.Errorf("beaker: extend %s: %w; %s", host, err, hint)
	}
	res, err := sess.Run(ctx, cmd, remote.RunOptions{})
	if err != nil {
		return providers.ExtendResponse{}, fmt.Errorf("beaker: extend %s: %w; %s", host, err, hint)
	}
	if res.Status != 0 {
		msg := strings.TrimSpace(res.Stderr)
		if msg == "" {
			msg = strings.TrimSpace(res.Stdout)
		}
		return providers.ExtendResponse{}, fmt.Errorf("beaker: extend %s: %s exited %d: %s; %s", host, cmd, res.Status, msg, hint)
	}
	p.log.Info("beaker: extended", "host", host, "hours", hours)
	return providers.ExtendResponse{Expires: p.s.Now().Add(time.Duration(hours) * time.Hour)}, nil
}

// Sync lists the systems the user's running jobs hold (every user's with
// AllUsers).
func (p *Provider) Sync(ctx context.Context, req providers.SyncRequest) (providers.SyncResponse, error) {
	f := map[string]any{"is_finished": false}
	switch {
	case req.AllUsers || req.User == "@ll":
	case req.User != "":
		f["owner"] = req.User
	default:
		f["owner"] = p.s.Username
	}
	if id := req.Labels[providers.LabelIntent]; id != "" {
		f["whiteboard"] = marker(id)
	}
	ids, err := p.c.filter(ctx, f)
	if err != nil {
		return providers.SyncResponse{}, fmt.Errorf("beaker: sync: %w", err)
	}
	var out []providers.HostInfo
	for _, s := range ids {
		n, ok := jobNumber(s)
		if !ok {
			continue
		}
		j, err := p.c.job(ctx, n)
		if err != nil {
			return providers.SyncResponse{}, fmt.Errorf("beaker: sync J:%d: %w", n, err)
		}
		hs := p.hostsOf(j, nil, nil)
		if len(hs) == 0 && req.Labels[providers.LabelIntent] != "" {
			// An interrupted checkout's job that holds no system yet is
			// still its leftover: listed, so that it is cancelled.
			hs = []providers.HostInfo{{ProviderID: fmt.Sprintf("J:%d", j.ID), Labels: map[string]string{providers.LabelIntent: req.Labels[providers.LabelIntent]},
				Facts: map[string]any{"job_id": fmt.Sprintf("J:%d", j.ID), "job_status": j.Status, "job_url": p.c.jobURL(j.ID)}}}
		}
		for _, h := range hs {
			if matchLabels(h.Labels, req.Labels) {
				out = append(out, h)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].ProviderID < out[b].ProviderID })
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

// Adopt finds a job's reserved system by its id (J:123), for import.
func (p *Provider) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.HostInfo, error) {
	n, ok := jobNumber(req.ProviderID)
	if !ok {
		return providers.HostInfo{}, fmt.Errorf("beaker: %q is not a job id (J:123)", req.ProviderID)
	}
	j, err := p.c.job(ctx, n)
	if err != nil {
		return providers.HostInfo{}, err
	}
	hs := p.hostsOf(j, nil, nil)
	if len(hs) == 0 {
		return providers.HostInfo{}, fmt.Errorf("beaker: J:%d holds no system (status %s)", n, j.Status)
	}
	return hs[0], nil
}

// Refresh tells whether the hosts' jobs still hold their systems.
func (p *Provider) Refresh(ctx context.Context, req providers.RefreshRequest) (providers.RefreshResponse, error) {
	out := providers.RefreshResponse{Hosts: map[string]providers.Presence{}}
	for _, h := range req.Hosts {
		n, ok := recordedJob(h)
		if !ok {
			out.Hosts[h.ID] = providers.PresenceUnknown
			continue
		}
		j, err := p.c.job(ctx, n)
		var he *HubError
		switch {
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			out.Hosts[h.ID] = providers.PresenceGone
		case err != nil:
			return out, err
		case j.IsFinished:
			out.Hosts[h.ID] = providers.PresenceGone
		default:
			out.Hosts[h.ID] = providers.PresenceRunning
		}
	}
	return out, nil
}
