package remote

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
	"golang.org/x/sync/errgroup"
)

// BenchmarkPoolRunTrue50Hosts runs `true` on 50 hosts at once through a
// fresh Pool each iteration, dials included: the cost of `broker exec` on
// 50 hosts. The hosts are one sshd per 16 ports (sshdtest.StartN).
func BenchmarkPoolRunTrue50Hosts(b *testing.B) {
	const hosts = 50
	srv := sshdtest.StartN(b, hosts)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		p := NewPool()
		var g errgroup.Group
		for i, addr := range srv.Addrs {
			g.Go(func() error {
				cfg := config(srv)
				cfg.Addr = addr
				s, err := p.Get(ctx, strconv.Itoa(i), cfg)
				if err != nil {
					return err
				}
				_, err = s.Run(ctx, "true", RunOptions{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkUpload256MiB uploads (and downloads) one 256 MiB file over
// SFTP, and for comparison copies it with the OpenSSH scp client to the
// same sshd. The target is sftp >= 0.9x scp.
func BenchmarkUpload256MiB(b *testing.B) {
	const size = 256 << 20
	srv := sshdtest.Start(b, sshdtest.Options{})
	dir := b.TempDir()
	src := filepath.Join(dir, "blob")
	writeRandomFile(b, src, size)
	dst := filepath.Join(dir, "copy")

	b.Run("sftp", func(b *testing.B) {
		s := dial(b, config(srv))
		ctx := context.Background()
		b.SetBytes(size)
		for b.Loop() {
			if err := s.Upload(ctx, src, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sftp-download", func(b *testing.B) {
		s := dial(b, config(srv))
		ctx := context.Background()
		b.SetBytes(size)
		for b.Loop() {
			if err := s.Download(ctx, src, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scp", func(b *testing.B) {
		scp, err := exec.LookPath("scp")
		if err != nil {
			b.Skip("scp not installed")
		}
		b.SetBytes(size)
		for b.Loop() {
			out, err := exec.Command(scp, "-q", "-i", srv.KeyFile, "-P", strconv.Itoa(srv.Port),
				"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
				src, srv.User+"@127.0.0.1:"+dst).CombinedOutput()
			if err != nil {
				b.Fatalf("scp: %v: %s", err, out)
			}
		}
	})
}

func writeRandomFile(tb testing.TB, path string, size int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for written := 0; written < size; written += len(buf) {
		_, _ = r.Read(buf)
		if _, err := f.Write(buf); err != nil {
			tb.Fatal(err)
		}
	}
}
