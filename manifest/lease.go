package manifest

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DefaultMaxLease caps the leases of a provider instance that sets no
// max_lease: a week. A forgotten host is checked in by `broker reap` within
// a week at most.
const DefaultMaxLease = 7 * 24 * time.Hour

// LeaseLimit is the longest lease the instance allows; limited is false
// for max_lease = "none".
func (p *Provider) LeaseLimit() (limit time.Duration, limited bool) {
	switch {
	case p == nil:
		return DefaultMaxLease, true
	case p.UnlimitedLease:
		return 0, false
	case p.MaxLease > 0:
		return p.MaxLease, true
	}
	return DefaultMaxLease, true
}

// DefaultLease is the lease of a host that asks for none: the instance's
// limit, so that every record expires unless its provider allows
// otherwise (0 for max_lease = "none"). A manifest's host blocks and
// imperative checkouts both get it.
func (p *Provider) DefaultLease() time.Duration {
	if limit, limited := p.LeaseLimit(); limited {
		return limit
	}
	return 0
}

// CheckLease says why the instance refuses a lease of d (0: none asked
// for), or "" when it allows it.
func (p *Provider) CheckLease(d time.Duration) string {
	limit, limited := p.LeaseLimit()
	if limited && d > limit {
		return fmt.Sprintf("a lease of %s is longer than the %s of provider %s: ask for at most %s, or raise the provider's max_lease",
			FormatDuration(d), p.maxLeaseText(), p.refOr("instance"), FormatDuration(limit))
	}
	return ""
}

func (p *Provider) refOr(s string) string {
	if p == nil {
		return s
	}
	return p.Ref()
}

// maxLeaseText is how a limit reads in messages.
func (p *Provider) maxLeaseText() string {
	limit, _ := p.LeaseLimit()
	s := fmt.Sprintf("max_lease = %q", FormatDuration(limit))
	if p == nil || p.MaxLease == 0 {
		s += " (the default)"
	}
	return s
}

// FormatDuration writes d the way manifests do: 7d, 1d12h, 6h, 1h30m, 90s.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.size
		}
	}
	if d > 0 || b.Len() == 0 {
		return (b.String() + d.String())
	}
	return b.String()
}

// maxLease decodes the provider block's max_lease: a duration or "none".
func (a *attrs) maxLease(p *Provider) {
	var s string
	if !a.str("max_lease", &s, false) {
		return
	}
	if s == "none" {
		p.UnlimitedLease = true
		return
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 {
		a.fail(a.content.Attributes["max_lease"], fmt.Sprintf("A positive duration such as \"6h\" or \"7d\", or \"none\", is required, not %q.", s))
		return
	}
	p.MaxLease = d
}

// passMaxLease hands broker's max_lease to a provider type whose own
// settings have a max_lease attribute (sim caps leases itself), where the
// block did not set one for the type: the block's attribute is broker's,
// and the provider sees the same cap.
func passMaxLease(v cty.Value, p *Provider) cty.Value {
	if p.MaxLease <= 0 || v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute("max_lease") {
		return v
	}
	cur := v.GetAttr("max_lease")
	if !cur.IsNull() || !cur.Type().Equals(cty.String) {
		return v
	}
	m := v.AsValueMap()
	m["max_lease"] = cty.StringVal(p.MaxLease.String())
	return cty.ObjectVal(m)
}

// provider finds the instance "type.instance" among the manifest's and the
// known (settings) declarations.
func (l *loader) provider(ref string) *Provider {
	if p := l.ownProvider(ref); p != nil {
		return p
	}
	for _, p := range l.opts.KnownProviders {
		if p.Ref() == ref {
			return p
		}
	}
	return nil
}

// checkLeases holds every host's lease to its provider instance's
// max_lease, gives hosts without a lease the instance's limit (so that
// every record expires unless its provider allows otherwise), and checks
// renew_before against the lease.
func (l *loader) checkLeases() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, h := range l.cfg.Hosts {
		if h.Provider == "" {
			continue
		}
		p := l.provider(h.Provider)
		limit, limited := p.LeaseLimit()
		subject := h.LeaseRange
		if subject == (hcl.Range{}) {
			subject = h.DeclRange
		}
		switch {
		case h.LeaseNone && limited:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Lease not allowed",
				Detail: fmt.Sprintf("The host %q asks for no lease, but provider %s has %s. Give a lease of at most %s, or set max_lease = \"none\" on the provider to allow hosts without one.",
					h.Name, h.Provider, p.maxLeaseText(), FormatDuration(limit)),
				Subject: subject.Ptr(),
			})
			continue
		case limited && h.Lease > limit:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Lease too long",
				Detail: fmt.Sprintf("The host %q asks for a lease of %s, but provider %s has %s. Ask for at most %s, or raise the provider's max_lease.",
					h.Name, FormatDuration(h.Lease), h.Provider, p.maxLeaseText(), FormatDuration(limit)),
				Subject: subject.Ptr(),
			})
			continue
		case h.Lease == 0 && !h.LeaseNone && limited:
			h.Lease = p.DefaultLease()
		}
		if h.RenewBefore > 0 && h.Lease > 0 && h.RenewBefore >= h.Lease {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid renew_before",
				Detail: fmt.Sprintf("renew_before (%s) must be shorter than the lease (%s): plan would propose an extension on every run.",
					FormatDuration(h.RenewBefore), FormatDuration(h.Lease)),
				Subject: h.RenewBeforeRange.Ptr(),
			})
		}
	}
	return diags
}
