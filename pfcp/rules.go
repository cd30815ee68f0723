package pfcp

import (
	"fmt"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// This file translates the rule IEs of TS 29.244 §7.5.2 (create) and §7.5.4
// (update) into atsss values. Semantic checks across rules are left to
// atsss.Session.Validate; here only the IEs themselves are checked.

func decodePDR(g *ie.IE) (atsss.PDR, error) {
	const where = "create PDR"
	c := children(g)
	var p atsss.PDR
	var err error
	if p.ID, err = mandatory(c, ie.PDRID, where, (*ie.IE).PDRID); err != nil {
		return p, err
	}
	if p.Precedence, err = mandatory(c, ie.Precedence, where, (*ie.IE).Precedence); err != nil {
		return p, err
	}
	pdi := first(c, ie.PDI)
	if pdi == nil {
		return p, missingIE(ie.PDI, where)
	}
	if p.PDI, err = decodePDI(pdi); err != nil {
		return p, err
	}
	return p, decodePDRRefs(&p, c, where)
}

// decodePDRRefs reads the IEs that Create PDR and Update PDR share besides
// PDI; in an update, only those present change.
func decodePDRRefs(p *atsss.PDR, c []*ie.IE, where string) error {
	if v, ok, err := optional(c, ie.OuterHeaderRemoval, where, (*ie.IE).OuterHeaderRemovalDescription); err != nil {
		return err
	} else if ok {
		p.OuterHeaderRemoval = atsss.OptionalUint8{Value: v, Set: true}
	}
	if v, ok, err := optional(c, ie.FARID, where, (*ie.IE).FARID); err != nil {
		return err
	} else if ok {
		p.FARID = atsss.OptionalUint32{Value: v, Set: true}
	}
	if v, ok, err := optional(c, ie.MARID, where, (*ie.IE).MARID); err != nil {
		return err
	} else if ok {
		p.MARID = atsss.OptionalUint16{Value: v, Set: true}
	}
	if qers, err := ids(c, ie.QERID, where, (*ie.IE).QERID); err != nil {
		return err
	} else if qers != nil {
		p.QERIDs = qers
	}
	if urrs, err := ids(c, ie.URRID, where, (*ie.IE).URRID); err != nil {
		return err
	} else if urrs != nil {
		p.URRIDs = urrs
	}
	if v, ok, err := optional(c, ie.MPTCPApplicableIndication, where, (*ie.IE).MPTCPApplicableIndication); err != nil {
		return err
	} else if ok {
		// TS 29.244 §8.2.181: bit 1 MTAI, bit 2 MQAI.
		p.Multipath = atsss.MultipathIndicator{MPTCP: v&0x01 != 0, MPQUIC: v&0x02 != 0}
	}
	return nil
}

func decodePDI(g *ie.IE) (atsss.PDI, error) {
	const where = "PDI"
	c := children(g)
	var pdi atsss.PDI
	src, err := mandatory(c, ie.SourceInterface, where, (*ie.IE).SourceInterface)
	if err != nil {
		return pdi, err
	}
	pdi.SourceInterface = atsss.Interface(src & 0x0f)
	if !pdi.SourceInterface.Valid() {
		return pdi, badIE(ie.SourceInterface, where, fmt.Errorf("interface value %d", src&0x0f))
	}
	if pdi.NetworkInstance, _, err = optional(c, ie.NetworkInstance, where, (*ie.IE).NetworkInstance); err != nil {
		return pdi, err
	}
	if f, ok, err := optional(c, ie.FTEID, where, (*ie.IE).FTEID); err != nil {
		return pdi, err
	} else if ok {
		// With CHOOSE the UPF allocates the F-TEID (TS 29.244 §5.5.3):
		// the session gets a placeholder that chooseFTEIDs fills in.
		if f.HasCh() {
			pdi.FTEID = &atsss.FTEID{Chosen: true}
		} else {
			pdi.FTEID = &atsss.FTEID{TEID: f.TEID, IPv4: addrOf(f.IPv4Address), IPv6: addrOf(f.IPv6Address)}
		}
	}
	if u, ok, err := optional(c, ie.UEIPAddress, where, (*ie.IE).UEIPAddress); err != nil {
		return pdi, err
	} else if ok {
		// TS 29.244 §8.2.62: bit 3 S/D; bits 5/6 CHV4/CHV6 ask the UPF to
		// allocate, which atsss does not do (no UEIP feature advertised).
		if u.Flags&0x30 != 0 {
			return pdi, &Rejection{Cause: CauseMandatoryIEIncorrect, OffendingIE: ie.UEIPAddress, Err: fmt.Errorf("%s: UE IP allocation by the UPF is not supported", where)}
		}
		pdi.UEIP = &atsss.UEIP{IPv4: addrOf(u.IPv4Address), IPv6: addrOf(u.IPv6Address), Destination: u.Flags&0x04 != 0}
	}
	sdfs, err := ids(c, ie.SDFFilter, where, (*ie.IE).SDFFilter)
	if err != nil {
		return pdi, err
	}
	for _, sdf := range sdfs {
		pdi.SDFFilters = append(pdi.SDFFilters, atsss.SDFFilter{
			FlowDescription: sdf.FlowDescription,
			ToSTrafficClass: uint16(be([]byte(sdf.ToSTrafficClass))),
			SPI:             be([]byte(sdf.SecurityParameterIndex)),
			FlowLabel:       be([]byte(sdf.FlowLabel)),
			FilterID:        sdf.SDFFilterID,
		})
	}
	if pdi.ApplicationID, _, err = optional(c, ie.ApplicationID, where, (*ie.IE).ApplicationID); err != nil {
		return pdi, err
	}
	if pdi.QFIs, err = ids(c, ie.QFI, where, (*ie.IE).QFI); err != nil {
		return pdi, err
	}
	return pdi, nil
}

func decodeFAR(g *ie.IE) (atsss.FAR, error) {
	const where = "create FAR"
	c := children(g)
	var f atsss.FAR
	var err error
	if f.ID, err = mandatory(c, ie.FARID, where, (*ie.IE).FARID); err != nil {
		return f, err
	}
	if f.ApplyAction, err = mandatory(c, ie.ApplyAction, where, applyAction); err != nil {
		return f, err
	}
	if fp := first(c, ie.ForwardingParameters); fp != nil {
		fw := &atsss.Forwarding{}
		dst, err := mandatory(children(fp), ie.DestinationInterface, "forwarding parameters", (*ie.IE).DestinationInterface)
		if err != nil {
			return f, err
		}
		fw.DestinationInterface = atsss.Interface(dst & 0x0f)
		if err := decodeForwarding(fw, children(fp)); err != nil {
			return f, err
		}
		f.Forwarding = fw
	}
	return f, nil
}

// decodeForwarding reads the optional IEs that Forwarding Parameters and
// Update Forwarding Parameters share; only those present change fw.
func decodeForwarding(fw *atsss.Forwarding, c []*ie.IE) error {
	const where = "forwarding parameters"
	if v, ok, err := optional(c, ie.DestinationInterface, where, (*ie.IE).DestinationInterface); err != nil {
		return err
	} else if ok {
		fw.DestinationInterface = atsss.Interface(v & 0x0f)
	}
	if v, ok, err := optional(c, ie.NetworkInstance, where, (*ie.IE).NetworkInstance); err != nil {
		return err
	} else if ok {
		fw.NetworkInstance = v
	}
	if o, ok, err := optional(c, ie.OuterHeaderCreation, where, (*ie.IE).OuterHeaderCreation); err != nil {
		return err
	} else if ok {
		fw.OuterHeaderCreation = &atsss.OuterHeaderCreation{
			Description: o.OuterHeaderCreationDescription,
			TEID:        o.TEID,
			IPv4:        addrOf(o.IPv4Address),
			IPv6:        addrOf(o.IPv6Address),
			Port:        o.PortNumber,
		}
	}
	if v, ok, err := optional(c, ie.TGPPInterfaceType, where, (*ie.IE).TGPPInterfaceType); err != nil {
		return err
	} else if ok {
		// TS 29.244 §8.2.118: the value is the low 6 bits.
		fw.InterfaceType = atsss.OptionalInterfaceType{Value: atsss.InterfaceType(v & 0x3f), Set: true}
	}
	return nil
}

// applyAction reads Apply Action (TS 29.244 §8.2.26): one or two octets.
func applyAction(i *ie.IE) (atsss.ApplyAction, error) {
	b, err := i.ApplyAction()
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, errShortIE
	}
	a := atsss.ApplyAction(b[0])
	if len(b) > 1 {
		a |= atsss.ApplyAction(b[1]) << 8
	}
	return a, nil
}

