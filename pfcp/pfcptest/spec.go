package pfcptest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// SessionSpec describes an MA PDU session as an SMF sets it up over N4
// (TS 29.244 §5.20): the UE's MA PDU address, an N3 tunnel per access, and
// the MARs that steer its downlink. Session turns it into the rules an SMF
// sends; Establishment encodes them.
//
// A SessionSpec is a plain value: copy it to vary it. In YAML the MARs are
// written as MARText.
type SessionSpec struct {
	// SEID is the CP SEID, the SMF's end of the session (CP F-SEID).
	SEID atsss.SEID `yaml:"seid"`
	// NodeID and CPAddr are the SMF's Node ID and the address of its CP
	// F-SEID, where the UPF sends Session Reports. Client.Establish fills in
	// its own when they are empty; Establishment leaves an empty NodeID out.
	NodeID string     `yaml:"node_id"`
	CPAddr netip.Addr `yaml:"cp_addr"`
	// UEIP is the IPv4 MA PDU session address.
	UEIP netip.Addr `yaml:"ue_ip"`
	// QFI is the QoS flow of the session's uplink PDRs and QER; 0 leaves it out.
	QFI uint8 `yaml:"qfi"`
	// GNB and N3IWF are the N3 tunnels over the 3GPP access and over the
	// untrusted non-3GPP access; nil when the UE is not registered there.
	GNB   *Tunnel `yaml:"gnb"`
	N3IWF *Tunnel `yaml:"n3iwf"`
	// MARs steer the downlink, in precedence order: the PDRs of the first
	// MAR are matched first.
	MARs []MARSpec `yaml:"mars"`
	// ATSSS is what the SMF asks for in Provide ATSSS Control Information;
	// the IE is left out when neither MPTCP, ATSSS-LL nor PMF is asked for.
	// Its YAML keys are the lower-cased field names: mptcp, atsssll, pmf,
	// drtti, pqpm, qfis.
	ATSSS atsss.ATSSSRequest `yaml:"atsss"`
	// ReportAvailability creates an SRR asking for Access Availability
	// Reports (TS 29.244 §5.20.4.2).
	ReportAvailability bool `yaml:"report_availability"`
	// DNN is the session's data network, sent as APN/DNN text such as
	// "internet" or "internet.mnc001.mcc001.gprs"; empty leaves the IE out.
	DNN string `yaml:"dnn"`
	// SNSSAI is the session's slice, sent as S-NSSAI; nil leaves the IE out.
	// In YAML it is written as SNSSAI text: 1, 1-010203.
	SNSSAI *SNSSAI `yaml:"snssai"`
}

// SNSSAI is an atsss.SNSSAI written as text, in YAML scenarios and on
// smfsim's command line: the SST in decimal, then, for a slice with an SD,
// a hyphen and the SD in six hexadecimal digits ("1", "1-010203").
type SNSSAI atsss.SNSSAI

// String returns the text of n.
func (n SNSSAI) String() string {
	if !n.SDSet {
		return strconv.Itoa(int(n.SST))
	}
	return fmt.Sprintf("%d-%06x", n.SST, n.SD)
}

// MarshalText returns the text of n.
func (n SNSSAI) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText parses the text of a slice. An SD of FFFFFF, the reserved
// "no SD" value (TS 23.003 §28.4.2), is refused: write the SST alone.
func (n *SNSSAI) UnmarshalText(b []byte) error {
	sstText, sdText, hasSD := strings.Cut(string(b), "-")
	sst, err := strconv.ParseUint(sstText, 10, 8)
	if err != nil {
		return fmt.Errorf("S-NSSAI %q: SST: want 0 to 255", b)
	}
	v := atsss.SNSSAI{SST: uint8(sst)}
	if hasSD {
		sd, err := strconv.ParseUint(sdText, 16, 32)
		if err != nil || len(sdText) != 6 {
			return fmt.Errorf("S-NSSAI %q: SD: want six hexadecimal digits", b)
		}
		v.SD, v.SDSet = uint32(sd), true
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("S-NSSAI %q: %w", b, err)
	}
	*n = SNSSAI(v)
	return nil
}

