package providers

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
)

// Query keys of a DescribeRequest that narrow a listing, as the Python
// broker's `providers … --results-filter EXPR --results-limit N`.
const (
	QueryResultsFilter = "results_filter"
	QueryResultsLimit  = "results_limit"
)

// SelectItems narrows a listing as the Python broker's results filter
// does, then keeps at most limit items (0: all). The filter is a pipeline
// of stages separated by "|": a stage `@res[i]`, `@res[a:b]` or
// `@res[a:b:step]` picks by position (negative counts from the end); any
// other stage is a condition on each item's name, written with @res as in
// Python: `"rhel-9" in @res`, `"x" not in @res`, `@res.startswith("a")`,
// `@res.endswith("z")`, `@res == "name"`, joined by and/or/not.
func SelectItems(items []Item, filter string, limit int) ([]Item, error) {
	if strings.TrimSpace(filter) != "" {
		for _, stage := range splitStages(filter) {
			var err error
			if items, err = selectStage(items, strings.TrimSpace(stage)); err != nil {
				return nil, fmt.Errorf("results filter %q: %w", filter, err)
			}
		}
	}
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	return items, nil
}

// SelectQuery applies a DescribeRequest's results filter and limit,
// defaultLimit when the request gives none.
func SelectQuery(items []Item, q map[string]string, defaultLimit int) ([]Item, error) {
	limit := defaultLimit
	if s := q[QueryResultsLimit]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("results limit %q: want a whole number, 0 or more", s)
		}
		limit = n
	}
	return SelectItems(items, q[QueryResultsFilter], limit)
}

// splitStages splits at "|" outside quotes.
func splitStages(s string) []string {
	var out []string
	var quote rune
	start := 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '|':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

var (
	indexStage = regexp.MustCompile(`^@res\[\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?(?::\s*(-?\d*)\s*)?\]$`)
	notInRes   = regexp.MustCompile(`("[^"]*"|'[^']*')\s+not\s+in\s+@res\b`)
	inRes      = regexp.MustCompile(`("[^"]*"|'[^']*')\s+in\s+@res\b`)
	methodRes  = regexp.MustCompile(`@res\.(startswith|endswith|lower|upper)\(`)
)

func selectStage(items []Item, stage string) ([]Item, error) {
	if m := indexStage.FindStringSubmatch(stage); m != nil {
		return sliceItems(items, stage, m)
	}
	if !strings.Contains(stage, "@res") {
		return nil, fmt.Errorf("stage %q does not name @res", stage)
	}
	src := notInRes.ReplaceAllString(stage, "not (res contains $1)")
	src = inRes.ReplaceAllString(src, "(res contains $1)")
	src = methodRes.ReplaceAllStringFunc(src, func(m string) string {
		switch {
		case strings.Contains(m, "startswith"):
			return "hasPrefix(res, "
		case strings.Contains(m, "endswith"):
			return "hasSuffix(res, "
		case strings.Contains(m, "lower"):
			return "lower(res"
		}
		return "upper(res"
	})
	src = strings.ReplaceAll(src, "@res", "res")
	prog, err := expr.Compile(src, expr.Env(map[string]any{"res": ""}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("stage %q: %v", stage, firstLine(err.Error()))
	}
	var out []Item
	for _, it := range items {
		v, err := expr.Run(prog, map[string]any{"res": it.Name})
		if err != nil {
			return nil, fmt.Errorf("stage %q on %q: %v", stage, it.Name, firstLine(err.Error()))
		}
		if v.(bool) {
			out = append(out, it)
		}
	}
	return out, nil
}

// sliceItems picks by position as Python's list[i], list[a:b:step].
func sliceItems(items []Item, stage string, m []string) ([]Item, error) {
	n := len(items)
	num := func(s string, def int) (int, error) {
		if s == "" {
			return def, nil
		}
		return strconv.Atoi(s)
	}
	isSlice := strings.Contains(stage, ":")
	if !isSlice {
		i, err := num(m[1], 0)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%s: no item at %s (%d items)", stage, m[1], n)
		}
		return []Item{items[i]}, nil
	}
	step, err := num(m[3], 1)
	if err != nil || step == 0 {
		return nil, fmt.Errorf("%s: bad step", stage)
	}
	lo, hi := 0, n
	if step < 0 {
		lo, hi = n-1, -n-1
	}
	if lo, err = num(m[1], lo); err != nil {
		return nil, err
	}
	if hi, err = num(m[2], hi); err != nil {
		return nil, err
	}
	clamp := func(i int) int {
		if i < 0 {
			i += n
		}
		if step > 0 {
			return max(0, min(i, n))
		}
		return max(-1, min(i, n-1))
	}
	lo, hi = clamp(lo), clamp(hi)
	var out []Item
	for i := lo; (step > 0 && i < hi) || (step < 0 && i > hi); i += step {
		out = append(out, items[i])
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
