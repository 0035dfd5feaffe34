package providertest

import "testing"

// The fake itself passes the suite, so a failure elsewhere is the
// provider's.
func TestFakeConformance(t *testing.T) {
	p := &Provider{}
	Conformance(t, Subject{Provider: p, User: "tester", Remove: func(_ *testing.T, id string) { p.RemoveHost(id) }})
}
