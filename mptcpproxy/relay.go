package mptcpproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// relay moves bytes both ways until both directions end, propagating each
// half-close (RFC 8803 §5: the converter relays FINs) so that a UE or a
// server that shuts down writing can still read the other side's answer.
// An error in one direction (a reset) shuts both. Each direction is paced
// by its rate cap, if it has one (ratecap.go).
func (p *Proxy) relay(c *conn, client, server *net.TCPConn) (up, down int64, err error) {
	var wg sync.WaitGroup
	var upErr error
	wg.Go(func() {
		up, upErr = p.pipe(server, client, p.cfg.Relay.Uplink, &c.up)
		if upErr != nil {
			c.shut(fmt.Sprintf("uplink: %v", upErr))
			return
		}
		server.CloseWrite()
	})
	down, downErr := p.pipe(client, server, p.cfg.Relay.Downlink, &c.down)
	if downErr != nil {
		c.shut(fmt.Sprintf("downlink: %v", downErr))
	} else {
		client.CloseWrite()
	}
	wg.Wait()
	return up, down, errors.Join(upErr, downErr)
}
