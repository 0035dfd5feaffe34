package planner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/suggest"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// Input is everything a plan is made from.
type Input struct {
	Environment string
	// Config is the decoded manifest; nil plans for no hosts.
	Config *manifest.Config
	// Records are the environment's host records.
	Records []state.Host
	// Intents are the environment's leftover intents.
	Intents []state.Intent
	// Serial is the environment's state serial the records were read at.
	Serial uint64
	// Targets and Excludes select changes (see Make).
	Targets, Excludes []*filter.Filter
	// Replace lists addresses to replace whatever their state.
	Replace []string
	// Refresh, if set, asks providers whether recorded hosts still exist;
	// the result is keyed by record ID. Records it leaves out, and
	// PresenceUnknown, are taken as they are recorded.
	Refresh func(ctx context.Context, records []state.Host) (map[string]providers.Presence, error)
	// Now is the time leases are judged against.
	Now time.Time
	// Destroy plans to check in everything the environment holds.
	Destroy bool
	// Values are the environment's recorded values (action results).
	Values []state.Value
}

// Make compares in.Config with in.Records and in.Intents and returns the
// plan. It changes nothing; the only outside call is in.Refresh.
func Make(ctx context.Context, in Input) (*Plan, error) {
	in.Replace = expandBlocks(in)
	p := &Plan{
		FormatVersion: FormatVersion,
		Environment:   in.Environment,
		StateSerial:   in.Serial,
		Created:       in.Now,
		Destroy:       in.Destroy,
	}
	mk := maker{in: in, hostBlocks: map[string]*manifest.Host{}}
	if in.Config != nil {
		for _, h := range in.Config.Hosts {
			mk.hostBlocks[h.Name] = h
		}
	}
	// Records without an address are imperative checkouts: never ours.
	// Records are large: the planner works on pointers into in.Records
	// (which it never changes), so a plan of 10,000 hosts copies none.
	mk.records = make([]*state.Host, 0, len(in.Records))
	for i := range in.Records {
		if in.Records[i].Address != "" {
			mk.records = append(mk.records, &in.Records[i])
		}
	}
	if err := checkReplace(in); err != nil {
		return nil, err
	}
	if in.Refresh != nil && !in.Destroy && len(mk.records) > 0 {
		refs := make([]state.Host, len(mk.records))
		for i, r := range mk.records {
			refs[i] = *r
		}
		pres, err := in.Refresh(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("refresh: %w", err)
		}
		mk.presence = pres
	}
	var changes []Change
	if in.Destroy {
		changes = mk.destroyAll()
		acts, err := mk.destroyActions(changes)
		if err != nil {
			return nil, err
		}
		changes = append(changes, acts...)
	} else {
		var err error
		if changes, err = mk.converge(); err != nil {
			return nil, err
		}
	}
	changes, err := selectChanges(changes, in.Targets, in.Excludes, in.Now)
	if err != nil {
		return nil, err
	}
	addDependencies(changes, mk.hostBlocks)
	OrderDestroys(changes, mk.hostBlocks)
	sortChanges(changes)
	p.Changes = changes
	return p, nil
}

// expandBlocks turns a Replace entry written host.NAME, as Terraform users
// name a whole block, into the addresses of the block's instances.
func expandBlocks(in Input) []string {
	if in.Config == nil {
		return in.Replace
	}
	var out []string
	for _, a := range in.Replace {
		name, ok := strings.CutPrefix(a, "host.")
		if !ok || !hclsyntax.ValidIdentifier(name) || in.Config.HostBlock(name) == nil {
			out = append(out, a)
			continue
		}
		for _, d := range DesiredHosts(in.Config) {
			if d.Host == name {
				out = append(out, d.Address)
			}
		}
	}
	return out
}

