package filter

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/labbroker/broker/state"
)

// Error is a filter that does not compile or cannot be evaluated.
type Error struct {
	// Source is the filter as compiled (after translation, for Parse).
	Source string
	// Column is 1-based, in runes; 0 when the error has no position.
	Column int
	Msg    string
}

// Error reads "msg (column N)" followed by the source and a caret under
// the column, so a terminal shows where the filter went wrong.
func (e *Error) Error() string {
	if e.Column <= 0 || e.Source == "" || strings.ContainsRune(e.Source, '\n') {
		return "filter: " + e.Msg
	}
	return fmt.Sprintf("filter: %s (column %d)\n  %s\n  %s^",
		e.Msg, e.Column, e.Source, strings.Repeat(" ", e.Column-1))
}

// Filter is a compiled pipeline of index stages and expressions. It is
// safe for concurrent use.
type Filter struct {
	src    string
	stages []stage
}

type stage struct {
	// exactly one of slice and prog is set
	slice *slice
	prog  *vm.Program
}

// slice is @inv[i], @inv[a:b] (bounds optional).
type slice struct {
	single     bool
	start, end int
	hasStart   bool
	hasEnd     bool
}

// String is the filter's source.
func (f *Filter) String() string { return f.src }

// NeedsList reports whether the filter has index stages, which only
// Select can evaluate.
func (f *Filter) NeedsList() bool {
	for _, s := range f.stages {
		if s.slice != nil {
			return true
		}
	}
	return false
}

// Compile compiles a filter in broker's expression language (see the
// package doc). An empty filter is an error: callers that mean "all" pass
// a nil *Filter.
func Compile(src string) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Source: src, Msg: "empty filter"}
	}
	segs, err := splitStages(src)
	if err != nil {
		return nil, err
	}
	f := &Filter{src: src}
	for _, sg := range segs {
		if sg.slice != nil {
			f.stages = append(f.stages, stage{slice: sg.slice})
			continue
		}
		p, err := compileExpr(sg.text)
		if err != nil {
			var fe *Error
			if errors.As(err, &fe) {
				fe.Source = src
				if fe.Column > 0 {
					fe.Column += sg.offset
				}
			}
			return nil, err
		}
		f.stages = append(f.stages, stage{prog: p})
	}
	return f, nil
}

var compileOptions = []expr.Option{
	expr.Env(env{}),
	expr.AsBool(),
	expr.DisableBuiltin("now"),
	// `"test" in hostname` means contains, as in Python: expr's own `in`
	// is for lists and maps, and would refuse two strings.
	// A map read of unknown type (facts.os) is decided when it is run.
	expr.Function("_in_string", func(p ...any) (any, error) {
		return inValue(p[0].(string), p[1])
	}, new(func(string, string) bool), new(func(string, any) bool)),
	expr.Operator("in", "_in_string"),
}

// inValue is `needle in v` for a v known only when the filter runs:
// contains for a string, membership for a list, a key for a map; false
// for nil (a missing fact).
func inValue(needle string, v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case string:
		return strings.Contains(v, needle), nil
	case []any:
		return slices.Contains(v, any(needle)), nil
	case []string:
		return slices.Contains(v, needle), nil
	case map[string]any:
		_, ok := v[needle]
		return ok, nil
	case map[string]string:
		_, ok := v[needle]
		return ok, nil
	}
	return false, fmt.Errorf("operator \"in\" not defined on %T", v)
}

func compileExpr(src string) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Source: src, Msg: "empty expression"}
	}
	p, err := expr.Compile(src, compileOptions...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			col := 0
			if fe.Line <= 1 {
				col = fe.Column + 1
			}
			return nil, &Error{Source: src, Column: col, Msg: fe.Message}
		}
		return nil, &Error{Source: src, Msg: err.Error()}
	}
	return p, nil
}

// segment is one stage of the source with its rune offset.
type segment struct {
	text   string
	offset int // runes before text in the whole source
	slice  *slice
}

