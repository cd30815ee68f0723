package atsss_test

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
)

// Rule IDs of validSession, named so that the table reads like the SMF's request.
const (
	pdrUL3GPP    = 1 // UL from the gNB
	pdrULNon3GPP = 2 // UL from the N3IWF
	pdrDLMPTCP   = 3 // DL MPTCP traffic, steered by marMPTCP
	pdrDLLL      = 4 // DL non-MPTCP traffic, steered by marLL

	farN6      = 1 // UL toward the data network
	farGNB     = 2 // DL toward the gNB (N3 3GPP)
	farN3IWF   = 3 // DL toward the N3IWF (N3 untrusted non-3GPP)
	farN9      = 4 // DL toward an I-UPF; its interface type names no access
	farNoIType = 5 // DL forwarding without a 3GPP interface type

	qerAMBR = 1
	qerGBR  = 2

	urrSession = 1
	urrDL      = 2
	urrMPTCP3  = 3 // per-access URRs of marMPTCP
	urrMPTCPN3 = 4
	urrUnused  = 5

	marMPTCP = 1 // MPTCP, load balancing 70/30
	marLL    = 2 // ATSSS-LL, active-standby

	srrAvailability = 1
)

var (
	upfN3    = netip.MustParseAddr("192.0.2.10")
	gNB      = netip.MustParseAddr("192.0.2.20")
	n3iwf    = netip.MustParseAddr("198.51.100.30")
	iUPF     = netip.MustParseAddr("192.0.2.40")
	ueIPv4   = netip.MustParseAddr("10.45.0.2")
	ueIPv6   = netip.MustParseAddr("2001:db8:45::2")
	smfAddr  = netip.MustParseAddr("192.0.2.1")
	proxyV4  = netip.MustParseAddr("10.45.255.1")
	link3GPP = netip.MustParseAddr("10.46.0.2")
	linkN3   = netip.MustParseAddr("10.47.0.2")
)

func set8(v uint8) atsss.OptionalUint8    { return atsss.OptionalUint8{Value: v, Set: true} }
func set16(v uint16) atsss.OptionalUint16 { return atsss.OptionalUint16{Value: v, Set: true} }
func set32(v uint32) atsss.OptionalUint32 { return atsss.OptionalUint32{Value: v, Set: true} }
func prio(p atsss.Priority) atsss.OptionalPriority {
	return atsss.OptionalPriority{Value: p, Set: true}
}
func itype(t atsss.InterfaceType) atsss.OptionalInterfaceType {
	return atsss.OptionalInterfaceType{Value: t, Set: true}
}

// validSession is an MA PDU session as an SMF installs it for a UE
// registered over both accesses (TS 29.244 §5.20.1): one UL PDR per access
// with its own F-TEID, two DL PDRs that name MARs instead of FARs, one DL FAR
// per access carrying the 3GPP Interface Type, an MPTCP load-balancing MAR
// (70/30) and an ATSSS-LL active-standby MAR for the rest. Each call returns
// a new session.
func validSession() *atsss.Session {
	dlPDI := atsss.PDI{
		SourceInterface: atsss.InterfaceCore,
		NetworkInstance: "internet",
		UEIP:            &atsss.UEIP{IPv4: ueIPv4, IPv6: ueIPv6, Destination: true},
	}
	mptcpPDI := dlPDI
	mptcpPDI.UEIP = &atsss.UEIP{IPv4: ueIPv4, IPv6: ueIPv6, Destination: true}
	mptcpPDI.SDFFilters = []atsss.SDFFilter{{FlowDescription: "permit out 6 from any to assigned", FilterID: 1}}
	return &atsss.Session{
		LocalSEID:  0x1001,
		RemoteSEID: 0x2002,
		PeerNodeID: "smf.5gc.mnc001.mcc001.3gppnetwork.org",
		PeerAddr:   smfAddr,
		PDRs: []atsss.PDR{
			{
				ID: pdrUL3GPP, Precedence: 200,
				PDI: atsss.PDI{
					SourceInterface: atsss.InterfaceAccess,
					NetworkInstance: "access",
					FTEID:           &atsss.FTEID{TEID: 0x100, IPv4: upfN3},
					UEIP:            &atsss.UEIP{IPv4: ueIPv4},
					QFIs:            []uint8{9},
				},
				OuterHeaderRemoval: set8(0), // GTP-U/UDP/IPv4
				FARID:              set32(farN6),
				QERIDs:             []uint32{qerAMBR},
				URRIDs:             []uint32{urrSession},
			},
			{
				ID: pdrULNon3GPP, Precedence: 200,
				PDI: atsss.PDI{
					SourceInterface: atsss.InterfaceAccess,
					NetworkInstance: "access",
					FTEID:           &atsss.FTEID{TEID: 0x200, IPv4: upfN3},
					UEIP:            &atsss.UEIP{IPv4: ueIPv4},
					QFIs:            []uint8{9},
				},
				OuterHeaderRemoval: set8(0),
				FARID:              set32(farN6),
				QERIDs:             []uint32{qerAMBR},
				URRIDs:             []uint32{urrSession},
			},
			{
				ID: pdrDLMPTCP, Precedence: 100,
				PDI:       mptcpPDI,
				MARID:     set16(marMPTCP),
				QERIDs:    []uint32{qerAMBR},
				URRIDs:    []uint32{urrDL},
				Multipath: atsss.MultipathIndicator{MPTCP: true},
			},
			{
				ID: pdrDLLL, Precedence: 255,
				PDI:    dlPDI,
				MARID:  set16(marLL),
				QERIDs: []uint32{qerAMBR},
				URRIDs: []uint32{urrDL},
			},
		},
		FARs: []atsss.FAR{
			{ID: farN6, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceCore,
				NetworkInstance:      "internet",
				InterfaceType:        itype(atsss.InterfaceTypeN6),
			}},
			{ID: farGNB, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				NetworkInstance:      "access",
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: 0x3001, IPv4: gNB},
				InterfaceType:        itype(atsss.InterfaceTypeN3Access3GPP),
			}},
			{ID: farN3IWF, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				NetworkInstance:      "access",
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: 0x4001, IPv4: n3iwf},
				InterfaceType:        itype(atsss.InterfaceTypeN3UntrustedNon3GPP),
			}},
			{ID: farN9, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: 0x5001, IPv4: iUPF},
				InterfaceType:        itype(atsss.InterfaceTypeN9),
			}},
			{ID: farNoIType, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: 0x6001, IPv4: gNB},
			}},
		},
		QERs: []atsss.QER{
			{ID: qerAMBR, MBRUL: 100_000, MBRDL: 500_000},
			{ID: qerGBR, MBRUL: 2_000, MBRDL: 2_000, GBRUL: 1_000, GBRDL: 1_000, QFI: 1},
		},
		URRs: []atsss.URR{{ID: urrSession}, {ID: urrDL}, {ID: urrMPTCP3}, {ID: urrMPTCPN3}, {ID: urrUnused}},
		MARs: []atsss.MAR{
			{
				ID: marMPTCP, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing,
				Legs: [2]atsss.Leg{
					atsss.Access3GPP:    {Present: true, FARID: farGNB, Weight: set8(70), URRIDs: []uint32{urrMPTCP3}},
					atsss.AccessNon3GPP: {Present: true, FARID: farN3IWF, Weight: set8(30), URRIDs: []uint32{urrMPTCPN3}},
				},
			},
			{
				ID: marLL, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby,
				Legs: [2]atsss.Leg{
					atsss.Access3GPP:    {Present: true, FARID: farGNB, Priority: prio(atsss.PriorityActive)},
					atsss.AccessNon3GPP: {Present: true, FARID: farN3IWF, Priority: prio(atsss.PriorityStandby)},
				},
			},
		},
		SRRs: []atsss.SRR{{ID: srrAvailability, ReportAvailability: true}},
		ATSSS: atsss.ATSSSControl{
			Requested: atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true},
			Params: atsss.ATSSSParams{
				MPTCP: &atsss.MPTCPParams{
					ProxyType: 1, ProxyIPv4: proxyV4, ProxyPort: 8843,
					LinkSpecific: [2]atsss.AddrPair{{IPv4: link3GPP}, {IPv4: linkN3}},
				},
				ATSSSLL: true,
				PMF:     []atsss.PMFParams{{Addr: atsss.AddrPair{IPv4: proxyV4}, Ports: [2]uint16{4001, 4002}}},
			},
		},
	}
}

