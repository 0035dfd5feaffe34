package beaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labbroker/broker/providers/beaker/xmlrpc"
	"github.com/labbroker/broker/providers/webclient"
)

// client speaks to a Beaker hub: XML-RPC on /RPC2 and the REST resources,
// with the session cookie auth.login_password sets.
type client struct {
	hub      string
	hc       *http.Client
	user     string
	password string
	log      *slog.Logger
	poll     time.Duration
	maxTry   time.Duration

	mu       sync.Mutex
	loggedIn bool
	answered atomic.Bool // the hub has answered once
}

// HubError is an answer of the hub that is not a success: an HTTP status
// or an XML-RPC fault.
type HubError struct {
	Op     string
	Status int    // HTTP status; 0 for a fault
	Fault  string // the fault's text
	Body   string
}

func (e *HubError) Error() string {
	if e.Fault != "" {
		return fmt.Sprintf("beaker: %s: %s", e.Op, e.Fault)
	}
	msg := strings.TrimSpace(e.Body)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Sprintf("beaker: %s: HTTP %d: %s", e.Op, e.Status, msg)
}

// transient tells whether waiting may help: connection errors and 5xx,
// but not what permanent names.
func (c *client) transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *HubError
	if errors.As(err, &he) {
		return he.Status >= 500
	}
	return webclient.Permanent(err, c.answered.Load()) == ""
}

func authFailure(err error) bool {
	var he *HubError
	if !errors.As(err, &he) {
		return false
	}
	return he.Status == http.StatusUnauthorized || strings.Contains(he.Fault, "Anonymous access denied")
}

// retry runs fn until it succeeds, fails for good, or max_resilient_wait
// has passed; a lost session is renewed once.
func (c *client) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(c.maxTry)
	delay := c.poll / 4
	if delay <= 0 {
		delay = time.Millisecond
	}
	relogged := false
	for {
		err := fn()
		switch {
		case err == nil:
			return nil
		case authFailure(err) && !relogged:
			relogged = true
			if lerr := c.login(ctx); lerr != nil {
				return lerr
			}
			continue
		case !c.transient(err) || time.Now().After(deadline):
			return err
		}
		c.log.Warn("beaker: hub not answering, retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// login authenticates the session (auth.login_password).
func (c *client) login(ctx context.Context) error {
	_, err := c.rawCall(ctx, "auth.login_password", c.user, c.password)
	if err != nil {
		var he *HubError
		if errors.As(err, &he) {
			// Keep the HubError, so that a refusal is not retried.
			he2 := *he
			he2.Op = "log in as " + c.user
			return &he2
		}
		return fmt.Errorf("beaker: log in as %s: %w", c.user, err)
	}
	c.mu.Lock()
	c.loggedIn = true
	c.mu.Unlock()
	return nil
}

func (c *client) ensureLogin(ctx context.Context) error {
	c.mu.Lock()
	ok := c.loggedIn
	c.mu.Unlock()
	if ok {
		return nil
	}
	return c.retry(ctx, func() error { return c.login(ctx) })
}

// rawCall makes one XML-RPC call, without retries.
func (c *client) rawCall(ctx context.Context, method string, params ...any) (any, error) {
	body, err := xmlrpc.EncodeCall(method, params...)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.hub+"/client/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("beaker: %s: %w", method, err)
	}
	c.answered.Store(true)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &HubError{Op: method, Status: resp.StatusCode, Body: string(b)}
	}
	v, err := xmlrpc.DecodeResponse(resp.Body)
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return nil, &HubError{Op: method, Fault: cleanFault(f.String)}
	}
	if err != nil {
		return nil, fmt.Errorf("beaker: %s: %w", method, err)
	}
	return v, nil
}

// cleanFault drops the Python class name Beaker puts before a fault's
// message ("bkr.common.bexceptions.BX:Invalid …").
func cleanFault(s string) string {
	if i := strings.Index(s, ":"); i > 0 && !strings.ContainsAny(s[:i], " ") && strings.Contains(s[:i], ".") {
		return strings.TrimSpace(s[i+1:])
	}
	return s
}

// call makes an XML-RPC call, logged in, retrying transient failures. Only
// for calls that may be repeated (not jobs.upload).
func (c *client) call(ctx context.Context, method string, params ...any) (any, error) {
	if err := c.ensureLogin(ctx); err != nil {
		return nil, err
	}
	var out any
	err := c.retry(ctx, func() error {
		var err error
		out, err = c.rawCall(ctx, method, params...)
		return err
	})
	return out, err
}

// rest makes a REST request, logged in, retrying transient failures.
func (c *client) rest(ctx context.Context, method, path string, in, out any) error {
	if err := c.ensureLogin(ctx); err != nil {
		return err
	}
	return c.retry(ctx, func() error {
		var body io.Reader
		if in != nil {
			b, err := json.Marshal(in)
			if err != nil {
				return err
			}
			body = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.hub+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("beaker: %s %s: %w", method, path, err)
		}
		c.answered.Store(true)
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return &HubError{Op: method + " " + path, Status: resp.StatusCode, Body: string(b)}
		}
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("beaker: %s %s: read answer: %w", method, path, err)
		}
		return nil
	})
}

// jobJSON is GET /jobs/N, as much as broker reads.
type jobJSON struct {
	ID         int    `json:"id"`
	TID        string `json:"t_id"`
	Status     string `json:"status"`
	Result     string `json:"result"`
	IsFinished bool   `json:"is_finished"`
	Whiteboard string `json:"whiteboard"`
	Owner      struct {
		UserName string `json:"user_name"`
	} `json:"owner"`
	RecipeSets []struct {
		MachineRecipes []recipeJSON `json:"machine_recipes"`
	} `json:"recipesets"`
}

type recipeJSON struct {
	ID         int    `json:"id"`
	TID        string `json:"t_id"`
	Status     string `json:"status"`
	Result     string `json:"result"`
	IsFinished bool   `json:"is_finished"`
	Resource   *struct {
		FQDN string `json:"fqdn"`
	} `json:"resource"`
	DistroTree struct {
		Distro struct {
			Name string `json:"name"`
		} `json:"distro"`
		Arch any `json:"arch"`
	} `json:"distro_tree"`
	Tasks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"tasks"`
}

func (r recipeJSON) fqdn() string {
	if r.Resource == nil {
		return ""
	}
	return r.Resource.FQDN
}

// reserved tells whether the recipe holds its system for the user: the
// recipe is Reserved (<reservesys/>), or its /distribution/reservesys task
// runs.
func (r recipeJSON) reserved() bool {
	if r.fqdn() == "" {
		return false
	}
	if r.Status == "Reserved" {
		return true
	}
	if r.Status != "Running" {
		return false
	}
	for _, t := range r.Tasks {
		if strings.HasSuffix(t.Name, "/reservesys") && t.Status == "Running" {
			return true
		}
	}
	return false
}

func (c *client) job(ctx context.Context, id int) (*jobJSON, error) {
	var j jobJSON
	if err := c.rest(ctx, http.MethodGet, fmt.Sprintf("/jobs/%d", id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// filter is jobs.filter: job ids ("J:123").
func (c *client) filter(ctx context.Context, f map[string]any) ([]string, error) {
	v, err := c.call(ctx, "jobs.filter", f)
	if err != nil {
		return nil, err
	}
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *client) jobURL(id int) string { return fmt.Sprintf("%s/jobs/%d", c.hub, id) }
