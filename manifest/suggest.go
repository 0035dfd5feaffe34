package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labbroker/broker/internal/suggest"
)

// didYouMean returns ` Did you mean "x"?` for the closest candidate, or "".
func didYouMean(name string, candidates []string) string {
	best := suggest.Closest(name, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
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
