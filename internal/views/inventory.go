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
	title  string
	fields []string
}

func parseColumns(specs []string) []column {
	if len(specs) == 0 {
		specs = DefaultInventoryFields
	}
	cols := make([]column, 0, len(specs))
	for _, s := range specs {
		title, fs, ok := strings.Cut(s, ":")
		if !ok {
			fs = title
		}
		cols = append(cols, column{title: title, fields: strings.Split(fs, "|")})
	}
	return cols
}

// inventoryFields are the plain field names fieldValue knows.
var inventoryFields = []string{"index", "id", "address", "name", "hostname", "ip", "connect_host", "port", "user",
	"transport", "provider", "instance", "provider_ref", "provider_id", "environment", "status",
	"reason", "nick", "lease", "expires", "created", "updated", "origin.user", "origin.machine", "origin.ci",
	"_broker_provider", "_broker_provider_instance"}

// pythonFields are the Python broker's names (imported settings keep them).
var pythonFields = map[string]string{"_broker_provider": "provider", "_broker_provider_instance": "instance"}

// CheckInventoryColumn says why spec ("Title:field|fallback|…") names a
// field no host has; nil when every field is known.
func CheckInventoryColumn(spec string) error {
	for _, c := range parseColumns([]string{spec}) {
		for _, f := range c.fields {
			if slices.Contains(inventoryFields, f) {
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
		return ""
	}
	switch head {
	case "labels":
		return h.Labels[key]
	case "args", "_broker_args":
		return plainValue(h.Recipe[key])
	case "facts":
		return plainValue(h.Facts[key])
	}
	return ""
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
			for _, f := range c.fields {
				if v := fieldValue(&hosts[i], i, f, o.Now); v != "" {
					row[j] = v
					break
				}
			}
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
