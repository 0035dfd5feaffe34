package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/state"
)

// InventoryOptions shape an inventory table.
type InventoryOptions struct {
	// Fields are the columns, each "Title:field|fallback|…" as in the
	// Python tool's inventory_fields: the first non-empty field gives the
	// value. Fields: index, id, address, name, hostname, ip, port, user,
	// transport, provider, instance, provider_ref (type.instance),
	// provider_id, environment, status, reason, nick, lease (remaining,
	// human), expires, created, updated, origin.user, origin.ci,
	// labels.KEY, args.KEY (or _broker_args.KEY), facts.KEY. Empty: the
	// default columns (DefaultInventoryFields).
	Fields []string
	// Details prints every field, one block per host, instead of a table.
	Details bool
	Color   bool
	// Now is the time lease remainders are computed at.
	Now time.Time
	// Expiring highlights (with Color) leases that end within it; expired
	// leases are always highlighted.
	Expiring time.Duration
}

// DefaultInventoryFields are the columns shown when none are asked for.
var DefaultInventoryFields = []string{
	"Id:index", "Host:hostname|name", "Provider:provider_ref", "Environment:environment",
	"Address:address", "Status:status", "Lease:lease",
}

type column struct {
	title string
	// fields are the alternatives, first non-empty wins; an alternative
	// of several fields (Python's "os_distribution os_distribution_version")
	// joins their values with spaces.
	fields []string
}

// parseColumns reads the column specs; custom columns get the Id column
// first, as the Python broker always shows it, unless they show index.
func parseColumns(specs []string) []column {
	if len(specs) == 0 {
		specs = DefaultInventoryFields
	}
	cols := make([]column, 0, len(specs)+1)
	hasIndex := false
	for _, s := range specs {
		title, fs, ok := strings.Cut(s, ":")
		if !ok {
			fs = title
		}
		var alts []string
		for _, a := range strings.Split(fs, "|") {
			a = strings.Join(strings.Fields(a), " ")
			alts = append(alts, a)
			if a == "index" {
				hasIndex = true
			}
		}
		cols = append(cols, column{title: title, fields: alts})
	}
	if !hasIndex {
		cols = append([]column{{title: "Id", fields: []string{"index"}}}, cols...)
	}
	return cols
}

// columnValue is the first non-empty alternative of c.
func columnValue(h *state.Host, index int, c column, now time.Time) string {
	for _, alt := range c.fields {
		parts := strings.Fields(alt)
		if len(parts) <= 1 {
			if v := fieldValue(h, index, alt, now); v != "" {
				return v
			}
			continue
		}
		vals := make([]string, 0, len(parts))
		found := false
		for _, f := range parts {
			v := fieldValue(h, index, f, now)
			if v != "" {
				found = true
			} else {
				v = "-"
			}
			vals = append(vals, v)
		}
		if found {
			return strings.Join(vals, " ")
		}
	}
	return ""
}

// inventoryFields are the plain field names fieldValue knows.
var inventoryFields = []string{"index", "id", "address", "name", "hostname", "ip", "connect_host", "port", "user",
	"transport", "provider", "instance", "provider_ref", "provider_id", "environment", "status",
	"reason", "nick", "lease", "expires", "created", "updated", "origin.user", "origin.machine", "origin.ci",
	"_broker_provider", "_broker_provider_instance"}

// pythonFields are the Python broker's names (imported settings keep them).
var pythonFields = map[string]string{"_broker_provider_instance": "instance", "username": "user", "ip_address": "ip"}

