package planner

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Address is the address of instance index of host block name:
// host.NAME[INDEX].
func Address(name string, index int) string {
	return "host." + name + "[" + strconv.Itoa(index) + "]"
}

// ParseAddress splits host.NAME[INDEX]. It accepts exactly what Address
// writes: NAME is an identifier a manifest accepts as a host block's name
// (so host.a.b[2] is not an address) and INDEX a non-negative decimal
// without leading zeros (host.web[01] is not host.web[1]). ok is false for
// anything else. This is the one parser of addresses: the planner, the
// operations, the library and the command line all call it.
func ParseAddress(addr string) (name string, index int, ok bool) {
	rest, found := strings.CutPrefix(addr, "host.")
	if !found || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	open := strings.IndexByte(rest, '[')
	if open <= 0 {
		return "", 0, false
	}
	name, digits := rest[:open], rest[open+1:len(rest)-1]
	if !hclsyntax.ValidIdentifier(name) || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return "", 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return name, n, true
}

// CompareAddress orders addresses by block name, then by index as a
// number (host.web[2] before host.web[10]); anything that is not an
// address sorts by its text.
func CompareAddress(a, b string) int {
	na, ia, oka := ParseAddress(a)
	nb, ib, okb := ParseAddress(b)
	if !oka || !okb {
		return strings.Compare(a, b)
	}
	if c := strings.Compare(na, nb); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}