// Tunnel is the N3 GTP-U tunnel of one access.
type Tunnel struct {
	// UPF is the uplink F-TEID. The SMF allocates it, as a UPF without the
	// FTUP feature (atsss) requires (TS 29.244 §5.5.3).
	UPF Endpoint `yaml:"upf"`
	// AN is the gNB's or the N3IWF's end, where downlink is sent.
	AN Endpoint `yaml:"an"`
}

// Endpoint is one end of a GTP-U tunnel.
type Endpoint struct {
	Addr netip.Addr `yaml:"addr"`
	TEID uint32     `yaml:"teid"`
}

// MARSpec is a Multi-Access Rule and the downlink it steers.
type MARSpec struct {
	ID            uint16
	Functionality atsss.SteeringFunctionality
	Mode          atsss.SteeringMode
	// Legs holds the Access Forwarding Action Information per access,
	// indexed by atsss.AccessType.
	Legs       [2]LegSpec
	Thresholds *atsss.Thresholds
	SMI        *atsss.SteeringModeIndicator
	// SDF is the flow description (an IPFilterRule) of the MAR's uplink and
	// downlink PDRs; empty matches all of the UE's traffic.
	SDF string
}

// LegSpec is a MAR's use of one access.
type LegSpec struct {
	// Present puts an AFAI for the access in the Create MAR.
	Present  bool
	Weight   atsss.OptionalUint8
	Priority atsss.OptionalPriority
}

// tunnel returns the session's tunnel over access a, or nil.
func (s *SessionSpec) tunnel(a atsss.AccessType) *Tunnel {
	if a == atsss.Access3GPP {
		return s.GNB
	}
	return s.N3IWF
}

// Rule IDs of the session that Session builds. They depend on the MAR ID
// only, so a modification can name a MAR's FARs without knowing the rest of
// the session; MAR IDs up to 21844 keep PDR IDs in range.
const (
	farUplink = 1 // uplink of every MAR, to N6
	qerID     = 1
	urrID     = 1 // on every PDR
	srrID     = 1
)

func ulPDRID(mar uint16, a atsss.AccessType) uint16 { return 3*mar + 1 + uint16(a) }
func dlPDRID(mar uint16) uint16                     { return 3*mar + 3 }
func dlFARID(mar uint16, a atsss.AccessType) uint32 { return 2*uint32(mar) + 2 + uint32(a) }

// accessURRID is the URR a MAR leg reports usage of access a with; it must
// differ from the PDRs' URR (TS 29.244 Table 7.5.2.8-2).
func accessURRID(a atsss.AccessType) uint32 { return 2 + uint32(a) }

// Outer header values of GTP-U/UDP/IPv4 (TS 29.244 §8.2.64, §8.2.56).
const (
	removeGTPUIPv4 = 0
	createGTPUIPv4 = 0x0100
)

// precedence of the PDRs of the k-th MAR: lower values match first.
func precedence(k int) uint32 { return 100 * uint32(k+1) }

