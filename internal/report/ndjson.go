package report

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
)

// Summary is the last line of an NDJSON report. Its kind, "summary", is
// never an executor event kind, so a reader tells it apart by kind.
type Summary struct {
	Kind        string    `json:"kind"` // "summary"
	Command     string    `json:"command"`
	Environment string    `json:"environment,omitempty"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Counts
	// Events is the number of event lines before the summary.
	Events int `json:"events"`
}

// KindSummary is Summary.Kind.
const KindSummary = "summary"

// NDJSON writes each event as one line of JSON (exactly executor.Event's
// encoding) as it arrives, and a Summary line on Close.
type NDJSON struct {
	mu      sync.Mutex
	enc     *json.Encoder
	meta    Meta
	started time.Time
	events  int
	err     error
	count   counter
	closed  bool
}

// NewNDJSON writes to w.
func NewNDJSON(w io.Writer, meta Meta) *NDJSON {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &NDJSON{enc: enc, meta: meta, started: meta.now()}
}

// Event implements executor.Observer.
func (n *NDJSON) Event(e executor.Event) {
	n.count.add(e)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.err != nil {
		return
	}
	n.events++
	n.err = n.enc.Encode(e)
}

// Close writes the summary line. It returns the first write error.
func (n *NDJSON) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return n.err
	}
	n.closed = true
	if n.err != nil {
		return n.err
	}
	return n.enc.Encode(Summary{
		Kind: KindSummary, Command: n.meta.Command, Environment: n.meta.Environment,
		Started: n.started, Finished: n.meta.now(), Counts: n.count.counts(), Events: n.events,
	})
}