func decodeQER(g *ie.IE) (atsss.QER, error) {
	const where = "create QER"
	c := children(g)
	var q atsss.QER
	var err error
	if q.ID, err = mandatory(c, ie.QERID, where, (*ie.IE).QERID); err != nil {
		return q, err
	}
	if first(c, ie.GateStatus) == nil {
		return q, missingIE(ie.GateStatus, where)
	}
	return q, decodeQERParams(&q, c, where)
}

// decodeQERParams reads the IEs Create QER and Update QER share.
func decodeQERParams(q *atsss.QER, c []*ie.IE, where string) error {
	if g, ok, err := optional(c, ie.GateStatus, where, gates); err != nil {
		return err
	} else if ok {
		q.GateUL, q.GateDL = atsss.GateStatus(g[0]&1), atsss.GateStatus(g[1]&1)
	}
	if r, ok, err := optional(c, ie.MBR, where, bitRates((*ie.IE).MBRUL, (*ie.IE).MBRDL)); err != nil {
		return err
	} else if ok {
		q.MBRUL, q.MBRDL = r[0], r[1]
	}
	if r, ok, err := optional(c, ie.GBR, where, bitRates((*ie.IE).GBRUL, (*ie.IE).GBRDL)); err != nil {
		return err
	} else if ok {
		q.GBRUL, q.GBRDL = r[0], r[1]
	}
	if v, ok, err := optional(c, ie.QFI, where, (*ie.IE).QFI); err != nil {
		return err
	} else if ok {
		q.QFI = v & 0x3f
	}
	return nil
}