// legs returns the two legs of a MAR over the gNB and N3IWF FARs, with the
// given per-access options applied.
func legs(opt3, optN func(*atsss.Leg)) [2]atsss.Leg {
	l := [2]atsss.Leg{
		atsss.Access3GPP:    {Present: true, FARID: farGNB},
		atsss.AccessNon3GPP: {Present: true, FARID: farN3IWF},
	}
	if opt3 != nil {
		opt3(&l[atsss.Access3GPP])
	}
	if optN != nil {
		optN(&l[atsss.AccessNon3GPP])
	}
	return l
}

func withWeight(w uint8) func(*atsss.Leg)        { return func(l *atsss.Leg) { l.Weight = set8(w) } }
func withPrio(p atsss.Priority) func(*atsss.Leg) { return func(l *atsss.Leg) { l.Priority = prio(p) } }
func absent(l *atsss.Leg)                        { *l = atsss.Leg{} }
func withFAR(id uint32) func(*atsss.Leg)         { return func(l *atsss.Leg) { l.FARID = id } }
func withURRs(ids ...uint32) func(*atsss.Leg)    { return func(l *atsss.Leg) { l.URRIDs = ids } }
func absentKeepWeight(w uint8) func(l *atsss.Leg) {
	return func(l *atsss.Leg) { *l = atsss.Leg{Weight: set8(w)} }
}

// mar replaces the MPTCP MAR (ID marMPTCP) with the one edit builds from it.
func mar(edit func(m *atsss.MAR)) func(*atsss.Session) {
	return func(s *atsss.Session) { edit(s.MAR(marMPTCP)) }
}

// mode sets the MPTCP MAR's mode and legs and clears its other options.
func mode(md atsss.SteeringMode, l [2]atsss.Leg) func(*atsss.Session) {
	return mar(func(m *atsss.MAR) {
		m.Mode, m.Legs, m.Thresholds, m.SMI = md, l, nil, nil
	})
}

// then applies edits in order.
func then(edits ...func(*atsss.Session)) func(*atsss.Session) {
	return func(s *atsss.Session) {
		for _, e := range edits {
			e(s)
		}
	}
}

func rtt(ms uint16) *atsss.Thresholds { return &atsss.Thresholds{RTT: set16(ms)} }
func plr(p uint8) *atsss.Thresholds   { return &atsss.Thresholds{PLR: set8(p)} }

var (
	lb7030 = legs(withWeight(70), withWeight(30))
	asLegs = legs(withPrio(atsss.PriorityActive), withPrio(atsss.PriorityStandby))
	pbLegs = legs(withPrio(atsss.PriorityHigh), withPrio(atsss.PriorityLow))
)

type validateCase struct {
	name string
	edit func(*atsss.Session) // nil: validSession as is
	// want is the expected error; nil means the session is valid. Err holds
	// the sentinel the error must wrap.
	want *atsss.RuleError
}

