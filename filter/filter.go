package filter

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
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
	// keys are the map keys the filter reads (facts.os, args.template).
	keys []keyRef
	// strict: Select refuses a filter reading a key no host has (set by
	// Parse for the Python tool's syntaxes, whose fields are keys of the
	// Python inventory, so that a misspelt or foreign field does not
	// select nothing in silence).
	strict bool
}

// keyRef is a key read from one of a host's maps.
type keyRef struct{ m, key string }

type stage struct {
	// exactly one of slice and prog is set
	slice *slice
	prog  *vm.Program
}

// slice is @inv[i], @inv[a:b] or @inv[a:b:step] (each part optional).
type slice struct {
	single     bool
	start, end int
	step       int // 0: 1
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
		f.keys = append(f.keys, mapKeys(p.Node())...)
	}
	return f, nil
}

// mapKeys lists the constant keys read from facts, args and labels.
func mapKeys(n ast.Node) []keyRef {
	var out []keyRef
	ast.Find(n, func(x ast.Node) bool {
		m, ok := x.(*ast.MemberNode)
		if !ok {
			return false
		}
		id, ok := m.Node.(*ast.IdentifierNode)
		if !ok {
			return false
		}
		k, ok := m.Property.(*ast.StringNode)
		if !ok {
			return false
		}
		switch id.Value {
		case "facts", "labels":
			out = append(out, keyRef{id.Value, k.Value})
		case "args", "_broker_args":
			out = append(out, keyRef{"args", k.Value})
		}
		return false
	})
	return out
}

// checkKeys is the strict check: with hosts to select from, each key the
// filter reads must be held by one of them.
func (f *Filter) checkKeys(hosts []state.Host) error {
	if !f.strict || len(hosts) == 0 {
		return nil
	}
	for _, k := range f.keys {
		have := map[string]bool{}
		found := false
		for i := range hosts {
			var ok bool
			switch k.m {
			case "facts":
				_, ok = hosts[i].Facts[k.key]
				for x := range hosts[i].Facts {
					have[x] = true
				}
			case "args":
				_, ok = hosts[i].Recipe[k.key]
				for x := range hosts[i].Recipe {
					have[x] = true
				}
			case "labels":
				_, ok = hosts[i].Labels[k.key]
				for x := range hosts[i].Labels {
					have[x] = true
				}
			}
			if ok {
				found = true
				break
			}
		}
		if found {
			continue
		}
		names := make([]string, 0, len(have))
		for x := range have {
			names = append(names, x)
		}
		slices.Sort(names)
		msg := fmt.Sprintf("no host has the field %s.%s, so the filter would select nothing", k.m, k.key)
		if k.m == "facts" {
			msg = fmt.Sprintf("no host has the field %q (read as facts.%s), so the filter would select nothing", k.key, k.key)
		}
		if len(names) > 0 {
			msg += fmt.Sprintf("; the hosts' %s: %s", k.m, strings.Join(names, ", "))
		}
		return &Error{Source: f.src, Msg: msg + "; `broker inventory --details` shows every field"}
	}
	return nil
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
	expr.Patch(providerNames{}),
}

// providerNames makes a provider name compared with provider or
// _broker_provider the name that field holds: `provider == "AnsibleTower"`
// reads as `provider == "awx"`, `_broker_provider == "docker"` as
// `_broker_provider == "Container"`. Only whole names are translated.
type providerNames struct{}

func (providerNames) Visit(n *ast.Node) {
	b, ok := (*n).(*ast.BinaryNode)
	if !ok {
		return
	}
	fixProviderValue(b.Left, b.Right)
	fixProviderValue(b.Right, b.Left)
}

func fixProviderValue(field, val ast.Node) {
	id, ok := field.(*ast.IdentifierNode)
	if !ok {
		return
	}
	var conv func(string) string
	switch id.Value {
	case "provider":
		conv = NativeProvider
	case "_broker_provider":
		conv = func(s string) string {
			if t, ok := nativeAliases[strings.ToLower(s)]; ok {
				return PythonProvider(t)
			}
			return s
		}
	default:
		return
	}
	switch v := val.(type) {
	case *ast.StringNode:
		v.Value = conv(v.Value)
	case *ast.ArrayNode:
		for _, e := range v.Nodes {
			if s, ok := e.(*ast.StringNode); ok {
				s.Value = conv(s.Value)
			}
		}
	}
}

// nativeAliases are broker's names (and aliases) of the types the Python
// broker also has.
var nativeAliases = map[string]string{"awx": "awx", "aap": "awx", "docker": "docker", "podman": "docker", "sim": "sim", "openstack": "openstack"}

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
	parts := strings.Split(body, ":")
	if len(parts) > 3 {
		return nil, false, fmt.Errorf("bad slice %s: want [start:end:step]", t)
	}
	var sl slice
	var err error
	if strings.TrimSpace(parts[0]) != "" {
		if sl.start, err = num(parts[0]); err != nil {
			return nil, false, err
		}
		sl.hasStart = true
	}
	if strings.TrimSpace(parts[1]) != "" {
		if sl.end, err = num(parts[1]); err != nil {
			return nil, false, err
		}
		sl.hasEnd = true
	}
	if len(parts) == 3 && strings.TrimSpace(parts[2]) != "" {
		if sl.step, err = num(parts[2]); err != nil {
			return nil, false, err
		}
		if sl.step == 0 {
			return nil, false, fmt.Errorf("slice step cannot be zero in %s", t)
		}
	}
	return &sl, true, nil
}

// apply picks positions from a list of n, with Python's rules: negative
// counts from the end, out-of-range slice bounds clamp, an out-of-range
// single index selects nothing, a negative step walks backwards.
func (s *slice) apply(n int) []int {
	if s.single {
		i := s.start
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil
		}
		return []int{i}
	}
	step := s.step
	if step == 0 {
		step = 1
	}
	// clamp as Python's slice.indices does
	clamp := func(i, lo, hi int) int {
		if i < 0 {
			i += n
		}
		return min(max(i, lo), hi)
	}
	var lo, hi int
	if step > 0 {
		lo, hi = 0, n
		if s.hasStart {
			lo = clamp(s.start, 0, n)
		}
		if s.hasEnd {
			hi = clamp(s.end, 0, n)
		}
	} else {
		lo, hi = n-1, -1
		if s.hasStart {
			lo = clamp(s.start, -1, n-1)
		}
		if s.hasEnd {
			hi = clamp(s.end, -1, n-1)
		}
	}
	var out []int
	for i := lo; (step > 0 && i < hi) || (step < 0 && i > hi); i += step {
		out = append(out, i)
	}
	return out
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
	if err := f.checkKeys(hosts); err != nil {
		return nil, err
	}
	cur := make([]int, len(hosts))
	for i := range cur {
		cur[i] = i
	}
	var e *env
	for _, s := range f.stages {
		if s.slice != nil {
			picked := make([]int, 0, len(cur))
			for _, j := range s.slice.apply(len(cur)) {
				picked = append(picked, cur[j])
			}
			cur = picked
			continue
		}
		kept := cur[:0:0]
		for _, i := range cur {
			v := HostValues(hosts[i], i, now)
			if e == nil {
				e = newEnv(&v)
			} else {
				e.set(&v)
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
