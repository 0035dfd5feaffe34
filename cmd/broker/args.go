package main

import "strings"

// terraformStyle rewrites long flags written with one dash (-auto-approve,
// -out=FILE, -var k=v) to the two-dash form kong parses, as Terraform users
// type them. Only names of known long flags are rewritten, so short flags
// (-f, -b) and arguments after "--" are left alone.
func terraformStyle(args []string, long map[string]bool) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