// CheckInventoryColumn says why spec ("Title:field|fallback|…") names a
// field no host has; nil when every field is known.
func CheckInventoryColumn(spec string) error {
	for _, c := range parseColumns([]string{spec}) {
		for _, f := range c.fields {
			if slices.Contains(inventoryFields, f) || f == "$action" {
				continue
			}
			if f == "" {
				return fmt.Errorf("inventory column %q: an empty field", spec)
			}
			if !strings.Contains(f, ".") && !strings.ContainsAny(f, " \t") {
				// a key of a Python inventory entry (os_distribution),
				// read from facts, unless it is a field misspelt
				if near := nearField(f); near != "" {
					return fmt.Errorf("inventory column %q: no field %q (did you mean %q?); fields: %s, labels.KEY, args.KEY, facts.KEY, or a key of the Python inventory",
						spec, f, near, strings.Join(inventoryFields, ", "))
				}
				continue
			}
			if strings.ContainsAny(f, " \t") {
				var bad error
				for _, p := range strings.Fields(f) {
					if err := CheckInventoryColumn(c.title + ":" + p); err != nil {
						bad = err
					}
				}
				if bad != nil {
					return bad
				}
				continue
			}
			if head, key, ok := strings.Cut(f, "."); ok && key != "" {
				switch head {
				case "labels", "args", "_broker_args", "facts":
					continue
				}
			}
			return fmt.Errorf("inventory column %q: no field %q; fields: %s, labels.KEY, args.KEY, facts.KEY",
				spec, f, strings.Join(inventoryFields, ", "))
		}
	}
	return nil
}

