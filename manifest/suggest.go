package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// didYouMean returns ` Did you mean "x"?` for the closest candidate, or "".
func didYouMean(name string, candidates []string) string {
	best := Closest(name, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// Closest is the candidate nearest to name (at most three edits away,
// case ignored), for a "did you mean"; "" when none is that close.
func Closest(name string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD || (d == bestD && best == "") {
			if d <= 3 && d < len(c) {
				best, bestD = c, d
			}
		}
	}
	return best
}

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

// ParseDuration reads Go durations with one more unit, d (24h), as lease
// lengths are often days: "1d12h", "2d", "90m".
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	var rest strings.Builder
	for s != "" {
		i := 0
		for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
			i++
		}
		j := i
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		if i == 0 || j == i {
			return 0, fmt.Errorf("invalid duration %q", orig)
		}
		num, unit := s[:i], s[i:j]
		if unit == "d" {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n > 100000 {
				return 0, fmt.Errorf("invalid duration %q", orig)
			}
			total += time.Duration(n * float64(24*time.Hour))
		} else {
			rest.WriteString(s[:j])
		}
		s = s[j:]
	}
	if rest.Len() > 0 {
		d, err := time.ParseDuration(rest.String())
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", orig)
		}
		total += d
	}
	if total < 0 {
		return 0, fmt.Errorf("invalid duration %q", orig)
	}
	return total, nil
}
