package suggest

import "testing"

func TestClosest(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"prots", []string{"image", "ports", "pull"}, "ports"},
		{"IMAGE", []string{"image"}, "image"},
		{"zzzzzz", []string{"image", "ports"}, ""},
		{"ab", []string{"x"}, ""}, // every letter would change
		{"pul", nil, ""},
	} {
		if got := Closest(tc.name, tc.in); got != tc.want {
			t.Errorf("Closest(%q, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