func ruleErr(t atsss.RuleType, id uint32, field string, sentinel error) *atsss.RuleError {
	return &atsss.RuleError{Rule: t, ID: id, Field: field, Err: sentinel}
}

func marErr(field string, sentinel error) *atsss.RuleError {
	return ruleErr(atsss.RuleMAR, marMPTCP, field, sentinel)
}

var validateCases = []validateCase{
	// Valid sessions.
	{name: "valid/ma-pdu-session"},
	{name: "valid/active-standby", edit: mode(atsss.ModeActiveStandby, asLegs)},
	{name: "valid/active-standby-no-standby", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityNoStandby), withPrio(atsss.PriorityActive)))},
	{name: "valid/active-standby-active-access-only", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityActive), absent))},
	{name: "valid/smallest-delay", edit: mode(atsss.ModeSmallestDelay, legs(nil, nil))},
	{name: "valid/load-balancing-100-0", edit: mode(atsss.ModeLoadBalancing, legs(withWeight(100), withWeight(0)))},
	{name: "valid/load-balancing-one-access", edit: mode(atsss.ModeLoadBalancing, legs(absent, withWeight(100)))},
	{name: "valid/load-balancing-ignores-weight-of-absent-access", edit: mode(atsss.ModeLoadBalancing,
		legs(withWeight(100), absentKeepWeight(50)))},
	{name: "valid/load-balancing-thresholds", edit: then(mode(atsss.ModeLoadBalancing, lb7030),
		mar(func(m *atsss.MAR) { m.Thresholds = &atsss.Thresholds{RTT: set16(50), PLR: set8(2)} }))},
	{name: "valid/load-balancing-albi", edit: then(mode(atsss.ModeLoadBalancing, lb7030),
		mar(func(m *atsss.MAR) { m.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true} }))},
	{name: "valid/load-balancing-ueai", edit: then(mode(atsss.ModeLoadBalancing, lb7030),
		mar(func(m *atsss.MAR) { m.SMI = &atsss.SteeringModeIndicator{UEAssistance: true} }))},
	{name: "valid/load-balancing-smi-cleared", edit: then(mode(atsss.ModeLoadBalancing, lb7030),
		mar(func(m *atsss.MAR) { m.SMI = &atsss.SteeringModeIndicator{} }))},
	{name: "valid/priority-based", edit: mode(atsss.ModePriorityBased, pbLegs)},
	{name: "valid/priority-based-thresholds", edit: then(mode(atsss.ModePriorityBased, pbLegs),
		mar(func(m *atsss.MAR) { m.Thresholds = &atsss.Thresholds{RTT: set16(80), PLR: set8(5)} }))},
	{name: "valid/redundant", edit: mode(atsss.ModeRedundant, legs(nil, nil))},
	{name: "valid/redundant-primary-secondary", edit: mode(atsss.ModeRedundant,
		legs(withPrio(atsss.PriorityPrimary), withPrio(atsss.PrioritySecondary)))},
	{name: "valid/redundant-primary-only", edit: mode(atsss.ModeRedundant, legs(withPrio(atsss.PriorityPrimary), nil))},
	{name: "valid/redundant-rtt-threshold", edit: then(mode(atsss.ModeRedundant, legs(nil, nil)),
		mar(func(m *atsss.MAR) { m.Thresholds = rtt(30) }))},
	{name: "valid/redundant-plr-threshold", edit: then(mode(atsss.ModeRedundant, legs(nil, nil)),
		mar(func(m *atsss.MAR) { m.Thresholds = plr(100) }))},
	{name: "valid/redundant-gbr", edit: then(mode(atsss.ModeRedundant, legs(nil, nil)),
		func(s *atsss.Session) { s.PDR(pdrDLMPTCP).QERIDs = []uint32{qerGBR} })},
	{name: "valid/mpquic-transport-mode", edit: mar(func(m *atsss.MAR) {
		m.Functionality, m.TransportMode = atsss.FunctionalityMPQUICUDP, set8(2)
	})},
	{name: "valid/n9-far", edit: mar(func(m *atsss.MAR) { m.Legs[atsss.AccessNon3GPP].FARID = farN9 })},
	{name: "valid/drop-far-not-in-mar", edit: func(s *atsss.Session) {
		s.FAR(farN6).ApplyAction, s.FAR(farN6).Forwarding = atsss.ActionDrop, nil
	}},
	{name: "valid/buffering-far-of-mar", edit: func(s *atsss.Session) {
		s.FAR(farN3IWF).ApplyAction = atsss.ActionBuff | atsss.ActionNocp
	}},
	{name: "valid/gbr-pdr-with-far", edit: func(s *atsss.Session) {
		p := s.PDR(pdrDLLL)
		p.MARID, p.FARID, p.QERIDs = atsss.OptionalUint16{}, set32(farGNB), []uint32{qerGBR}
	}},

	// Load balancing.
	{name: "lb/weights-60-30", edit: mode(atsss.ModeLoadBalancing, legs(withWeight(60), withWeight(30))),
		want: marErr("legs.weight", atsss.ErrInvalidValue)},
	{name: "lb/weight-over-100", edit: mode(atsss.ModeLoadBalancing, legs(withWeight(101), withWeight(0))),
		want: marErr("legs[3gpp].weight", atsss.ErrInvalidValue)},
	{name: "lb/missing-weight", edit: mode(atsss.ModeLoadBalancing, legs(withWeight(100), nil)),
		want: marErr("legs[non3gpp].weight", atsss.ErrMissingField)},
	{name: "lb/one-access-weight-70", edit: mode(atsss.ModeLoadBalancing, legs(withWeight(70), absent)),
		want: marErr("legs.weight", atsss.ErrInvalidValue)},

	// Active-standby.
	{name: "as/missing-priority", edit: mode(atsss.ModeActiveStandby, legs(nil, withPrio(atsss.PriorityActive))),
		want: marErr("legs[3gpp].priority", atsss.ErrMissingField)},
	{name: "as/two-actives", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityActive), withPrio(atsss.PriorityActive))),
		want: marErr("legs.priority", atsss.ErrConflict)},
	{name: "as/no-active", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityStandby), withPrio(atsss.PriorityNoStandby))),
		want: marErr("legs.priority", atsss.ErrInvalidValue)},
	{name: "as/standby-access-only", edit: mode(atsss.ModeActiveStandby, legs(absent, withPrio(atsss.PriorityStandby))),
		want: marErr("legs.priority", atsss.ErrInvalidValue)},
	{name: "as/high-priority", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityActive), withPrio(atsss.PriorityLow))),
		want: marErr("legs[non3gpp].priority", atsss.ErrInvalidValue)},
	{name: "as/priority-out-of-range", edit: mode(atsss.ModeActiveStandby,
		legs(withPrio(atsss.PriorityActive), withPrio(7))),
		want: marErr("legs[non3gpp].priority", atsss.ErrInvalidValue)},

	// Priority-based.
	{name: "pb/priorities-equal", edit: mode(atsss.ModePriorityBased,
		legs(withPrio(atsss.PriorityHigh), withPrio(atsss.PriorityHigh))),
		want: marErr("legs.priority", atsss.ErrConflict)},
	{name: "pb/active", edit: mode(atsss.ModePriorityBased,
		legs(withPrio(atsss.PriorityActive), withPrio(atsss.PriorityLow))),
		want: marErr("legs[3gpp].priority", atsss.ErrInvalidValue)},
	{name: "pb/missing-priority", edit: mode(atsss.ModePriorityBased, legs(withPrio(atsss.PriorityHigh), nil)),
		want: marErr("legs[non3gpp].priority", atsss.ErrMissingField)},

	// Thresholds and steering mode indicator.
	{name: "thresholds-and-smi", edit: then(mode(atsss.ModeLoadBalancing, lb7030), mar(func(m *atsss.MAR) {
		m.Thresholds, m.SMI = rtt(50), &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}
	})), want: marErr("thresholds", atsss.ErrConflict)},
	{name: "smi/priority-based", edit: then(mode(atsss.ModePriorityBased, pbLegs), mar(func(m *atsss.MAR) {
		m.SMI = &atsss.SteeringModeIndicator{UEAssistance: true}
	})), want: marErr("smi", atsss.ErrConflict)},
	{name: "smi/albi-and-ueai", edit: then(mode(atsss.ModeLoadBalancing, lb7030), mar(func(m *atsss.MAR) {
		m.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true, UEAssistance: true}
	})), want: marErr("smi", atsss.ErrConflict)},
	{name: "thresholds/empty", edit: then(mode(atsss.ModePriorityBased, pbLegs), mar(func(m *atsss.MAR) {
		m.Thresholds = &atsss.Thresholds{}
	})), want: marErr("thresholds", atsss.ErrMissingField)},
	{name: "thresholds/plr-over-100", edit: then(mode(atsss.ModeLoadBalancing, lb7030), mar(func(m *atsss.MAR) {
		m.Thresholds = plr(101)
	})), want: marErr("thresholds.plr", atsss.ErrInvalidValue)},

	// Redundant.
	{name: "redundant/atsss-ll", edit: then(mode(atsss.ModeRedundant, legs(nil, nil)), mar(func(m *atsss.MAR) {
		m.Functionality = atsss.FunctionalityATSSSLL
	})), want: marErr("steering_mode", atsss.ErrConflict)},
	{name: "redundant/rtt-and-plr", edit: then(mode(atsss.ModeRedundant, legs(nil, nil)), mar(func(m *atsss.MAR) {
		m.Thresholds = &atsss.Thresholds{RTT: set16(30), PLR: set8(1)}
	})), want: marErr("thresholds", atsss.ErrConflict)},
	{name: "redundant/active", edit: mode(atsss.ModeRedundant, legs(withPrio(atsss.PriorityActive), nil)),
		want: marErr("legs[3gpp].priority", atsss.ErrInvalidValue)},
	{name: "redundant/primary-twice", edit: mode(atsss.ModeRedundant,
		legs(withPrio(atsss.PriorityPrimary), withPrio(atsss.PriorityPrimary))),
		want: marErr("legs.priority", atsss.ErrConflict)},
	{name: "gbr-pdr-non-redundant-mar", edit: func(s *atsss.Session) {
		s.PDR(pdrDLMPTCP).QERIDs = []uint32{qerAMBR, qerGBR}
	}, want: ruleErr(atsss.RulePDR, pdrDLMPTCP, "mar_id", atsss.ErrConflict)},

	// Other MAR fields.
	{name: "mar/transport-mode-on-mptcp", edit: mar(func(m *atsss.MAR) { m.TransportMode = set8(0) }),
		want: marErr("transport_mode", atsss.ErrConflict)},
	{name: "mar/unknown-functionality", edit: mar(func(m *atsss.MAR) { m.Functionality = 5 }),
		want: marErr("steering_functionality", atsss.ErrInvalidValue)},
	{name: "mar/unknown-mode", edit: mar(func(m *atsss.MAR) { m.Mode = 5 }),
		want: marErr("steering_mode", atsss.ErrInvalidValue)},
	{name: "mar/no-legs", edit: mode(atsss.ModeSmallestDelay, [2]atsss.Leg{}),
		want: marErr("legs", atsss.ErrMissingField)},
	{name: "mar/leg-unknown-far", edit: mar(func(m *atsss.MAR) { withFAR(99)(&m.Legs[atsss.Access3GPP]) }),
		want: marErr("legs[3gpp].far_id", atsss.ErrUnknownReference)},
	{name: "mar/leg-unknown-urr", edit: mar(func(m *atsss.MAR) { withURRs(99)(&m.Legs[atsss.AccessNon3GPP]) }),
		want: marErr("legs[non3gpp].urr_ids", atsss.ErrUnknownReference)},
	{name: "mar/far-without-interface-type", edit: mar(func(m *atsss.MAR) { m.Legs[atsss.AccessNon3GPP].FARID = farNoIType }),
		want: marErr("legs[non3gpp].far_id", atsss.ErrMissingField)},
	{name: "mar/far-without-forwarding", edit: func(s *atsss.Session) {
		s.FAR(farN3IWF).ApplyAction, s.FAR(farN3IWF).Forwarding = atsss.ActionDrop, nil
	}, want: marErr("legs[non3gpp].far_id", atsss.ErrMissingField)},
	{name: "mar/3gpp-leg-on-non3gpp-far", edit: mar(func(m *atsss.MAR) {
		m.Legs[atsss.Access3GPP].FARID, m.Legs[atsss.AccessNon3GPP].FARID = farN3IWF, farN9
	}), want: marErr("legs[3gpp].far_id", atsss.ErrConflict)},
	{name: "mar/non3gpp-leg-on-3gpp-far", edit: mar(func(m *atsss.MAR) {
		m.Legs[atsss.AccessNon3GPP].FARID = farGNB
	}), want: marErr("legs[non3gpp].far_id", atsss.ErrConflict)},
	{name: "mar/both-legs-same-far", edit: mar(func(m *atsss.MAR) {
		m.Legs[atsss.Access3GPP].FARID, m.Legs[atsss.AccessNon3GPP].FARID = farN9, farN9
	}), want: marErr("legs", atsss.ErrConflict)},
	{name: "mar/leg-urr-shared-with-pdr", edit: mar(func(m *atsss.MAR) {
		m.Legs[atsss.Access3GPP].URRIDs = []uint32{urrMPTCP3, urrDL}
	}), want: marErr("legs[3gpp].urr_ids", atsss.ErrConflict)},

	// PDRs.
	{name: "pdr/far-and-mar", edit: func(s *atsss.Session) { s.PDR(pdrDLLL).FARID = set32(farGNB) },
		want: ruleErr(atsss.RulePDR, pdrDLLL, "far_id", atsss.ErrConflict)},
	{name: "pdr/neither-far-nor-mar", edit: func(s *atsss.Session) { s.PDR(pdrDLLL).MARID = atsss.OptionalUint16{} },
		want: ruleErr(atsss.RulePDR, pdrDLLL, "far_id", atsss.ErrMissingField)},
	{name: "pdr/unknown-far", edit: func(s *atsss.Session) { s.PDR(pdrUL3GPP).FARID = set32(99) },
		want: ruleErr(atsss.RulePDR, pdrUL3GPP, "far_id", atsss.ErrUnknownReference)},
	{name: "pdr/unknown-mar", edit: func(s *atsss.Session) { s.PDR(pdrDLLL).MARID = set16(99) },
		want: ruleErr(atsss.RulePDR, pdrDLLL, "mar_id", atsss.ErrUnknownReference)},
	{name: "pdr/unknown-qer", edit: func(s *atsss.Session) { s.PDR(pdrDLMPTCP).QERIDs = []uint32{qerAMBR, 99} },
		want: ruleErr(atsss.RulePDR, pdrDLMPTCP, "qer_ids", atsss.ErrUnknownReference)},
	{name: "pdr/unknown-urr", edit: func(s *atsss.Session) { s.PDR(pdrULNon3GPP).URRIDs = []uint32{99} },
		want: ruleErr(atsss.RulePDR, pdrULNon3GPP, "urr_ids", atsss.ErrUnknownReference)},
	{name: "pdr/uplink-names-mar", edit: func(s *atsss.Session) {
		p := s.PDR(pdrULNon3GPP)
		p.FARID, p.MARID = atsss.OptionalUint32{}, set16(marLL)
	}, want: ruleErr(atsss.RulePDR, pdrULNon3GPP, "mar_id", atsss.ErrInvalidValue)},
	{name: "pdr/unknown-source-interface", edit: func(s *atsss.Session) { s.PDR(pdrDLLL).PDI.SourceInterface = 9 },
		want: ruleErr(atsss.RulePDR, pdrDLLL, "pdi.source_interface", atsss.ErrInvalidValue)},

	// Flow descriptions (TS 29.212 §5.4.2).
	{name: "valid/uplink-flow-descriptions", edit: func(s *atsss.Session) {
		s.PDR(pdrUL3GPP).PDI.SDFFilters = []atsss.SDFFilter{
			{FlowDescription: "permit out 6 from 203.0.113.0/24 80,443,8000-8080 to assigned"},
			{FlowDescription: "permit out 17 from 2001:db8::/32 53 to 2001:db8:45::/64"},
			{ToSTrafficClass: 0x2efc}, // no flow description: nothing to parse
		}
	}},
	{name: "pdr/flow-description-direction-in", edit: func(s *atsss.Session) {
		s.PDR(pdrDLMPTCP).PDI.SDFFilters[0].FlowDescription = "permit in 6 from any to assigned"
	}, want: ruleErr(atsss.RulePDR, pdrDLMPTCP, "pdi.sdf_filters[0].flow_description", atsss.ErrInvalidValue)},
	{name: "pdr/flow-description-second-filter", edit: func(s *atsss.Session) {
		s.PDR(pdrULNon3GPP).PDI.SDFFilters = []atsss.SDFFilter{
			{FlowDescription: "permit out 6 from any to assigned"},
			{FlowDescription: "permit out 6 from assigned to any"},
		}
	}, want: ruleErr(atsss.RulePDR, pdrULNon3GPP, "pdi.sdf_filters[1].flow_description", atsss.ErrInvalidValue)},
	{name: "pdr/flow-description-option", edit: func(s *atsss.Session) {
		s.PDR(pdrUL3GPP).PDI.SDFFilters = []atsss.SDFFilter{{FlowDescription: "permit out 6 from any to assigned established"}}
	}, want: ruleErr(atsss.RulePDR, pdrUL3GPP, "pdi.sdf_filters[0].flow_description", atsss.ErrInvalidValue)},

	// FARs.
	{name: "far/forw-without-forwarding", edit: func(s *atsss.Session) { s.FAR(farN6).Forwarding = nil },
		want: ruleErr(atsss.RuleFAR, farN6, "forwarding_parameters", atsss.ErrMissingField)},
	{name: "far/no-action", edit: func(s *atsss.Session) { s.FAR(farN9).ApplyAction = 0 },
		want: ruleErr(atsss.RuleFAR, farN9, "apply_action", atsss.ErrInvalidValue)},
	{name: "far/drop-and-forw", edit: func(s *atsss.Session) { s.FAR(farN9).ApplyAction = atsss.ActionDrop | atsss.ActionForw },
		want: ruleErr(atsss.RuleFAR, farN9, "apply_action", atsss.ErrInvalidValue)},
	{name: "far/nocp-only", edit: func(s *atsss.Session) { s.FAR(farN9).ApplyAction = atsss.ActionNocp },
		want: ruleErr(atsss.RuleFAR, farN9, "apply_action", atsss.ErrInvalidValue)},
	{name: "far/unknown-destination-interface", edit: func(s *atsss.Session) {
		s.FAR(farGNB).Forwarding.DestinationInterface = 6
	}, want: ruleErr(atsss.RuleFAR, farGNB, "forwarding_parameters.destination_interface", atsss.ErrInvalidValue)},

	// Duplicate IDs, one per rule type.
	{name: "duplicate/pdr", edit: func(s *atsss.Session) { s.PDRs = append(s.PDRs, s.PDRs[2]) },
		want: ruleErr(atsss.RulePDR, pdrDLMPTCP, "id", atsss.ErrDuplicateRule)},
	{name: "duplicate/far", edit: func(s *atsss.Session) { s.FARs = append(s.FARs, atsss.FAR{ID: farGNB, ApplyAction: atsss.ActionDrop}) },
		want: ruleErr(atsss.RuleFAR, farGNB, "id", atsss.ErrDuplicateRule)},
	{name: "duplicate/qer", edit: func(s *atsss.Session) { s.QERs = append(s.QERs, atsss.QER{ID: qerAMBR}) },
		want: ruleErr(atsss.RuleQER, qerAMBR, "id", atsss.ErrDuplicateRule)},
	{name: "duplicate/urr", edit: func(s *atsss.Session) { s.URRs = append(s.URRs, atsss.URR{ID: urrUnused}) },
		want: ruleErr(atsss.RuleURR, urrUnused, "id", atsss.ErrDuplicateRule)},
	{name: "duplicate/mar", edit: func(s *atsss.Session) { s.MARs = append(s.MARs, s.MARs[1]) },
		want: ruleErr(atsss.RuleMAR, marLL, "id", atsss.ErrDuplicateRule)},
	{name: "duplicate/srr", edit: func(s *atsss.Session) { s.SRRs = append(s.SRRs, atsss.SRR{ID: srrAvailability}) },
		want: ruleErr(atsss.RuleSRR, srrAvailability, "id", atsss.ErrDuplicateRule)},
}

