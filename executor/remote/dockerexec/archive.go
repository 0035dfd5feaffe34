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
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	rmt "github.com/labbroker/broker/executor/remote"
)

// Upload copies the local file or directory tree to remote, keeping
// permission bits. remote names the copy itself; when remote is an existing
// directory and local a file, the file goes into it under its own name (as
// cp does). Missing parent directories are made (mode 0755). Inside the
// tree, symbolic links whose target is absolute or leaves the tree, and
// devices, pipes and sockets, are skipped and reported through the
// context (remote.WithSkipReport).
func (s *Session) Upload(ctx context.Context, local, remote string) error {
	fi, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("upload %s: %w", local, err)
	}
	if err := rmt.RefuseSpecial(local, fi.Mode()); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if fi.IsDir() {
		// local, named by the user, may be a link to the tree.
		if local, err = filepath.EvalSymlinks(local); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
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
		pw.CloseWithError(writeTar(ctx, pw, local, missing, prefix))
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
// as a tar stream with root ownership. Links that leave the tree and
// special files are left out and reported.
func writeTar(ctx context.Context, w io.Writer, local string, missing []string, prefix string) error {
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
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
			link = filepath.ToSlash(link)
			if !rmt.LinkStaysInside(filepath.ToSlash(rel), link) {
				rmt.ReportSkip(ctx, rmt.Skip{Path: p, Reason: rmt.LinkSkipReason(link)})
				return nil
			}
		case !fi.Mode().IsRegular() && !fi.IsDir():
			rmt.ReportSkip(ctx, rmt.Skip{Path: p, Reason: rmt.SpecialSkipReason(fi.Mode())})
			return nil
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
// permission bits (but set-user-ID and set-group-ID, see
// remote.DownloadModeBits). local names the copy itself; when local is an
// existing directory and remote a file, the file goes into it under its
// own name. Nothing is ever written outside local (see remote.LocalTree);
// symbolic links whose target is absolute or leaves the tree, devices,
// pipes and sockets are skipped and reported through the context
// (remote.WithSkipReport).
func (s *Session) Download(ctx context.Context, remote, local string) error {
	res, err := s.copyFrom(ctx, remote)
	if err != nil {
		return fmt.Errorf("download %s from container %s: %w", remote, s.container, err)
	}
	defer res.Content.Close()
	if err := rmt.RefuseSpecial(remote, res.Stat.Mode); err != nil {
		return fmt.Errorf("download from container %s: %w", s.container, err)
	}
	if !res.Stat.Mode.IsDir() {
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			local = filepath.Join(local, path.Base(remote))
		}
		err = readFile(res.Content, local)
	} else {
		err = readTree(ctx, res.Content, local)
	}
	if err != nil {
		return fmt.Errorf("download %s from container %s: %w", remote, s.container, err)
	}
	return nil
}

// copyFrom opens the archive of remote; when remote, named by the user, is
// a symbolic link, the archive of what it points to (the engine would
// archive the link itself).
func (s *Session) copyFrom(ctx context.Context, remote string) (client.CopyFromContainerResult, error) {
	res, err := s.api.CopyFromContainer(ctx, s.container, client.CopyFromContainerOptions{SourcePath: remote})
	if err != nil || res.Stat.Mode&fs.ModeSymlink == 0 || res.Stat.LinkTarget == "" {
		return res, err
	}
	res.Content.Close()
	return s.api.CopyFromContainer(ctx, s.container, client.CopyFromContainerOptions{SourcePath: res.Stat.LinkTarget})
}

// readFile writes the one regular file of an archive to local.
func readFile(r io.Reader, local string) error {
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return fmt.Errorf("archive entry %q is a %s, not a regular file", hdr.Name, rmt.KindName(hdr.FileInfo().Mode()))
	}
	f, err := os.OpenFile(local, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, tr)
	if err == nil {
		err = f.Chmod(hdr.FileInfo().Mode() & rmt.DownloadModeBits)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readTree extracts an archive whose first path element is the copied
// directory into local, which takes that element's place, through a
// remote.LocalTree: nothing lands outside local, no link under it is
// written through.
func readTree(ctx context.Context, r io.Reader, local string) error {
	t, err := rmt.OpenLocalTree(local)
	if err != nil {
		return err
	}
	defer t.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		_, rel, _ := strings.Cut(name, "/")
		if rel == "" {
			rel = "."
		}
		mode := hdr.FileInfo().Mode()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := t.Mkdir(rel, mode, time.Time{}); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := t.Create(rel)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if err == nil {
				err = f.Chmod(mode & rmt.DownloadModeBits)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if !rmt.LinkStaysInside(rel, hdr.Linkname) {
				rmt.ReportSkip(ctx, rmt.Skip{Path: hdr.Name, Reason: rmt.LinkSkipReason(hdr.Linkname)})
				continue
			}
			if err := t.Symlink(rel, hdr.Linkname); err != nil {
				return err
			}
		case tar.TypeLink:
			lname := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			_, lrel, _ := strings.Cut(lname, "/")
			if lrel == "" {
				return fmt.Errorf("archive link %q names the copied directory", hdr.Linkname)
			}
			if err := t.Link(lrel, rel); err != nil {
				return err
			}
		default:
			rmt.ReportSkip(ctx, rmt.Skip{Path: hdr.Name, Reason: rmt.SpecialSkipReason(mode)})
		}
	}
	return t.Finish()
}
