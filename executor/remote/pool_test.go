package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/labbroker/broker/test/sshdtest"
)

func TestPoolReusesOneConnection(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, srv.Addr)
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	cfg.HostKey = HostKeyPolicy{InsecureIgnore: true}
	p := NewPool()
	defer p.Close()
	ctx := context.Background()

	// Setup, hooks and exec of one run: concurrent Gets, many Runs.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 8 {
		wg.Go(func() {
			s, err := p.Get(ctx, "host.web[0]", cfg)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close() // a pooled session's Close leaves the connection
			for j := range 4 {
				res, err := s.Run(ctx, fmt.Sprintf("echo %d-%d", i, j), RunOptions{})
				if err != nil {
					errs <- err
				} else if want := fmt.Sprintf("%d-%d\n", i, j); res.Stdout != want {
					errs <- fmt.Errorf("output %q, want %q", res.Stdout, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := proxy.Connections(); n != 1 {
		t.Errorf("%d TCP connections for 32 runs, want 1", n)
	}
	if p.Len() != 1 {
		t.Errorf("pool holds %d connections, want 1", p.Len())
	}
}

func TestPoolRedialsDeadConnection(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	proxy := startProxy(t, srv.Addr)
	cfg := config(srv)
	cfg.Addr = proxy.Addr
	p := NewPool()
	defer p.Close()
	ctx := context.Background()
	s, err := p.Get(ctx, "h", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, "true", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	first := p.conns["h"]
	p.mu.Unlock()

	proxy.CloseAll() // the host rebooted, the path reset
	<-first.Done()
	res, err := s.Run(ctx, "echo again", RunOptions{})
	if err != nil || res.Stdout != "again\n" {
		t.Fatalf("Run after the connection died = %+v, %v", res, err)
	}
	if n := proxy.Connections(); n != 2 {
		t.Errorf("%d TCP connections, want 2 (one redial)", n)
	}

	// A host that stays away: the redial's error comes back.
	srv.Stop()
	proxy.CloseAll()
	p.mu.Lock()
	second := p.conns["h"]
	p.mu.Unlock()
	<-second.Done()
	if _, err := s.Run(ctx, "true", RunOptions{}); err == nil {
		t.Errorf("Run with the host gone succeeded")
	}
}

func TestPoolClose(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	p := NewPool()
	ctx := context.Background()
	s, err := p.Get(ctx, "a", config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := p.Get(ctx, "a", config(srv)); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get after Close = %v, want ErrPoolClosed", err)
	}
	if _, err := s.Run(ctx, "true", RunOptions{}); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Run after Close = %v, want ErrPoolClosed", err)
	}

	// Dial errors reach every waiting Get.
	p = NewPool()
	defer p.Close()
	bad := config(srv)
	bad.Addr = "127.0.0.1:1"
	if _, err := p.Get(ctx, "b", bad); err == nil {
		t.Errorf("Get of a closed port succeeded")
	}
}