func TestValidate(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSession()
			if tc.edit != nil {
				tc.edit(s)
			}
			before := s.Clone()
			err := s.Validate()
			if diff := cmp.Diff(before, s, addrCmp); diff != "" {
				t.Errorf("Validate changed the session (-before +after):\n%s", diff)
			}
			checkRuleError(t, err, tc.want)
		})
	}
}

func checkRuleError(t *testing.T, err error, want *atsss.RuleError) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate() = nil, want %v %d %s: %v", want.Rule, want.ID, want.Field, want.Err)
	}
	var re *atsss.RuleError
	if !errors.As(err, &re) {
		t.Fatalf("Validate() = %T %v, want a *atsss.RuleError", err, err)
	}
	got := struct {
		Rule  atsss.RuleType
		ID    uint32
		Field string
	}{re.Rule, re.ID, re.Field}
	wantKey := struct {
		Rule  atsss.RuleType
		ID    uint32
		Field string
	}{want.Rule, want.ID, want.Field}
	if got != wantKey {
		t.Errorf("Validate() = %v\n got rule %v %d field %q\nwant rule %v %d field %q", err, got.Rule, got.ID, got.Field, want.Rule, want.ID, want.Field)
	}
	if !errors.Is(err, want.Err) {
		t.Errorf("Validate() = %v, want it to wrap %q", err, want.Err)
	}
	t.Logf("%v", err) // the message an operator reads; go test -v shows it
}

