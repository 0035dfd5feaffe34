package bolt

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labbroker/broker/state"
)

// decodeHost decodes a stored host record. It is a hand-written decoder
// for the one shape this package writes, because reflection-driven
// encoding/json made decoding most of the time of a `broker plan` over a
// large state. Anything it does not expect (a key it does not know, an
// escape it does not handle, a malformed value) sends the record to
// encoding/json instead, so it is never less correct, only faster on the
// common path. TestFastDecoderMatches keeps the two in step.
func decodeHost(raw []byte) (state.Host, error) {
	d := fastDecoder{b: raw, s: string(raw)}
	h, ok := d.host()
	if ok && d.end() {
		return h, nil
	}
	var v hostValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return state.Host{}, err
	}
	return v.Host, nil
}

var errFallback = errors.New("fall back to encoding/json")

type fastDecoder struct {
	b []byte
	// s is b as one string: the record's strings are slices of it, one
	// allocation per record instead of one per string.
	s   string
	i   int
	err error
}

func (d *fastDecoder) fail() { d.err = errFallback }

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) end() bool {
	d.ws()
	return d.err == nil && d.i == len(d.b)
}

// consume skips white space and then c, or fails.
func (d *fastDecoder) consume(c byte) bool {
	d.ws()
	if d.err == nil && d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	d.fail()
	return false
}

// peek returns the next non-space byte, 0 at the end.
func (d *fastDecoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object calls field for each key; field must consume the value.
func (d *fastDecoder) object(field func(key []byte)) {
	if !d.consume('{') {
		return
	}
	if d.peek() == '}' {
		d.i++
		return
	}
	for d.err == nil {
		key := d.rawString()
		if !d.consume(':') {
			return
		}
		field(key)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// rawString returns the bytes of a string without escapes; an escape or
// a control character fails (encoding/json handles those).
func (d *fastDecoder) rawString() []byte {
	if !d.consume('"') {
		return nil
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s
		case c == '\\' || c < 0x20:
			d.fail()
			return nil
		case c >= utf8.RuneSelf:
			// encoding/json replaces invalid UTF-8; only valid runes
			// stay on the fast path.
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				d.fail()
				return nil
			}
			d.i += size
		default:
			d.i++
		}
	}
	d.fail()
	return nil
}

func (d *fastDecoder) str() string {
	r := d.rawString()
	if d.err != nil {
		return ""
	}
	return d.sub(r)
}

// sub returns the string of a slice of b: r's offset into b, measured by
// capacity (both end where b ends), is its offset into s.
func (d *fastDecoder) sub(r []byte) string {
	if len(r) == 0 {
		return ""
	}
	start := cap(d.b) - cap(r)
	return d.s[start : start+len(r)]
}

func (d *fastDecoder) number() []byte {
	d.ws()
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	if !jsonNumber(d.b[start:d.i]) {
		d.fail()
	}
	return d.b[start:d.i]
}

// jsonNumber reports whether b is a number as JSON writes it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. strconv accepts more
// ("01", "+1", "1.", ".5"), which encoding/json refuses.
func jsonNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

func (d *fastDecoder) int64() int64 {
	n, err := strconv.ParseInt(string(d.number()), 10, 64)
	if err != nil {
		d.fail()
	}
	return n
}

func (d *fastDecoder) literal(word string) bool {
	d.ws()
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

func (d *fastDecoder) time() time.Time {
	s := d.rawString()
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		d.fail()
	}
	return t
}

// value decodes any JSON value the way encoding/json does into an any.
func (d *fastDecoder) value() any {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == '{':
		m := map[string]any{}
		d.object(func(k []byte) { m[d.sub(k)] = d.value() })
		return m
	case c == '[':
		d.i++
		out := []any{}
		if d.peek() == ']' {
			d.i++
			return out
		}
		for d.err == nil {
			out = append(out, d.value())
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return out
			default:
				d.fail()
			}
		}
		return nil
	case c == 't' && d.literal("true"):
		return true
	case c == 'f' && d.literal("false"):
		return false
	case c == 'n' && d.literal("null"):
		return nil
	case c == '-' || c >= '0' && c <= '9':
		f, err := strconv.ParseFloat(string(d.number()), 64)
		if err != nil {
			d.fail()
		}
		return f
	}
	d.fail()
	return nil
}

