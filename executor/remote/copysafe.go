package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// Skip is an entry of a copied tree that Upload or Download left out,
// and why: a symbolic link whose target is absolute or leaves the
// destination, a device node, a named pipe or a socket.
type Skip struct {
	// Path is the entry's path on the side it was read from.
	Path   string
	Reason string
}

func (s Skip) String() string { return "skipped " + s.Path + ": " + s.Reason }

type skipKey struct{}

// WithSkipReport returns a context that makes Upload and Download call fn
// for every entry they leave out, so that the caller can warn its user.
// fn may be called from several goroutines at once.
//
// The report travels in the context rather than in the Session methods'
// arguments so that every Session (pooled, SSH, docker exec) passes it on
// unchanged, and callers that do not care need not change.
func WithSkipReport(ctx context.Context, fn func(Skip)) context.Context {
	return context.WithValue(ctx, skipKey{}, fn)
}

// ReportSkip tells the caller of a copy, through the function given to
// WithSkipReport, that an entry was left out.
func ReportSkip(ctx context.Context, s Skip) {
	if fn, ok := ctx.Value(skipKey{}).(func(Skip)); ok && fn != nil {
		fn(s)
	}
}

// LinkStaysInside tells whether a symbolic link at rel (slash-separated,
// relative to the root of a copied tree) with the given target resolves
// inside that tree, whatever the other links of the tree are: the target
// must be relative, its ".." components must all come first (after a
// name, ".." would climb from wherever that name's link points) and no
// more of them than rel has parent directories.
func LinkStaysInside(rel, target string) bool {
	if target == "" || path.IsAbs(target) || strings.ContainsRune(target, 0) {
		return false
	}
	depth := 0
	if d := path.Dir(path.Clean(rel)); d != "." {
		depth = strings.Count(d, "/") + 1
	}
	named := false
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if named {
				return false
			}
			depth--
			if depth < 0 {
				return false
			}
		default:
			named = true
		}
	}
	return true
}

// LinkSkipReason is the Skip.Reason of a link left out.
func LinkSkipReason(target string) string {
	if path.IsAbs(target) {
		return fmt.Sprintf("symbolic link to %s: an absolute target is not recreated", target)
	}
	return fmt.Sprintf("symbolic link to %s leaves the destination", target)
}

// SpecialSkipReason is the Skip.Reason of a device, pipe or socket left
// out.
func SpecialSkipReason(m fs.FileMode) string {
	return "a " + KindName(m) + " is not copied"
}

// KindName names a file type for messages: "regular file", "socket", ….
func KindName(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t.IsDir():
		return "directory"
	case t == 0:
		return "regular file"
	default:
		return "special file"
	}
}

// RefuseSpecial is the error for a copy whose source itself is a device
// node, a named pipe or a socket; nil for a regular file or a directory.
func RefuseSpecial(name string, m fs.FileMode) error {
	if m.IsRegular() || m.IsDir() {
		return nil
	}
	return fmt.Errorf("%s is a %s: only regular files and directories are copied", name, KindName(m))
}

// DownloadModeBits are the mode bits a download keeps: set-user-ID and
// set-group-ID are dropped, as a host must not hand this machine's user a
// program that runs with their rights when others start it.
const DownloadModeBits = fs.ModePerm | fs.ModeSticky