func TestRuleErrorMessage(t *testing.T) {
	s := validSession()
	mode(atsss.ModeLoadBalancing, legs(withWeight(60), withWeight(30)))(s)
	const want = "MAR 1: legs.weight: invalid value: weights 3gpp 60 + non3gpp 30 = 90, want 100"
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

// fuzzMAR is the part of the MPTCP MAR that FuzzValidate varies, one field
// per fuzz argument, in argument order.
type fuzzMAR struct {
	Fn, Mode uint8
	// Legs: bit 0/1 the 3GPP/non-3GPP leg is present, bit 2/3 it has a
	// weight, bit 4/5 it has a priority, bit 6 a transport mode is set,
	// bit 7 the legs swap their FARs (each names the other access's FAR).
	Legs   uint8
	W3, WN uint8 // weights
	P3, PN uint8 // priorities
	// Thr: bit 0 thresholds present, bit 1 RTT set, bit 2 PLR set, bit 3
	// SMI present, bit 4 ALBI, bit 5 UEAI.
	Thr uint8
	RTT uint16
	PLR uint8
}

func bit(b uint8, n uint) bool { return b&(1<<n) != 0 }

func setBit(b *uint8, n uint, v bool) {
	if v {
		*b |= 1 << n
	}
}

// encodeFuzzMAR is the inverse of fuzzMAR.mar for the fields it covers; it
// turns the table's MARs into seeds.
func encodeFuzzMAR(m *atsss.MAR) fuzzMAR {
	a := fuzzMAR{Fn: uint8(m.Functionality), Mode: uint8(m.Mode)}
	l3, ln := m.Legs[atsss.Access3GPP], m.Legs[atsss.AccessNon3GPP]
	setBit(&a.Legs, 0, l3.Present)
	setBit(&a.Legs, 1, ln.Present)
	setBit(&a.Legs, 2, l3.Weight.Set)
	setBit(&a.Legs, 3, ln.Weight.Set)
	setBit(&a.Legs, 4, l3.Priority.Set)
	setBit(&a.Legs, 5, ln.Priority.Set)
	setBit(&a.Legs, 6, m.TransportMode.Set)
	setBit(&a.Legs, 7, l3.FARID == farN3IWF || ln.FARID == farGNB)
	a.W3, a.WN = l3.Weight.Value, ln.Weight.Value
	a.P3, a.PN = uint8(l3.Priority.Value), uint8(ln.Priority.Value)
	if t := m.Thresholds; t != nil {
		setBit(&a.Thr, 0, true)
		setBit(&a.Thr, 1, t.RTT.Set)
		setBit(&a.Thr, 2, t.PLR.Set)
		a.RTT, a.PLR = t.RTT.Value, t.PLR.Value
	}
	if smi := m.SMI; smi != nil {
		setBit(&a.Thr, 3, true)
		setBit(&a.Thr, 4, smi.AutonomousLoadBalancing)
		setBit(&a.Thr, 5, smi.UEAssistance)
	}
	return a
}

// mar builds the MPTCP MAR of validSession from a.
func (a fuzzMAR) mar() atsss.MAR {
	far3, farN := uint32(farGNB), uint32(farN3IWF)
	if bit(a.Legs, 7) {
		far3, farN = farN, far3
	}
	m := atsss.MAR{
		ID:            marMPTCP,
		Functionality: atsss.SteeringFunctionality(a.Fn),
		Mode:          atsss.SteeringMode(a.Mode),
		Legs: [2]atsss.Leg{
			atsss.Access3GPP: {
				Present: bit(a.Legs, 0), FARID: far3, URRIDs: []uint32{urrMPTCP3},
				Weight:   atsss.OptionalUint8{Value: a.W3, Set: bit(a.Legs, 2)},
				Priority: atsss.OptionalPriority{Value: atsss.Priority(a.P3), Set: bit(a.Legs, 4)},
			},
			atsss.AccessNon3GPP: {
				Present: bit(a.Legs, 1), FARID: farN, URRIDs: []uint32{urrMPTCPN3},
				Weight:   atsss.OptionalUint8{Value: a.WN, Set: bit(a.Legs, 3)},
				Priority: atsss.OptionalPriority{Value: atsss.Priority(a.PN), Set: bit(a.Legs, 5)},
			},
		},
		TransportMode: atsss.OptionalUint8{Set: bit(a.Legs, 6)},
	}
	if bit(a.Thr, 0) {
		m.Thresholds = &atsss.Thresholds{
			RTT: atsss.OptionalUint16{Value: a.RTT, Set: bit(a.Thr, 1)},
			PLR: atsss.OptionalUint8{Value: a.PLR, Set: bit(a.Thr, 2)},
		}
	}
	if bit(a.Thr, 3) {
		m.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: bit(a.Thr, 4), UEAssistance: bit(a.Thr, 5)}
	}
	return m
}