// gates reads Gate Status as [UL, DL].
func gates(i *ie.IE) ([2]uint8, error) {
	ul, dl, err := i.GateStatusULDL()
	return [2]uint8{ul, dl}, err
}

// bitRates makes a reader of an MBR or GBR IE as [UL, DL] in kbit/s.
func bitRates(ul, dl func(*ie.IE) (uint64, error)) func(*ie.IE) ([2]uint64, error) {
	return func(i *ie.IE) ([2]uint64, error) {
		u, err := ul(i)
		if err != nil {
			return [2]uint64{}, err
		}
		d, err := dl(i)
		return [2]uint64{u, d}, err
	}
}

func decodeURR(g *ie.IE) (atsss.URR, error) {
	id, err := mandatory(children(g), ie.URRID, "create URR", (*ie.IE).URRID)
	if err != nil {
		return atsss.URR{}, err
	}
	return atsss.URR{ID: id, Raw: append([]byte(nil), g.Payload...)}, nil
}

func decodeSRR(g *ie.IE) (atsss.SRR, error) {
	const where = "create SRR"
	c := children(g)
	id, err := mandatory(c, ie.SRRID, where, (*ie.IE).SRRID)
	if err != nil {
		return atsss.SRR{}, err
	}
	srr := atsss.SRR{ID: id}
	return srr, decodeSRRParams(&srr, c, where)
}