// checkReplace refuses a Replace address that names no desired host: a
// typo would otherwise replace nothing, silently.
func checkReplace(in Input) error {
	if len(in.Replace) == 0 {
		return nil
	}
	var addrs []string
	if in.Config != nil {
		for _, d := range DesiredHosts(in.Config) {
			addrs = append(addrs, d.Address)
		}
		for _, a := range in.Config.Actions {
			addrs = append(addrs, ActionAddress(a.Name))
		}
	}
	for _, a := range in.Replace {
		if slices.Contains(addrs, a) {
			continue
		}
		msg := fmt.Sprintf("replace %s: the manifest has no host at this address", a)
		if c := suggest.Closest(a, addrs); c != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", c)
		}
		return errors.New(msg)
	}
	return nil
}

type maker struct {
	in         Input
	hostBlocks map[string]*manifest.Host
	records    []*state.Host // those with an address, pointing into in.Records
	presence   map[string]providers.Presence
}

// intents splits the leftover intents with an address by operation,
// newest first.
func (m *maker) intents() (creates, destroys []state.Intent) {
	for _, it := range m.in.Intents {
		if it.Address == "" {
			continue
		}
		switch it.Op {
		case state.OpCreate:
			creates = append(creates, it)
		case state.OpDestroy:
			destroys = append(destroys, it)
		}
	}
	newestFirst := func(a, b state.Intent) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	}
	slices.SortStableFunc(creates, newestFirst)
	slices.SortStableFunc(destroys, newestFirst)
	return creates, destroys
}

func (m *maker) destroyAll() []Change {
	var out []Change
	creates, destroys := m.intents()
	finishing := map[string]state.Intent{}
	for _, it := range destroys {
		if _, ok := finishing[it.HostID]; !ok {
			finishing[it.HostID] = it
		}
	}
	have := map[string]bool{}
	for _, r := range m.records {
		have[r.ID] = true
		c := Change{Action: Destroy, Address: r.Address, Before: r, Reason: Because(ReasonDestroyEnvironment, "")}
		if it, ok := finishing[r.ID]; ok {
			c.Resume = ptr(it)
			c.Reason = Because(ReasonFinishCheckin, "")
		}
		out = append(out, c)
	}
	for _, it := range creates {
		if !foldIntoRecord(out, it) {
			out = append(out, cleanup(it, ReasonCleanup))
		}
	}
	for _, it := range destroys {
		if !have[it.HostID] {
			out = append(out, cleanup(it, ReasonFinishCheckin))
		}
	}
	return out
}

// foldIntoRecord gives a leftover create intent to the change of the
// record it made (an apply killed after the record was written, before the
// host was ready), rather than planning a second change on the same
// resource: two changes would check it in twice, concurrently. It reports
// whether the intent found its record.
func foldIntoRecord(changes []Change, it state.Intent) bool {
	for i := range changes {
		c := &changes[i]
		if c.Before == nil || c.Before.ID != it.HostID {
			continue
		}
		if c.Resume == nil && (c.Action == Destroy || c.Action == Replace) {
			c.Resume = ptr(it)
		}
		return true
	}
	return false
}

func cleanup(it state.Intent, k ReasonKind) Change {
	return Change{Action: Destroy, Address: it.Address, Resume: ptr(it), Reason: Because(k, "")}
}

