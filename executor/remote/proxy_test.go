package remote

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// tcpProxy forwards loopback connections to a target, counting them; it
// can cut them (CloseAll) or make them go silent (Freeze).
type tcpProxy struct {
	Addr     string
	ln       net.Listener
	target   string
	accepted atomic.Int64

	mu     sync.Mutex
	frozen bool
	down   []net.Conn // client side
	up     []net.Conn // target side
}

func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	return startProxyOn(t, "127.0.0.1:0", target)
}

// startProxyOn is startProxy listening on listen.
func startProxyOn(t testing.TB, listen, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{Addr: ln.Addr().String(), ln: ln, target: target}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.down = append(p.down, c)
			p.up = append(p.up, u)
			p.mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.CloseAll()
	})
	return p
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	frozen := p.frozen
	p.mu.Unlock()
	if !frozen {
		dst.Close()
		src.Close()
	}
}

// Connections is how many connections the proxy has accepted.
func (p *tcpProxy) Connections() int { return int(p.accepted.Load()) }

// CloseAll cuts every connection, as a host that went away.
func (p *tcpProxy) CloseAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append(p.down, p.up...) {
		c.Close()
	}
	p.down, p.up = nil, nil
}

// Freeze drops the target side and leaves clients connected to nothing
// that answers, as a network path that died without a reset.
func (p *tcpProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
	for _, c := range p.up {
		c.Close()
	}
	p.up = nil
}
