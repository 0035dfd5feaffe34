// Package suggest finds the name a user most likely meant ("did you
// mean"). It is the one implementation behind manifest diagnostics and
// provider argument errors; it must not format messages for either.
package suggest

import "strings"

// Closest returns the candidate nearest to name (case-insensitive edit
// distance at most 3, and less than the candidate's length), or "".
func Closest(name string, candidates []string) string {
	return Within(name, candidates, 3)
}

// Within is Closest with a smaller reach: edit distance at most max.
// For guesses that turn an otherwise accepted word into an error.
func Within(name string, candidates []string, max int) string {
	best, bestD := "", max+1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD || (d == bestD && best == "") {
			if d <= max && d < len(c) {
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
