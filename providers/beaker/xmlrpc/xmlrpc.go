// Package xmlrpc is a small XML-RPC codec (http://xmlrpc.com/spec.md), as
// much of it as Beaker's hub speaks: method calls and responses, faults,
// and the value types string, int/i4/i8, boolean, double, dateTime.iso8601,
// base64, array, struct and the common nil extension.
//
// Values map to Go as: string, int, bool, float64, time.Time, []byte,
// []any, map[string]any and nil. Encoding also accepts int64, []string and
// map[string]string.
package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fault is an XML-RPC fault response.
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.String) }

const timeLayout = "20060102T15:04:05"

// EncodeCall writes a methodCall document.
func EncodeCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>`)
	if err := xml.EscapeText(&b, []byte(method)); err != nil {
		return nil, err
	}
	b.WriteString(`</methodName><params>`)
	for i, p := range params {
		b.WriteString(`<param>`)
		if err := encodeValue(&b, p); err != nil {
			return nil, fmt.Errorf("param %d: %w", i, err)
		}
		b.WriteString(`</param>`)
	}
	b.WriteString(`</params></methodCall>`)
	return b.Bytes(), nil
}

// EncodeResponse writes a methodResponse carrying one value.
func EncodeResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><methodResponse><params><param>`)
	if err := encodeValue(&b, v); err != nil {
		return nil, err
	}
	b.WriteString(`</param></params></methodResponse>`)
	return b.Bytes(), nil
}

