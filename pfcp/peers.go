package pfcp

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// peer is a CP function with a PFCP association (TS 29.244 §6.2.6).
type peer struct {
	nodeID string
	// addr is where this UPF sends requests to the peer: its IP and the
	// PFCP port. Session messages are matched to the peer by IP alone,
	// since an SMF may send from any source port.
	addr netip.AddrPort
	// recovery is the peer's Recovery Time Stamp; zero for an association
	// restored from the store, whose stamp this UPF no longer knows.
	recovery time.Time
	// lostAt is when the peer stopped answering heartbeats; zero while it
	// answers.
	lostAt  time.Time
	limiter *rate.Limiter
}

// peerTable holds the associations. Safe for concurrent use.
type peerTable struct {
	mu     sync.Mutex // guards the maps and the peers in them
	byNode map[string]*peer
	byIP   map[netip.Addr]*peer
}

func newPeerTable() *peerTable {
	return &peerTable{byNode: make(map[string]*peer), byIP: make(map[netip.Addr]*peer)}
}

// setup records an association (TS 29.244 §6.2.6.2). It reports whether
// the peer restarted since a previous association: then its old sessions
// must go (TS 29.244 §6.2.6.2.2).
func (t *peerTable) setup(nodeID string, addr netip.AddrPort, recovery time.Time) (restarted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byNode[nodeID]
	if ok {
		restarted = !p.recovery.IsZero() && !p.recovery.Equal(recovery)
		t.unindex(p)
	} else {
		p = &peer{nodeID: nodeID}
		t.byNode[nodeID] = p
	}
	p.addr, p.recovery, p.lostAt = addr, recovery, time.Time{}
	t.byIP[addr.Addr()] = p
	return restarted
}

// unindex drops p from byIP, unless another peer has its IP since.
func (t *peerTable) unindex(p *peer) {
	if t.byIP[p.addr.Addr()] == p {
		delete(t.byIP, p.addr.Addr())
	}
}

// restore records an association implied by a session restored from the
// store.
func (t *peerTable) restore(nodeID string, addr netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byNode[nodeID]; ok {
		return
	}
	p := &peer{nodeID: nodeID, addr: addr}
	t.byNode[nodeID] = p
	t.byIP[addr.Addr()] = p
}

// release removes an association.
func (t *peerTable) release(nodeID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.byNode[nodeID]; ok {
		t.unindex(p)
		delete(t.byNode, nodeID)
	}
}

// byAddr returns the node ID associated with the peer's IP.
func (t *peerTable) byAddr(a netip.AddrPort) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byIP[a.Addr()]
	if !ok {
		return "", false
	}
	return p.nodeID, true
}

// heard records a sign of life from the peer at a, and reports whether
// its Recovery Time Stamp shows a restart (TS 29.244 §6.2.2: a changed
// stamp in a Heartbeat Request or Response). A zero recovery says nothing.
func (t *peerTable) heard(a netip.Addr, recovery time.Time) (nodeID string, restarted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byIP[a]
	if !ok {
		return "", false
	}
	p.lostAt = time.Time{}
	if recovery.IsZero() {
		return p.nodeID, false
	}
	restarted = !p.recovery.IsZero() && !p.recovery.Equal(recovery)
	p.recovery = recovery
	return p.nodeID, restarted
}

// lost marks the peer as not answering heartbeats, once.
func (t *peerTable) lost(nodeID string, now time.Time) (first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byNode[nodeID]
	if !ok || !p.lostAt.IsZero() {
		return false
	}
	p.lostAt = now
	return true
}

// addr returns where to send requests to the peer with nodeID.
func (t *peerTable) addr(nodeID string) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.byNode[nodeID]
	if !ok {
		return netip.AddrPort{}, false
	}
	return p.addr, true
}

// snapshot returns a copy of every association.
func (t *peerTable) snapshot() []peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]peer, 0, len(t.byNode))
	for _, p := range t.byNode {
		out = append(out, peer{nodeID: p.nodeID, addr: p.addr, recovery: p.recovery, lostAt: p.lostAt})
	}
	return out
}

func (t *peerTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byNode)
}

// allow takes one token of the peer's session request rate.
func (t *peerTable) allow(a netip.AddrPort, r float64, burst int) bool {
	t.mu.Lock()
	p, ok := t.byIP[a.Addr()]
	if !ok {
		t.mu.Unlock()
		return false
	}
	if p.limiter == nil {
		p.limiter = rate.NewLimiter(rate.Limit(r), burst)
	}
	l := p.limiter
	t.mu.Unlock()
	return l.Allow()
}
