package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/sync/errgroup"
)

// SFTP tuning. OpenSSH's sftp-server takes messages up to 256 KiB and
// reads up to 255 KiB; large packets with many in flight per file is what
// lets one file move about as fast as scp does.
const (
	sftpPacket      = 255 * 1024
	sftpInFlight    = 64
	sftpParallelism = 8 // files of a tree moved at once
)

// modeBits are the mode bits a copy keeps.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// sftpClient opens the connection's SFTP client on first use.
func (s *SSHSession) sftpClient() (*sftp.Client, error) {
	s.sftpMu.Lock()
	defer s.sftpMu.Unlock()
	if s.sftp != nil {
		return s.sftp, nil
	}
	if !s.alive() {
		return nil, fmt.Errorf("sftp on %s: connection closed", s.addr)
	}
	c, err := sftp.NewClient(s.client,
		sftp.MaxPacketUnchecked(sftpPacket),
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
		sftp.MaxConcurrentRequestsPerFile(sftpInFlight),
	)
	if err != nil {
		return nil, fmt.Errorf("sftp on %s: %w", s.addr, err)
	}
	s.sftp = c
	return c, nil
}

// Upload copies the local file or directory tree to remote, keeping mode
// bits, modification times and the symbolic links that stay inside the
// tree (others, and devices, pipes and sockets, are skipped and reported
// through the context, see WithSkipReport). A directory's contents land
// in remote (created if needed); a file is written to remote, or into it
// when remote is an existing directory. Inside the tree, a symbolic link
// found on the host where the tree has a directory or a file is replaced,
// never written through.
func (s *SSHSession) Upload(ctx context.Context, local, remote string) error {
	c, err := s.sftpClient()
	if err != nil {
		return err
	}
	fi, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if err := RefuseSpecial(local, fi.Mode()); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if !fi.IsDir() {
		if rfi, err := c.Stat(remote); err == nil && rfi.IsDir() {
			remote = path.Join(remote, filepath.Base(local))
		}
		if err := uploadFile(ctx, c, local, remote, fi, false); err != nil {
			return fmt.Errorf("upload to %s: %w", s.addr, err)
		}
		return nil
	}
	// local, named by the user, may be a link to the tree.
	if local, err = filepath.EvalSymlinks(local); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if err := uploadTree(ctx, c, local, remote); err != nil {
		return fmt.Errorf("upload to %s: %w", s.addr, err)
	}
	return nil
}

func uploadTree(ctx context.Context, c *sftp.Client, local, remote string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sftpParallelism)
	type dirMode struct {
		path string
		info fs.FileInfo
	}
	var dirs []dirMode
	walkErr := filepath.WalkDir(local, func(lp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := gctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(local, lp)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		rp := path.Join(remote, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := remoteMkdir(c, rp, rel == "."); err != nil {
				return fmt.Errorf("mkdir %s: %w", rp, err)
			}
			// Modes last: a read-only directory must still take its
			// contents.
			dirs = append(dirs, dirMode{rp, info})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(lp)
			if err != nil {
				return err
			}
			if !LinkStaysInside(rel, filepath.ToSlash(target)) {
				ReportSkip(ctx, Skip{Path: lp, Reason: LinkSkipReason(target)})
				return nil
			}
			_ = c.Remove(rp)
			if err := c.Symlink(filepath.ToSlash(target), rp); err != nil {
				return fmt.Errorf("symlink %s: %w", rp, err)
			}
		case d.Type().IsRegular():
			g.Go(func() error { return uploadFile(gctx, c, lp, rp, info, true) })
		default:
			ReportSkip(ctx, Skip{Path: lp, Reason: SpecialSkipReason(d.Type())})
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if walkErr != nil {
		return walkErr
	}
	for _, d := range slices.Backward(dirs) {
		if err := c.Chmod(d.path, d.info.Mode()&modeBits); err != nil {
			return fmt.Errorf("chmod %s: %w", d.path, err)
		}
		if err := c.Chtimes(d.path, d.info.ModTime(), d.info.ModTime()); err != nil {
			return fmt.Errorf("chtimes %s: %w", d.path, err)
		}
	}
	return nil
}

// remoteMkdir makes p a directory on the host. The root of an upload,
// named by the user, is made with its parents and may be a link; below
// it, a symbolic link found where the tree has a directory is replaced.
func remoteMkdir(c *sftp.Client, p string, top bool) error {
	if top {
		return c.MkdirAll(p)
	}
	if err := c.Mkdir(p); err == nil {
		return nil
	}
	fi, err := c.Lstat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		if err := c.Remove(p); err != nil {
			return err
		}
		return c.Mkdir(p)
	default:
		return fmt.Errorf("exists and is a %s, not a directory", KindName(fi.Mode()))
	}
}

// uploadFile writes local to remote. Inside a tree (inTree), whatever is
// at remote other than a regular file (a symbolic link above all) is
// replaced rather than written through.
func uploadFile(ctx context.Context, c *sftp.Client, local, remote string, info fs.FileInfo, inTree bool) error {
	lf, err := os.Open(local)
	if err != nil {
		return err
	}
	defer lf.Close()
	var rf *sftp.File
	if inTree {
		rf, err = createInTree(c, remote)
	} else {
		rf, err = c.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", remote, err)
	}
	_, err = rf.ReadFrom(ctxFileReader{ctx, lf})
	if cerr := rf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", remote, err)
	}
	if err := c.Chmod(remote, info.Mode()&modeBits); err != nil {
		return fmt.Errorf("chmod %s: %w", remote, err)
	}
	if err := c.Chtimes(remote, info.ModTime(), info.ModTime()); err != nil {
		return fmt.Errorf("chtimes %s: %w", remote, err)
	}
	return nil
}

