package redact

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	s := New()
	s.Add("hunter22", "ab", `pa"ss<word>`)
	s.AddURLs("https://admin:p%40ssw0rd@awx.example")
	for _, tc := range []struct{ in, want string }{
		{"login failed: hunter22 refused", "login failed: (sensitive) refused"},
		{"too short to hide: ab", "too short to hide: ab"},
		{`json: "pa\"ss\u003cword\u003e"`, `json: "(sensitive)"`},
		{"get https://admin:p%40ssw0rd@awx.example/api/: refused", "get https://redacted@awx.example/api/: refused"},
		{"decoded: p@ssw0rd", "decoded: (sensitive)"},
		{"ssh://root@builder.lab:2200 is kept", "ssh://root@builder.lab:2200 is kept"},
		{"an unknown https://bob:n0t-kn0wn@x.example/ too", "an unknown https://redacted@x.example/ too"},
	} {
		if got := s.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var none *Secrets
	if got := none.String("https://u:pw@h/ hunter22"); got != "https://redacted@h/ hunter22" {
		t.Errorf("nil set: %q", got)
	}
}

// A secret that contains another is masked whole, not leaving its tail.
func TestLongestFirst(t *testing.T) {
	s := New()
	s.Add("token", "token-and-more")
	if got := s.String("x token-and-more y"); got != "x (sensitive) y" {
		t.Errorf("got %q", got)
	}
}

func TestHandler(t *testing.T) {
	s := New()
	s.Add("hunter22")
	var buf strings.Builder
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil), s)).With("url", "https://u:pw12@h/")
	log.Info("login with hunter22", "err", errors.New("refused hunter22"), slog.Group("g", "k", "x hunter22"), "n", 3)
	out := buf.String()
	if strings.Contains(out, "hunter22") || strings.Contains(out, "pw12") {
		t.Errorf("log holds a secret: %s", out)
	}
	for _, want := range []string{"(sensitive)", "https://redacted@h/", "n=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}
