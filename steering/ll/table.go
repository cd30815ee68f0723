package ll

import (
	"cmp"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

// table is what the hot paths read: built whole by the follower, then
// published through an atomic pointer and never changed.
type table struct {
	byTEID map[uint32]*view     // uplink PDRs' local F-TEIDs
	byUE   map[netip.Addr]*view // the sessions' UE addresses (Session.UEAddrs)
	bySEID map[atsss.SEID]*view
}

// view is one session as the data path sees it. Immutable, except for the
// state it points to (sessState, marState), which says who owns it.
type view struct {
	seid        atsss.SEID
	st          *sessState
	owned       []netip.Addr // Session.UEAddrs: MA PDU and link-specific
	policy      atsss.UplinkPolicy
	dl          []dlRule        // downlink PDRs in precedence order
	peers       [2][]netip.Addr // the N3 peers (gNB, N3IWF) per access
	unavailable [2]bool         // N4 Access Availability Information
	teids       []uint32        // local F-TEIDs of the uplink PDRs
	pmf         []pmfPort       // the session's PMF ports at the UPF
	legs        [2]tunnel       // per access, the first downlink tunnel toward it
	drtti       bool            // PMF RTT not allowed
	mapdu       []netip.Addr    // Session.MAPDUAddrs, for flow policies
}

// action says what a downlink PDR does with what it matches.
type action uint8

const (
	actDrop   action = iota // FAR drops or buffers, or unusable
	actSteer                // ATSSS-LL MAR
	actDirect               // plain FAR toward one access
	actOther                // MPTCP or MPQUIC MAR: not ours
)

// dlRule is one downlink PDR.
type dlRule struct {
	ue4, ue6 netip.Addr // the PDI's UE IP Address; invalid: any
	all      bool       // no SDF filter: matches everything
	filters  []atsss.FlowFilter
	act      action
	// mar steers (actSteer) what no flow policy matches: the MAR's own
	// plan, or an operator policy's that matches the whole session or PDR.
	mar *marPlan
	// flows are the flow-filter policies to match a packet against before
	// mar, in order (policy.go); nil for most sessions.
	flows  []flowPolicy
	direct tunnel // actDirect
	access atsss.AccessType
}

// tunnel is a FAR's outer header: where a downlink G-PDU goes.
type tunnel struct {
	ok   bool
	teid uint32
	peer netip.AddrPort
	qfi  int // PDU Session Container QFI; -1: no container
}

// marPlan is an ATSSS-LL MAR ready to steer, with its own steering or an
// operator policy's in its place.
type marPlan struct {
	rule   steering.Rule
	legs   [2]tunnel
	ms     *marState
	policy string // the operator policy rule comes from; "": the MAR
}

// marState is the downlink steering state of one MAR, or of one operator
// policy in its place (stateKey). Only the downlink goroutine reads or
// writes it; the follower creates it and hands it over through the table's
// atomic pointer.
type marState struct {
	init bool
	n4   [2]bool // the N4 unavailability last reported into st
	st   steering.State
	dec  steering.Decision
	cur  [2]int // smooth weighted round robin
	// The sessPMF generation and access reports last applied to st.
	pmfGen   uint64
	availSeq [2]uint64
}

// sessState outlives the session's views: counters and steering state
// survive a session modification and a change of operator policies. The
// follower owns mars.
type sessState struct {
	ul, dl  [2]counter
	ulOther counter // uplink from a peer that is no FAR's (access unknown)
	mars    map[stateKey]*marState
	pmf     sessPMF
}

type counter struct{ packets, bytes atomic.Uint64 }

func (c *counter) add(n int) {
	c.packets.Add(1)
	c.bytes.Add(uint64(n))
}

// newSessState returns the state of a session not seen before.
func newSessState() *sessState { return &sessState{mars: map[stateKey]*marState{}} }

// compile builds the view of s under the operator policies pol (nil:
// none); st carries over from its previous view.
func compile(s *atsss.Session, st *sessState, pol *policies) *view {
	v := &view{seid: s.LocalSEID, st: st, owned: s.UEAddrs(), policy: s.UplinkFilters(), unavailable: s.Unavailable,
		pmf: pmfPorts(s), drtti: s.ATSSS.Requested.DRTTI, mapdu: s.MAPDUAddrs()}
	mc := &marCompiler{s: s, st: st, pol: pol, used: map[stateKey]bool{}}
	var order []*atsss.PDR
	for i := range s.PDRs {
		p := &s.PDRs[i]
		if !p.Uplink() {
			order = append(order, p)
		} else if p.PDI.FTEID != nil && !slices.Contains(v.teids, p.PDI.FTEID.TEID) {
			v.teids = append(v.teids, p.PDI.FTEID.TEID)
		}
	}
	slices.SortStableFunc(order, func(a, b *atsss.PDR) int { return cmp.Compare(a.Precedence, b.Precedence) })
	for _, p := range order {
		r := dlRule{}
		if ue := p.PDI.UEIP; ue != nil {
			r.ue4, r.ue6 = ue.IPv4, ue.IPv6
		}
		r.all = len(p.PDI.SDFFilters) == 0 && p.PDI.ApplicationID == ""
		for _, sdf := range p.PDI.SDFFilters {
			// What cannot be evaluated on a packet never matches, as in
			// atsss.UplinkPolicy.
			if f, ok := s.EvaluableFilter(sdf); ok {
				r.filters = append(r.filters, f)
			}
		}
		qfi := pdrQFI(s, p)
		switch {
		case p.MARID.Set:
			m := s.MAR(p.MARID.Value)
			if m == nil {
				break
			}
			if m.Functionality != atsss.FunctionalityATSSSLL {
				r.act = actOther
				break
			}
			rule, err := steering.NewRule(m)
			if err != nil {
				break
			}
			plan := &marPlan{rule: rule}
			for _, a := range atsss.Accesses {
				if m.Legs[a].Present {
					plan.legs[a] = farTunnel(s.FAR(m.Legs[a].FARID), qfi)
				}
			}
			// The MAR's own state is kept while the MAR is, also when
			// policies steer all its traffic: their deletion then finds
			// its hysteresis as it was.
			plan.ms = mc.state(stateKey{mar: m.ID})
			r.act = actSteer
			r.mar, r.flows = mc.plans(p, m, plan)
		case p.FARID.Set:
			far := s.FAR(p.FARID.Value)
			t := farTunnel(far, qfi)
			if a, ok := farAccess(far); ok && t.ok {
				r.act, r.direct, r.access = actDirect, t, a
			}
		}
		v.dl = append(v.dl, r)
		for _, a := range atsss.Accesses {
			switch {
			case v.legs[a].ok:
			case r.act == actSteer:
				v.legs[a] = r.mar.legs[a]
			case r.act == actDirect && r.access == a:
				v.legs[a] = r.direct
			}
		}
	}
	for k := range st.mars {
		if !mc.used[k] {
			delete(st.mars, k)
		}
	}
	for i := range s.FARs {
		f := &s.FARs[i]
		if a, ok := farAccess(f); ok {
			if t := farTunnel(f, -1); t.ok && !slices.Contains(v.peers[a], t.peer.Addr()) {
				v.peers[a] = append(v.peers[a], t.peer.Addr())
			}
		}
	}
	return v
}

// pdrQFI is the QFI of the PDR's QERs, for the PDU Session Container;
// -1 when none names one.
func pdrQFI(s *atsss.Session, p *atsss.PDR) int {
	for _, id := range p.QERIDs {
		if q := s.QER(id); q != nil && q.QFI != 0 {
			return int(q.QFI & 0x3f)
		}
	}
	return -1
}

// Outer Header Creation descriptions (TS 29.244 §8.2.56): GTP-U/UDP/IPv4
// and GTP-U/UDP/IPv6.
const (
	ohcGTPUv4 = 0x0100
	ohcGTPUv6 = 0x0200
)

// farTunnel is where a FAR sends downlink: it must forward (FORW, not
// DROP or BUFF) toward the access with a GTP-U outer header.
func farTunnel(f *atsss.FAR, qfi int) tunnel {
	if f == nil || f.ApplyAction&atsss.ActionForw == 0 || f.ApplyAction&(atsss.ActionDrop|atsss.ActionBuff) != 0 || f.Forwarding == nil {
		return tunnel{}
	}
	o := f.Forwarding.OuterHeaderCreation
	if o == nil || f.Forwarding.DestinationInterface != atsss.InterfaceAccess {
		return tunnel{}
	}
	port := o.Port
	if port == 0 {
		port = gtpu.Port
	}
	var peer netip.Addr
	switch {
	case o.Description&ohcGTPUv4 != 0 && o.IPv4.IsValid():
		peer = o.IPv4
	case o.Description&ohcGTPUv6 != 0 && o.IPv6.IsValid():
		peer = o.IPv6
	default:
		return tunnel{}
	}
	return tunnel{ok: true, teid: o.TEID, peer: netip.AddrPortFrom(peer, port), qfi: qfi}
}

// farAccess is the access a FAR forwards to, by its 3GPP Interface Type.
func farAccess(f *atsss.FAR) (atsss.AccessType, bool) {
	if f == nil || f.Forwarding == nil || !f.Forwarding.InterfaceType.Set {
		return 0, false
	}
	return f.Forwarding.InterfaceType.Value.Access()
}

// match returns the first downlink rule that matches p, or nil.
func (v *view) match(p *ipInfo) *dlRule {
	for i := range v.dl {
		r := &v.dl[i]
		if r.ue4.IsValid() || r.ue6.IsValid() {
			if p.dst != r.ue4 && p.dst != r.ue6 {
				continue
			}
		}
		if r.all {
			return r
		}
		for j := range r.filters {
			if r.filters[j].MatchDownlink(p.proto, netip.AddrPortFrom(p.src, p.sport), netip.AddrPortFrom(p.dst, p.dport), p.ports) {
				return r
			}
		}
	}
	return nil
}

// accessOf tells the access an uplink G-PDU came over from its outer
// source address: the N3 peer of one of the session's downlink FARs.
func (v *view) accessOf(peer netip.Addr) (atsss.AccessType, bool) {
	for _, a := range atsss.Accesses {
		if slices.Contains(v.peers[a], peer) {
			return a, true
		}
	}
	return 0, false
}

// buildTable indexes views.
func buildTable(views map[atsss.SEID]*view) *table {
	t := &table{byTEID: make(map[uint32]*view), byUE: make(map[netip.Addr]*view), bySEID: make(map[atsss.SEID]*view, len(views))}
	for _, v := range views {
		t.bySEID[v.seid] = v
		for _, a := range v.owned {
			t.byUE[a] = v
		}
		for _, id := range v.teids {
			t.byTEID[id] = v
		}
	}
	return t
}