// FuzzValidate replaces the MPTCP MAR of an otherwise valid session with one
// built from the fuzz arguments and checks that whatever Validate accepts is
// a MAR the steering code can act on.
func FuzzValidate(f *testing.F) {
	seen := make(map[fuzzMAR]bool)
	for _, tc := range validateCases {
		s := validSession()
		if tc.edit != nil {
			tc.edit(s)
		}
		if m := s.MAR(marMPTCP); m != nil {
			if a := encodeFuzzMAR(m); !seen[a] {
				seen[a] = true
				f.Add(a.Fn, a.Mode, a.Legs, a.W3, a.WN, a.P3, a.PN, a.Thr, a.RTT, a.PLR)
			}
		}
	}
	f.Fuzz(func(t *testing.T, fn, md, legBits, w3, wn, p3, pn, thr uint8, rttMS uint16, plrPct uint8) {
		s := validSession()
		m := s.MAR(marMPTCP)
		*m = fuzzMAR{fn, md, legBits, w3, wn, p3, pn, thr, rttMS, plrPct}.mar()
		err := s.Validate()
		if err != nil {
			// The rest of the session is valid: only this MAR can be at fault.
			var re *atsss.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate() = %T %v, want a *atsss.RuleError", err, err)
			}
			if re.Rule != atsss.RuleMAR || re.ID != marMPTCP || re.Field == "" {
				t.Fatalf("Validate() = %v, want an error of MAR %d naming a field", err, marMPTCP)
			}
			if !slices.ContainsFunc(sentinels, func(e error) bool { return errors.Is(err, e) }) {
				t.Fatalf("Validate() = %v wraps none of the sentinels", err)
			}
			return
		}
		checkAcceptedMAR(t, s, m)
	})
}

