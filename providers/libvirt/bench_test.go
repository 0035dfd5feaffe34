package libvirt_test

import (
	"context"
	"testing"
	"time"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/test/libvirttest"
)

// BenchmarkTimeToSSH boots one guest per iteration on the test daemon
// (software emulation) and reports the time from checkout to SSH answering,
// then checks it in. test/bench/libvirt.sh runs it for BENCHMARKS.md.
func BenchmarkTimeToSSH(b *testing.B) {
	d := libvirttest.Start(b)
	g := d.Guest(b)
	p, _ := newProvider(b, d, nil)
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := p.Checkout(ctx, providers.CheckoutRequest{Args: g.Args(), Name: "bench", Labels: map[string]string{providers.LabelID: "bench"}})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		h := resp.Hosts[0]
		if _, err := p.Checkin(ctx, providers.CheckinRequest{Host: providers.HostRef{ID: "bench", ProviderID: h.ProviderID, Name: h.Name}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-ssh")
}
