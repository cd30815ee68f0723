package ll

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// EventKind says what a PathEvent reports.
type EventKind uint8

const (
	// EventRTT: the PMF measured the access's round-trip time (RTT).
	EventRTT EventKind = iota + 1
	// EventLoss: the PMF measured the access's downlink packet loss (Loss).
	EventLoss
	// EventAvailability: the UE reported the access available or not
	// (PMFP ACCESS REPORT, TS 24.193 §5.4).
	EventAvailability
)

// PathEvent is what the PMF learned about one access of a session, in
// this package's terms: the caller (atsssd) converts steering/pmf's events,
// since data planes do not import each other (ARCHITECTURE.md).
type PathEvent struct {
	Kind      EventKind
	SEID      atsss.SEID
	Access    atsss.AccessType
	RTT       time.Duration     // EventRTT: the smoothed RTT
	Loss      steering.LossRate // EventLoss
	Available bool              // EventAvailability
}

// pmfPaths is the latest PMF knowledge of a session's accesses: state, not
// a queue of events, so the newest value of each kind wins.
type pmfPaths struct {
	rtt      [2]time.Duration
	loss     [2]steering.LossRate
	lossSet  [2]bool
	avail    [2]bool
	availSeq [2]uint64 // counts the UE's reports: each one is an event
}

// sessPMF hands PMF knowledge from PathEvent's caller to the downlink
// goroutine, which owns every marState.
//
// A lock with a generation number, not a channel: the downlink goroutine
// blocks in the TUN read and cannot select on a channel, so events would
// pile up (or block the PMF's event loop, which also feeds the proxy)
// while no downlink flows; and only the latest RTT, loss and report matter
// when the next packet is steered. The hot path pays one atomic load per
// steered packet and takes the lock only after a change.
type sessPMF struct {
	gen atomic.Uint64 // bumped, under mu, by every change of p
	mu  sync.Mutex
	p   pmfPaths
}

// PathEvent takes what the PMF measured or was told about an access of a
// session, for the steering of its ATSSS-LL MARs (Smallest Delay, RTT and
// loss thresholds, PMF availability). It reports whether the session is
// installed here; events of others are dropped. With DRTTI (PMF RTT not
// allowed, TS 29.244 §5.20.3.1) RTT events are ignored: ATSSS-LL has no
// other RTT, so Smallest Delay then sees none. It is safe for concurrent
// use.
func (f *Forwarder) PathEvent(ev PathEvent) bool {
	v := f.tab.Load().bySEID[ev.SEID]
	if v == nil || !ev.Access.Valid() {
		return false
	}
	sp := &v.st.pmf
	sp.mu.Lock()
	defer sp.mu.Unlock()
	a := ev.Access
	switch ev.Kind {
	case EventRTT:
		if v.drtti {
			return true
		}
		sp.p.rtt[a] = ev.RTT
	case EventLoss:
		sp.p.loss[a], sp.p.lossSet[a] = min(ev.Loss, 1000), true
	case EventAvailability:
		sp.p.avail[a] = ev.Available
		sp.p.availSeq[a]++
	default:
		return true
	}
	sp.gen.Add(1)
	return true
}

// apply brings ms up to date with the session's PMF knowledge. Called
// by the downlink goroutine only, after the N4 availability: when both
// changed since the last packet, the PMF report counts as the newer.
func (sp *sessPMF) apply(ms *marState) {
	g := sp.gen.Load()
	if g == ms.pmfGen {
		return
	}
	sp.mu.Lock()
	p := sp.p
	sp.mu.Unlock()
	ms.pmfGen = g
	for _, a := range atsss.Accesses {
		path := &ms.st.Paths[a]
		path.RTT = p.rtt[a]
		path.Loss, path.LossKnown = p.loss[a], p.lossSet[a]
		if p.availSeq[a] != ms.availSeq[a] {
			path.Report(steering.SourcePMF, p.avail[a])
			ms.availSeq[a] = p.availSeq[a]
		}
	}
}

// pmfPort is one of the session's PMF ports at the UPF (PMF Parameters,
// TS 29.244 §8.2.172): the UE's PMF messages for an access and QoS flow go
// to it, and the UPF's come from it.
type pmfPort struct {
	addr   netip.AddrPort
	access atsss.AccessType
	qfi    uint8
}

// pmfPorts lists the session's PMF ports.
func pmfPorts(s *atsss.Session) []pmfPort {
	var out []pmfPort
	for _, p := range s.ATSSS.Params.PMF {
		for _, addr := range []netip.Addr{p.Addr.IPv4, p.Addr.IPv6} {
			if !addr.IsValid() {
				continue
			}
			for _, a := range atsss.Accesses {
				if p.Ports[a] != 0 {
					out = append(out, pmfPort{addr: netip.AddrPortFrom(addr, p.Ports[a]), access: a, qfi: p.QFI})
				}
			}
		}
	}
	return out
}

// pmfFrom tells whether p comes from one of the session's PMF ports (a
// downlink PMF message), and which.
func (v *view) pmfFrom(p *ipInfo) (pmfPort, bool) {
	if p.proto != protoUDP || !p.ports {
		return pmfPort{}, false
	}
	return v.pmfPort(netip.AddrPortFrom(p.src, p.sport))
}

// pmfTo tells whether p goes to one of the session's PMF ports (an uplink
// PMF message), and which.
func (v *view) pmfTo(p *ipInfo) (pmfPort, bool) {
	if p.proto != protoUDP || !p.ports {
		return pmfPort{}, false
	}
	return v.pmfPort(netip.AddrPortFrom(p.dst, p.dport))
}

func (v *view) pmfPort(addr netip.AddrPort) (pmfPort, bool) {
	for _, p := range v.pmf {
		if p.addr == addr {
			return p, true
		}
	}
	return pmfPort{}, false
}

// pmfTunnel is the tunnel a downlink PMF message for access a goes in:
// never steered by a MAR, since it measures access a (TS 23.501
// §5.32.5.2). The matched PDR's own leg toward a is preferred (its QoS
// flow); else the session's first tunnel toward a. With per-QoS-flow
// measurement the message carries its port's QFI.
func (v *view) pmfTunnel(r *dlRule, port pmfPort) tunnel {
	a := port.access
	var t tunnel
	switch {
	case r != nil && r.act == actSteer && r.mar.legs[a].ok:
		t = r.mar.legs[a]
	case r != nil && r.act == actDirect && r.access == a:
		t = r.direct
	default:
		t = v.legs[a]
	}
	if port.qfi != 0 {
		t.qfi = int(port.qfi)
	}
	return t
}
