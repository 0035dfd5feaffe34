package report

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
)

// Meta describes the command run a report is about.
type Meta struct {
	// Command is the broker command (apply, destroy, reap…).
	Command string
	// Environment is the environment acted on; "" for several (reap).
	Environment string
	// Hostname is the machine broker ran on (JUnit's testsuite hostname).
	Hostname string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (m Meta) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Writer is a report being written: it receives events and is finished by
// Close, which writes what is still buffered (the JUnit document, the
// NDJSON summary) and closes the file.
type Writer interface {
	executor.Observer
	Close() error
}

// Format is a report's file format.
type Format string

const (
	FormatJUnit  Format = "junit"
	FormatNDJSON Format = "ndjson"
)

// FormatOf names the format of a report file by its extension: .xml is
// JUnit, .ndjson and .jsonl are NDJSON.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xml":
		return FormatJUnit, nil
	case ".ndjson", ".jsonl":
		return FormatNDJSON, nil
	}
	return "", fmt.Errorf("report %s: unknown format: name it *.xml (JUnit) or *.ndjson / *.jsonl (events)", path)
}

// Create opens path (truncating it) and returns the writer its extension
// names.
func Create(path string, meta Meta) (Writer, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if f == FormatNDJSON {
		// Unbuffered: one write per event, so that a follower (tail -f, a
		// long-running janitor's log) sees each line as it happens.
		return &closing{Writer: NewNDJSON(file, meta), close: file.Close}, nil
	}
	bw := bufio.NewWriter(file)
	return &closing{Writer: NewJUnit(bw, meta), close: func() error {
		return errors.Join(bw.Flush(), file.Close())
	}}, nil
}

// closing closes a file after its writer.
type closing struct {
	Writer
	close func() error
}

func (c *closing) Close() error {
	return errors.Join(c.Writer.Close(), c.close())
}

// Tee sends each event to every non-nil observer, in order.
func Tee(obs ...executor.Observer) executor.Observer {
	var out tee
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

type tee []executor.Observer

func (t tee) Event(e executor.Event) {
	for _, o := range t {
		o.Event(e)
	}
}

// Counts tallies the changes of a run by how they ended.
type Counts struct {
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// counter counts change outcomes from events.
type counter struct {
	mu sync.Mutex
	c  Counts
}

func (c *counter) add(e executor.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e.Kind {
	case executor.EventDone:
		c.c.Done++
	case executor.EventFailed:
		c.c.Failed++
	case executor.EventSkipped:
		c.c.Skipped++
	}
}

func (c *counter) counts() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}
