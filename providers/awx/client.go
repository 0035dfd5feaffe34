package awx

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labbroker/broker/providers/webclient"
)

// APIError is an answer of the API that is not a success.
type APIError struct {
	Method string
	Path   string
	Status int
	Detail string
}

func (e *APIError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("awx: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Detail)
	}
	return fmt.Sprintf("awx: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
}

// Hint says what to check for an answer that will not change by asking
// again: 401 (credentials), 403 (permissions).
func (e *APIError) Hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "check the instance's token (or username and password): the service refused them; a token may have expired or been revoked"
	case http.StatusForbidden:
		return "the service accepted the credentials but does not let this user do that: check the user's permissions on the template or inventory in AWX"
	}
	return ""
}

// ErrAuth is returned (wrapped) when the service refuses the credentials.
var ErrAuth = errors.New("awx: authentication failed")

// UnreachableError is a request that asking again will not help: the
// service's host name does not resolve or nothing listens at its address
// (before broker has reached the service at all: a wrong url, not a
// restart), or its TLS certificate is not trusted. It fails the command
// at once instead of waiting max_resilient_wait.
type UnreachableError struct {
	// URL is the service's base URL (no credentials).
	URL string
	// Reason is what went wrong, in a few words.
	Reason string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%v (%s: not retried)", e.Err, e.Reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Temporary is false: no layer above retries it either.
func (e *UnreachableError) Temporary() bool { return false }

// Hint says which setting to check.
func (e *UnreachableError) Hint() string {
	switch e.Reason {
	case webclient.ReasonCert, webclient.ReasonNotTLS:
		return "set ca_file to the CA that signed the service's certificate (or verify_tls = false for a lab instance)"
	case webclient.ReasonDNS:
		return fmt.Sprintf("check the host name in the instance's url (%s)", e.URL)
	}
	return fmt.Sprintf("check the instance's url (%s): scheme, host and port, and that the service runs there", e.URL)
}

// hinted is an error with a hint line for the command line.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }
func (e *hinted) Hint() string  { return e.hint }

// errTransient marks an answer worth retrying (connection error, 5xx).
var errTransient = errors.New("transient")

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() []error {
	return []error{e.err, errTransient}
}

// client speaks the AWX REST API.
type client struct {
	base   string // scheme://host[:port][/path]
	hc     *http.Client
	log    *slog.Logger
	poll   time.Duration
	maxTry time.Duration

	prefix string // /api/v2/ or /api/controller/v2/

	// reached is set once the service has answered anything: from then on
	// a refused connection is a restart, not a wrong url.
	reached atomic.Bool

	user, password string // basic auth; password is secret
	secrets        []string

	mu       sync.Mutex
	bearer   string // secret
	tempID   int    // temporary token's id, 0: none
	tempDesc string
	userID   int
	username string
}

func newClient(s Settings, log *slog.Logger) (*client, error) {
	hc := s.HTTPClient
	if hc == nil {
		tr, err := webclient.Transport(s.VerifyTLS, s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("awx: %w", err)
		}
		hc = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	}
	c := &client{
		base: s.URL, hc: hc, log: log, poll: s.PollInterval, maxTry: s.MaxResilientWait,
		user: s.Username, password: s.Password, bearer: s.Token,
	}
	// A URL's userinfo (https://user:password@awx…) is credentials, not
	// part of the address: it moves to user and password (unless those are
	// set), so that no message naming the URL shows it.
	var urlPassword string
	if u, err := url.Parse(s.URL); err == nil && u.User != nil {
		urlPassword, _ = u.User.Password()
		if c.user == "" && c.password == "" {
			c.user, c.password = u.User.Username(), urlPassword
		}
		u.User = nil
		c.base = u.String()
	}
	for _, sec := range []string{s.Token, s.Password, urlPassword} {
		if sec != "" {
			c.secrets = append(c.secrets, sec)
		}
	}
	return c, nil
}

// scrub removes secrets from text that came from elsewhere.
func (c *client) scrub(s string) string {
	c.mu.Lock()
	secrets := append([]string(nil), c.secrets...)
	if c.bearer != "" {
		secrets = append(secrets, c.bearer)
	}
	c.mu.Unlock()
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

type reqOpts struct {
	// once: do not retry transient failures (a launch); the caller
	// decides.
	once bool
	// noAuth: send no credentials (API root).
	noAuth bool
	// basic: use basic auth even when a bearer token is set.
	basic bool
}

// resolve turns a path relative to the API prefix, an absolute path, or a
// URL into a URL on the service.
func (c *client) resolve(p string) string {
	switch {
	case strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://"):
		if u, err := url.Parse(p); err == nil {
			return c.origin() + u.RequestURI()
		}
		return p
	case strings.HasPrefix(p, "/"):
		return c.origin() + p
	default:
		return c.base + c.prefix + p
	}
}

// origin is scheme://host of the base URL. AWX's links are absolute paths.
func (c *client) origin() string {
	u, err := url.Parse(c.base)
	if err != nil {
		return c.base
	}
	return u.Scheme + "://" + u.Host
}

// do sends a request, retrying connection errors and 5xx answers with
// backoff for at most maxTry, and decodes a JSON answer into out.
func (c *client) do(ctx context.Context, method, p string, body, out any, o reqOpts) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("awx: encode request: %w", err)
		}
	}
	start := time.Now()
	delay := c.retryBase()
	reauthed := false
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, method, p, payload, out, o)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrAuth) && !reauthed && !o.basic && !o.noAuth && c.canRelogin():
			// The temporary token expired: make another with the password.
			reauthed = true
			c.log.Warn("awx: token refused, creating a new temporary token")
			if rerr := c.createTempToken(ctx); rerr != nil {
				return err
			}
			continue
		case !errors.Is(err, errTransient) || o.once || ctx.Err() != nil:
			return err
		case time.Since(start)+delay > c.maxTry:
			return fmt.Errorf("giving up after %d attempts in %s: %w", attempt, time.Since(start).Round(time.Millisecond), err)
		}
		c.log.Debug("awx: retrying", "method", method, "path", p, "attempt", attempt, "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, c.retryCap())
	}
}