// nearField is the known field f is probably a misspelling of: one edit
// away (names of 4 runes or more) or two (8 or more); "" when none is.
func nearField(f string) string {
	n := utf8.RuneCountInString(f)
	for _, k := range inventoryFields {
		d := editDistance(f, k)
		if (d == 1 && n >= 4) || (d == 2 && n >= 8) {
			return k
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// fieldValue is one field of a host as text; "" when empty.
func fieldValue(h *state.Host, index int, field string, now time.Time) string {
	if f, ok := pythonFields[field]; ok {
		field = f
	}
	switch field {
	case "index":
		return strconv.Itoa(index)
	case "id":
		return h.ID
	case "address":
		return h.Address
	case "name":
		return h.Name
	case "hostname":
		return h.Hostname
	case "ip":
		return h.IP
	case "connect_host":
		return h.ConnectHost
	case "port":
		if h.Port == 0 {
			return ""
		}
		return strconv.Itoa(h.Port)
	case "user":
		return h.User
	case "transport":
		return h.Transport
	case "provider":
		return h.Provider
	case "_broker_provider":
		return filter.PythonProvider(h.Provider)
	case "$action":
		return hostAction(h)
	case "instance":
		return h.Instance
	case "provider_ref":
		if h.Instance == "" {
			return h.Provider
		}
		return h.Provider + "." + h.Instance
	case "provider_id":
		return h.ProviderID
	case "environment":
		return h.Environment
	case "status":
		return h.Status.String()
	case "reason":
		return h.Reason
	case "nick":
		return h.Nick
	case "lease":
		if h.Lease.Expires.IsZero() {
			return ""
		}
		return HumanDuration(h.Lease.Remaining(now))
	case "expires":
		return timeText(h.Lease.Expires)
	case "created":
		return timeText(h.Created)
	case "updated":
		return timeText(h.Updated)
	case "origin.user":
		return h.Origin.User
	case "origin.machine":
		return h.Origin.Machine
	case "origin.ci":
		return h.Origin.CI
	}
	head, key, ok := strings.Cut(field, ".")
	if !ok {
		// a key of a Python inventory entry (os_distribution,
		// shutdown_time), which import and sync keep as facts
		return factText(field, h.Facts[field])
	}
	switch head {
	case "labels":
		return h.Labels[key]
	case "args", "_broker_args":
		return factText(key, h.Recipe[key])
	case "facts":
		return factText(key, h.Facts[key])
	}
	return ""
}

// factText is a fact as a cell; a *_time value is humanised as the Python
// broker does (PythonTime).
func factText(key string, v any) string {
	if strings.HasSuffix(key, "_time") && v != nil {
		return PythonTime(v)
	}
	return plainValue(v)
}

// actionArgs are the arguments that name what made a host, per provider
// (the Python broker's $action: its provider's action arguments).
var actionArgs = map[string][]string{
	"awx":       {"workflow", "job_template"},
	"docker":    {"container_host", "image", "container_app"},
	"sim":       {"test_action", "template", "workflow"},
	"static":    {"pool"},
	"openstack": {"ostack_template", "ostack_image", "template", "image"},
}

// hostAction is the $action field: the first action argument the host was
// made with, else its nick.
func hostAction(h *state.Host) string {
	for _, k := range actionArgs[h.Provider] {
		if v, ok := h.Recipe[k].(string); ok && v != "" {
			return v
		}
	}
	return h.Nick
}

// PythonTime formats a *_time value as the Python broker does: a Unix
// time between 2001 and 2100 as "Jan 02, 2006 15:04 UTC", any other
// number of seconds as a duration (5d, 2h 30m, 45s); anything else as
// it is.
func PythonTime(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		n = int64(x)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return x
		}
		n = i
	default:
		return plainValue(v)
	}
	if n >= 978307200 && n <= 4102444800 {
		return time.Unix(n, 0).UTC().Format("Jan 02, 2006 15:04 UTC")
	}
	d, hr, m, sec := n/86400, (n%86400)/3600, (n%3600)/60, n%60
	var parts []string
	if d != 0 {
		parts = append(parts, fmt.Sprintf("%dd", d))
	}
	if hr != 0 {
		parts = append(parts, fmt.Sprintf("%dh", hr))
	}
	if m != 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	if sec != 0 && d == 0 {
		parts = append(parts, fmt.Sprintf("%ds", sec))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%ds", n)
	}
	return strings.Join(parts, " ")
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// plainValue is a map value as a table cell: strings bare, the rest HCL.
func plainValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return hclValue(v)
}

// InventoryTable writes hosts as a table (or, with o.Details, one block
// per host). A host's Id is its position in hosts.
func InventoryTable(w io.Writer, hosts []state.Host, o InventoryOptions) error {
	bw := bufio.NewWriter(w)
	p := painter(o.Color)
	if o.Details {
		for i := range hosts {
			if i > 0 {
				bw.WriteString("\n")
			}
			writeDetails(bw, &hosts[i], i, o, p)
		}
		return bw.Flush()
	}
	cols := parseColumns(o.Fields)
	cells := make([][]string, len(hosts))
	widths := make([]int, len(cols))
	for j, c := range cols {
		widths[j] = utf8.RuneCountInString(c.title)
	}
	for i := range hosts {
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = columnValue(&hosts[i], i, c, o.Now)
			if row[j] == "" {
				row[j] = "-"
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(row[j]))
		}
		cells[i] = row
	}
	writeRow := func(row []string, paint func(j int, s string) string) {
		for j, s := range row {
			pad := widths[j] - utf8.RuneCountInString(s)
			if j == len(row)-1 {
				pad = 0
			}
			bw.WriteString(paint(j, s))
			if j < len(row)-1 {
				bw.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		bw.WriteString("\n")
	}
	writeRow(titles(cols), func(_ int, s string) string { return p.paint(bold, s) })
	for i, row := range cells {
		code := leaseColor(&hosts[i], o)
		writeRow(row, func(j int, s string) string {
			if code != "" && hasField(cols[j], "lease") {
				return p.paint(code, s)
			}
			if hasField(cols[j], "status") && hosts[i].Status != state.StatusReady {
				return p.paint(yellow, s)
			}
			return s
		})
	}
	return bw.Flush()
}

func titles(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.title
	}
	return out
}

func hasField(c column, f string) bool {
	for _, x := range c.fields {
		if x == f {
			return true
		}
	}
	return false
}

// leaseColor is red for an expired lease, yellow for one ending within
// o.Expiring, "" otherwise.
func leaseColor(h *state.Host, o InventoryOptions) string {
	if h.Lease.Expires.IsZero() {
		return ""
	}
	switch left := h.Lease.Remaining(o.Now); {
	case left <= 0:
		return red
	case o.Expiring > 0 && left <= o.Expiring:
		return yellow
	}
	return ""
}

var detailFields = []string{
	"id", "address", "environment", "name", "hostname", "ip", "connect_host", "port", "user", "transport",
	"provider", "instance", "provider_id", "nick", "status", "reason", "lease", "expires",
	"created", "updated", "origin.user", "origin.machine", "origin.ci",
}

func writeDetails(w *bufio.Writer, h *state.Host, i int, o InventoryOptions, p painter) {
	title := h.Hostname
	if title == "" {
		title = h.Name
	}
	if title == "" {
		title = h.ID
	}
	fmt.Fprintf(w, "%s %s\n", p.paint(bold, fmt.Sprintf("[%d]", i)), p.paint(bold, title))
	type kv struct{ k, v string }
	var kvs []kv
	for _, f := range detailFields {
		if v := fieldValue(h, i, f, o.Now); v != "" {
			if f == "lease" {
				v = p.paint(leaseColor(h, o), v)
			}
			kvs = append(kvs, kv{f, v})
		}
	}
	if c := h.Connection; c != nil {
		for _, x := range []kv{{"user", c.User}, {"port", portText(c.Port)}, {"private_key_file", c.PrivateKeyFile},
			{"known_hosts_file", c.KnownHostsFile}, {"bastion", c.Bastion}, {"timeout", durationText(c.Timeout)},
			{"password_from", c.PasswordFrom}, {"manifest", c.Manifest}} {
			if x.v != "" {
				kvs = append(kvs, kv{"connection." + x.k, x.v})
			}
		}
	}
	for _, k := range sortedKeys(h.Labels) {
		kvs = append(kvs, kv{"labels." + k, strconv.Quote(h.Labels[k])})
	}
	for _, k := range sortedKeys(h.Recipe) {
		kvs = append(kvs, kv{"args." + k, hclValue(h.Recipe[k])})
	}
	for _, k := range sortedKeys(h.Facts) {
		kvs = append(kvs, kv{"facts." + k, hclValue(h.Facts[k])})
	}
	width := 0
	for _, x := range kvs {
		width = max(width, len(x.k))
	}
	for _, x := range kvs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, x.k, x.v)
	}
}

