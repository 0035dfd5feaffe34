package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// jsonField is the testscript command `json [-len] FILE PATH WANT`: the
// value at PATH (dot-separated keys and list indexes) of the JSON document
// FILE, as text (strings bare, numbers plain, the rest JSON), or with -len
// its length, must be WANT. With !, it must not.
func jsonField(ts *testscript.TestScript, neg bool, args []string) {
	count := len(args) > 0 && args[0] == "-len"
	if count {
		args = args[1:]
	}
	if len(args) != 3 {
		ts.Fatalf("usage: json [-len] FILE PATH WANT")
	}
	raw, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var v any
	ts.Check(json.Unmarshal(raw, &v))
	if path := args[1]; path != "." {
		for _, seg := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				var ok bool
				if v, ok = x[seg]; !ok {
					ts.Fatalf("%s: no key %q in %s", args[0], seg, args[1])
				}
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(x) {
					ts.Fatalf("%s: no index %q in %s", args[0], seg, args[1])
				}
				v = x[i]
			default:
				ts.Fatalf("%s: %s: %q reads into a %T", args[0], args[1], seg, v)
			}
		}
	}
	var got string
	switch x := v.(type) {
	case string:
		got = x
	case float64:
		got = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		got = string(b)
	}
	if count {
		switch x := v.(type) {
		case []any:
			got = strconv.Itoa(len(x))
		case map[string]any:
			got = strconv.Itoa(len(x))
		default:
			ts.Fatalf("%s: %s is not a list or map", args[0], args[1])
		}
	}
	if (got == args[2]) == neg {
		ts.Fatalf("%s: %s = %s, want %s%s", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
	fmt.Fprintf(ts.Stdout(), "%s = %s\n", args[1], got)
}
