package mptcpproxy

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

var _ atsss.AccessReporter = (*Proxy)(nil)

// carried is what a session's closed connections carried over each
// access, as their subflows counted it when they closed. Safe for
// concurrent use.
type carried struct {
	down, up [2]atomic.Uint64
}

// carriedBySession holds each installed session's carried; follow adds and
// removes them with the sessions. Safe for concurrent use.
type carriedBySession struct {
	mu sync.Mutex // guards m
	m  map[atsss.SEID]*carried
}

// get returns the session's carried, nil for a session not installed.
func (cs *carriedBySession) get(seid atsss.SEID) *carried {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.m[seid]
}

// put makes sure an installed session has its carried.
func (cs *carriedBySession) put(seid atsss.SEID) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[atsss.SEID]*carried{}
	}
	if cs.m[seid] == nil {
		cs.m[seid] = new(carried)
	}
}

func (cs *carriedBySession) remove(seid atsss.SEID) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.m, seid)
}

// accessReading is what a connection's subflows over one access count.
type accessReading struct {
	down, up uint64        // bytes acknowledged by the UE, bytes received from it
	subflows int           // established subflows
	rtt      time.Duration // lowest smoothed RTT of an established subflow; 0: none
}

// subflowSeen is the latest reading of one subflow of a connection.
type subflowSeen struct {
	id            uint32 // the kernel's subflow ID; 0: not known
	local, remote netip.AddrPort
	access        atsss.AccessType
	down, up      uint64
}

// accessCounts keeps the latest counts of every subflow a connection has
// had, so that what a subflow carried still counts once it is gone: the
// kernel forgets a closed subflow, and by the time a connection is closed
// its subflows usually are (the UE reset or closed them). It is read on
// every scan of the connection (scanConns), whenever AccessStates asks, and
// as the connection closes. Safe for concurrent use.
type accessCounts struct {
	mu   sync.Mutex // guards seen
	seen []subflowSeen
}

// update records subs, the connection's subflows now (u tells their
// accesses), and adds the per-access totals of every subflow seen so far
// to r, with the established subflows now and their lowest RTT.
func (ac *accessCounts) update(u *ue, subs []pm.Subflow, r *[2]accessReading) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for _, sf := range subs {
		a, ok := u.accessOf(sf.Remote.Addr())
		if !ok {
			continue
		}
		// The latest subflow between the same ends, of the same ID: a
		// subflow that joins again gets a new ID (or, where the kernel
		// gives none, starts its counts from zero again).
		i := slices.IndexFunc(ac.seen, func(s subflowSeen) bool {
			return s.id == sf.ID && s.local == sf.Local && s.remote == sf.Remote &&
				sf.BytesAcked >= s.down && sf.BytesReceived >= s.up
		})
		if i < 0 {
			ac.seen = append(ac.seen, subflowSeen{id: sf.ID, local: sf.Local, remote: sf.Remote, access: a})
			i = len(ac.seen) - 1
		}
		s := &ac.seen[i]
		s.down, s.up = sf.BytesAcked, sf.BytesReceived
		if sf.State == tcpEstablished && r != nil {
			r[a].subflows++
			if sf.RTT > 0 && (r[a].rtt == 0 || sf.RTT < r[a].rtt) {
				r[a].rtt = sf.RTT
			}
		}
	}
	if r == nil {
		return
	}
	for _, s := range ac.seen {
		r[s.access].down += s.down
		r[s.access].up += s.up
	}
}

// readSubflows reads c's MPTCP subflows into subs and records their
// counts.
func (c *conn) readSubflows(subs []pm.Subflow) ([]pm.Subflow, error) {
	rc, err := c.client.SyscallConn()
	if err != nil {
		return subs, err
	}
	subs, err = pm.AppendSubflows(subs[:0], rc)
	if err != nil {
		return subs, err
	}
	c.counts.update(c.session(), subs, nil)
	return subs, nil
}

