package bolt_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker/state"
)

func benchHosts(n int) []state.Host {
	hosts := make([]state.Host, n)
	for i := range hosts {
		hosts[i] = state.Host{
			ID: state.NewID(), Environment: fmt.Sprintf("env%d", i%4), Address: fmt.Sprintf("host.web[%d]", i),
			Provider: "docker", Instance: "local", ProviderID: fmt.Sprintf("%064x", i),
			Name: fmt.Sprintf("web-%d", i), Hostname: fmt.Sprintf("web-%d.lab.example.com", i),
			IP: "10.0.0.1", Port: 22, User: "root", Transport: state.TransportSSH,
			Recipe: map[string]any{"image": "rhel9-sshd:latest", "ports": []any{"22"}},
			Facts:  map[string]any{"os": "rhel", "version": "9.4"},
			Labels: map[string]string{"role": "web", "team": "qe"},
			Lease:  state.Lease{Expires: time.Now().Add(time.Hour), Duration: time.Hour},
			Status: state.StatusReady, Origin: state.Origin{User: "qe", Machine: "runner1", Command: "apply"},
		}
	}
	return hosts
}

// BenchmarkHosts10k is what a `broker plan` against a large state reads:
// open the file, copy 10,000 records out, decode them.
func BenchmarkHosts10k(b *testing.B) {
	s := openTempB(b)
	if err := s.Put(context.Background(), benchHosts(10_000)...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		hosts, err := s.Hosts(context.Background(), state.Query{})
		if err != nil || len(hosts) != 10_000 {
			b.Fatal(len(hosts), err)
		}
	}
}

// BenchmarkHosts10kOneEnv reads a quarter of them through the
// environment index.
func BenchmarkHosts10kOneEnv(b *testing.B) {
	s := openTempB(b)
	if err := s.Put(context.Background(), benchHosts(10_000)...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		hosts, err := s.Hosts(context.Background(), state.Query{Environment: "env1"})
		if err != nil || len(hosts) != 2_500 {
			b.Fatal(len(hosts), err)
		}
	}
}

// BenchmarkPut1000 writes 1,000 new hosts in one call (one transaction).
func BenchmarkPut1000(b *testing.B) {
	s := openTempB(b)
	for b.Loop() {
		if err := s.Put(context.Background(), benchHosts(1000)...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatcher1000Writers is an apply of 1,000 hosts recording each
// host from its own goroutine, through the Batcher: group commit turns
// 1,000 transactions into a few.
func BenchmarkBatcher1000Writers(b *testing.B) {
	s := state.NewBatcher(openTempB(b))
	for b.Loop() {
		var wg sync.WaitGroup
		for _, h := range benchHosts(1000) {
			wg.Go(func() {
				if err := s.Put(context.Background(), h); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}