// splitStages cuts src at top-level single '|' (outside quotes, brackets
// and parentheses, not '||'), turns the pieces written @inv[...] into
// index stages and glues the others back together, so expr's own pipe
// operator keeps working inside an expression.
func splitStages(src string) ([]segment, error) {
	var pieces []segment
	rs := []rune(src)
	depth := 0
	var quote rune
	start := 0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if quote != 0 {
			if r == '\\' {
				i++
			} else if r == quote {
				quote = 0
			}
			continue
		}
		switch r {
		case '"', '\'', '`':
			quote = r
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '|':
			if depth != 0 {
				continue
			}
			if i+1 < len(rs) && rs[i+1] == '|' {
				i++
				continue
			}
			pieces = append(pieces, segment{text: string(rs[start:i]), offset: start})
			start = i + 1
		}
	}
	pieces = append(pieces, segment{text: string(rs[start:]), offset: start})

	var out []segment
	for _, p := range pieces {
		sl, ok, err := parseSlice(p.text)
		if err != nil {
			return nil, &Error{Source: src, Column: p.offset + leadingSpace(p.text) + 1, Msg: err.Error()}
		}
		if ok {
			out = append(out, segment{slice: sl, offset: p.offset})
			continue
		}
		if n := len(out); n > 0 && out[n-1].slice == nil {
			out[n-1].text += "|" + p.text
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func leadingSpace(s string) int {
	return len([]rune(s)) - len([]rune(strings.TrimLeft(s, " \t")))
}

// parseSlice reads "@inv[...]"; ok is false when s is not one.
func parseSlice(s string) (*slice, bool, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "@inv[") || !strings.HasSuffix(t, "]") {
		return nil, false, nil
	}
	body := strings.TrimSpace(t[len("@inv[") : len(t)-1])
	num := func(x string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("bad index %q in %s", strings.TrimSpace(x), t)
		}
		return n, nil
	}
	if !strings.Contains(body, ":") {
		n, err := num(body)
		if err != nil {
			return nil, false, err
		}
		return &slice{single: true, start: n}, true, nil
	}
	a, b, _ := strings.Cut(body, ":")
	if strings.Contains(b, ":") {
		return nil, false, fmt.Errorf("slice steps are not supported in %s", t)
	}
	var sl slice
	var err error
	if strings.TrimSpace(a) != "" {
		if sl.start, err = num(a); err != nil {
			return nil, false, err
		}
		sl.hasStart = true
	}
	if strings.TrimSpace(b) != "" {
		if sl.end, err = num(b); err != nil {
			return nil, false, err
		}
		sl.hasEnd = true
	}
	return &sl, true, nil
}

// apply picks positions from a list of n, with Python's rules: negative
// counts from the end, out-of-range slice bounds clamp, an out-of-range
// single index selects nothing.
func (s *slice) apply(n int) (lo, hi int) {
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return i
	}
	if s.single {
		i := norm(s.start)
		if i < 0 || i >= n {
			return 0, 0
		}
		return i, i + 1
	}
	lo, hi = 0, n
	if s.hasStart {
		lo = min(max(norm(s.start), 0), n)
	}
	if s.hasEnd {
		hi = min(max(norm(s.end), 0), n)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// errNeedsList is returned by Match for filters with index stages.
func (f *Filter) errNeedsList() error {
	return &Error{Source: f.src, Msg: "index selection (@inv[…]) needs the whole inventory and cannot be used here"}
}

// Match reports whether the recorded host h, at inventory position
// index, passes the filter at time now.
func (f *Filter) Match(h state.Host, index int, now time.Time) (bool, error) {
	v := HostValues(h, index, now)
	return f.MatchValues(v)
}

// MatchValues reports whether v passes the filter; for hosts that have
// no record yet (the planner's desired hosts).
func (f *Filter) MatchValues(v Values) (bool, error) {
	if f.NeedsList() {
		return false, f.errNeedsList()
	}
	return f.matchExprs(newEnv(&v), f.stages)
}

func (f *Filter) matchExprs(e *env, stages []stage) (bool, error) {
	for _, s := range stages {
		ok, err := f.run(s.prog, e)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (f *Filter) run(p *vm.Program, e *env) (bool, error) {
	out, err := expr.Run(p, e)
	if err != nil {
		return false, &Error{Source: f.src, Msg: runtimeMsg(err)}
	}
	b, _ := out.(bool)
	return b, nil
}

func runtimeMsg(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// Select returns the hosts that pass f, in their order; index is each
// host's position in hosts. A nil filter selects every host. On an
// evaluation error the host's address or id is named.
func Select(f *Filter, hosts []state.Host, now time.Time) ([]state.Host, error) {
	if f == nil {
		return hosts, nil
	}
	cur := make([]int, len(hosts))
	for i := range cur {
		cur[i] = i
	}
	var e *env
	for _, s := range f.stages {
		if s.slice != nil {
			lo, hi := s.slice.apply(len(cur))
			cur = cur[lo:hi]
			continue
		}
		kept := cur[:0:0]
		for _, i := range cur {
			v := HostValues(hosts[i], i, now)
			if e == nil {
				e = newEnv(&v)
			} else {
				e.Values = v
				e.BrokerArgs = v.Args
			}
			ok, err := f.run(s.prog, e)
			if err != nil {
				return nil, fmt.Errorf("host %s: %w", hostName(hosts[i]), err)
			}
			if ok {
				kept = append(kept, i)
			}
		}
		cur = kept
	}
	out := make([]state.Host, len(cur))
	for j, i := range cur {
		out[j] = hosts[i]
	}
	return out, nil
}

func hostName(h state.Host) string {
	switch {
	case h.Address != "":
		return h.Address
	case h.Hostname != "":
		return h.Hostname
	}
	return h.ID
}