// Session returns the session a UPF holds once it accepted the
// establishment of s: the rules s stands for, and RemoteSEID, PeerNodeID,
// PeerAddr, ATSSS.Requested, DNN and SNSSAI from s. LocalSEID and
// ATSSS.Params are the UPF's to fill in.
//
// Per access with a tunnel, each MAR has an uplink PDR (F-TEID, UE address,
// outer header removal, the MAR's SDF filter, Multipath Applicable
// Indication for MPTCP and MPQUIC) forwarding to one uplink FAR toward N6,
// and a downlink FAR to the gNB or N3IWF with the 3GPP Interface Type of the
// access (TS 29.244 §5.20.1). Each MAR has one downlink PDR naming it
// instead of a FAR. A QER and a URR apply to every PDR; each MAR leg reports
// to a URR of its own access. With ReportAvailability, SRR 1 asks for access
// availability reports.
//
// Rule IDs, for MAR ID m and access a (0 for 3GPP, 1 for non-3GPP): uplink
// PDR 3m+1+a, downlink PDR 3m+3, uplink FAR 1, downlink FAR 2m+2+a, QER 1,
// URR 1 on the PDRs and URR 2+a on the legs, SRR 1.
//
// Session does not validate: a spec written to test a UPF's rejections
// yields a session that atsss.Session.Validate refuses.
func (s SessionSpec) Session() *atsss.Session {
	out := &atsss.Session{
		RemoteSEID: s.SEID,
		PeerNodeID: s.NodeID,
		PeerAddr:   s.CPAddr,
		QERs:       []atsss.QER{{ID: qerID, QFI: s.QFI}},
		URRs:       []atsss.URR{{ID: urrID, Raw: urrPayload(urrID)}},
		FARs: []atsss.FAR{{ID: farUplink, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
			DestinationInterface: atsss.InterfaceCore,
			InterfaceType:        atsss.OptionalInterfaceType{Value: atsss.InterfaceTypeN6, Set: true},
		}}},
	}
	out.ATSSS.Requested = s.ATSSS
	out.DNN = s.DNN
	if s.SNSSAI != nil {
		n := atsss.SNSSAI(*s.SNSSAI)
		out.SNSSAI = &n
	}
	if s.ReportAvailability {
		out.SRRs = []atsss.SRR{{ID: srrID, ReportAvailability: true}}
	}
	for _, a := range atsss.Accesses {
		if s.tunnel(a) != nil {
			out.URRs = append(out.URRs, atsss.URR{ID: accessURRID(a), Raw: urrPayload(accessURRID(a))})
		}
	}
	for k, m := range s.MARs {
		s.addMAR(out, k, m)
	}
	return out
}

// addMAR adds the k-th MAR of s and the PDRs and FARs that go with it.
func (s SessionSpec) addMAR(out *atsss.Session, k int, m MARSpec) {
	var sdf []atsss.SDFFilter
	if m.SDF != "" {
		sdf = []atsss.SDFFilter{{FlowDescription: m.SDF}}
	}
	var qfis []uint8
	if s.QFI != 0 {
		qfis = []uint8{s.QFI}
	}
	mar := atsss.MAR{ID: m.ID, Functionality: m.Functionality, Mode: m.Mode, Thresholds: m.Thresholds, SMI: m.SMI}
	for _, a := range atsss.Accesses {
		if leg := m.Legs[a]; leg.Present {
			mar.Legs[a] = atsss.Leg{Present: true, FARID: dlFARID(m.ID, a), Weight: leg.Weight, Priority: leg.Priority, URRIDs: []uint32{accessURRID(a)}}
		}
		t := s.tunnel(a)
		if t == nil {
			continue
		}
		out.PDRs = append(out.PDRs, atsss.PDR{
			ID:         ulPDRID(m.ID, a),
			Precedence: precedence(k),
			PDI: atsss.PDI{
				SourceInterface: atsss.InterfaceAccess,
				FTEID:           &atsss.FTEID{TEID: t.UPF.TEID, IPv4: t.UPF.Addr},
				UEIP:            &atsss.UEIP{IPv4: s.UEIP},
				SDFFilters:      sdf,
				QFIs:            qfis,
			},
			OuterHeaderRemoval: atsss.OptionalUint8{Value: removeGTPUIPv4, Set: true},
			FARID:              atsss.OptionalUint32{Value: farUplink, Set: true},
			QERIDs:             []uint32{qerID},
			URRIDs:             []uint32{urrID},
			Multipath: atsss.MultipathIndicator{
				MPTCP:  m.Functionality == atsss.FunctionalityMPTCP,
				MPQUIC: m.Functionality.IsMPQUIC(),
			},
		})
		out.FARs = append(out.FARs, atsss.FAR{ID: dlFARID(m.ID, a), ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
			DestinationInterface: atsss.InterfaceAccess,
			OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: createGTPUIPv4, TEID: t.AN.TEID, IPv4: t.AN.Addr},
			InterfaceType:        atsss.OptionalInterfaceType{Value: interfaceType[a], Set: true},
		}})
	}
	out.PDRs = append(out.PDRs, atsss.PDR{
		ID:         dlPDRID(m.ID),
		Precedence: precedence(k),
		PDI: atsss.PDI{
			SourceInterface: atsss.InterfaceCore,
			UEIP:            &atsss.UEIP{IPv4: s.UEIP, Destination: true},
			SDFFilters:      sdf,
		},
		MARID:  atsss.OptionalUint16{Value: m.ID, Set: true},
		QERIDs: []uint32{qerID},
		URRIDs: []uint32{urrID},
	})
	out.MARs = append(out.MARs, mar)
}

