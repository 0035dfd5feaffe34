// The package documentation is in doc.go.

package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	broker "github.com/labbroker/broker"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/redact"
)

// JSON-RPC 2.0 error codes, and broker's own (-32000 and below).
const (
	CodeParse          = -32700 // the line is not JSON
	CodeInvalidRequest = -32600 // not a request object
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeFailed         = -32000 // the operation failed (message and hint say why)
	CodeUnknownHost    = -32001 // no host with that id is recorded
	CodeUnreachable    = -32002 // the host could not be reached or the connection was lost
)

// maxLine bounds one request line (write_file carries its data inline).
const maxLine = 256 << 20

// Server serves one client's requests.
type Server struct {
	client  *broker.Client
	app     *app.App
	secrets *redact.Secrets
	version string

	outMu sync.Mutex
	out   *bufio.Writer

	mu    sync.Mutex
	hosts map[string]*broker.Host // every host seen, by id
}

// New serves c; version is what `hello` reports.
func New(c *broker.Client, version string) *Server {
	a := app.LibraryApp(c)
	return &Server{client: c, app: a, secrets: a.Secrets(), version: version, hosts: map[string]*broker.Host{}}
}

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *ErrorData `json:"data,omitempty"`
}

// ErrorData is what broker adds to an error: what to do about it, and
// its kind (invalid_params, unknown_host, unreachable, failed, …).
type ErrorData struct {
	Hint string `json:"hint,omitempty"`
	Kind string `json:"kind"`
}

func (e *Error) Error() string { return e.Message }

// errorf makes an Error of a code.
func errorf(code int, kind, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Data: &ErrorData{Kind: kind}}
}

// Serve reads requests from in until it ends or ctx is done, answering on
// out. Operations on the state (checkout, checkin, extend, execute) under
// way when in ends are finished; commands and copies are cancelled.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	s.out = bufio.NewWriter(out)
	// ioCtx ends with the input: nobody is left to read a command's output.
	ioCtx, cancelIO := context.WithCancel(ctx)
	defer cancelIO()
	opsCtx := context.WithoutCancel(ctx)

	var wg sync.WaitGroup
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			s.reply(response{ID: json.RawMessage("null"), Error: errorf(CodeParse, "parse", "request is not a JSON object: %v", err)})
			continue
		}
		if req.JSONRPC != "2.0" || req.Method == "" {
			id := req.ID
			if id == nil {
				id = json.RawMessage("null")
			}
			s.reply(response{ID: id, Error: errorf(CodeInvalidRequest, "invalid_request", `want {"jsonrpc": "2.0", "id": …, "method": …, "params": {…}}`)})
			continue
		}
		m, ok := methods[req.Method]
		if !ok {
			if req.ID != nil {
				e := errorf(CodeMethodNotFound, "method_not_found", "no method %q", req.Method)
				e.Data.Hint = "methods: " + methodNames()
				s.reply(response{ID: req.ID, Error: e})
			}
			continue
		}
		mctx := ioCtx
		if m.state {
			mctx = opsCtx
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.call(mctx, s, req.Params)
			if req.ID == nil { // a notification: no answer
				return
			}
			if err != nil {
				s.reply(response{ID: req.ID, Error: s.toError(err)})
				return
			}
			if res == nil {
				res = struct{}{}
			}
			s.reply(response{ID: req.ID, Result: res})
		}()
	}
	err := sc.Err()
	cancelIO()
	wg.Wait()
	if errors.Is(err, bufio.ErrTooLong) {
		err = fmt.Errorf("a request line is longer than %d bytes", maxLine)
	}
	return err
}

// reply writes one response line.
func (s *Server) reply(r response) {
	r.JSONRPC = "2.0"
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(response{JSONRPC: "2.0", ID: r.ID, Error: errorf(CodeInternal, "internal", "encode the result: %v", err)})
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	_, _ = s.out.Write(b)
	_ = s.out.WriteByte('\n')
	_ = s.out.Flush()
}

// toError turns an operation's error into an Error with its hint, masked.
func (s *Server) toError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(CodeFailed, "failed", "%s", err.Error())
		var h interface{ Hint() string }
		if errors.As(err, &h) && h.Hint() != "" {
			e.Data.Hint = h.Hint()
			// The library adds the hint to the text; it has its own field here.
			e.Message = strings.TrimSuffix(e.Message, " (hint: "+h.Hint()+")")
		}
	}
	out := *e
	out.Message = s.secrets.String(redact.URLs(out.Message))
	if out.Data != nil {
		d := *out.Data
		d.Hint = s.secrets.String(d.Hint)
		out.Data = &d
	}
	return &out
}
