package filter

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Parse compiles a filter written either in broker's expression language
// or in one of the Python tool's syntaxes, and returns the expression it
// was translated into ("" when src was already an expression):
//
//	hostname<test                    hostname contains "test"
//	_broker_args.template{deploy-sat args.template startsWith "deploy-sat"
//	name<test,_broker_args.provider!=RHEV
//	                                 name contains "test" and args.provider != "RHEV"
//	@inv[:3] | 'sat' in @inv.name    @inv[:3] | name contains 'sat'
//
// In the old syntax '<' is "contains", '=' "equals", '{' "starts with",
// '}' "ends with", '!' before the condition negates, and commas join
// conditions with AND. A string that compiles as an expression is one,
// even if it also reads as an old filter (write `hostname<name` as
// `hostname contains "name"`).
func Parse(src string) (*Filter, string, error) {
	if strings.Contains(src, "@inv") {
		t, err := translateInv(src)
		if err != nil {
			return nil, "", &Error{Source: src, Msg: err.Error()}
		}
		f, err := Compile(t)
		if err != nil {
			return nil, t, err
		}
		f.strict = true
		if t == src {
			t = ""
		}
		return f, t, nil
	}
	f, err := Compile(src)
	if err == nil {
		return f, "", nil
	}
	t, ok := translateOld(src)
	if !ok {
		return nil, "", err
	}
	f, terr := Compile(t)
	if terr != nil {
		return nil, t, terr
	}
	f.strict = true
	return f, t, nil
}

