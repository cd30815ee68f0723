package pfcptest

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
)

// memConn is a packetConn whose datagrams travel over channels. A goroutine
// waiting on it is durably blocked, so under testing/synctest fake time
// runs while a client waits for a response, and T1 takes no real time.
type memConn struct {
	addr      netip.AddrPort
	in        chan datagram
	peer      *memConn
	closed    chan struct{}
	closeOnce sync.Once
}

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// memPipe returns the two ends of an in-memory UDP path.
func memPipe(a, b netip.AddrPort) (*memConn, *memConn) {
	ca := &memConn{addr: a, in: make(chan datagram, 256), closed: make(chan struct{})}
	cb := &memConn{addr: b, in: make(chan datagram, 256), closed: make(chan struct{}), peer: ca}
	ca.peer = cb
	return ca, cb
}

func (c *memConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// WriteToUDPAddrPort delivers b to the peer whatever addr says, and drops
// it, as UDP would, when the peer's queue is full.
func (c *memConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case c.peer.in <- datagram{bytes.Clone(b), c.addr}:
	default:
	}
	return len(b), nil
}

func (c *memConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
