package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/planner"
)

// The JUnit document, in the common schema (the one Jenkins, GitLab and
// GitHub reporters read): testsuites > testsuite > testcase with failure or
// skipped.

// Suites is the <testsuites> root.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one command run.
type Suite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       string     `xml:"time,attr"`
	Timestamp  string     `xml:"timestamp,attr"`
	Hostname   string     `xml:"hostname,attr,omitempty"`
	Properties []Property `xml:"properties>property,omitempty"`
	Cases      []Case     `xml:"testcase"`
	SystemOut  string     `xml:"system-out,omitempty"`
}

// Property is a name/value pair of a suite.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one host and phase: classname is the host's address (or id),
// name the phase.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      string   `xml:"time,attr"`
	Failure   *Failure `xml:"failure,omitempty"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
}

// Failure carries the provider's (or setup's) message; Type is the phase.
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Skipped marks a case not attempted.
type Skipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// JUnit gathers events and writes the document on Close.
type JUnit struct {
	mu      sync.Mutex
	w       io.Writer
	meta    Meta
	started time.Time
	cases   []*jcase
	index   map[[2]string]*jcase
	failed  map[string]bool // keys with a failed case
	notes   []string
	closed  bool
}

type jcase struct {
	class, phase string
	dur          time.Duration
	failure      *Failure
	skipped      *Skipped
}

// NewJUnit writes to w on Close.
func NewJUnit(w io.Writer, meta Meta) *JUnit {
	return &JUnit{w: w, meta: meta, started: meta.now(), index: map[[2]string]*jcase{}, failed: map[string]bool{}}
}

func (j *JUnit) tc(class string, phase executor.Phase) *jcase {
	k := [2]string{class, string(phase)}
	if c, ok := j.index[k]; ok {
		return c
	}
	c := &jcase{class: class, phase: string(phase)}
	j.index[k] = c
	j.cases = append(j.cases, c)
	return c
}

func (j *JUnit) fail(c *jcase, msg string) {
	c.failure = &Failure{Message: msg, Type: c.phase, Text: msg}
	j.failed[c.class] = true
}

// mainPhase is the phase a change's outcome is reported under when no
// phase of its own says more.
func mainPhase(a planner.Action) executor.Phase {
	switch a {
	case planner.Create, planner.Replace:
		return executor.PhaseReady
	case planner.Extend:
		return executor.PhaseExtend
	}
	return executor.PhaseCheckin
}

// Event implements executor.Observer.
func (j *JUnit) Event(e executor.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	class := e.Address
	if class == "" {
		class = e.HostID
	}
	switch e.Kind {
	case executor.EventPhaseStart:
		j.tc(class, e.Phase)
	case executor.EventPhaseDone:
		c := j.tc(class, e.Phase)
		c.dur = e.Duration
		if e.Err != "" {
			j.fail(c, e.Err)
			if e.Phase == executor.PhaseSetup && strings.HasPrefix(e.Err, "hook ") {
				j.fail(j.tc(class, executor.PhaseHooks), e.Err)
			}
		}
	case executor.EventProgress:
		if e.Phase == executor.PhaseHooks {
			j.tc(class, executor.PhaseHooks)
		}
	case executor.EventDone:
		if e.Action == planner.Create || e.Action == planner.Replace {
			j.tc(class, executor.PhaseReady).dur = e.Duration
		}
	case executor.EventFailed:
		if e.Action == planner.Create || e.Action == planner.Replace || !j.failed[class] {
			c := j.tc(class, mainPhase(e.Action))
			c.dur = e.Duration
			j.fail(c, e.Err)
		}
	case executor.EventSkipped:
		msg := e.Err
		if msg == "" {
			msg = e.Message
		}
		j.tc(class, mainPhase(e.Action)).skipped = &Skipped{Message: msg}
	case executor.EventNote:
		j.notes = append(j.notes, class+": "+e.Message)
	}
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// Document is the report as it stands.
func (j *JUnit) Document() Suites {
	j.mu.Lock()
	defer j.mu.Unlock()
	end := j.meta.now()
	name := "broker " + j.meta.Command
	if j.meta.Environment != "" {
		name += " " + j.meta.Environment
	}
	s := Suite{
		Name: name, Time: seconds(end.Sub(j.started)), Timestamp: j.started.UTC().Format("2006-01-02T15:04:05"),
		Hostname:   j.meta.Hostname,
		Properties: []Property{{Name: "command", Value: j.meta.Command}},
	}
	if j.meta.Environment != "" {
		s.Properties = append(s.Properties, Property{Name: "environment", Value: j.meta.Environment})
	}
	for _, c := range j.cases {
		tc := Case{Name: c.phase, Classname: c.class, Time: seconds(c.dur), Failure: c.failure, Skipped: c.skipped}
		if tc.Failure != nil {
			tc.Skipped = nil
			s.Failures++
		} else if tc.Skipped != nil {
			s.Skipped++
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	if len(j.notes) > 0 {
		s.SystemOut = strings.Join(j.notes, "\n") + "\n"
	}
	return Suites{Name: "broker", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: s.Time, Suites: []Suite{s}}
}

// Close writes the document.
func (j *JUnit) Close() error {
	doc := j.Document()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	if _, err := io.WriteString(j.w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(j.w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(j.w, "\n")
	return err
}
