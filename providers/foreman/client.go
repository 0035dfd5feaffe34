package foreman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labbroker/broker/providers/webclient"
)

// client speaks Foreman's API v2 with HTTP basic authentication (a
// personal access token is the password).
type client struct {
	base   string
	user   string
	secret string
	hc     *http.Client
	log    *slog.Logger
	poll   time.Duration
	maxTry time.Duration

	answered atomic.Bool // Foreman has answered once
}

// APIError is an answer that is not a success, with Foreman's own
// messages (a 422's full_messages).
type APIError struct {
	Op       string
	Status   int
	Messages []string
}

func (e *APIError) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("foreman: %s: %d: %s", e.Op, e.Status, msg)
}

// messages reads Foreman's error shapes: {"error": {"full_messages": […]}},
// {"error": {"message": …}}, {"errors": {"base": […]}}, {"message": …}.
func messages(body []byte) []string {
	var e struct {
		Error *struct {
			Message      string   `json:"message"`
			FullMessages []string `json:"full_messages"`
		} `json:"error"`
		Errors *struct {
			Base []string `json:"base"`
		} `json:"errors"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		s := strings.TrimSpace(string(body))
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch {
	case e.Error != nil && len(e.Error.FullMessages) > 0:
		return e.Error.FullMessages
	case e.Error != nil && e.Error.Message != "":
		return []string{e.Error.Message}
	case e.Errors != nil && len(e.Errors.Base) > 0:
		return e.Errors.Base
	case e.Message != "":
		return []string{e.Message}
	}
	return nil
}

// transient tells whether waiting may help: connection errors and 5xx,
// but not what permanent names.
func (c *client) transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return webclient.Permanent(err, c.answered.Load()) == ""
}

func isStatus(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == code
}

// once makes one request.
func (c *client) once(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.user, c.secret)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	op := method + " " + strings.SplitN(path, "?", 2)[0]
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("foreman: %s: %w", op, err)
	}
	c.answered.Store(true)
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("foreman: %s: %w", op, err)
	}
	if resp.StatusCode >= 300 {
		return &APIError{Op: op, Status: resp.StatusCode, Messages: messages(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("foreman: %s: read answer: %w", op, err)
	}
	return nil
}

// do makes a request, retrying connection errors and 5xx for at most
// max_resilient_wait. Only for requests that may be repeated.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	return c.retry(ctx, func() error { return c.once(ctx, method, path, in, out) })
}

func (c *client) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(c.maxTry)
	delay := c.poll / 4
	if delay <= 0 {
		delay = time.Millisecond
	}
	for {
		err := fn()
		if err == nil || !c.transient(err) || time.Now().After(deadline) {
			return err
		}
		c.log.Warn("foreman: not answering, retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

type named struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
}

// idOf finds a resource's id by title or name.
func (c *client) idOf(ctx context.Context, resource, name string) (int, error) {
	var page struct {
		Results []named `json:"results"`
	}
	q := url.Values{"per_page": {"1000"}, "search": {fmt.Sprintf("%s = %q", "name", name)}}
	if resource == "hostgroups" || resource == "organizations" || resource == "locations" {
		q.Set("search", fmt.Sprintf("title = %q", name))
	}
	if err := c.do(ctx, http.MethodGet, "/api/"+resource+"?"+q.Encode(), nil, &page); err != nil {
		return 0, err
	}
	for _, r := range page.Results {
		if r.Title == name || r.Name == name {
			return r.ID, nil
		}
	}
	return 0, fmt.Errorf("foreman: no %s %q", strings.TrimSuffix(resource, "s"), name)
}