func (m *maker) converge() ([]Change, error) {
	desired := DesiredHosts(m.in.Config)
	wanted := map[string]*Desired{}
	for i := range desired {
		wanted[desired[i].Address] = &desired[i]
	}
	creates, destroys := m.intents()
	finishing := map[string]state.Intent{}
	for _, it := range destroys {
		if _, ok := finishing[it.HostID]; !ok {
			finishing[it.HostID] = it
		}
	}

	// One record per address: the newest; any other is checked in.
	byAddr := make(map[string]*state.Host, len(m.records))
	var out []Change
	recs := slices.Clone(m.records)
	slices.SortStableFunc(recs, func(a, b *state.Host) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, r := range recs {
		if _, dup := byAddr[r.Address]; dup {
			out = append(out, m.withFinish(Change{Action: Destroy, Address: r.Address, Before: r,
				Reason: Because(ReasonSuperseded, r.Address)}, finishing))
			continue
		}
		byAddr[r.Address] = r
	}

	replace := map[string]bool{}
	for _, a := range m.in.Replace {
		replace[a] = true
	}

	// Desired hosts, those referred to before those referring to them
	// (args and labels that refer to hosts are resolved with the
	// referred hosts' changes known).
	resumed := map[string]bool{}     // intent ids picked up by a create
	kept := map[string]*state.Host{} // addresses whose record stays
	for _, i := range m.dependencyOrder(desired) {
		d := &desired[i]
		if err := m.resolve(d, kept); err != nil {
			return nil, err
		}
		r, ok := byAddr[d.Address]
		if !ok {
			c := Change{Action: Create, Address: d.Address, After: d, Reason: Because(ReasonMissing, "")}
			for _, it := range creates {
				if it.Address == d.Address {
					c.Resume = ptr(it)
					c.Reason = Because(ReasonResume, "")
					resumed[it.ID] = true
					break
				}
			}
			out = append(out, c)
			continue
		}
		c := m.withFinish(m.compare(r, d, replace[d.Address]), finishing)
		if c.Action == NoOp || c.Action == Extend {
			kept[d.Address] = r
		}
		out = append(out, c)
	}

	acts, err := m.planActions(out, kept)
	if err != nil {
		return nil, err
	}
	out = append(out, acts...)

	// Records no longer wanted.
	for _, r := range byAddr {
		if _, ok := wanted[r.Address]; ok {
			continue
		}
		out = append(out, m.withFinish(Change{Action: Destroy, Address: r.Address, Before: r,
			Reason: m.goneReason(r.Address)}, finishing))
	}

	// Leftover intents.
	for _, it := range creates {
		if !resumed[it.ID] && !foldIntoRecord(out, it) {
			out = append(out, cleanup(it, ReasonCleanup))
		}
	}
	for _, it := range destroys {
		if _, ok := findRecord(m.records, it.HostID); !ok {
			out = append(out, cleanup(it, ReasonFinishCheckin))
		}
	}
	return out, nil
}

// dependencyOrder lists the indexes of desired with every block after
// the blocks it depends on (the manifest refuses cycles), else in order.
func (m *maker) dependencyOrder(desired []Desired) []int {
	rank := map[string]int{}
	var visit func(name string, depth int) int
	visit = func(name string, depth int) int {
		if r, ok := rank[name]; ok || depth > len(m.hostBlocks) {
			return r
		}
		r := 0
		if h := m.hostBlocks[name]; h != nil {
			for _, dep := range h.DependsOn {
				if dep != name {
					r = max(r, visit(dep, depth+1)+1)
				}
			}
		}
		rank[name] = r
		return r
	}
	idx := make([]int, len(desired))
	for i := range idx {
		idx[i] = i
		visit(desired[i].Host, 0)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rank[desired[a].Host], rank[desired[b].Host]) })
	return idx
}

// resolve evaluates the args and labels of a desired host whose block
// refers to other hosts: with the records of referred instances that
// stay (kept), and unknown for those checked out in this plan.
func (m *maker) resolve(d *Desired, kept map[string]*state.Host) error {
	h := m.hostBlocks[d.Host]
	if h == nil || !h.Dynamic {
		return nil
	}
	hosts := map[string][]manifest.HostValues{}
	for _, name := range h.DependsOn {
		b := m.hostBlocks[name]
		if b == nil {
			continue
		}
		for _, bi := range b.Instances {
			in := Instance{Block: name, Index: bi.Index}
			if b.ForEach {
				in = Instance{Block: name, Key: bi.Key, Keyed: true}
			}
			v := manifest.UnknownHost()
			if r, ok := kept[in.String()]; ok {
				v = HostValues(*r)
			}
			put(hosts, in, v)
		}
	}
	args, labels, unknown, diags := m.in.Config.ResolveInstance(h, d.Index, hosts)
	if diags.HasErrors() {
		return fmt.Errorf("%s: %w", d.Address, diags)
	}
	d.Args, d.Labels, d.Unknown = copyJSON(args), maps.Clone(labels), unknown
	return nil
}

