package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"gopkg.in/yaml.v3"
)

// Limits on what a load reads and builds. A manifest comes from a suite's
// repository, which CI runs without review; these keep a hostile or broken
// one from exhausting the runner's memory or hanging a job: each is
// reported as an error naming the limit, within seconds. The README's
// manifest reference lists them.
const (
	// MaxCount is the largest count of one host block, and of one
	// imperative checkout or duplicate.
	MaxCount = 1000
	// MaxHosts is the most host instances one manifest describes.
	MaxHosts = 10000
	// MaxFileBytes is the largest file a load reads: each manifest file,
	// each var file, and each file of file() and templatefile().
	MaxFileBytes = 4 << 20
	// MaxNesting is how deep brackets, braces, parentheses and templates
	// may nest in a manifest, and arrays and objects in what jsondecode
	// and yamldecode read.
	MaxNesting = 100
	// MaxDecodedValues is the most values (every scalar, list and map
	// counted, YAML aliases expanded) one jsondecode or yamldecode makes.
	MaxDecodedValues = 100000
)

// LimitError is a file that broke one of the limits.
type LimitError struct {
	Path  string
	What  string // "a named pipe", "too large"
	Limit string // "broker reads only regular files"
}

func (e *LimitError) Error() string { return e.Path + " is " + e.What + ": " + e.Limit }

// ReadRegularFile reads path, which must be a regular file (a FIFO, a
// device or a socket is refused before it is opened for reading, so that
// /dev/zero or a pipe nobody writes cannot hang or exhaust a load) of at
// most MaxFileBytes.
func ReadRegularFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, st); err != nil {
		return nil, err
	}
	// Non-blocking, should the path have been swapped for a FIFO since the
	// Stat: the open cannot wait for a writer, and the file is checked
	// again through its descriptor.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, st); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, tooBig(path)
	}
	return b, nil
}

func checkRegular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if !m.IsRegular() {
		kind := "not a regular file"
		switch {
		case m.IsDir():
			kind = "a directory"
		case m&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		case m&fs.ModeSocket != 0:
			kind = "a socket"
		case m&fs.ModeDevice != 0:
			kind = "a device"
		}
		return &LimitError{Path: path, What: kind, Limit: "broker reads only regular files"}
	}
	if st.Size() > MaxFileBytes {
		return tooBig(path)
	}
	return nil
}

func tooBig(path string) error {
	return &LimitError{Path: path, What: "too large", Limit: fmt.Sprintf("a file may have at most %d bytes (%d MiB)", MaxFileBytes, MaxFileBytes>>20)}
}

// readErrText is a read error for a diagnostic's Detail.
func readErrText(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return "it is " + le.What + "; " + le.Limit
	}
	return osErrText(err)
}

// nestingDiag reports src nesting deeper than MaxNesting, before it is
// parsed: the parsers recurse once per level, and thousands of levels
// cost seconds of parsing and evaluation each.
func nestingDiag(src []byte, filename string, json bool) *hcl.Diagnostic {
	if json {
		if depth, at := jsonDepth(src); depth > MaxNesting {
			pos := hcl.Pos{Line: 1, Column: 1, Byte: at}
			for _, c := range src[:at] {
				if c == '\n' {
					pos.Line++
					pos.Column = 0
				}
				pos.Column++
			}
			return tooDeep(hcl.Range{Filename: filename, Start: pos, End: pos})
		}
		return nil
	}
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	depth := 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > MaxNesting {
				return tooDeep(t.Range)
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

func tooDeep(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail:   fmt.Sprintf("Brackets, braces, parentheses and templates nest more than %d levels deep here, the most broker reads.", MaxNesting),
		Subject:  rng.Ptr(),
	}
}

// jsonDepth is the deepest nesting of arrays and objects in JSON text and
// the offset where it is first reached, stopping early past MaxNesting.
func jsonDepth(src []byte) (max, at int) {
	depth := 0
	inString, escaped := false, false
	for i, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > max {
				max, at = depth, i
				if max > MaxNesting {
					return max, at
				}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return max, at
}

// checkJSONInput bounds jsondecode's input: its size, and its nesting, as
// the decoder recurses once per level. A JSON document makes at most one
// value per byte, so its size bounds the values it makes.
func checkJSONInput(src string) error {
	if len(src) > MaxFileBytes {
		return fmt.Errorf("the JSON text has %d bytes; jsondecode reads at most %d", len(src), MaxFileBytes)
	}
	if depth, _ := jsonDepth([]byte(src)); depth > MaxNesting {
		return fmt.Errorf("the JSON text nests more than %d levels deep, the most jsondecode reads", MaxNesting)
	}
	return nil
}

// checkYAMLInput bounds yamldecode's input before it is decoded: its size,
// its nesting, and the values it expands to. An alias repeats what its
// anchor holds, so a few hundred bytes of anchors and aliases can stand for
// billions of values (the "billion laughs"); they are counted here on the
// parsed node tree, each anchor's size worked out once.
func checkYAMLInput(src string) error {
	if len(src) > MaxFileBytes {
		return fmt.Errorf("the YAML text has %d bytes; yamldecode reads at most %d", len(src), MaxFileBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return err
	}
	type size struct{ values, depth int }
	memo := map[*yaml.Node]size{}
	inProgress := map[*yaml.Node]bool{}
	errAlias := errors.New("an alias refers to its own anchor")
	var walk func(n *yaml.Node) (size, error)
	walk = func(n *yaml.Node) (size, error) {
		if s, ok := memo[n]; ok {
			return s, nil
		}
		if inProgress[n] {
			return size{}, errAlias
		}
		inProgress[n] = true
		defer delete(inProgress, n)
		var s size
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			a, err := walk(n.Alias)
			if err != nil {
				return size{}, err
			}
			s = a
		} else {
			for _, c := range n.Content {
				cs, err := walk(c)
				if err != nil {
					return size{}, err
				}
				s.values = min(s.values+cs.values, MaxDecodedValues+1)
				s.depth = max(s.depth, cs.depth)
			}
			if n.Kind != yaml.DocumentNode {
				s.values++
				if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
					s.depth++
				}
			}
		}
		if s.depth > MaxNesting {
			return size{}, fmt.Errorf("the YAML text nests more than %d levels deep, aliases expanded, the most yamldecode reads", MaxNesting)
		}
		if s.values > MaxDecodedValues {
			return size{}, fmt.Errorf("the YAML text expands to more than %d values, aliases expanded, the most yamldecode makes", MaxDecodedValues)
		}
		memo[n] = s
		return s, nil
	}
	_, err := walk(&doc)
	return err
}