// oldCond is one condition of the old syntax: a dotted field, an optional
// '!', one of < = { }, and the value (everything after, verbatim).
var oldCond = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)(!?)([<={}])(.*)$`)

// oldFields maps the Python inventory's key names to broker's.
// _broker_provider stays: it is an alias of provider holding the Python
// names (AnsibleTower, Container, TestProvider).
var oldFields = map[string]string{
	"_broker_args":              "args",
	"_broker_provider_instance": "instance",
	"username":                  "user",
	"ip_address":                "ip",
}

// translateOld turns "field<value,field!=value" into an expression; ok
// is false when src is not in that syntax.
func translateOld(src string) (string, bool) {
	parts := strings.Split(src, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		m := oldCond.FindStringSubmatch(p)
		if m == nil {
			return "", false
		}
		field, neg, op, val := m[1], m[2] == "!", m[3], m[4]
		if op == "=" && strings.HasPrefix(val, "=") {
			// "a==b" is an expression that failed to compile, not an
			// old filter comparing with "=b".
			return "", false
		}
		path := oldPath(field)
		q := strconv.Quote(val)
		var c string
		switch op {
		case "<":
			c = path + " contains " + q
		case "=":
			if neg {
				out = append(out, path+" != "+q)
				continue
			}
			c = path + " == " + q
		case "{":
			c = path + " startsWith " + q
		case "}":
			c = path + " endsWith " + q
		}
		if neg {
			c = "not (" + c + ")"
		}
		out = append(out, c)
	}
	return strings.Join(out, " and "), true
}

// oldPath renames the first segment, quotes segments that are not
// identifiers, and wraps non-string fields in string() so that an old
// filter such as port=22 compares text, as the Python tool did.
func oldPath(field string) string {
	segs := pyFields(strings.Split(field, "."))
	var b strings.Builder
	b.WriteString(segs[0])
	for _, s := range segs[1:] {
		if isIdent(s) {
			b.WriteString("." + s)
		} else {
			b.WriteString("[" + strconv.Quote(s) + "]")
		}
	}
	if k, ok := fieldKind(segs); ok && k != reflect.String && k != reflect.Interface {
		return "string(" + b.String() + ")"
	}
	return b.String()
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func isIdent(s string) bool { return identRe.MatchString(s) }

var durationType = reflect.TypeFor[time.Duration]()

// fieldKind walks the environment's struct fields by expr name; ok is
// false for unknown names. Anything inside a map reads as Interface.
func fieldKind(path []string) (reflect.Kind, bool) {
	t := reflect.TypeFor[env]()
	for _, seg := range path {
		switch t.Kind() {
		case reflect.Map:
			return reflect.Interface, true
		case reflect.Pointer:
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
			return 0, false
		}
		f, ok := fieldByTag(t, seg)
		if !ok {
			return 0, false
		}
		t = f.Type
	}
	if t == durationType {
		return reflect.Int64, true
	}
	return t.Kind(), true
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			if g, ok := fieldByTag(f.Type, name); ok {
				return g, true
			}
			continue
		}
		if f.Tag.Get("expr") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// pyFields renames the first segment of a Python inventory path to
// broker's name; a key that is no field of broker's (tower_inventory,
// os_distribution: a Python inventory's own keys, which inventory import
// and sync keep as facts) is read from facts.
func pyFields(segs []string) []string {
	if n, ok := oldFields[segs[0]]; ok {
		return append([]string{n}, segs[1:]...)
	}
	if _, ok := fieldKind(segs[:1]); ok {
		return segs
	}
	return append([]string{"facts"}, segs...)
}

// pyPath is the expression reading a Python inventory path: maps read
// one level nil-safe, deeper levels with ?. so a host without the key
// does not fail the filter.
func pyPath(segs []string) string {
	segs = pyFields(segs)
	var b strings.Builder
	b.WriteString(segs[0])
	k, _ := fieldKind(segs[:1])
	for i, s := range segs[1:] {
		if i > 0 && k == reflect.Map {
			b.WriteString("?")
		}
		if isIdent(s) {
			b.WriteString("." + s)
		} else {
			b.WriteString("?.[" + strconv.Quote(s) + "]")
		}
	}
	return b.String()
}

// translateInv rewrites a Python broker @inv filter into the expression
// language. Stages are separated by top-level '|' as in Python; an
// @inv[...] stage picks by position, any other is a condition on each
// host. Consecutive conditions are joined with "and" (a stage passes
// what the previous one passed). In a condition: @inv.a.b reads a field
// (Python key names renamed, unknown keys read from facts), the string
// methods startswith, endswith, get, lower, upper, strip, split, keys and
// values become expr's operators and functions, `x in ("a", "b")` a list,
// and True, False, None true, false, nil.
func translateInv(src string) (string, error) {
	stages, err := splitTop(src, '|')
	if err != nil {
		return "", err
	}
	type item struct {
		slice bool
		texts []string
	}
	var items []item
	for _, st := range stages {
		st = strings.TrimSpace(st)
		if st == "" {
			return "", fmt.Errorf("empty stage between '|'")
		}
		if _, ok, err := parseSlice(st); ok || err != nil {
			if err != nil {
				return "", err
			}
			items = append(items, item{slice: true, texts: []string{st}})
			continue
		}
		t, err := pyExpr(st)
		if err != nil {
			return "", err
		}
		if n := len(items); n > 0 && !items[n-1].slice {
			items[n-1].texts = append(items[n-1].texts, t)
			continue
		}
		items = append(items, item{texts: []string{t}})
	}
	out := make([]string, len(items))
	for i, it := range items {
		if len(it.texts) == 1 {
			out[i] = it.texts[0]
			continue
		}
		parts := make([]string, len(it.texts))
		for j, t := range it.texts {
			parts[j] = "(" + t + ")"
		}
		out[i] = strings.Join(parts, " and ")
	}
	return strings.Join(out, " | "), nil
}

// splitTop cuts s at sep outside quotes and brackets.
func splitTop(s string, sep rune) ([]string, error) {
	var out []string
	depth := 0
	var quote rune
	start := 0
	rs := []rune(s)
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
		case '"', '\'':
			quote = r
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case sep:
			if sep == '|' && i+1 < len(rs) && rs[i+1] == '|' {
				i++ // expr's "or"
				continue
			}
			if depth == 0 {
				out = append(out, string(rs[start:i]))
				start = i + 1
			}
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated string")
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets")
	}
	return append(out, string(rs[start:])), nil
}

// closing returns the index in rs of the bracket closing the one at open.
func closing(rs []rune, open int) (int, error) {
	depth := 0
	var quote rune
	for i := open; i < len(rs); i++ {
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
		case '"', '\'':
			quote = r
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced brackets")
}

func isIdentRune(r rune, first bool) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (!first && r >= '0' && r <= '9')
}

// readIdent reads an identifier at rs[i:]; "" when there is none.
func readIdent(rs []rune, i int) string {
	j := i
	for j < len(rs) && isIdentRune(rs[j], j == i) {
		j++
	}
	return string(rs[i:j])
}

var pyWords = map[string]string{"True": "true", "False": "false", "None": "nil", "str": "string"}

// pyExpr translates one condition of a Python filter.
func pyExpr(s string) (string, error) {
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '"' || r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if rs[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return "", fmt.Errorf("unterminated string")
			}
			b.WriteString(string(rs[i : j+1]))
			i = j + 1
		case strings.HasPrefix(string(rs[i:]), "@inv"):
			expr, n, err := pyInv(rs, i)
			if err != nil {
				return "", err
			}
			b.WriteString(expr)
			i = n
		case isIdentRune(r, true) && (i == 0 || !isIdentRune(rs[i-1], false)):
			w := readIdent(rs, i)
			i += len([]rune(w))
			if t, ok := pyWords[w]; ok {
				w = t
			}
			b.WriteString(w)
			if w != "in" {
				continue
			}
			// x in ("a", "b"): a tuple is a list
			j := i
			for j < len(rs) && rs[j] == ' ' {
				j++
			}
			if j < len(rs) && rs[j] == '(' {
				end, err := closing(rs, j)
				if err != nil {
					return "", err
				}
				inner := string(rs[j+1 : end])
				parts, err := splitTop(inner, ',')
				if err != nil {
					return "", err
				}
				t, err := pyExpr(inner)
				if err != nil {
					return "", err
				}
				if len(parts) > 1 {
					t = strings.TrimSpace(t)
					t = "[" + strings.TrimSuffix(t, ",") + "]"
				} else {
					t = "(" + t + ")"
				}
				b.WriteString(" " + t)
				i = end + 1
			}
		default:
			b.WriteRune(r)
			i++
		}
	}
	return b.String(), nil
}

// pyInv translates "@inv.a.b.method(args)…" starting at rs[i]; it
// returns the expression and the index after what it read.
func pyInv(rs []rune, i int) (string, int, error) {
	i += len("@inv")
	var segs []string
	for i < len(rs) && rs[i] == '.' {
		w := readIdent(rs, i+1)
		if w == "" {
			return "", 0, fmt.Errorf("a field name must follow \"@inv.\"")
		}
		if j := i + 1 + len([]rune(w)); j < len(rs) && rs[j] == '(' {
			break // a method
		}
		segs = append(segs, w)
		i += 1 + len([]rune(w))
	}
	if len(segs) == 0 {
		return "", 0, fmt.Errorf("@inv alone is the whole host: name a field, as in @inv.hostname")
	}
	recv := pyPath(segs)
	deep := len(pyFields(segs)) > 1
	for i < len(rs) && rs[i] == '.' {
		m := readIdent(rs, i+1)
		j := i + 1 + len([]rune(m))
		if m == "" || j >= len(rs) || rs[j] != '(' {
			break
		}
		end, err := closing(rs, j)
		if err != nil {
			return "", 0, err
		}
		var args []string
		if inner := strings.TrimSpace(string(rs[j+1 : end])); inner != "" {
			parts, err := splitTop(inner, ',')
			if err != nil {
				return "", 0, err
			}
			for _, p := range parts {
				t, err := pyExpr(strings.TrimSpace(p))
				if err != nil {
					return "", 0, err
				}
				args = append(args, t)
			}
		}
		if recv, err = pyMethod(recv, deep, m, args); err != nil {
			return "", 0, err
		}
		deep = true
		i = end + 1
	}
	return recv, i, nil
}

// pyMethod is recv.m(args) in the expression language.
func pyMethod(recv string, deep bool, m string, args []string) (string, error) {
	want := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			return fmt.Errorf(".%s() takes %d to %d arguments, got %d", m, lo, hi, len(args))
		}
		return nil
	}
	switch m {
	case "startswith", "endswith":
		if err := want(1, 1); err != nil {
			return "", err
		}
		op := map[string]string{"startswith": "startsWith", "endswith": "endsWith"}[m]
		if a := args[0]; strings.HasPrefix(a, "(") && strings.HasSuffix(a, ")") {
			// a tuple of prefixes: any of them
			if parts, err := splitTop(a[1:len(a)-1], ','); err == nil && len(parts) > 1 {
				var ors []string
				for _, p := range parts {
					if p = strings.TrimSpace(p); p != "" {
						ors = append(ors, recv+" "+op+" "+p)
					}
				}
				return "(" + strings.Join(ors, " or ") + ")", nil
			}
		}
		return "(" + recv + " " + op + " " + args[0] + ")", nil
	case "get":
		if err := want(1, 2); err != nil {
			return "", err
		}
		idx := recv + "[" + args[0] + "]"
		if deep {
			idx = recv + "?.[" + args[0] + "]"
		}
		if len(args) == 2 {
			return "(" + idx + " ?? " + args[1] + ")", nil
		}
		return idx, nil
	case "lower", "upper", "keys", "values":
		if err := want(0, 0); err != nil {
			return "", err
		}
		return m + "(" + recv + ")", nil
	case "strip":
		if err := want(0, 1); err != nil {
			return "", err
		}
		return "trim(" + strings.Join(append([]string{recv}, args...), ", ") + ")", nil
	case "split":
		if err := want(1, 1); err != nil {
			return "", err
		}
		return "split(" + recv + ", " + args[0] + ")", nil
	}
	return "", fmt.Errorf("the method .%s() is not supported in filters; supported: startswith, endswith, get, lower, upper, strip, split, keys, values", m)
}
