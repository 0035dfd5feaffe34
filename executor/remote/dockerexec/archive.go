package dockerexec

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Upload copies the local file or directory tree to remote, keeping
// permission bits. remote names the copy itself; when remote is an existing
// directory and local a file, the file goes into it under its own name (as
// cp does). Missing parent directories are made (mode 0755).
func (s *Session) Upload(ctx context.Context, local, remote string) error {
	fi, err := os.Lstat(local)
	if err != nil {
		return fmt.Errorf("upload %s: %w", local, err)
	}
	remote = path.Clean(remote)
	if !path.IsAbs(remote) {
		return fmt.Errorf("upload %s: remote path %q is not absolute", local, remote)
	}
	if !fi.IsDir() {
		if st, err := s.stat(ctx, remote); err == nil && st.IsDir() {
			remote = path.Join(remote, filepath.Base(local))
		}
	}
	// Find the deepest existing ancestor of remote: the archive is
	// extracted there and carries the missing directories.
	base := path.Dir(remote)
	var missing []string
	for base != "/" {
		st, err := s.stat(ctx, base)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("upload %s: %s in container %s is not a directory", local, base, s.container)
			}
			break
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("upload %s: %w", local, err)
		}
		missing = append([]string{path.Base(base)}, missing...)
		base = path.Dir(base)
	}
	prefix := path.Join(append(missing, path.Base(remote))...)

	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeTar(pw, local, missing, prefix))
	}()
	_, err = s.api.CopyToContainer(ctx, s.container, client.CopyToContainerOptions{
		DestinationPath: base,
		Content:         pr,
	})
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return fmt.Errorf("upload %s to %s in container %s: %w", local, remote, s.container, err)
	}
	return nil
}

func (s *Session) stat(ctx context.Context, p string) (fs.FileMode, error) {
	r, err := s.api.ContainerStatPath(ctx, s.container, client.ContainerStatPathOptions{Path: p})
	if err != nil {
		return 0, err
	}
	return r.Stat.Mode, nil
}

// writeTar writes the directories missing, then local renamed to prefix,
// as a tar stream with root ownership.
func writeTar(w io.Writer, local string, missing []string, prefix string) error {
	tw := tar.NewWriter(w)
	dir := ""
	for _, m := range missing {
		dir = path.Join(dir, m)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}); err != nil {
			return err
		}
	}
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		name := prefix
		if rel != "." {
			name = path.Join(prefix, filepath.ToSlash(rel))
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = name
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Download copies the remote file or directory tree to local, keeping
// permission bits. local names the copy itself; when local is an existing
// directory and remote a file, the file goes into it under its own name.
func (s *Session) Download(ctx context.Context, remote, local string) error {
	res, err := s.api.CopyFromContainer(ctx, s.container, client.CopyFromContainerOptions{SourcePath: remote})
	if err != nil {
		return fmt.Errorf("download %s from container %s: %w", remote, s.container, err)
	}
	defer res.Content.Close()
	if !res.Stat.Mode.IsDir() {
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			local = filepath.Join(local, path.Base(remote))
		}
	}
	if err := readTar(res.Content, local); err != nil {
		return fmt.Errorf("download %s from container %s: %w", remote, s.container, err)
	}
	return nil
}

// readTar extracts an archive whose first path element is the copied item
// into local, which takes that element's place. Entries that would land
// outside local are refused.
func readTar(r io.Reader, local string) error {
	tr := tar.NewReader(r)
	local = filepath.Clean(local)
	type dirMode struct {
		path string
		mode fs.FileMode
	}
	var dirs []dirMode // set after their contents are written
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		_, rest, _ := strings.Cut(name, "/")
		target := local
		if rest != "" {
			target = filepath.Join(local, filepath.FromSlash(rest))
		}
		if target != local && !strings.HasPrefix(target, local+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves %s", hdr.Name, local)
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{target, mode})
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(target, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			lname := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			_, lrest, _ := strings.Cut(lname, "/")
			src := filepath.Join(local, filepath.FromSlash(lrest))
			if !strings.HasPrefix(src, local+string(filepath.Separator)) {
				return fmt.Errorf("archive link %q leaves %s", hdr.Linkname, local)
			}
			_ = os.Remove(target)
			if err := os.Link(src, target); err != nil {
				return err
			}
		default:
			// Devices, fifos: not copied.
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}