func (c *client) retryBase() time.Duration {
	return max(min(c.poll/2, 2*time.Second), time.Millisecond)
}
func (c *client) retryCap() time.Duration {
	return max(min(c.poll*6, 30*time.Second), time.Millisecond)
}

func (c *client) canRelogin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.password != "" && c.user != ""
}

func (c *client) once(ctx context.Context, method, p string, payload []byte, out any, o reqOpts) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.resolve(p), rd)
	if err != nil {
		return fmt.Errorf("awx: %s %s: %w", method, p, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !o.noAuth {
		c.mu.Lock()
		bearer := c.bearer
		c.mu.Unlock()
		if bearer != "" && !o.basic {
			req.Header.Set("Authorization", "Bearer "+bearer)
		} else if c.user != "" && c.password != "" {
			req.SetBasicAuth(c.user, c.password)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// url.Error names the URL, which holds no secret.
		e := fmt.Errorf("awx: %s %s: %w", method, p, err)
		if why := webclient.Permanent(err, c.reached.Load()); why != "" {
			return &UnreachableError{URL: c.base, Reason: why, Err: e}
		}
		return &transientError{e}
	}
	c.reached.Store(true)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &transientError{fmt.Errorf("awx: %s %s: read answer: %w", method, p, err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("awx: %s %s: decode answer: %w", method, p, err)
		}
		return nil
	}
	apiErr := &APIError{Method: method, Path: pathOnly(p), Status: resp.StatusCode, Detail: c.scrub(detail(data))}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", ErrAuth, apiErr)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return &transientError{apiErr}
	}
	return apiErr
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// detail pulls a short message out of an error answer.
func detail(data []byte) string {
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		if d, ok := m["detail"].(string); ok {
			return d
		}
		b, _ := json.Marshal(m)
		return truncate(string(b), 300)
	}
	return truncate(strings.TrimSpace(string(data)), 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// page is AWX's list answer.
type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// listAll follows next links and returns every item, up to limit (0: all).
func listAll[T any](ctx context.Context, c *client, p string, q url.Values, limit int, o reqOpts) ([]T, error) {
	if q == nil {
		q = url.Values{}
	}
	if q.Get("page_size") == "" {
		q.Set("page_size", "200")
	}
	next := p + "?" + q.Encode()
	var out []T
	for pages := 0; next != "" && pages < 1000; pages++ {
		var pg page[T]
		if err := c.do(ctx, http.MethodGet, next, nil, &pg, o); err != nil {
			return nil, err
		}
		out = append(out, pg.Results...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		next = ""
		if pg.Next != nil {
			next = *pg.Next
		}
	}
	return out, nil
}

// connect finds the API prefix and authenticates: with the token, or with
// the password to make a temporary token.
func (c *client) connect(ctx context.Context, aapVersion string) error {
	if err := c.discover(ctx, aapVersion); err != nil {
		return err
	}
	c.mu.Lock()
	hasToken := c.bearer != ""
	c.mu.Unlock()
	if !hasToken {
		if err := c.createTempToken(ctx); err != nil {
			if errors.Is(err, ErrAuth) {
				return err
			}
			c.log.Warn("awx: could not create a temporary token, using password authentication", "error", err.Error())
		}
	}
	var me page[struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	}]
	if err := c.do(ctx, http.MethodGet, "me/", nil, &me, reqOpts{}); err != nil {
		return err
	}
	if len(me.Results) > 0 {
		c.mu.Lock()
		c.userID, c.username = me.Results[0].ID, me.Results[0].Username
		c.mu.Unlock()
	}
	return nil
}

// discover sets the API prefix: /api/controller/v2/ for AAP 2.5 and later,
// /api/v2/ otherwise, from aap_version or the API root.
func (c *client) discover(ctx context.Context, aapVersion string) error {
	if aapVersion != "" {
		if v, ok := versionAtLeast(aapVersion, 2, 5); ok {
			if v {
				c.prefix = "/api/controller/v2/"
			} else {
				c.prefix = "/api/v2/"
			}
			return nil
		}
		c.log.Warn("awx: aap_version is not a version, asking the API", "aap_version", aapVersion)
	}
	var root struct {
		CurrentVersion    string            `json:"current_version"`
		AvailableVersions map[string]string `json:"available_versions"`
		APIs              map[string]string `json:"apis"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/", nil, &root, reqOpts{noAuth: true}); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return &hinted{fmt.Errorf("find the API at %s: %w", c.base, err),
				"check the instance's url: it is the service's root (https://awx.example.com), where /api/ answers"}
		}
		return fmt.Errorf("find the API at %s: %w", c.base, err)
	}
	switch {
	case root.AvailableVersions["v2"] != "":
		c.prefix = root.AvailableVersions["v2"]
	case root.CurrentVersion != "":
		c.prefix = root.CurrentVersion
	default:
		// An AAP 2.5+ gateway: the controller lives under /api/controller/.
		ctrl := root.APIs["controller"]
		if ctrl == "" {
			ctrl = "/api/controller/"
		}
		var croot struct {
			CurrentVersion    string            `json:"current_version"`
			AvailableVersions map[string]string `json:"available_versions"`
		}
		if err := c.do(ctx, http.MethodGet, ctrl, nil, &croot, reqOpts{noAuth: true}); err == nil && (croot.AvailableVersions["v2"] != "" || croot.CurrentVersion != "") {
			c.prefix = croot.AvailableVersions["v2"]
			if c.prefix == "" {
				c.prefix = croot.CurrentVersion
			}
		} else {
			c.prefix = strings.TrimSuffix(ctrl, "/") + "/v2/"
		}
	}
	if !strings.HasSuffix(c.prefix, "/") {
		c.prefix += "/"
	}
	c.log.Debug("awx: API found", "prefix", c.prefix)
	return nil
}

// versionAtLeast compares a dotted version with major.minor.
func versionAtLeast(v string, major, minor int) (atLeast, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".", 3)
	ma, err := strconv.Atoi(parts[0])
	if err != nil {
		return false, false
	}
	mi := 0
	if len(parts) > 1 {
		if mi, err = strconv.Atoi(parts[1]); err != nil {
			return false, false
		}
	}
	return ma > major || (ma == major && mi >= minor), true
}

// createTempToken makes a personal token with the password and uses it.
func (c *client) createTempToken(ctx context.Context) error {
	c.mu.Lock()
	desc := c.tempDesc
	if desc == "" {
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		desc = "broker temporary token " + hex.EncodeToString(b)
		c.tempDesc = desc
	}
	c.mu.Unlock()
	var me page[struct {
		ID int `json:"id"`
	}]
	if err := c.do(ctx, http.MethodGet, "me/", nil, &me, reqOpts{basic: true}); err != nil {
		return err
	}
	if len(me.Results) == 0 {
		return fmt.Errorf("awx: /me/ names no user")
	}
	var tok struct {
		ID    int    `json:"id"`
		Token string `json:"token"`
	}
	body := map[string]any{"description": desc, "application": nil, "scope": "write"}
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("users/%d/personal_tokens/", me.Results[0].ID), body, &tok, reqOpts{basic: true}); err != nil {
		return fmt.Errorf("awx: create a temporary token: %w", err)
	}
	if tok.Token == "" {
		return fmt.Errorf("awx: create a temporary token: the answer holds no token")
	}
	c.mu.Lock()
	old := c.tempID
	c.bearer, c.tempID = tok.Token, tok.ID
	c.mu.Unlock()
	if old != 0 {
		_ = c.do(ctx, http.MethodDelete, fmt.Sprintf("tokens/%d/", old), nil, nil, reqOpts{basic: true})
	}
	c.log.Info("awx: created a temporary token", "description", desc)
	return nil
}

// close deletes the temporary token, and any other token left with its
// description by a retried creation.
func (c *client) close(ctx context.Context) error {
	c.mu.Lock()
	id, desc := c.tempID, c.tempDesc
	c.tempID = 0
	c.mu.Unlock()
	if desc == "" {
		return nil
	}
	var errs []error
	ids := map[int]bool{}
	if id != 0 {
		ids[id] = true
	}
	q := url.Values{"description": {desc}}
	left, err := listAll[struct {
		ID int `json:"id"`
	}](ctx, c, "tokens/", q, 0, reqOpts{basic: true})
	if err == nil {
		for _, t := range left {
			ids[t.ID] = true
		}
	}
	for tid := range ids {
		if err := c.do(ctx, http.MethodDelete, fmt.Sprintf("tokens/%d/", tid), nil, nil, reqOpts{basic: true}); err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
				errs = append(errs, err)
			}
		}
	}
	c.mu.Lock()
	c.bearer = ""
	c.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("awx: delete the temporary token: %w", errors.Join(errs...))
	}
	c.log.Info("awx: deleted the temporary token", "description", desc)
	return nil
}
