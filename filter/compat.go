package filter

import (
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
		t := translateInv(src)
		if t == src {
			t = ""
		}
		f, err := Compile(firstNonEmpty(t, src))
		return f, t, err
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
	return f, t, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// oldCond is one condition of the old syntax: a dotted field, an optional
// '!', one of < = { }, and the value (everything after, verbatim).
var oldCond = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)(!?)([<={}])(.*)$`)

// oldFields maps the Python inventory's key names to broker's.
var oldFields = map[string]string{
	"_broker_args":              "args",
	"_broker_provider":          "provider",
	"_broker_provider_instance": "instance",
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
	segs := strings.Split(field, ".")
	if n, ok := oldFields[segs[0]]; ok {
		segs[0] = n
	}
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

// invIn matches "'x' in @inv.path" and "'x' not in @inv.path": Python's
// substring test, which expr spells contains.
var invIn = regexp.MustCompile(`('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s+(not\s+)?in\s+@inv\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`)

var invRef = regexp.MustCompile(`@inv\.([A-Za-z_][A-Za-z0-9_]*)`)

// translateInv rewrites the Python tool's @inv expressions: @inv.field
// becomes field (with the old key names renamed) and a substring "in"
// becomes contains. Index stages (@inv[...]) are kept: Compile reads them.
func translateInv(src string) string {
	s := invIn.ReplaceAllStringFunc(src, func(m string) string {
		g := invIn.FindStringSubmatch(m)
		c := renameFirst(g[3]) + " contains " + g[1]
		if g[2] != "" {
			return "not (" + c + ")"
		}
		return c
	})
	return invRef.ReplaceAllStringFunc(s, func(m string) string {
		return renameFirst(m[len("@inv."):])
	})
}

func renameFirst(path string) string {
	first, rest, _ := strings.Cut(path, ".")
	if n, ok := oldFields[first]; ok {
		first = n
	}
	if rest == "" {
		return first
	}
	return first + "." + rest
}
