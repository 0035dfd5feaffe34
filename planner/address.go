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

// KeyAddress is the address of the for_each instance key of host block
// name: host.NAME["KEY"], the key quoted as a Go (and HCL) string.
func KeyAddress(name, key string) string {
	return "host." + name + "[" + strconv.Quote(key) + "]"
}

// Instance is a parsed address: a host block's name and the instance's
// count index, or its for_each key (Keyed).
type Instance struct {
	Block string
	Index int
	Key   string
	Keyed bool
}

// String is the instance's address.
func (in Instance) String() string {
	if in.Keyed {
		return KeyAddress(in.Block, in.Key)
	}
	return Address(in.Block, in.Index)
}

// ParseAddress splits host.NAME[INDEX]. It accepts exactly what Address
// writes: NAME is an identifier a manifest accepts as a host block's name
// (so host.a.b[2] is not an address) and INDEX a non-negative decimal
// without leading zeros (host.web[01] is not host.web[1]). ok is false for
// anything else, a for_each address included (see ParseInstance).
func ParseAddress(addr string) (name string, index int, ok bool) {
	in, ok := ParseInstance(addr)
	if !ok || in.Keyed {
		return "", 0, false
	}
	return in.Block, in.Index, true
}

// ParseInstance parses what Address or KeyAddress writes, and nothing
// else: host.web[2] and host.web["eu"] (the key quoted as KeyAddress
// quotes it, so that one instance has one address). This is the one
// parser of addresses: the planner, the operations, the library and the
// command line all call it.
func ParseInstance(addr string) (Instance, bool) {
	rest, found := strings.CutPrefix(addr, "host.")
	if !found || !strings.HasSuffix(rest, "]") {
		return Instance{}, false
	}
	open := strings.IndexByte(rest, '[')
	if open <= 0 {
		return Instance{}, false
	}
	name, inner := rest[:open], rest[open+1:len(rest)-1]
	if !hclsyntax.ValidIdentifier(name) || inner == "" {
		return Instance{}, false
	}
	if inner[0] == '"' {
		key, err := strconv.Unquote(inner)
		if err != nil || strconv.Quote(key) != inner {
			return Instance{}, false
		}
		return Instance{Block: name, Key: key, Keyed: true}, true
	}
	if len(inner) > 1 && inner[0] == '0' {
		return Instance{}, false
	}
	for _, c := range inner {
		if c < '0' || c > '9' {
			return Instance{}, false
		}
	}
	n, err := strconv.Atoi(inner)
	if err != nil {
		return Instance{}, false
	}
	return Instance{Block: name, Index: n}, true
}

// CompareAddress orders addresses by block name, then count instances by
// index as a number (host.web[2] before host.web[10]), then for_each
// instances by key; anything that is not an address sorts by its text.
func CompareAddress(a, b string) int {
	ia, oka := ParseInstance(a)
	ib, okb := ParseInstance(b)
	if !oka || !okb {
		return strings.Compare(a, b)
	}
	if c := strings.Compare(ia.Block, ib.Block); c != 0 {
		return c
	}
	if ia.Keyed != ib.Keyed {
		if ia.Keyed {
			return 1
		}
		return -1
	}
	if ia.Keyed {
		return strings.Compare(ia.Key, ib.Key)
	}
	return cmp.Compare(ia.Index, ib.Index)
}