var sentinels = []error{atsss.ErrDuplicateRule, atsss.ErrUnknownReference, atsss.ErrMissingField, atsss.ErrInvalidValue, atsss.ErrConflict}

// checkAcceptedMAR states what holds for every MAR that Validate accepts.
func checkAcceptedMAR(t *testing.T, s *atsss.Session, m *atsss.MAR) {
	t.Helper()
	if !m.Functionality.Valid() || !m.Mode.Valid() {
		t.Fatalf("accepted functionality %v, mode %v", m.Functionality, m.Mode)
	}
	if m.Mode == atsss.ModeRedundant && m.Functionality == atsss.FunctionalityATSSSLL {
		t.Fatal("accepted redundant steering with ATSSS-LL")
	}
	if m.Thresholds != nil && m.SMI != nil {
		t.Fatal("accepted both thresholds and a steering mode indicator")
	}
	if m.TransportMode.Set && !m.Functionality.IsMPQUIC() {
		t.Fatalf("accepted a transport mode with %v", m.Functionality)
	}
	var present []atsss.Leg
	for a, l := range m.Legs {
		if !l.Present {
			continue
		}
		present = append(present, l)
		fw := s.FAR(l.FARID).Forwarding
		if acc, ok := fw.InterfaceType.Value.Access(); !fw.InterfaceType.Set || (ok && acc != atsss.AccessType(a)) {
			t.Fatalf("accepted %v leg on FAR %d with interface type %v", atsss.AccessType(a), l.FARID, fw.InterfaceType)
		}
		if l.Priority.Set && !l.Priority.Value.Valid() {
			t.Fatalf("accepted priority %v", l.Priority.Value)
		}
	}
	if len(present) == 0 {
		t.Fatal("accepted a MAR without legs")
	}
	if len(present) == 2 && present[0].Priority.Set && present[1].Priority.Set &&
		present[0].Priority.Value == present[1].Priority.Value {
		t.Fatalf("accepted priority %v on both accesses", present[0].Priority.Value)
	}
	switch m.Mode {
	case atsss.ModeLoadBalancing:
		sum := 0
		for _, l := range present {
			if !l.Weight.Set || l.Weight.Value > 100 {
				t.Fatalf("accepted load-balancing leg with weight %+v", l.Weight)
			}
			sum += int(l.Weight.Value)
		}
		if sum != 100 {
			t.Fatalf("accepted load-balancing weights summing to %d", sum)
		}
	case atsss.ModeActiveStandby:
		actives := 0
		for _, l := range present {
			if !l.Priority.Set {
				t.Fatal("accepted active-standby leg without priority")
			}
			if l.Priority.Value == atsss.PriorityActive {
				actives++
			}
		}
		if actives != 1 {
			t.Fatalf("accepted active-standby with %d active accesses", actives)
		}
	case atsss.ModePriorityBased:
		for _, l := range present {
			if !l.Priority.Set || (l.Priority.Value != atsss.PriorityHigh && l.Priority.Value != atsss.PriorityLow) {
				t.Fatalf("accepted priority-based leg with priority %+v", l.Priority)
			}
		}
	}
	if smi := m.SMI; smi != nil {
		if m.Mode != atsss.ModeLoadBalancing {
			t.Fatalf("accepted a steering mode indicator with %v", m.Mode)
		}
		if smi.AutonomousLoadBalancing && smi.UEAssistance {
			t.Fatal("accepted ALBI and UEAI together")
		}
	}
	if th := m.Thresholds; th != nil {
		if !th.RTT.Set && !th.PLR.Set {
			t.Fatal("accepted empty thresholds")
		}
		if th.PLR.Set && th.PLR.Value > 100 {
			t.Fatalf("accepted PLR threshold %d%%", th.PLR.Value)
		}
		if m.Mode == atsss.ModeRedundant && th.RTT.Set && th.PLR.Set {
			t.Fatal("accepted redundant mode with both RTT and PLR thresholds")
		}
	}
}

func TestSNSSAIValidate(t *testing.T) {
	tests := []struct {
		name  string
		n     atsss.SNSSAI
		valid bool
	}{
		{"sst only", atsss.SNSSAI{SST: 1}, true},
		{"sst and sd", atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}, true},
		{"sd 0", atsss.SNSSAI{SST: 2, SDSet: true}, true},
		{"largest sd", atsss.SNSSAI{SST: 255, SD: atsss.NoSD - 1, SDSet: true}, true},
		{"sd is the no-SD value", atsss.SNSSAI{SST: 1, SD: atsss.NoSD, SDSet: true}, false},
		{"sd longer than 24 bits", atsss.SNSSAI{SST: 1, SD: 0x1000000, SDSet: true}, false},
		{"sd without SDSet", atsss.SNSSAI{SST: 1, SD: 0x010203}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.n.Validate()
			switch {
			case tc.valid && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", tc.n, err)
			case !tc.valid && !errors.Is(err, atsss.ErrInvalidValue):
				t.Errorf("Validate(%+v) = %v, want an error wrapping %q", tc.n, err, atsss.ErrInvalidValue)
			case err != nil:
				t.Logf("%v", err)
			}
		})
	}
}
