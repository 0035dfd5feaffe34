package openstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
)

// APIError is an answer of an OpenStack service that is not a success, or
// a failure to get one, with the service's own message.
type APIError struct {
	// Op is what broker was doing ("create server web-0").
	Op string
	// Status is the HTTP status; 0: no answer.
	Status int
	// Message is the service's message (Nova's forbidden.message…).
	Message string
	// Quota is set for a quota error (403 or 413 "Quota exceeded").
	Quota bool
	// Hint says what to do.
	Hint string
	Err  error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	switch {
	case e.Quota:
		b.WriteString(": quota exceeded: ")
		b.WriteString(e.Message)
	case e.Status != 0:
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// BuildError is a server that went to ERROR; the server was deleted.
type BuildError struct {
	Name, ID string
	// Fault is Nova's fault message.
	Fault string
}

func (e *BuildError) Error() string {
	f := e.Fault
	if f == "" {
		f = "Nova gave no fault message"
	}
	return fmt.Sprintf("server %s (%s) went to ERROR and was deleted: %s", e.Name, e.ID, f)
}

// apiError turns a gophercloud error into an *APIError with the service's
// message; other errors are wrapped with op.
func apiError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) {
		return &APIError{Op: op, Err: err}
	}
	e := &APIError{Op: op, Status: ue.Actual, Message: serviceMessage(ue.Body), Err: err}
	low := strings.ToLower(e.Message)
	if (ue.Actual == http.StatusForbidden || ue.Actual == http.StatusRequestEntityTooLarge) && strings.Contains(low, "quota") {
		e.Quota = true
		e.Hint = "free servers (broker inventory; broker checkin), or ask the cloud's admins for a larger quota"
	}
	if ue.Actual >= 500 {
		e.Hint = "the service failed; try again later"
	}
	return e
}

// serviceMessage finds the message in an OpenStack error body: Nova's
// {"forbidden": {"message": …}}, Keystone's {"error": {"message": …}},
// Neutron's {"NeutronError": {"message": …}}, or a plain text body.
func serviceMessage(body []byte) string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		s := strings.TrimSpace(string(body))
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return strings.Join(strings.Fields(s), " ")
	}
	if msg, ok := m["message"].(string); ok {
		return msg
	}
	for _, v := range m {
		if inner, ok := v.(map[string]any); ok {
			if msg, ok := inner["message"].(string); ok {
				return msg
			}
		}
	}
	return ""
}

func isNotFound(err error) bool {
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