// EncodeFault writes a methodResponse carrying a fault.
func EncodeFault(f *Fault) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><methodResponse><fault>`)
	_ = encodeValue(&b, map[string]any{"faultCode": f.Code, "faultString": f.String})
	b.WriteString(`</fault></methodResponse>`)
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v any) error {
	b.WriteString(`<value>`)
	switch x := v.(type) {
	case nil:
		b.WriteString(`<nil/>`)
	case string:
		b.WriteString(`<string>`)
		if err := xml.EscapeText(b, []byte(x)); err != nil {
			return err
		}
		b.WriteString(`</string>`)
	case int:
		fmt.Fprintf(b, `<int>%d</int>`, x)
	case int64:
		fmt.Fprintf(b, `<i8>%d</i8>`, x)
	case bool:
		if x {
			b.WriteString(`<boolean>1</boolean>`)
		} else {
			b.WriteString(`<boolean>0</boolean>`)
		}
	case float64:
		fmt.Fprintf(b, `<double>%s</double>`, strconv.FormatFloat(x, 'f', -1, 64))
	case time.Time:
		fmt.Fprintf(b, `<dateTime.iso8601>%s</dateTime.iso8601>`, x.UTC().Format(timeLayout))
	case []byte:
		fmt.Fprintf(b, `<base64>%s</base64>`, base64.StdEncoding.EncodeToString(x))
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return encodeArray(b, l)
	case []any:
		return encodeArray(b, x)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return encodeStruct(b, m)
	case map[string]any:
		return encodeStruct(b, x)
	default:
		return fmt.Errorf("xmlrpc: cannot encode %T", v)
	}
	b.WriteString(`</value>`)
	return nil
}

func encodeArray(b *bytes.Buffer, l []any) error {
	b.WriteString(`<array><data>`)
	for i, e := range l {
		if err := encodeValue(b, e); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	b.WriteString(`</data></array></value>`)
	return nil
}

func encodeStruct(b *bytes.Buffer, m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString(`<struct>`)
	for _, k := range keys {
		b.WriteString(`<member><name>`)
		if err := xml.EscapeText(b, []byte(k)); err != nil {
			return err
		}
		b.WriteString(`</name>`)
		if err := encodeValue(b, m[k]); err != nil {
			return fmt.Errorf("member %q: %w", k, err)
		}
		b.WriteString(`</member>`)
	}
	b.WriteString(`</struct></value>`)
	return nil
}

// node is a generic XML element tree.
type node struct {
	XMLName  xml.Name
	Content  string `xml:",chardata"`
	Children []node `xml:",any"`
}

func parse(r io.Reader) (*node, error) {
	var n node
	d := xml.NewDecoder(r)
	if err := d.Decode(&n); err != nil {
		return nil, fmt.Errorf("xmlrpc: malformed document: %w", err)
	}
	return &n, nil
}

func (n *node) child(name string) *node {
	for i := range n.Children {
		if n.Children[i].XMLName.Local == name {
			return &n.Children[i]
		}
	}
	return nil
}

// DecodeCall reads a methodCall document.
func DecodeCall(r io.Reader) (method string, params []any, err error) {
	n, err := parse(r)
	if err != nil {
		return "", nil, err
	}
	if n.XMLName.Local != "methodCall" {
		return "", nil, fmt.Errorf("xmlrpc: want methodCall, got <%s>", n.XMLName.Local)
	}
	mn := n.child("methodName")
	if mn == nil {
		return "", nil, errors.New("xmlrpc: methodCall without methodName")
	}
	if ps := n.child("params"); ps != nil {
		for i := range ps.Children {
			v := ps.Children[i].child("value")
			if v == nil {
				return "", nil, fmt.Errorf("xmlrpc: param %d without value", i)
			}
			val, err := decodeValue(v)
			if err != nil {
				return "", nil, err
			}
			params = append(params, val)
		}
	}
	return strings.TrimSpace(mn.Content), params, nil
}

// DecodeResponse reads a methodResponse document: its value, or a *Fault
// as the error.
func DecodeResponse(r io.Reader) (any, error) {
	n, err := parse(r)
	if err != nil {
		return nil, err
	}
	if n.XMLName.Local != "methodResponse" {
		return nil, fmt.Errorf("xmlrpc: want methodResponse, got <%s>", n.XMLName.Local)
	}
	if f := n.child("fault"); f != nil {
		v := f.child("value")
		if v == nil {
			return nil, errors.New("xmlrpc: fault without value")
		}
		fv, err := decodeValue(v)
		if err != nil {
			return nil, err
		}
		m, _ := fv.(map[string]any)
		code, _ := m["faultCode"].(int)
		s, _ := m["faultString"].(string)
		return nil, &Fault{Code: code, String: s}
	}
	ps := n.child("params")
	if ps == nil {
		return nil, errors.New("xmlrpc: methodResponse without params or fault")
	}
	p := ps.child("param")
	if p == nil {
		return nil, nil
	}
	v := p.child("value")
	if v == nil {
		return nil, errors.New("xmlrpc: param without value")
	}
	return decodeValue(v)
}

func decodeValue(v *node) (any, error) {
	if len(v.Children) == 0 {
		// A value without a type element is a string.
		return v.Content, nil
	}
	t := &v.Children[0]
	s := strings.TrimSpace(t.Content)
	switch t.XMLName.Local {
	case "string":
		return t.Content, nil
	case "int", "i4", "i8":
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("xmlrpc: bad <%s> %q", t.XMLName.Local, s)
		}
		return n, nil
	case "boolean":
		switch s {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("xmlrpc: bad <boolean> %q", s)
	case "double":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("xmlrpc: bad <double> %q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		for _, layout := range []string{timeLayout, "2006-01-02T15:04:05", time.RFC3339} {
			if tm, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return tm, nil
			}
		}
		return nil, fmt.Errorf("xmlrpc: bad <dateTime.iso8601> %q", s)
	case "base64":
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("xmlrpc: bad <base64>: %w", err)
		}
		return raw, nil
	case "nil":
		return nil, nil
	case "array":
		data := t.child("data")
		out := []any{}
		if data == nil {
			return out, nil
		}
		for i := range data.Children {
			e, err := decodeValue(&data.Children[i])
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case "struct":
		out := map[string]any{}
		for i := range t.Children {
			m := &t.Children[i]
			name, val := m.child("name"), m.child("value")
			if name == nil || val == nil {
				return nil, errors.New("xmlrpc: struct member without name or value")
			}
			e, err := decodeValue(val)
			if err != nil {
				return nil, err
			}
			out[name.Content] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("xmlrpc: unknown value type <%s>", t.XMLName.Local)
}