// interfaceType is the 3GPP Interface Type of a downlink FAR per access: the
// non-3GPP tunnel ends at an N3IWF, so the access is untrusted.
var interfaceType = [2]atsss.InterfaceType{atsss.InterfaceTypeN3Access3GPP, atsss.InterfaceTypeN3UntrustedNon3GPP}

// volumeURR returns the children of a Create URR that measures volume and
// reports only when asked or at deletion (no reporting trigger set): the
// URR an SMF installs for charging, which a UPF must accept without sending
// reports. atsss keeps a URR as its payload (urrPayload).
func volumeURR(id uint32) []*ie.IE {
	return []*ie.IE{ie.NewURRID(id), ie.NewMeasurementMethod(0, 1, 0), ie.NewReportingTriggers(0, 0)}
}

func urrPayload(id uint32) []byte { return ie.NewCreateURR(volumeURR(id)...).Payload }

// Nth returns the i-th session of a series that starts with s, as a load
// run establishes them: the CP SEID, the UE address and every TEID advanced
// by i.
func (s SessionSpec) Nth(i uint32) SessionSpec {
	s.SEID += atsss.SEID(i)
	if s.UEIP.Is4() {
		b := s.UEIP.As4()
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])+i)
		s.UEIP = netip.AddrFrom4(b)
	}
	s.GNB = s.GNB.advanced(i)
	s.N3IWF = s.N3IWF.advanced(i)
	return s
}

// advanced returns a copy of t with both TEIDs advanced by i; nil for nil.
func (t *Tunnel) advanced(i uint32) *Tunnel {
	if t == nil {
		return nil
	}
	c := *t
	c.UPF.TEID += i
	c.AN.TEID += i
	return &c
}

// DefaultSpec returns the session of a UE registered over both accesses,
// as an SMF sets it up for MPTCP and ATSSS-LL: TCP is split 70/30 over
// MPTCP (load balancing, the UPF free to adapt the split), the rest goes
// over ATSSS-LL, on 3GPP with non-3GPP on standby; MPTCP, ATSSS-LL and PMF
// are asked for, and access availability reports. Addresses come from the
// documentation ranges of the test lab: N3 over 3GPP in 192.0.2.0/24, over
// non-3GPP in 198.51.100.0/24, the UE in 203.0.113.0/24.
func DefaultSpec() SessionSpec {
	return SessionSpec{
		SEID: 1,
		UEIP: netip.MustParseAddr("203.0.113.1"),
		QFI:  9,
		GNB: &Tunnel{
			UPF: Endpoint{Addr: netip.MustParseAddr("192.0.2.253"), TEID: 0x100},
			AN:  Endpoint{Addr: netip.MustParseAddr("192.0.2.254"), TEID: 0x1000},
		},
		N3IWF: &Tunnel{
			UPF: Endpoint{Addr: netip.MustParseAddr("198.51.100.253"), TEID: 0x200},
			AN:  Endpoint{Addr: netip.MustParseAddr("198.51.100.254"), TEID: 0x2000},
		},
		MARs: []MARSpec{
			{
				ID:            1,
				Functionality: atsss.FunctionalityMPTCP,
				Mode:          atsss.ModeLoadBalancing,
				Legs: [2]LegSpec{
					{Present: true, Weight: atsss.OptionalUint8{Value: 70, Set: true}},
					{Present: true, Weight: atsss.OptionalUint8{Value: 30, Set: true}},
				},
				SMI: &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true},
				SDF: "permit out 6 from any to assigned",
			},
			{
				ID:            2,
				Functionality: atsss.FunctionalityATSSSLL,
				Mode:          atsss.ModeActiveStandby,
				Legs: [2]LegSpec{
					{Present: true, Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}},
					{Present: true, Priority: atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}},
				},
			},
		},
		ATSSS:              atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true},
		ReportAvailability: true,
	}
}
