package bolt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/labbroker/broker/state"
)

func fullHost() state.Host {
	return state.Host{
		ID: "01", Environment: "env", Address: "host.web[0]", Provider: "docker", Instance: "local",
		ProviderID: "abc", Name: "web", Hostname: "web.example.com", IP: "10.0.0.1", ConnectHost: "127.0.0.1", Port: 2222,
		User: "root", Transport: state.TransportSSH,
		Recipe: map[string]any{"image": "x", "ports": []any{"22", float64(80)}, "nested": map[string]any{"a": nil, "b": true, "c": false},
			"neg": -1.5e-3, "empty": []any{}, "emptymap": map[string]any{}},
		Nick:   "rhel9",
		Facts:  map[string]any{"os": "rhel", "ünï": "cödé ✓"},
		Labels: map[string]string{"role": "web", "empty": ""},
		Lease:  state.Lease{Expires: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Duration: time.Hour, Extended: 2},
		Status: state.StatusTainted, Reason: "by qe", HostKey: "ssh-ed25519 AAAA",
		Connection: &state.Connection{User: "qe", Port: 2200, PrivateKeyFile: "/k", KnownHostsFile: "/kh", Agent: new(bool),
			Bastion: "u@j:22", Timeout: time.Minute, PasswordFrom: "var.pw", Manifest: "lab.hcl"},
		Origin:  state.Origin{User: "qe", Machine: "m", CI: "https://ci/1", Command: "apply"},
		Created: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), Updated: time.Date(2029, 1, 1, 0, 0, 0, 1, time.FixedZone("x", 3600)),
	}
}

// TestFastDecoderMatches checks that decodeHost gives what encoding/json
// gives, and that the records this package writes take the fast path.
func TestFastDecoderMatches(t *testing.T) {
	escaped := fullHost()
	escaped.Name = "quote \" and \\ and \n"
	tests := []struct {
		name     string
		raw      []byte
		wantFast bool
	}{
		{"full", encode(t, fullHost()), true},
		{"html characters as written", func() []byte { h := fullHost(); h.Labels = map[string]string{"<a>": "b&c"}; return encode(t, h) }(), true},
		{"zero", encode(t, state.Host{}), true},
		{"escapes", encode(t, escaped), false},
		{"html escapes of encoding/json", func() []byte { b, _ := json.Marshal(hostValue{V: 1, Host: state.Host{Name: "<a>"}}); return b }(), false},
		{"unknown key", []byte(`{"v":1,"id":"x","future":1}`), false},
		{"null maps", []byte(`{"v":1,"id":"x","recipe":null,"labels":null}`), true},
		{"spaces", []byte(" {\n\"v\" : 1 , \"id\" : \"x\" , \"port\" : 22 }\n"), true},
		{"other version", []byte(`{"v":2,"id":"x"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want hostValue
			if err := json.Unmarshal(tt.raw, &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeHost(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Host, got); diff != "" {
				t.Errorf("decodeHost differs from encoding/json (-json +fast):\n%s", diff)
			}
			d := fastDecoder{b: tt.raw, s: string(tt.raw)}
			_, ok := d.host()
			if fast := ok && d.end(); fast != tt.wantFast {
				t.Errorf("fast path taken = %v, want %v", fast, tt.wantFast)
			}
		})
	}
	for _, bad := range []string{``, `{`, `{"id":}`, `{"v":1,"id":"x"} trailing`, `[1]`, `{"port":"x"}`} {
		if _, err := decodeHost([]byte(bad)); err == nil {
			t.Errorf("decodeHost(%q) succeeded", bad)
		}
	}
}

func encode(t *testing.T, h state.Host) []byte {
	t.Helper()
	raw, err := encodeValue(hostValue{V: schemaVersion, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestFastDecoderKnowsEveryField fails when a field is added to
// state.Host, Lease or Origin without teaching decodeHost its key (the
// record would still decode, through encoding/json, but slowly).
func TestFastDecoderKnowsEveryField(t *testing.T) {
	sample := map[reflect.Type]string{
		reflect.TypeFor[time.Time]():    `"2030-01-01T00:00:00Z"`,
		reflect.TypeFor[state.Status](): `"ready"`,
		reflect.TypeFor[*bool]():        `true`,
	}
	var check func(typ reflect.Type, wrap func(string) string)
	check = func(typ reflect.Type, wrap func(string) string) {
		for f := range typ.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			val, ok := sample[f.Type]
			switch {
			case ok:
			case f.Type.Kind() == reflect.Struct:
				check(f.Type, func(s string) string { return wrap(`{"` + key + `":` + s + `}`) })
				continue
			case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
				check(f.Type.Elem(), func(s string) string { return wrap(`{"` + key + `":` + s + `}`) })
				continue
			case f.Type.Kind() == reflect.String:
				val = `"x"`
			case f.Type.Kind() == reflect.Map:
				val = `{}`
			default:
				val = `1`
			}
			raw := `{"v":1,` + strings.TrimPrefix(wrap(`{"`+key+`":`+val+`}`), "{")
			d := fastDecoder{b: []byte(raw), s: raw}
			if _, ok := d.host(); !ok {
				t.Errorf("%s.%s (%s): not on the fast path", typ.Name(), f.Name, raw)
			}
		}
	}
	check(reflect.TypeFor[state.Host](), func(s string) string { return s })
}

func FuzzFastDecoder(f *testing.F) {
	raw, _ := json.Marshal(hostValue{V: schemaVersion, Host: fullHost()})
	f.Add(raw)
	f.Add([]byte(`{"v":1,"recipe":{"a":[1,{"b":null}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := fastDecoder{b: raw, s: string(raw)}
		got, ok := d.host()
		if !ok || !d.end() {
			return
		}
		var want hostValue
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", raw, err)
		}
		if diff := cmp.Diff(want.Host, got); diff != "" {
			t.Errorf("%q: (-json +fast):\n%s", raw, diff)
		}
	})
}