// indexedHost is a record as stored, with its inventory index.
type indexedHost struct {
	Index int `json:"index"`
	state.Host
}

// InventoryJSON writes hosts as a JSON array of records as stored, each
// with its "index". Hosts are encoded one by one into a buffered writer,
// so memory stays flat however large the inventory.
func InventoryJSON(w io.Writer, hosts []state.Host) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	bw.WriteString("[")
	for i := range hosts {
		buf.Reset()
		if err := enc.Encode(indexedHost{Index: i, Host: hosts[i]}); err != nil {
			return fmt.Errorf("encode host %s: %w", hosts[i].ID, err)
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	if len(hosts) > 0 {
		bw.WriteString("\n")
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

// InventoryYAML writes the same documents as InventoryJSON, in YAML.
func InventoryYAML(w io.Writer, hosts []state.Host) error {
	docs := make([]any, len(hosts))
	for i := range hosts {
		b, err := json.Marshal(indexedHost{Index: i, Host: hosts[i]})
		if err != nil {
			return fmt.Errorf("encode host %s: %w", hosts[i].ID, err)
		}
		var m yaml.Node
		// JSON is YAML: decoding it as YAML keeps the key order.
		if err := yaml.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("encode host %s: %w", hosts[i].ID, err)
		}
		if len(m.Content) == 1 {
			setBlockStyle(m.Content[0])
			docs[i] = m.Content[0]
		}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(docs); err != nil {
		return err
	}
	return enc.Close()
}

// setBlockStyle undoes the flow style the JSON source implies.
func setBlockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0
	}
	for _, c := range n.Content {
		setBlockStyle(c)
	}
}

func portText(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
