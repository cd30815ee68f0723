package mptcpproxy

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// conn is one UE connection through the proxy.
type conn struct {
	ue      *ue
	src     netip.AddrPort // the UE's address and port of the initial subflow
	dst     netip.AddrPort // the server on N6
	mptcp   bool           // false: the UE fell back to plain TCP
	info    bool           // the UE asked for the supported TCP extensions too
	client  *net.TCPConn
	started time.Time
	flow    atsss.FlowInfo // what operator policies match it by
	// carried accumulates, when the connection closes, what it carried
	// over each access (AccessStates); counts is what its subflows carried
	// as last read.
	carried *carried
	counts  accessCounts

	// Rate caps of the operator policy, per direction (ratecap.go).
	down, up dirCap

	// Owned by the scan goroutine (scanConns).
	lastBytes uint64
	lastMove  time.Time

	pmu sync.Mutex // guards the fields below (policy.go)
	cur *ue        // the session as last seen, for policies and steering (ue: as admitted)
	pol *atsss.Policy

	mu     sync.Mutex // guards the fields below
	server *net.TCPConn
	closed bool
	reason string // why the proxy closed it, for the log
}

// setServer attaches the N6 connection, or closes it if c was closed while
// it was being dialled (the session went away meanwhile).
func (c *conn) setServer(s *net.TCPConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.Close()
		return false
	}
	c.server = s
	return true
}

// shut closes both sides at once, from any goroutine; the relay then ends.
// The first reason wins.
func (c *conn) shut(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed, c.reason = true, reason
	c.account()
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// abort is shut with a reset instead of an orderly close: data still
// queued toward the UE is discarded, and the UE learns at once (MPTCP
// MP_FASTCLOSE / TCP RST), as it must when its session is gone.
func (c *conn) abort(reason string) {
	c.client.SetLinger(0)
	if s := c.serverConn(); s != nil {
		s.SetLinger(0)
	}
	c.shut(reason)
}

func (c *conn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *conn) serverConn() *net.TCPConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// registry holds the live connections by session, for the connection
// limits, for closing a session's connections when N4 deletes it, and for
// the idle scan. All methods are safe for concurrent use.
type registry struct {
	mu     sync.Mutex // guards the fields below
	total  int
	bySEID map[atsss.SEID]map[*conn]struct{}
}

func newRegistry() *registry {
	return &registry{bySEID: make(map[atsss.SEID]map[*conn]struct{})}
}

// add registers c unless the global or per-session limit is reached.
func (r *registry) add(c *conn, max, perUE int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.bySEID[c.ue.seid]
	if r.total >= max || len(set) >= perUE {
		return false
	}
	if set == nil {
		set = make(map[*conn]struct{})
		r.bySEID[c.ue.seid] = set
	}
	set[c] = struct{}{}
	r.total++
	return true
}

func (r *registry) remove(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.bySEID[c.ue.seid]
	if _, ok := set[c]; !ok {
		return
	}
	delete(set, c)
	if len(set) == 0 {
		delete(r.bySEID, c.ue.seid)
	}
	r.total--
}

// session returns the connections of one session.
func (r *registry) session(seid atsss.SEID) []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*conn, 0, len(r.bySEID[seid]))
	for c := range r.bySEID[seid] {
		out = append(out, c)
	}
	return out
}

// all returns every live connection.
func (r *registry) all() []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*conn, 0, r.total)
	for _, set := range r.bySEID {
		for c := range set {
			out = append(out, c)
		}
	}
	return out
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}