// withFinish attaches a leftover check-in intent to a change of its
// record, so the executor removes it once the record is checked in.
func (m *maker) withFinish(c Change, finishing map[string]state.Intent) Change {
	if c.Before == nil {
		return c
	}
	it, ok := finishing[c.Before.ID]
	if !ok {
		return c
	}
	switch c.Action {
	case Destroy:
		c.Resume = ptr(it)
		c.Reason = Because(ReasonFinishCheckin, "")
	case NoOp, Extend:
		c.Action = Replace
		c.Resume = ptr(it)
		c.Reason = Because(ReasonInterruptedCheckin, "")
	case Replace:
		c.Resume = ptr(it)
	}
	return c
}

func findRecord(rs []*state.Host, id string) (*state.Host, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// goneReason explains why an address is no longer wanted.
func (m *maker) goneReason(addr string) Reason {
	in, ok := ParseInstance(addr)
	if !ok {
		return Because(ReasonNotInManifest, addr)
	}
	h, ok := m.hostBlocks[in.Block]
	if !ok {
		return Because(ReasonBlockRemoved, "host."+in.Block)
	}
	if in.Keyed || h.ForEach {
		return Because(ReasonKeyRemoved, addr)
	}
	return Reason{Kind: ReasonCountReduced, Detail: "host." + in.Block, Count: h.Count}
}

// compare decides what an existing record needs.
func (m *maker) compare(r *state.Host, d *Desired, forced bool) Change {
	c := Change{Action: NoOp, Address: d.Address, Before: r, After: d}
	keepUnknownLabels(r, d)
	c.UpdateLabels = !labelsEqual(r.Labels, d.Labels)
	replace := func(reason Reason) Change {
		c.Action = Replace
		c.Reason = reason
		return c
	}
	switch r.Status {
	case state.StatusTainted:
		return replace(Because(ReasonTainted, r.Reason))
	case state.StatusFailed:
		return replace(Because(ReasonSetupFailed, r.Reason))
	case state.StatusPending:
		return replace(Because(ReasonInterruptedApply, ""))
	case state.StatusReleasing:
		return replace(Because(ReasonInterruptedCheckin, ""))
	}
	switch m.presence[r.ID] {
	case providers.PresenceGone:
		return replace(Because(ReasonGone, ""))
	case providers.PresenceStopped:
		return replace(Because(ReasonStopped, ""))
	}
	if diff := m.forcingDiff(r, d, &c); len(diff) > 0 {
		return replace(Reason{Kind: ReasonRecipeChanged, Fields: diff})
	}
	if diff := unknownArgs(d); len(diff) > 0 {
		// A value of a host checked out in this plan: the referred host
		// is new, so the recipe changes.
		return replace(Reason{Kind: ReasonRecipeChanged, Fields: diff})
	}
	if forced {
		return replace(Because(ReasonReplaceRequested, ""))
	}
	if d.Lease > 0 {
		var rb time.Duration
		if h, ok := m.hostBlocks[d.Host]; ok {
			rb = h.RenewBefore
		}
		renew := RenewWindow(d.Lease, rb)
		switch left := r.Lease.Remaining(m.in.Now); {
		case r.Lease.Expires.IsZero():
			c.Action = Extend
			c.Reason = Reason{Kind: ReasonLeaseMissing, Lease: d.Lease}
		case left <= 0:
			c.Action = Extend
			c.Reason = Reason{Kind: ReasonLeaseExpired, Lease: d.Lease, Left: left}
		case left <= renew:
			c.Action = Extend
			c.Reason = Reason{Kind: ReasonLeaseEnding, Lease: d.Lease, Left: left}
		}
		if c.Action == Extend {
			return c
		}
	}
	switch {
	case c.UpdateRecipe:
		c.Reason = Reason{Kind: ReasonRecipeUpdated, Fields: ChangedKeys(r.Recipe, d.Args)}
	case c.UpdateLabels:
		c.Reason = Because(ReasonLabelsChanged, "")
	}
	return c
}

// keepUnknownLabels keeps the recorded values of labels not known yet
// (they refer to a host being replaced): labels never replace a host, and
// the new values are recorded by a later apply, once known.
func keepUnknownLabels(r *state.Host, d *Desired) {
	var rest []string
	for _, u := range d.Unknown {
		k, isLabel := strings.CutPrefix(u, "labels.")
		switch {
		case u == "labels":
			d.Labels = maps.Clone(r.Labels)
		case isLabel:
			if v, ok := r.Labels[k]; ok {
				if d.Labels == nil {
					d.Labels = map[string]string{}
				}
				d.Labels[k] = v
			}
		default:
			rest = append(rest, u)
			continue
		}
	}
	d.Unknown = rest
}

// forcingDiff names the recipe differences that need a new host. The
// arguments the provider takes in place (Host.InPlace) do not: a known new
// value sets c.UpdateRecipe, an unknown one keeps the recorded value
// until it is known.
func (m *maker) forcingDiff(r *state.Host, d *Desired, c *Change) []string {
	diff := recipeDiff(r, d)
	h := m.hostBlocks[d.Host]
	if h == nil || len(h.InPlace) == 0 || len(diff) == 0 {
		return diff
	}
	var forcing []string
	for _, k := range diff {
		if !slices.Contains(h.InPlace, k) {
			forcing = append(forcing, k)
		}
	}
	if len(forcing) > 0 {
		return forcing
	}
	for _, k := range diff {
		if slices.Contains(d.Unknown, "args."+k) {
			if old, ok := r.Recipe[k]; ok {
				d.Args[k] = copyValue(old)
			}
			d.Unknown = slices.DeleteFunc(d.Unknown, func(u string) bool { return u == "args."+k })
			continue
		}
		c.UpdateRecipe = true
	}
	return nil
}

// unknownArgs are the argument names whose values are known after
// checkout ("args" when the whole value is).
func unknownArgs(d *Desired) []string {
	var out []string
	for _, u := range d.Unknown {
		if u == "args" {
			out = append(out, u)
		} else if k, ok := strings.CutPrefix(u, "args."); ok {
			out = append(out, k)
		}
	}
	return out
}

// recipeDiff names what differs between the record's recipe and the
// desired one: "provider", "instance" and the changed argument keys.
func recipeDiff(r *state.Host, d *Desired) []string {
	var out []string
	if r.Provider != d.Provider {
		out = append(out, "provider")
	}
	if r.Instance != d.Instance {
		out = append(out, "instance")
	}
	return append(out, ChangedKeys(r.Recipe, d.Args)...)
}

// ChangedKeys lists, sorted, the keys whose values differ between two
// JSON-shaped maps (missing and null count as different; 1 and 1.0 are
// equal).
func ChangedKeys(a, b map[string]any) []string {
	var out []string
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !jsonEqual(av, bv) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return string(ja) == string(jb)
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// selectChanges keeps the changes that match a target (or all when there
// are none) and no exclude.
func selectChanges(cs []Change, targets, excludes []*filter.Filter, now time.Time) ([]Change, error) {
	if len(targets) == 0 && len(excludes) == 0 {
		return cs, nil
	}
	out := cs[:0]
	for _, c := range cs {
		keep := len(targets) == 0
		for _, f := range targets {
			ok, err := matchChange(f, c, now)
			if err != nil {
				return nil, err
			}
			if ok {
				keep = true
				break
			}
		}
		for _, f := range excludes {
			if !keep {
				break
			}
			ok, err := matchChange(f, c, now)
			if err != nil {
				return nil, err
			}
			if ok {
				keep = false
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, nil
}

// matchChange reports whether f matches the change's record or its
// desired host; a cleanup is judged on its intent.
func matchChange(f *filter.Filter, c Change, now time.Time) (bool, error) {
	if f == nil {
		return true, nil
	}
	if c.Act != nil {
		v := actionValues(c)
		v.Now = now
		return f.MatchValues(v)
	}
	if c.Before != nil {
		ok, err := f.Match(*c.Before, addressIndex(c.Before.Address), now)
		if err != nil || ok {
			return ok, err
		}
	}
	if c.After != nil {
		return f.MatchValues(DesiredValues(c.After, now))
	}
	if c.Before == nil && c.Resume != nil {
		it := c.Resume
		return f.MatchValues(filter.Values{ID: it.HostID, Address: it.Address, Provider: it.Provider,
			Instance: it.Instance, ProviderID: it.ProviderID, Environment: it.Environment,
			Args: it.Recipe, Index: addressIndex(it.Address), Created: it.Created, Updated: it.Updated,
			Origin: filter.OriginValues{User: it.Origin.User, Machine: it.Origin.Machine, CI: it.Origin.CI},
			Now:    now})
	}
	return false, nil
}

// addressIndex is the count index of an address (0 for anything else).
func addressIndex(addr string) int {
	_, idx, _ := ParseAddress(addr)
	return idx
}

// DesiredValues is what a filter sees of a host not checked out yet.
func DesiredValues(d *Desired, now time.Time) filter.Values {
	return filter.Values{
		Address:  d.Address,
		Name:     d.Host,
		Provider: d.Provider,
		Instance: d.Instance,
		Nick:     d.Nick,
		Labels:   d.Labels,
		Args:     d.Args,
		Index:    d.Index,
		Now:      now,
	}
}

// addDependencies fills DependsOn from the host blocks' depends_on: the
// addresses of the referenced hosts' instances that change in this plan.
func addDependencies(cs []Change, blocks map[string]*manifest.Host) {
	changing := map[string][]string{} // block name -> changing addresses
	for _, c := range cs {
		if c.Action == NoOp || c.After == nil {
			continue
		}
		changing[c.After.Host] = append(changing[c.After.Host], c.Address)
	}
	for i := range cs {
		c := &cs[i]
		if c.After == nil || c.Action == NoOp {
			continue
		}
		h, ok := blocks[c.After.Host]
		if !ok {
			continue
		}
		var deps []string
		for _, name := range h.DependsOn {
			if name == c.After.Host {
				continue
			}
			deps = append(deps, changing[name]...)
		}
		slices.SortFunc(deps, CompareAddress)
		c.DependsOn = slices.Compact(deps)
	}
}

// sortChanges orders by address (host.web[2] before host.web[10]),
// intent cleanups last; at one address a check-in comes before a
// check-out.
func sortChanges(cs []Change) {
	isCleanup := func(c Change) bool { return c.Before == nil && c.After == nil }
	slices.SortStableFunc(cs, func(a, b Change) int {
		ca, cb := isCleanup(a), isCleanup(b)
		if ca != cb {
			if ca {
				return 1
			}
			return -1
		}
		if c := CompareAddress(a.Address, b.Address); c != 0 {
			return c
		}
		if c := cmp.Compare(actionOrder(a.Action), actionOrder(b.Action)); c != 0 {
			return c
		}
		return strings.Compare(resumeID(a), resumeID(b))
	})
}

func actionOrder(a Action) int {
	if a == Destroy {
		return 0
	}
	return 1
}

func resumeID(c Change) string {
	if c.Resume != nil {
		return c.Resume.ID
	}
	if c.Before != nil {
		return c.Before.ID
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