// decodeSRRParams reads Access Availability Control Information (TS 29.244
// §7.5.2.9): Requested Access Availability Information with RRCA set asks
// for an Access Availability Report.
func decodeSRRParams(srr *atsss.SRR, c []*ie.IE, where string) error {
	aaci := first(c, ie.AccessAvailabilityControlInformation)
	if aaci == nil {
		return nil
	}
	v, err := mandatory(children(aaci), ie.RequestedAccessAvailabilityInformation, where, (*ie.IE).RequestedAccessAvailabilityInformation)
	if err != nil {
		return err
	}
	srr.ReportAvailability = v&0x01 != 0
	return nil
}

func decodeMAR(g *ie.IE) (atsss.MAR, error) {
	const where = "create MAR"
	c := children(g)
	var m atsss.MAR
	var err error
	if m.ID, err = mandatory(c, ie.MARID, where, (*ie.IE).MARID); err != nil {
		return m, err
	}
	if m.Functionality, err = mandatory(c, ie.SteeringFunctionality, where, atsssie.ParseSteeringFunctionality); err != nil {
		return m, err
	}
	if m.Mode, err = mandatory(c, ie.SteeringMode, where, atsssie.ParseSteeringMode); err != nil {
		return m, err
	}
	for _, a := range atsss.Accesses {
		if afai := first(c, afaiType[a]); afai != nil {
			leg := atsss.Leg{Present: true}
			if err := decodeLeg(&leg, children(afai), true); err != nil {
				return m, err
			}
			m.Legs[a] = leg
		}
	}
	return m, decodeMARParams(&m, c, where)
}

// decodeMARParams reads the Rel-17 IEs that Create MAR and Update MAR share.
func decodeMARParams(m *atsss.MAR, c []*ie.IE, where string) error {
	if t, ok, err := optional(c, atsssie.Thresholds, where, atsssie.ParseThresholds); err != nil {
		return err
	} else if ok {
		m.Thresholds = &t
	}
	if s, ok, err := optional(c, atsssie.SteeringModeIndicator, where, atsssie.ParseSteeringModeIndicator); err != nil {
		return err
	} else if ok {
		// TS 29.244 §7.5.4.16: an SMI with no flag set clears it.
		m.SMI = &s
		if s == (atsss.SteeringModeIndicator{}) {
			m.SMI = nil
		}
	}
	return nil
}

// afaiType and updateAFAIType give, per access, the IE that creates and the
// IE that updates a MAR leg (TS 29.244 §7.5.2.8, §7.5.4.16).
var (
	afaiType       = [2]uint16{ie.TGPPAccessForwardingActionInformation, ie.NonTGPPAccessForwardingActionInformation}
	updateAFAIType = [2]uint16{ie.UpdateTGPPAccessForwardingActionInformation, ie.UpdateNonTGPPAccessForwardingActionInformation}
)

// decodeLeg reads an (Update) Access Forwarding Action Information into leg.
// In a create the FAR ID is mandatory; in an update only present IEs change.
func decodeLeg(leg *atsss.Leg, c []*ie.IE, create bool) error {
	const where = "access forwarding action information"
	if create && first(c, ie.FARID) == nil {
		return missingIE(ie.FARID, where)
	}
	if v, ok, err := optional(c, ie.FARID, where, (*ie.IE).FARID); err != nil {
		return err
	} else if ok {
		leg.FARID = v
	}
	if v, ok, err := optional(c, ie.Weight, where, (*ie.IE).Weight); err != nil {
		return err
	} else if ok {
		// TS 29.244 §8.2.126: values above 100 are treated as 0.
		if v > 100 {
			v = 0
		}
		leg.Weight = atsss.OptionalUint8{Value: v, Set: true}
	}
	if v, ok, err := optional(c, ie.Priority, where, atsssie.ParsePriority); err != nil {
		return err
	} else if ok {
		leg.Priority = atsss.OptionalPriority{Value: v, Set: true}
	}
	if urrs, err := ids(c, ie.URRID, where, (*ie.IE).URRID); err != nil {
		return err
	} else if urrs != nil {
		leg.URRIDs = urrs
	}
	return nil
}
