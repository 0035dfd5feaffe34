package main

import (
	"net"
	"strings"
	"testing"
)

func TestBadFlags(t *testing.T) {
	if err := run([]string{"extra"}); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Errorf("an extra argument: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := run([]string{"--listen", l.Addr().String()}); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("a taken address: %v", err)
	}
}
