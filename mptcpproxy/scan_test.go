package mptcpproxy

import (
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func testProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return &Proxy{cfg: cfg.WithDefaults(), metrics: m}
}

// TestScanClosedServer: the scan may meet a connection whose N6 socket was
// closed since it listed it (it ended meanwhile). It once dereferenced the
// tcp_info it could not read, and atsssd died under connection load.
func TestScanClosedServer(t *testing.T) {
	p := testProxy(t, Config{IdleTimeout: time.Second})
	ueSide, _ := tcpPair(t)
	n6, _ := tcpPair(t)
	c := &conn{ue: &ue{seid: 1}, client: ueSide, server: n6, started: time.Now()}
	n6.Close()
	p.scan(c, time.Now(), nil) // must not panic
	if c.closeReason() != "" {
		t.Errorf("the scan closed the connection (%q); it had nothing to read", c.closeReason())
	}
}

// TestScanIdle: a connection whose N6 side moves no bytes for the idle
// timeout is closed, one that moves is not.
func TestScanIdle(t *testing.T) {
	p := testProxy(t, Config{IdleTimeout: time.Second})
	ueSide, _ := tcpPair(t)
	n6, peer := tcpPair(t)
	c := &conn{ue: &ue{seid: 1}, client: ueSide, server: n6, started: time.Now()}
	t0 := time.Now()
	p.scan(c, t0, nil)
	p.scan(c, t0.Add(500*time.Millisecond), nil)
	if r := c.closeReason(); r != "" {
		t.Fatalf("closed after half the idle timeout: %q", r)
	}
	if _, err := peer.Write([]byte("moved")); err != nil {
		t.Fatal(err)
	}
	// The bytes must reach n6's receive queue before the next reading.
	if _, err := n6.Read(make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	p.scan(c, t0.Add(900*time.Millisecond), nil)
	p.scan(c, t0.Add(1500*time.Millisecond), nil)
	if r := c.closeReason(); r != "" {
		t.Fatalf("closed 600 ms after bytes moved: %q", r)
	}
	p.scan(c, t0.Add(2*time.Second), nil)
	if r := c.closeReason(); r != "idle" {
		t.Fatalf("after the idle timeout without bytes: reason %q, want idle", r)
	}
}
