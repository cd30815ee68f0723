// Package atssstest builds realistic atsss values for tests of atsss and of
// the packages that consume it. It is imported by tests only.
package atssstest

import (
	"encoding/binary"
	"net/netip"

	"github.com/openatsss/atsss/atsss"
)

// Rule IDs of the session built by Session.
const (
	PDRUplink3GPP    = 1
	PDRUplinkNon3GPP = 2
	PDRDownlink      = 3

	FARUplink       = 1
	FARDownlink3GPP = 2
	FARDownlinkN3   = 3

	MARDownlink = 1
)

// Session returns a valid MA PDU session with local SEID seid, shaped like
// one an SMF installs for an MPTCP-capable UE (TS 23.501 §5.32): an uplink
// PDR per access, a downlink PDR steered by a Load-Balancing MAR 70/30 over
// a FAR per access (with the 3GPP interface type that names the access), a
// QER, a URR, an SRR for access availability reports, and MPTCP and PMF
// parameters with link-specific addresses.
//
// Addresses come from documentation ranges only. IPv6 addresses are unique
// per seid; the IPv4 ones (MA PDU address in 203.0.113.0/24, link-specific
// addresses in 192.0.2.0/24 for 3GPP and 198.51.100.0/24 for non-3GPP)
// repeat every 200 SEIDs, since those ranges are /24s.
func Session(seid atsss.SEID) *atsss.Session {
	host := byte(1 + uint64(seid)%200)
	ue4 := netip.AddrFrom4([4]byte{203, 0, 113, host})
	ue6 := addr6(0x0001, seid)
	teid := uint32(seid)

	return &atsss.Session{
		LocalSEID:  seid,
		RemoteSEID: seid | 1<<63,
		PeerNodeID: "smf.example.net",
		PeerAddr:   netip.MustParseAddr("203.0.113.250"),
		PDRs: []atsss.PDR{
			{
				ID: PDRUplink3GPP, Precedence: 100,
				PDI: atsss.PDI{
					SourceInterface: atsss.InterfaceAccess,
					NetworkInstance: "access",
					FTEID:           &atsss.FTEID{TEID: teid, IPv4: netip.MustParseAddr("192.0.2.253")},
					UEIP:            &atsss.UEIP{IPv4: ue4, IPv6: ue6},
					QFIs:            []uint8{9},
				},
				OuterHeaderRemoval: atsss.OptionalUint8{Value: 0, Set: true}, // GTP-U/UDP/IPv4
				FARID:              atsss.OptionalUint32{Value: FARUplink, Set: true},
				QERIDs:             []uint32{1},
				URRIDs:             []uint32{1},
				Multipath:          atsss.MultipathIndicator{MPTCP: true},
			},
			{
				ID: PDRUplinkNon3GPP, Precedence: 100,
				PDI: atsss.PDI{
					SourceInterface: atsss.InterfaceAccess,
					NetworkInstance: "access",
					FTEID:           &atsss.FTEID{TEID: teid | 1<<31, IPv4: netip.MustParseAddr("198.51.100.253")},
					UEIP:            &atsss.UEIP{IPv4: ue4, IPv6: ue6},
					QFIs:            []uint8{9},
				},
				OuterHeaderRemoval: atsss.OptionalUint8{Value: 0, Set: true},
				FARID:              atsss.OptionalUint32{Value: FARUplink, Set: true},
				QERIDs:             []uint32{1},
				URRIDs:             []uint32{1},
				Multipath:          atsss.MultipathIndicator{MPTCP: true},
			},
			{
				ID: PDRDownlink, Precedence: 200,
				PDI: atsss.PDI{
					SourceInterface: atsss.InterfaceCore,
					NetworkInstance: "internet",
					UEIP:            &atsss.UEIP{IPv4: ue4, IPv6: ue6, Destination: true},
					SDFFilters:      []atsss.SDFFilter{{FlowDescription: "permit out ip from any to assigned", FilterID: 1}},
				},
				MARID:     atsss.OptionalUint16{Value: MARDownlink, Set: true},
				QERIDs:    []uint32{1},
				URRIDs:    []uint32{1},
				Multipath: atsss.MultipathIndicator{MPTCP: true},
			},
		},
		FARs: []atsss.FAR{
			{ID: FARUplink, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceCore,
				NetworkInstance:      "internet",
				InterfaceType:        atsss.OptionalInterfaceType{Value: atsss.InterfaceTypeN6, Set: true},
			}},
			{ID: FARDownlink3GPP, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				NetworkInstance:      "access",
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: teid, IPv4: netip.MustParseAddr("192.0.2.254")},
				InterfaceType:        atsss.OptionalInterfaceType{Value: atsss.InterfaceTypeN3Access3GPP, Set: true},
			}},
			{ID: FARDownlinkN3, ApplyAction: atsss.ActionForw, Forwarding: &atsss.Forwarding{
				DestinationInterface: atsss.InterfaceAccess,
				NetworkInstance:      "access",
				OuterHeaderCreation:  &atsss.OuterHeaderCreation{Description: 0x0100, TEID: teid | 1<<31, IPv4: netip.MustParseAddr("198.51.100.254")},
				InterfaceType:        atsss.OptionalInterfaceType{Value: atsss.InterfaceTypeN3UntrustedNon3GPP, Set: true},
			}},
		},
		QERs: []atsss.QER{{ID: 1, MBRUL: 100_000, MBRDL: 500_000, QFI: 9}},
		URRs: []atsss.URR{{ID: 1, Raw: []byte{0x02, 0x00, 0x00, 0x00, 0x01}}},
		MARs: []atsss.MAR{{
			ID:            MARDownlink,
			Functionality: atsss.FunctionalityMPTCP,
			Mode:          atsss.ModeLoadBalancing,
			Legs: [2]atsss.Leg{
				atsss.Access3GPP:    {Present: true, FARID: FARDownlink3GPP, Weight: atsss.OptionalUint8{Value: 70, Set: true}},
				atsss.AccessNon3GPP: {Present: true, FARID: FARDownlinkN3, Weight: atsss.OptionalUint8{Value: 30, Set: true}},
			},
			SMI: &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true},
		}},
		SRRs: []atsss.SRR{{ID: 1, ReportAvailability: true}},
		ATSSS: atsss.ATSSSControl{
			Requested: atsss.ATSSSRequest{MPTCP: true, PMF: true},
			Params: atsss.ATSSSParams{
				MPTCP: &atsss.MPTCPParams{
					ProxyType: 1,
					ProxyIPv4: netip.MustParseAddr("203.0.113.254"),
					ProxyPort: 8443,
					LinkSpecific: [2]atsss.AddrPair{
						atsss.Access3GPP:    {IPv4: netip.AddrFrom4([4]byte{192, 0, 2, host}), IPv6: addr6(0x0003, seid)},
						atsss.AccessNon3GPP: {IPv4: netip.AddrFrom4([4]byte{198, 51, 100, host}), IPv6: addr6(0x0004, seid)},
					},
				},
				PMF: []atsss.PMFParams{{
					Addr:  atsss.AddrPair{IPv4: netip.MustParseAddr("203.0.113.254")},
					Ports: [2]uint16{atsss.Access3GPP: 50001, atsss.AccessNon3GPP: 50002},
				}},
			},
		},
	}
}

// addr6 returns 2001:db8:<subnet>::<seid>.
func addr6(subnet uint16, seid atsss.SEID) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:], 0x20010db8)
	binary.BigEndian.PutUint16(b[4:], subnet)
	binary.BigEndian.PutUint64(b[8:], uint64(seid))
	return netip.AddrFrom16(b)
}