// createInTree opens p for writing without following a link there: a new
// file is made with O_EXCL (one round trip, the usual case); an existing
// regular file is truncated; anything else is removed first.
func createInTree(c *sftp.Client, p string) (*sftp.File, error) {
	f, err := c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err == nil {
		return f, nil
	}
	fi, lerr := c.Lstat(p)
	if lerr != nil {
		return nil, err
	}
	switch {
	case fi.Mode().IsRegular():
		return c.OpenFile(p, os.O_WRONLY|os.O_TRUNC)
	case fi.IsDir():
		return nil, errors.New("exists and is a directory")
	}
	if err := c.Remove(p); err != nil {
		return nil, err
	}
	return c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
}

// Download copies the remote file or directory tree to local, keeping mode
// bits (but set-user-ID and set-group-ID, see DownloadModeBits),
// modification times and the symbolic links that stay inside the tree;
// local is named as in Upload. Nothing is ever written outside local: see
// LocalTree. Links that would leave it, devices, pipes and sockets are
// skipped and reported through the context (WithSkipReport).
func (s *SSHSession) Download(ctx context.Context, remote, local string) error {
	c, err := s.sftpClient()
	if err != nil {
		return err
	}
	fi, err := c.Stat(remote)
	if err != nil {
		return fmt.Errorf("download from %s: %s: %w", s.addr, remote, err)
	}
	if err := RefuseSpecial(remote, fi.Mode()); err != nil {
		return fmt.Errorf("download from %s: %w", s.addr, err)
	}
	if !fi.IsDir() {
		if lfi, err := os.Stat(local); err == nil && lfi.IsDir() {
			local = filepath.Join(local, path.Base(remote))
		}
		if err := downloadFile(ctx, c, remote, local, fi); err != nil {
			return fmt.Errorf("download from %s: %w", s.addr, err)
		}
		return nil
	}
	if err := downloadTree(ctx, c, remote, local); err != nil {
		return fmt.Errorf("download from %s: %w", s.addr, err)
	}
	return nil
}

func downloadTree(ctx context.Context, c *sftp.Client, remote, local string) error {
	t, err := OpenLocalTree(local)
	if err != nil {
		return err
	}
	defer t.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sftpParallelism)
	walkErr := func() error {
		// The trailing slash makes the walk start inside remote when it
		// is a link to a directory (named by the user).
		root := strings.TrimSuffix(remote, "/") + "/"
		w := c.Walk(root)
		for w.Step() {
			if err := w.Err(); err != nil {
				return err
			}
			if err := gctx.Err(); err != nil {
				return err
			}
			rp, info := w.Path(), w.Stat()
			rel, err := filepath.Rel(filepath.FromSlash(root), filepath.FromSlash(rp))
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			switch {
			case rel == "." || info.IsDir():
				if err := t.Mkdir(rel, info.Mode(), info.ModTime()); err != nil {
					return err
				}
			case info.Mode()&fs.ModeSymlink != 0:
				target, err := c.ReadLink(rp)
				if err != nil {
					return fmt.Errorf("readlink %s: %w", rp, err)
				}
				if !LinkStaysInside(rel, target) {
					ReportSkip(ctx, Skip{Path: rp, Reason: LinkSkipReason(target)})
					continue
				}
				if err := t.Symlink(rel, target); err != nil {
					return err
				}
			case info.Mode().IsRegular():
				g.Go(func() error { return downloadInTree(gctx, c, rp, t, rel, info) })
			default:
				ReportSkip(ctx, Skip{Path: rp, Reason: SpecialSkipReason(info.Mode())})
			}
		}
		return nil
	}()
	if err := g.Wait(); err != nil {
		return err
	}
	if walkErr != nil {
		return walkErr
	}
	return t.Finish()
}

// downloadInTree copies the remote file rp to name in t.
func downloadInTree(ctx context.Context, c *sftp.Client, rp string, t *LocalTree, name string, info fs.FileInfo) error {
	rf, err := c.Open(rp)
	if err != nil {
		return fmt.Errorf("open %s: %w", rp, err)
	}
	defer rf.Close()
	lf, err := t.Create(name)
	if err != nil {
		return err
	}
	_, err = rf.WriteTo(ctxWriter{ctx, lf})
	if err == nil {
		err = lf.Chmod(info.Mode() & DownloadModeBits)
	}
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", rp, err)
	}
	return t.Chtimes(name, info.ModTime())
}

func downloadFile(ctx context.Context, c *sftp.Client, remote, local string, info fs.FileInfo) error {
	rf, err := c.Open(remote)
	if err != nil {
		return fmt.Errorf("open %s: %w", remote, err)
	}
	defer rf.Close()
	lf, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = rf.WriteTo(ctxWriter{ctx, lf})
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", remote, err)
	}
	if err := os.Chmod(local, info.Mode()&DownloadModeBits); err != nil {
		return err
	}
	return os.Chtimes(local, info.ModTime(), info.ModTime())
}

// ctxFileReader stops a transfer when ctx ends; Stat tells pkg/sftp the
// size, which it needs to write concurrently.
type ctxFileReader struct {
	ctx context.Context
	f   *os.File
}

func (r ctxFileReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

func (r ctxFileReader) Stat() (os.FileInfo, error) { return r.f.Stat() }

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