// anyMap decodes an object into map[string]any; null gives nil.
func (d *fastDecoder) anyMap() map[string]any {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	if d.peek() != '{' {
		d.fail()
		return nil
	}
	m, _ := d.value().(map[string]any)
	return m
}

func (d *fastDecoder) strMap() map[string]string {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	m := map[string]string{}
	d.object(func(k []byte) { m[d.sub(k)] = d.str() })
	return m
}

// strList decodes an array of strings; null gives nil.
func (d *fastDecoder) strList() []string {
	v, ok := d.value().([]any)
	if !ok {
		if v != nil {
			d.fail()
		}
		return nil
	}
	out := make([]string, 0, len(v))
	for _, e := range v {
		s, ok := e.(string)
		if !ok {
			d.fail()
			return nil
		}
		out = append(out, s)
	}
	return out
}

// connection decodes a host's recorded connection block; null gives nil.
func (d *fastDecoder) connection() *state.Connection {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	c := &state.Connection{}
	d.object(func(k []byte) {
		switch string(k) {
		case "user":
			c.User = d.str()
		case "port":
			c.Port = int(d.int64())
		case "private_key_file":
			c.PrivateKeyFile = d.str()
		case "known_hosts_file":
			c.KnownHostsFile = d.str()
		case "agent":
			var b bool
			switch {
			case d.literal("true"):
				b = true
			case d.literal("false"):
			default:
				d.fail()
			}
			c.Agent = &b
		case "bastion":
			c.Bastion = d.str()
		case "timeout":
			c.Timeout = time.Duration(d.int64())
		case "password_from":
			c.PasswordFrom = d.str()
		case "manifest":
			c.Manifest = d.str()
		default:
			d.fail()
		}
	})
	return c
}

func (d *fastDecoder) host() (state.Host, bool) {
	var h state.Host
	d.object(func(key []byte) {
		switch string(key) {
		case "v":
			if d.int64() != int64(schemaVersion) {
				d.fail()
			}
		case "id":
			h.ID = d.str()
		case "environment":
			h.Environment = d.str()
		case "address":
			h.Address = d.str()
		case "provider":
			h.Provider = d.str()
		case "instance":
			h.Instance = d.str()
		case "provider_id":
			h.ProviderID = d.str()
		case "name":
			h.Name = d.str()
		case "hostname":
			h.Hostname = d.str()
		case "ip":
			h.IP = d.str()
		case "connect_host":
			h.ConnectHost = d.str()
		case "connection":
			h.Connection = d.connection()
		case "port":
			h.Port = int(d.int64())
		case "user":
			h.User = d.str()
		case "transport":
			h.Transport = d.str()
		case "recipe":
			h.Recipe = d.anyMap()
		case "nick":
			h.Nick = d.str()
		case "facts":
			h.Facts = d.anyMap()
		case "labels":
			h.Labels = d.strMap()
		case "lease":
			d.object(func(k []byte) {
				switch string(k) {
				case "expires":
					h.Lease.Expires = d.time()
				case "duration":
					h.Lease.Duration = time.Duration(d.int64())
				case "extended":
					h.Lease.Extended = int(d.int64())
				default:
					d.fail()
				}
			})
		case "status":
			st, err := state.ParseStatus(d.str())
			if err != nil {
				d.fail()
			}
			h.Status = st
		case "reason":
			h.Reason = d.str()
		case "origin":
			d.object(func(k []byte) {
				switch string(k) {
				case "user":
					h.Origin.User = d.str()
				case "machine":
					h.Origin.Machine = d.str()
				case "ci":
					h.Origin.CI = d.str()
				case "command":
					h.Origin.Command = d.str()
				default:
					d.fail()
				}
			})
		case "host_key":
			h.HostKey = d.str()
		case "depends_on":
			h.DependsOn = d.strList()
		case "created":
			h.Created = d.time()
		case "updated":
			h.Updated = d.time()
		default:
			d.fail()
		}
	})
	return h, d.err == nil
}
