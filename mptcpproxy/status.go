package mptcpproxy

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// Connection is a reading of one relayed connection, for operators: who,
// to where, and per subflow (so per access) the bytes and the RTT the
// kernel measured. The UE side's readings come from MPTCP_INFO and
// MPTCP_FULL_INFO.
type Connection struct {
	SEID      atsss.SEID     `json:"seid"`
	UE        netip.AddrPort `json:"ue"`     // the initial subflow's source
	Server    netip.AddrPort `json:"server"` // on N6
	Transport string         `json:"transport"`
	Started   time.Time      `json:"started"`
	// Data-level bytes on the UE side, over all subflows (0 after
	// fallback to TCP).
	BytesSent     uint64           `json:"bytes_sent"`
	BytesReceived uint64           `json:"bytes_received"`
	BytesRetrans  uint64           `json:"bytes_retrans"`
	Subflows      []SubflowReading `json:"subflows"`
	// Err says why the readings are missing, if they are.
	Err string `json:"error,omitempty"`
}

// SubflowReading is one subflow of a Connection.
type SubflowReading struct {
	// Access is the access whose link-specific address the UE end has;
	// empty for another address of the session (its MA PDU address).
	Access        string         `json:"access,omitempty"`
	Local         netip.AddrPort `json:"local"`
	Remote        netip.AddrPort `json:"remote"`
	State         uint8          `json:"tcp_state"`
	RTTMicros     int64          `json:"rtt_us"` // smoothed RTT of the proxy's sending
	MinRTTMicros  int64          `json:"min_rtt_us"`
	BytesSent     uint64         `json:"bytes_sent"`
	BytesReceived uint64         `json:"bytes_received"`
	BytesRetrans  uint64         `json:"bytes_retrans"`
	DeliveryRate  uint64         `json:"delivery_rate_bps"` // bytes per second, last sample
}

// Connections returns a reading of every live connection, oldest first.
// Each costs one getsockopt: fine for an operator's request, not for a
// hot path.
func (p *Proxy) Connections() []Connection {
	conns := p.conns.all()
	slices.SortFunc(conns, func(a, b *conn) int { return a.started.Compare(b.started) })
	out := make([]Connection, 0, len(conns))
	var subs []pm.Subflow
	for _, c := range conns {
		r := Connection{SEID: c.ue.seid, UE: c.src, Server: c.dst, Transport: transportLabel(c.mptcp), Started: c.started}
		if c.mptcp {
			subs = c.read(&r, subs[:0])
		}
		out = append(out, r)
	}
	return out
}

// read fills r's MPTCP readings, reusing subs.
func (c *conn) read(r *Connection, subs []pm.Subflow) []pm.Subflow {
	rc, err := c.client.SyscallConn()
	if err != nil {
		r.Err = err.Error()
		return subs
	}
	info, subs, err := pm.AppendSnapshot(subs, rc)
	if err != nil {
		r.Err = err.Error()
		return subs
	}
	r.BytesSent, r.BytesReceived, r.BytesRetrans = info.BytesSent, info.BytesReceived, info.BytesRetrans
	u := c.session() // the access of an address may have changed since the admission
	for _, s := range subs {
		sr := SubflowReading{
			Local: s.Local, Remote: s.Remote, State: s.State,
			RTTMicros: s.RTT.Microseconds(), MinRTTMicros: s.MinRTT.Microseconds(),
			BytesSent: s.BytesSent, BytesReceived: s.BytesReceived, BytesRetrans: s.BytesRetrans,
			DeliveryRate: s.DeliveryRate,
		}
		if a, ok := u.accessOf(s.Remote.Addr()); ok {
			sr.Access = a.String()
		}
		r.Subflows = append(r.Subflows, sr)
	}
	slices.SortFunc(r.Subflows, func(a, b SubflowReading) int { return cmp.Compare(a.Access, b.Access) })
	return subs
}

// PathReading is what steering knows of one session's access: its PMF
// round-trip time and whether the UE reported it unavailable, whether its
// links are down, and the role the session's decision gives it.
type PathReading struct {
	Access         string `json:"access"`
	PMFRTTMicros   int64  `json:"pmf_rtt_us"` // 0: not measured
	PMFUnavailable bool   `json:"pmf_unavailable,omitempty"`
	// PMFLossPermille is the PMF's downlink loss in tenths of a percent;
	// absent when not measured.
	PMFLossPermille *uint16 `json:"pmf_loss_permille,omitempty"`
	// SubflowRTTMicros is the lowest MPTCP subflow RTT, read only for the
	// sessions that steer by it (DRTTI); 0: not read.
	SubflowRTTMicros int64 `json:"subflow_rtt_us,omitempty"`
	// Saturated: at the last sample a subflow over the access was limited
	// by the path (read for Priority-based sessions only).
	Saturated bool `json:"saturated,omitempty"`
	LinkDown  bool `json:"link_down,omitempty"`
}

// SessionPaths is a session's accesses as steering sees them.
type SessionPaths struct {
	SEID  atsss.SEID    `json:"seid"`
	Paths []PathReading `json:"paths"`
	// Decision is the latest decision of the session's MPTCP rule, and
	// Reason its reason (steering.Reason's text); a connection pinned to
	// one access by a split applies it to itself.
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	// Policies are the operator policies that steer some of the session's
	// connections in place of its MPTCP rule, by name.
	Policies []PolicyDecision `json:"policies,omitempty"`
}

// PolicyDecision is the steering of a session's connections that an
// operator policy matched.
type PolicyDecision struct {
	Policy      string `json:"policy"`
	Connections int    `json:"connections"` // live ones under it
	Decision    string `json:"decision"`
	Reason      string `json:"reason"`
}

// Paths returns what steering knows of each session's accesses, by SEID;
// nil without steering.
func (p *Proxy) Paths() []SessionPaths {
	if p.steer == nil {
		return nil
	}
	s := p.steer
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionPaths, 0, len(s.paths))
	for seid, sp := range s.paths {
		r := SessionPaths{SEID: seid}
		if g := sp.groups[""]; g != nil {
			r.Decision, r.Reason = g.decision.String(), g.decision.Reason.String()
		}
		for name, g := range sp.groups {
			if name != "" && g.conns > 0 {
				r.Policies = append(r.Policies, PolicyDecision{Policy: name, Connections: g.conns, Decision: g.decision.String(), Reason: g.decision.Reason.String()})
			}
		}
		slices.SortFunc(r.Policies, func(a, b PolicyDecision) int { return cmp.Compare(a.Policy, b.Policy) })
		for _, a := range atsss.Accesses {
			pr := PathReading{Access: a.String(), PMFRTTMicros: sp.rtt[a].Microseconds(), PMFUnavailable: sp.pmfDown[a],
				SubflowRTTMicros: sp.subflowRTT[a].Microseconds(), Saturated: sp.saturated[a], LinkDown: s.linkDown[a]}
			if sp.lossSet[a] {
				loss := uint16(sp.loss[a])
				pr.PMFLossPermille = &loss
			}
			r.Paths = append(r.Paths, pr)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b SessionPaths) int { return cmp.Compare(a.SEID, b.SEID) })
	return out
}
