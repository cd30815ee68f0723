package mptcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// relay moves bytes both ways until both directions end, propagating each
// half-close (RFC 8803 §5: the converter relays FINs) so that a UE or a
// server that shuts down writing can still read the other side's answer.
// An error in one direction (a reset) shuts both.
func (p *Proxy) relay(c *conn, client, server *net.TCPConn) (up, down int64, err error) {
	var wg sync.WaitGroup
	var upErr error
	wg.Go(func() {
		up, upErr = p.pipe(server, client, p.cfg.Relay.Uplink)
		if upErr != nil {
			c.shut(fmt.Sprintf("uplink: %v", upErr))
			return
		}
		server.CloseWrite()
	})
	down, downErr := p.pipe(client, server, p.cfg.Relay.Downlink)
	if downErr != nil {
		c.shut(fmt.Sprintf("downlink: %v", downErr))
	} else {
		client.CloseWrite()
	}
	wg.Wait()
	return up, down, errors.Join(upErr, downErr)
}

// pipe copies src to dst until src's EOF. With RelaySplice the kernel
// moves the bytes (net.TCPConn.ReadFrom splices from a TCP or MPTCP
// socket); with RelayCopy they go through a pooled user-space buffer, which
// measured faster when src is MPTCP (see Config.Relay).
func (p *Proxy) pipe(dst, src *net.TCPConn, m RelayMethod) (int64, error) {
	if m == RelaySplice {
		return dst.ReadFrom(src)
	}
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	// The wrappers hide ReadFrom and WriteTo, which would splice.
	return io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
}

type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }
