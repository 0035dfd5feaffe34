package redact

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask is what a secret is replaced with.
const Mask = "(sensitive)"

// MinLen is the shortest value searched for: shorter ones would hide
// ordinary words and are no secrets worth the name.
const MinLen = 4

// Secrets is a set of values never to show. The zero value is empty and
// ready; a nil *Secrets redacts URLs only. It is safe for concurrent use.
type Secrets struct {
	mu     sync.RWMutex
	values []string // longest first, so that a secret's part never goes first
	seen   map[string]bool
}

// New returns an empty set.
func New() *Secrets { return &Secrets{} }

// Add records values, and the password of any URL among them. Values
// shorter than MinLen are ignored.
func (s *Secrets) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		for _, x := range forms(v) {
			if len(x) < MinLen || s.seen[x] {
				continue
			}
			if s.seen == nil {
				s.seen = map[string]bool{}
			}
			s.seen[x] = true
			s.values = append(s.values, x)
		}
	}
	sort.SliceStable(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

// forms are the ways v may appear: as is, decoded from a URL's
// percent-encoding, and each of those JSON-escaped (an --output-file or a
// report).
func forms(v string) []string {
	out := []string{v}
	if d, err := url.PathUnescape(v); err == nil && d != v && strings.Contains(v, "%") {
		out = append(out, d)
	}
	for _, x := range out {
		if b, err := json.Marshal(x); err == nil {
			if q := string(b[1 : len(b)-1]); q != x {
				out = append(out, q)
			}
		}
	}
	return out
}

// userinfoRe finds scheme://userinfo@ (userinfo without '/', '@' or space).
var userinfoRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s"'<>]+)@`)

// URLs replaces the userinfo of every URL in text that has a password
// (user:password@) with "redacted"; a user name alone is kept (ssh://root@host).
func URLs(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return userinfoRe.ReplaceAllStringFunc(text, func(m string) string {
		sub := userinfoRe.FindStringSubmatch(m)
		if !strings.Contains(sub[2], ":") {
			return m
		}
		return sub[1] + "redacted@"
	})
}

// String returns text with URL passwords and every secret of s masked.
func (s *Secrets) String(text string) string {
	text = URLs(text)
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Mask)
		}
	}
	return text
}

// Bytes is String for a file's contents.
func (s *Secrets) Bytes(b []byte) []byte { return []byte(s.String(string(b))) }

// Empty reports whether s holds no secret (URLs are still redacted).
func (s *Secrets) Empty() bool {
	if s == nil {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values) == 0
}

// AddURLs records the password of every URL in texts (user:password@),
// as written and decoded; the rest of texts is not secret.
func (s *Secrets) AddURLs(texts ...string) {
	for _, t := range texts {
		for _, m := range userinfoRe.FindAllStringSubmatch(t, -1) {
			if _, pass, ok := strings.Cut(m[2], ":"); ok {
				s.Add(pass)
			}
		}
	}
}
