package pfcptest

import (
	"net"
	"net/netip"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// This file encodes the rules of an atsss.Session as the Create IEs of
// TS 29.244 §7.5.2. It encodes the fields SessionSpec.Session sets; it is
// not a general encoder of atsss values.

// Flags of F-TEID (TS 29.244 §8.2.3) and UE IP Address (§8.2.62).
const (
	fteidV4 = 1 << 0
	fteidV6 = 1 << 1

	ueipV6 = 1 << 0
	ueipV4 = 1 << 1
	ueipSD = 1 << 2 // the address is the destination: a downlink PDR
)

// Flags of Multipath Applicable Indication (TS 29.244 §8.2.199).
const (
	multipathMTAI = 1 << 0
	multipathMQAI = 1 << 1
)

func createPDR(p *atsss.PDR) *ie.IE {
	pdi := []*ie.IE{ie.NewSourceInterface(uint8(p.PDI.SourceInterface))}
	if f := p.PDI.FTEID; f != nil {
		var flags uint8
		if f.IPv4.IsValid() {
			flags |= fteidV4
		}
		if f.IPv6.IsValid() {
			flags |= fteidV6
		}
		pdi = append(pdi, ie.NewFTEID(flags, f.TEID, ip(f.IPv4), ip(f.IPv6), 0))
	}
	if u := p.PDI.UEIP; u != nil {
		var flags uint8
		if u.IPv4.IsValid() {
			flags |= ueipV4
		}
		if u.IPv6.IsValid() {
			flags |= ueipV6
		}
		if u.Destination {
			flags |= ueipSD
		}
		pdi = append(pdi, ie.NewUEIPAddress(flags, u.IPv4.String(), u.IPv6.String(), 0, 0))
	}
	for _, f := range p.PDI.SDFFilters {
		pdi = append(pdi, ie.NewSDFFilter(f.FlowDescription, "", "", "", f.FilterID))
	}
	for _, q := range p.PDI.QFIs {
		pdi = append(pdi, ie.NewQFI(q))
	}
	kids := []*ie.IE{ie.NewPDRID(p.ID), ie.NewPrecedence(p.Precedence), ie.NewPDI(pdi...)}
	if p.OuterHeaderRemoval.Set {
		kids = append(kids, ie.NewOuterHeaderRemoval(p.OuterHeaderRemoval.Value, 0))
	}
	if p.FARID.Set {
		kids = append(kids, ie.NewFARID(p.FARID.Value))
	}
	if p.MARID.Set {
		kids = append(kids, ie.NewMARID(p.MARID.Value))
	}
	kids = appendIDs(kids, p.QERIDs, ie.NewQERID)
	kids = appendIDs(kids, p.URRIDs, ie.NewURRID)
	var mp uint8
	if p.Multipath.MPTCP {
		mp |= multipathMTAI
	}
	if p.Multipath.MPQUIC {
		mp |= multipathMQAI
	}
	if mp != 0 {
		kids = append(kids, ie.NewMPTCPApplicableIndication(mp))
	}
	return ie.NewCreatePDR(kids...)
}

func createFAR(f *atsss.FAR) *ie.IE {
	action := []byte{byte(f.ApplyAction)}
	if f.ApplyAction > 0xff {
		action = append(action, byte(f.ApplyAction>>8))
	}
	kids := []*ie.IE{ie.NewFARID(f.ID), ie.NewApplyAction(action...)}
	if fw := f.Forwarding; fw != nil {
		params := []*ie.IE{ie.NewDestinationInterface(uint8(fw.DestinationInterface))}
		if o := fw.OuterHeaderCreation; o != nil {
			params = append(params, ie.NewOuterHeaderCreation(o.Description, o.TEID, o.IPv4.String(), o.IPv6.String(), o.Port, 0, 0))
		}
		if fw.InterfaceType.Set {
			params = append(params, ie.NewTGPPInterfaceType(uint8(fw.InterfaceType.Value)))
		}
		kids = append(kids, ie.NewForwardingParameters(params...))
	}
	return ie.NewCreateFAR(kids...)
}

func createQER(q *atsss.QER) *ie.IE {
	kids := []*ie.IE{ie.NewQERID(q.ID), ie.NewGateStatus(uint8(q.GateUL), uint8(q.GateDL))}
	if q.QFI != 0 {
		kids = append(kids, ie.NewQFI(q.QFI))
	}
	return ie.NewCreateQER(kids...)
}

// createURR encodes a URR of Session, whose payload volumeURR made.
func createURR(u *atsss.URR) *ie.IE { return ie.NewCreateURR(volumeURR(u.ID)...) }

func createMAR(m *atsss.MAR) *ie.IE {
	kids := []*ie.IE{
		ie.NewMARID(m.ID),
		atsssie.NewSteeringFunctionality(m.Functionality),
		atsssie.NewSteeringMode(m.Mode),
	}
	for _, a := range atsss.Accesses {
		if l := &m.Legs[a]; l.Present {
			kids = append(kids, ie.NewGroupedIE(afaiType[a], afai(l)...))
		}
	}
	if m.Thresholds != nil {
		kids = append(kids, atsssie.NewThresholds(*m.Thresholds))
	}
	if m.SMI != nil {
		kids = append(kids, atsssie.NewSteeringModeIndicator(*m.SMI))
	}
	return ie.NewCreateMAR(kids...)
}

// afaiType and updateAFAIType are, per access, the IE that gives a MAR leg
// and the IE that changes it (TS 29.244 §7.5.2.8, §7.5.4.16).
var (
	afaiType       = [2]uint16{ie.TGPPAccessForwardingActionInformation, ie.NonTGPPAccessForwardingActionInformation}
	updateAFAIType = [2]uint16{ie.UpdateTGPPAccessForwardingActionInformation, ie.UpdateNonTGPPAccessForwardingActionInformation}
)

// afai returns the children of an Access Forwarding Action Information.
func afai(l *atsss.Leg) []*ie.IE {
	kids := []*ie.IE{ie.NewFARID(l.FARID)}
	kids = appendLegParams(kids, l.Weight, l.Priority)
	return appendIDs(kids, l.URRIDs, ie.NewURRID)
}

// appendLegParams appends the Weight and Priority that are set.
func appendLegParams(kids []*ie.IE, w atsss.OptionalUint8, p atsss.OptionalPriority) []*ie.IE {
	if w.Set {
		kids = append(kids, ie.NewWeight(w.Value))
	}
	if p.Set {
		kids = append(kids, atsssie.NewPriority(p.Value))
	}
	return kids
}

// createSRR asks, with RRCA, for a report when an access becomes available
// or unavailable (TS 29.244 §7.5.2.9, §8.2.150).
func createSRR(s *atsss.SRR) *ie.IE {
	kids := []*ie.IE{ie.NewSRRID(s.ID)}
	if s.ReportAvailability {
		kids = append(kids, ie.NewAccessAvailabilityControlInformation(ie.NewRequestedAccessAvailabilityInformation(1)))
	}
	return ie.NewCreateSRR(kids...)
}

// appendEach appends the Create IE of each rule.
func appendEach[T any](ies []*ie.IE, rules []T, create func(*T) *ie.IE) []*ie.IE {
	for i := range rules {
		ies = append(ies, create(&rules[i]))
	}
	return ies
}

// appendIDs appends an ID IE per ID.
func appendIDs[T any](kids []*ie.IE, ids []T, newID func(T) *ie.IE) []*ie.IE {
	for _, id := range ids {
		kids = append(kids, newID(id))
	}
	return kids
}

// fseid encodes an F-SEID with an IPv4 or an IPv6 address, or none.
func fseid(seid atsss.SEID, a netip.Addr) *ie.IE {
	if a = a.Unmap(); a.Is6() {
		return ie.NewFSEID(uint64(seid), nil, ip(a))
	}
	return ie.NewFSEID(uint64(seid), ip(a), nil)
}

// ip converts for go-pfcp, which takes nil for an absent address.
func ip(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}