// LocalTree writes a downloaded tree under one local directory and never
// outside it: every name is resolved under an os.Root (which refuses any
// path or link that leaves the directory), a directory of the tree that
// is a symbolic link locally is replaced by a real directory rather than
// written through, and a file is written by creating a new one (O_EXCL)
// in place of whatever was there, so that no existing link, symbolic or
// hard, is written through. It is safe for concurrent use.
type LocalTree struct {
	root *os.Root
	mu   sync.Mutex
	dirs map[string]bool // names checked to be real directories
	meta []dirMeta       // modes and times, set by Finish
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// OpenLocalTree makes dir (and its parents) if missing and opens it as the
// root of a download. dir itself, named by the user, may be a link.
func OpenLocalTree(dir string) (*LocalTree, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &LocalTree{root: r, dirs: map[string]bool{".": true}}, nil
}

// Close releases the tree's directory.
func (t *LocalTree) Close() error { return t.root.Close() }

// native turns a slash-separated name of the tree into a local one.
func native(name string) string {
	return strings.ReplaceAll(path.Clean(name), "/", string(os.PathSeparator))
}

// Mkdir makes name a real directory of the tree (replacing a symbolic
// link found there), its parents too, and remembers mode and mtime for
// Finish (a zero mtime keeps the directory's).
func (t *LocalTree) Mkdir(name string, mode fs.FileMode, mtime time.Time) error {
	name = path.Clean(name)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.mkdirLocked(name); err != nil {
		return err
	}
	t.meta = append(t.meta, dirMeta{name, mode & DownloadModeBits, mtime})
	return nil
}

func (t *LocalTree) mkdirLocked(name string) error {
	if t.dirs[name] {
		return nil
	}
	if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
		return fmt.Errorf("%s leaves the destination", name)
	}
	if err := t.mkdirLocked(path.Dir(name)); err != nil {
		return err
	}
	n := native(name)
	fi, err := t.root.Lstat(n)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case fi.IsDir():
		t.dirs[name] = true
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		// A link where the tree has a directory: never write through it.
		if err := t.root.Remove(n); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s exists and is a %s, not a directory", name, KindName(fi.Mode()))
	}
	if err := t.root.Mkdir(n, 0o700); err != nil {
		return err
	}
	t.dirs[name] = true
	return nil
}

// clear makes room for a new non-directory entry name: its parents are
// made real directories, and what is at name is removed unless it is a
// directory.
func (t *LocalTree) clear(name string) (string, error) {
	name = path.Clean(name)
	if name == "." {
		return "", errors.New("the destination itself cannot be replaced by a file")
	}
	t.mu.Lock()
	err := t.mkdirLocked(path.Dir(name))
	t.mu.Unlock()
	if err != nil {
		return "", err
	}
	n := native(name)
	fi, err := t.root.Lstat(n)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return n, nil
	case err != nil:
		return "", err
	case fi.IsDir():
		return "", fmt.Errorf("%s exists and is a directory", name)
	}
	if err := t.root.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return n, nil
}

// Create makes name a new, empty regular file of the tree, in place of
// any file or link there, and returns it open for writing.
func (t *LocalTree) Create(name string) (*os.File, error) {
	n, err := t.clear(name)
	if err != nil {
		return nil, err
	}
	return t.root.OpenFile(n, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// Symlink makes name a symbolic link to target, which the caller has
// checked with LinkStaysInside.
func (t *LocalTree) Symlink(name, target string) error {
	n, err := t.clear(name)
	if err != nil {
		return err
	}
	return t.root.Symlink(target, n)
}

// Link makes name a hard link to oldname, both names of the tree.
func (t *LocalTree) Link(oldname, name string) error {
	n, err := t.clear(name)
	if err != nil {
		return err
	}
	return t.root.Link(native(oldname), n)
}

// Chtimes sets a file's times (after its content is written).
func (t *LocalTree) Chtimes(name string, mtime time.Time) error {
	return t.root.Chtimes(native(name), mtime, mtime)
}

// Finish sets the directories' modes and times, deepest first, once their
// contents are written (a read-only directory must still take them).
func (t *LocalTree) Finish() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range slices.Backward(t.meta) {
		n := native(d.name)
		if err := t.root.Chmod(n, d.mode); err != nil {
			return err
		}
		if !d.mtime.IsZero() {
			if err := t.root.Chtimes(n, d.mtime, d.mtime); err != nil {
				return err
			}
		}
	}
	return nil
}