// readAccess adds what c carried over each access to r, reusing subs: over
// its MPTCP subflows, those it has now and those it had, or for a
// connection that fell back to TCP over its one path, the access of the
// UE's address.
func (c *conn) readAccess(r *[2]accessReading, subs []pm.Subflow) []pm.Subflow {
	rc, err := c.client.SyscallConn()
	if err != nil {
		return subs
	}
	u := c.session() // the accesses of its addresses may have changed over N4
	if !c.mptcp {
		a, ok := u.accessOf(c.src.Addr())
		if !ok {
			return subs
		}
		var info *unix.TCPInfo
		if cerr := rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); cerr != nil || err != nil {
			return subs
		}
		r[a].down += info.Bytes_acked
		r[a].up += info.Bytes_received
		if info.State == tcpEstablished {
			r[a].subflows++
			r[a].rtt = time.Duration(info.Rtt) * time.Microsecond
		}
		return subs
	}
	subs, err = pm.AppendSubflows(subs[:0], rc)
	if err != nil {
		subs = subs[:0] // what was seen still counts
	}
	c.counts.update(u, subs, r)
	return subs
}

// account adds what c carried over each access to its session's carried.
// It runs once, as c closes: one getsockopt. The subflows may be gone
// already; what they carried since they were last read is then known only
// as the connection's total (mptcp_info's data-level counts, kept until
// the socket is closed), and is put on the access that carried most of the
// connection.
func (c *conn) account() {
	if c.carried == nil {
		return
	}
	var r [2]accessReading
	if !c.mptcp {
		c.readAccess(&r, nil)
	} else if rc, err := c.client.SyscallConn(); err == nil {
		info, subs, err := pm.AppendSnapshot(nil, rc)
		if err != nil {
			subs = nil
		}
		c.counts.update(c.session(), subs, &r)
		if err == nil {
			most := atsss.Access3GPP
			if r[atsss.AccessNon3GPP].down+r[atsss.AccessNon3GPP].up > r[most].down+r[most].up {
				most = atsss.AccessNon3GPP
			}
			if d := r[0].down + r[1].down; info.BytesAcked > d {
				r[most].down += info.BytesAcked - d
			}
			if u := r[0].up + r[1].up; info.BytesReceived > u {
				r[most].up += info.BytesReceived - u
			}
		}
	}
	for _, a := range atsss.Accesses {
		c.carried.down[a].Add(r[a].down)
		c.carried.up[a].Add(r[a].up)
	}
}

// AccessStates returns what the proxy knows of each access of a session,
// indexed by atsss.AccessType: available unless N4 or the UE's PMF
// reported it unavailable or its links are down; the PMF's RTT, else the
// lowest smoothed RTT of the session's established subflows over it; the
// PMF's downlink loss; the bytes of the session's connections over it,
// live ones from their subflows and closed ones as counted when they
// closed; and its established subflows. It returns false for a session the
// store does not hold. It costs a getsockopt per live connection of the
// session. The closed connections' counts are read before the live ones,
// so a connection that closes during the call is counted at most once:
// live, or, if its socket closed before the live read reached it, not in
// this call (the next one counts it as closed). Safe for concurrent use.
func (p *Proxy) AccessStates(seid atsss.SEID) ([2]atsss.AccessState, bool) {
	var out [2]atsss.AccessState
	sess, ok := p.store.Get(seid)
	if !ok {
		return out, false
	}
	var paths sessionPaths
	var linkDown [2]bool
	if s := p.steer; s != nil {
		s.mu.Lock()
		if sp := s.paths[seid]; sp != nil {
			paths = *sp
		}
		linkDown = s.linkDown
		s.mu.Unlock()
	}
	// The closed connections' counts first, the live ones second: a
	// connection that closes in between (account adds to closed) is then
	// counted at most once, by the live read, never twice.
	var closed [2]struct{ down, up uint64 }
	if cs := p.carried.get(seid); cs != nil {
		for _, a := range atsss.Accesses {
			closed[a].down, closed[a].up = cs.down[a].Load(), cs.up[a].Load()
		}
	}
	var live [2]accessReading
	var subs []pm.Subflow
	for _, c := range p.conns.session(seid) {
		subs = c.readAccess(&live, subs)
	}
	for _, a := range atsss.Accesses {
		st := &out[a]
		st.Available = !sess.Unavailable[a] && !paths.pmfDown[a] && !linkDown[a]
		st.RTT = paths.rtt[a]
		if st.RTT == 0 {
			st.RTT = live[a].rtt
		}
		st.LossPermille, st.LossKnown = uint32(paths.loss[a]), paths.lossSet[a]
		st.DownlinkBytes = live[a].down + closed[a].down
		st.UplinkBytes = live[a].up + closed[a].up
		st.Subflows = live[a].subflows
	}
	return out, true
}
