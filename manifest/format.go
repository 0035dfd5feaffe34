package manifest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout. It does not check that src
// parses; FormatPath does.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// FormatPath formats a file, or every *.hcl file of a directory, for
// `broker fmt`. Each file whose layout changes is named on w and listed
// in changed; with check set nothing is written. A file that does not
// parse is reported and left untouched, so formatting never loses data.
func FormatPath(path string, check bool, w io.Writer) (changed []string, diags hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read manifest", Detail: fmt.Sprintf("Cannot read %s: %s.", path, osErrText(err))}}
	}
	files := []string{path}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read manifest directory", Detail: fmt.Sprintf("Cannot list %s: %s.", path, osErrText(err))}}
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to read manifest", Detail: fmt.Sprintf("Cannot read %s: %s.", f, osErrText(err))})
			continue
		}
		if _, d := hclsyntax.ParseConfig(src, f, hcl.InitialPos); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		out := Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		changed = append(changed, f)
		if w != nil {
			fmt.Fprintln(w, f)
		}
		if check {
			continue
		}
		fi, err := os.Stat(f)
		if err == nil {
			err = writeFileAtomic(f, out, fi.Mode().Perm())
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to write manifest", Detail: fmt.Sprintf("Cannot write %s: %s.", f, osErrText(err))})
		}
	}
	return changed, diags
}

// writeFileAtomic replaces a file through a temporary sibling, so an
// interrupted fmt leaves the old or the new file, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Chmod(name, perm); err != nil {
		os.Remove(name)
		return err
	}
	return os.Rename(name, path)
}

// WriteDiagnostics renders diagnostics with source snippets: a summary
// line, "on FILE:LINE:COLUMN:", the snippet and the detail, wrapped at
// width (0: no wrapping).
//
// HCL's writer says only "on FILE line N" and shows the column by
// underlining the subject, which needs colour: the position line is
// rewritten so that the column survives in logs and CI output.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File, color bool, width int) error {
	if width < 0 {
		width = 0
	}
	var buf bytes.Buffer
	dw := hcl.NewDiagnosticTextWriter(&buf, files, uint(width), color)
	for _, d := range diags {
		buf.Reset()
		if err := dw.WriteDiagnostic(d); err != nil {
			return err
		}
		out := buf.Bytes()
		if s := d.Subject; s != nil {
			hclPos := fmt.Sprintf("  on %s line %d", s.Filename, s.Start.Line)
			pos := fmt.Sprintf("  on %s:%d:%d", s.Filename, s.Start.Line, s.Start.Column)
			out = bytes.Replace(out, []byte(hclPos), []byte(pos), 1)
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}
