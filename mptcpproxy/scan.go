package mptcpproxy

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// scanInterval is how often every connection is looked at: for idleness
// and for subflows that joined from a foreign address after admission. A
// scan costs a system call or two per connection, so it is kept coarse.
func (p *Proxy) scanInterval() time.Duration {
	return min(max(p.cfg.IdleTimeout/4, 100*time.Millisecond), 5*time.Second)
}

// scanConns closes connections that moved no byte for IdleTimeout and
// connections with a subflow from an address that is not their session's.
// Activity is read from the kernel (the N6 socket's bytes received and
// acknowledged), so the relay loops, which may be splicing, keep no
// counters. It owns conn.lastBytes and conn.lastMove.
func (p *Proxy) scanConns(ctx context.Context) error {
	t := time.NewTicker(p.scanInterval())
	defer t.Stop()
	var subs []pm.Subflow // reused by every scan of every connection
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			for _, c := range p.conns.all() {
				subs = p.scan(c, now, subs)
			}
		}
	}
}

// scan looks at c once, reading its subflows into subs, and returns subs
// for the next connection to reuse.
func (p *Proxy) scan(c *conn, now time.Time, subs []pm.Subflow) []pm.Subflow {
	server := c.serverConn()
	if server == nil {
		return subs
	}
	if c.mptcp {
		// One read: for foreign subflows, and for what the subflows
		// carried (AccessStates). The session as it is now: an address
		// it gained over N4 since admission is not foreign.
		var err error
		subs, err = c.readSubflows(subs)
		if err == nil {
			u := c.session()
			if a := foreignIn(subs, u); a.IsValid() {
				p.metrics.foreignSubflows.Inc()
				p.log.Warn("connection closed: subflow from a foreign address", "seid", uint64(u.seid), "ue_ip", c.src.Addr().String(), "subflow_ip", a.String())
				c.abort("foreign subflow")
				return subs
			}
		}
	}
	rc, err := server.SyscallConn()
	if err != nil {
		return subs
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if cerr != nil || err != nil {
		return subs // closed meanwhile: Control did not run, info is nil
	}
	moved := info.Bytes_received + info.Bytes_acked
	if moved != c.lastBytes || c.lastMove.IsZero() {
		c.lastBytes, c.lastMove = moved, now
		return subs
	}
	if now.Sub(c.lastMove) >= p.cfg.IdleTimeout {
		p.metrics.idleClosed.Inc()
		c.shut("idle")
	}
	return subs
}
