package xmlrpc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCallRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)
	params := []any{
		"<job>&amp;</job>", 42, true, false, 1.5, when, []byte{0, 1, 2}, nil,
		[]any{"a", 1, []any{}},
		map[string]any{"mine": true, "whiteboard": "broker.intent=x", "limit": 5, "nested": map[string]any{}},
	}
	doc, err := EncodeCall("jobs.filter", params...)
	if err != nil {
		t.Fatal(err)
	}
	method, got, err := DecodeCall(strings.NewReader(string(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if method != "jobs.filter" {
		t.Errorf("method = %q", method)
	}
	if diff := cmp.Diff(params, got); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
}

func TestResponseAndFault(t *testing.T) {
	doc, err := EncodeResponse([]string{"J:1", "J:2"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeResponse(strings.NewReader(string(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"J:1", "J:2"}, v); diff != "" {
		t.Error(diff)
	}
	_, err = DecodeResponse(strings.NewReader(string(EncodeFault(&Fault{Code: 1, String: "Invalid username or password"}))))
	var f *Fault
	if !errors.As(err, &f) || f.Code != 1 || f.String != "Invalid username or password" {
		t.Fatalf("fault = %v", err)
	}
}

// Documents as other implementations write them: untyped values are
// strings, i4 and whitespace are accepted.
func TestDecodeForeignForms(t *testing.T) {
	doc := `<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><struct>
<member>
<name>id</name>
<value><i4> 7 </i4></value>
</member>
<member>
<name>fqdn</name>
<value>lab-01.example.test</value>
</member>
<member>
<name>when</name>
<value><dateTime.iso8601>20261128T22:00:00</dateTime.iso8601></value>
</member>
</struct></value>
</param>
</params>
</methodResponse>`
	v, err := DecodeResponse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 7, "fqdn": "lab-01.example.test", "when": time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Error(diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, doc := range []string{
		`<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>`,
		`<methodResponse><params><param><value><blob/></value></param></params></methodResponse>`,
		`<methodCall>`,
		`<other/>`,
	} {
		if _, err := DecodeResponse(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: no error", doc)
		}
	}
	if _, err := EncodeCall("x", struct{}{}); err == nil {
		t.Error("encoding a struct{}: no error")
	}
}
