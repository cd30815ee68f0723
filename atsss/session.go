package atsss

import (
	"errors"
	"net/netip"
	"slices"
)

// Session is one MA PDU session as installed by an SMF over N4.
//
// A *Session held by the Store is immutable: readers may keep it without
// locking. To change a session, Clone it, change the clone, Validate it and
// Put it back.
type Session struct {
	LocalSEID  SEID   `json:"local_seid"`
	RemoteSEID SEID   `json:"remote_seid"`
	PeerNodeID string `json:"peer_node_id"` // Node ID of the SMF's association
	// PeerAddr is the IP address of the CP F-SEID: where session reports go.
	PeerAddr netip.Addr `json:"peer_addr"`

	PDRs []PDR `json:"pdrs,omitempty"`
	FARs []FAR `json:"fars,omitempty"`
	QERs []QER `json:"qers,omitempty"`
	URRs []URR `json:"urrs,omitempty"`
	MARs []MAR `json:"mars,omitempty"`
	SRRs []SRR `json:"srrs,omitempty"`

	ATSSS ATSSSControl `json:"atsss"`

	// Unavailable records accesses the SMF reported temporarily unavailable
	// with Access Availability Information (TS 29.244 §5.20.4.1). The data
	// planes stop downlink on such an access until it is reported available.
	Unavailable [2]bool `json:"unavailable,omitempty"`

	// DNN and SNSSAI are the session's data network and slice, when the SMF
	// sends them (APN/DNN and S-NSSAI IEs of the establishment request, TS
	// 29.244 §7.5.2): operator policies can match on them. DNN is kept as
	// received, its labels joined by dots; the case of its letters is not
	// significant (TS 23.003 §9.1), so compare it with strings.EqualFold.
	// SNSSAI is in the form SNSSAI.Validate checks. A modification does not
	// change either.
	DNN    string  `json:"dnn,omitempty"`
	SNSSAI *SNSSAI `json:"snssai,omitempty"`
}

// SNSSAI is a network slice (TS 23.003 §28.4.2): a Slice/Service Type and
// an optional 24-bit Slice Differentiator.
//
// A slice has a single form, so that == compares slices: without an SD, SD
// is 0 and SDSet false. PFCP's S-NSSAI IE always carries an SD field and
// says "no SD" with the reserved value NoSD; decoders turn that into SDSet
// false.
type SNSSAI struct {
	SST   uint8  `json:"sst"`
	SD    uint32 `json:"sd,omitempty"` // 24 bits, meaningful when SDSet
	SDSet bool   `json:"sd_set,omitempty"`
}

// NoSD is the reserved SD value "no SD value associated with the SST"
// (TS 23.003 §28.4.2), for protocols whose SD field is never absent.
const NoSD = 0xFFFFFF

// PDR is a Packet Detection Rule (TS 29.244 §7.5.2.2).
type PDR struct {
	ID                 uint16             `json:"id"`
	Precedence         uint32             `json:"precedence"`
	PDI                PDI                `json:"pdi"`
	OuterHeaderRemoval OptionalUint8      `json:"outer_header_removal,omitzero"`
	FARID              OptionalUint32     `json:"far_id,omitzero"`
	MARID              OptionalUint16     `json:"mar_id,omitzero"`
	QERIDs             []uint32           `json:"qer_ids,omitempty"`
	URRIDs             []uint32           `json:"urr_ids,omitempty"`
	Multipath          MultipathIndicator `json:"multipath,omitzero"`
}

// MultipathIndicator is the Multipath Applicable Indication of a PDR
// (TS 29.244 §8.2.181): this PDR's traffic is carried by MPTCP (MTAI) or
// MPQUIC (MQAI).
type MultipathIndicator struct {
	MPTCP  bool `json:"mtai,omitempty"`
	MPQUIC bool `json:"mqai,omitempty"`
}

// Uplink reports whether the PDR detects traffic coming from the UE.
func (p *PDR) Uplink() bool { return p.PDI.SourceInterface == InterfaceAccess }

// PDI is the Packet Detection Information of a PDR (TS 29.244 §7.5.2.2-2).
type PDI struct {
	SourceInterface Interface   `json:"source_interface"`
	NetworkInstance string      `json:"network_instance,omitempty"`
	FTEID           *FTEID      `json:"f_teid,omitempty"`
	UEIP            *UEIP       `json:"ue_ip,omitempty"`
	SDFFilters      []SDFFilter `json:"sdf_filters,omitempty"`
	ApplicationID   string      `json:"application_id,omitempty"`
	QFIs            []uint8     `json:"qfis,omitempty"`
}

// FTEID is a fully qualified tunnel endpoint identifier (TS 29.244 §8.2.3).
type FTEID struct {
	TEID uint32     `json:"teid"`
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	IPv6 netip.Addr `json:"ipv6,omitzero"`
	// Chosen: the UPF allocated it (CHOOSE, TS 29.244 §5.5.3) and frees
	// the TEID with the PDR; otherwise the SMF did.
	Chosen bool `json:"chosen,omitempty"`
}

// UEIP is a UE IP Address IE (TS 29.244 §8.2.62): the MA PDU session address.
type UEIP struct {
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	IPv6 netip.Addr `json:"ipv6,omitzero"` // with a /64 prefix in 5GS; the full address as given
	// Destination is the S/D bit: the address is the destination (DL PDR).
	Destination bool `json:"destination,omitempty"`
}

// SDFFilter is one SDF Filter of a PDI (TS 29.244 §8.2.5). The flow
// description is kept as the SMF sent it (an IPFilterRule, RFC 6733 §4.3).
type SDFFilter struct {
	FlowDescription string `json:"flow_description,omitempty"`
	ToSTrafficClass uint16 `json:"tos_traffic_class,omitempty"`
	SPI             uint32 `json:"spi,omitempty"`
	FlowLabel       uint32 `json:"flow_label,omitempty"`
	FilterID        uint32 `json:"filter_id,omitempty"`
}

// FAR is a Forwarding Action Rule (TS 29.244 §7.5.2.3).
type FAR struct {
	ID          uint32      `json:"id"`
	ApplyAction ApplyAction `json:"apply_action"`
	Forwarding  *Forwarding `json:"forwarding,omitempty"`
}

// Forwarding is a FAR's Forwarding Parameters.
type Forwarding struct {
	DestinationInterface Interface            `json:"destination_interface"`
	NetworkInstance      string               `json:"network_instance,omitempty"`
	OuterHeaderCreation  *OuterHeaderCreation `json:"outer_header_creation,omitempty"`
	// InterfaceType is the 3GPP Interface Type: mandatory for a FAR that a
	// MAR references (TS 29.244 §5.20.1).
	InterfaceType OptionalInterfaceType `json:"interface_type,omitzero"`
}

// OuterHeaderCreation is the tunnel header a FAR puts on (TS 29.244 §8.2.56).
type OuterHeaderCreation struct {
	Description uint16     `json:"description"`
	TEID        uint32     `json:"teid,omitempty"`
	IPv4        netip.Addr `json:"ipv4,omitzero"`
	IPv6        netip.Addr `json:"ipv6,omitzero"`
	Port        uint16     `json:"port,omitempty"`
}

// QER is a QoS Enforcement Rule (TS 29.244 §7.5.2.5). Bit rates in kbit/s.
type QER struct {
	ID     uint32     `json:"id"`
	GateUL GateStatus `json:"gate_ul"`
	GateDL GateStatus `json:"gate_dl"`
	MBRUL  uint64     `json:"mbr_ul,omitempty"`
	MBRDL  uint64     `json:"mbr_dl,omitempty"`
	GBRUL  uint64     `json:"gbr_ul,omitempty"`
	GBRDL  uint64     `json:"gbr_dl,omitempty"`
	QFI    uint8      `json:"qfi,omitempty"`
}

// URR is a Usage Reporting Rule. atsss stores it for the session's rule
// references and reports no usage yet: Raw holds the IE's payload as received.
type URR struct {
	ID  uint32 `json:"id"`
	Raw []byte `json:"raw,omitempty"`
}

// SRR is a Session Reporting Rule (TS 29.244 §7.5.2.9).
type SRR struct {
	ID uint8 `json:"id"`
	// ReportAvailability: the SMF asked for an Access Availability Report
	// when an access becomes available or unavailable (RRCA flag).
	ReportAvailability bool `json:"report_availability,omitempty"`
}

// MAR is a Multi-Access Rule (TS 29.244 §7.5.2.8): how traffic of the PDRs
// that reference it is steered over the two accesses.
type MAR struct {
	ID            uint16                `json:"id"`
	Functionality SteeringFunctionality `json:"functionality"`
	Mode          SteeringMode          `json:"mode"`
	// Legs holds the forwarding action information per access, indexed by
	// AccessType. A leg that is not Present means that access is not used.
	Legs [2]Leg `json:"legs"`
	// Thresholds and SMI are mutually exclusive (TS 29.244 §7.5.2.8).
	Thresholds *Thresholds            `json:"thresholds,omitempty"`
	SMI        *SteeringModeIndicator `json:"smi,omitempty"`
	// TransportMode applies to MPQUIC functionalities only.
	TransportMode OptionalUint8 `json:"transport_mode,omitzero"`
}

// Leg is a MAR's Access Forwarding Action Information for one access
// (TS 29.244 Table 7.5.2.8-2).
type Leg struct {
	Present  bool             `json:"present,omitempty"`
	FARID    uint32           `json:"far_id,omitempty"`
	Weight   OptionalUint8    `json:"weight,omitzero"`
	Priority OptionalPriority `json:"priority,omitzero"`
	URRIDs   []uint32         `json:"urr_ids,omitempty"`
}

// Thresholds are the Rel-17 RTT and packet loss thresholds of a MAR
// (TS 29.244 §8.2.196). RTT in milliseconds, PLR in percent.
type Thresholds struct {
	RTT OptionalUint16 `json:"rtt_ms,omitzero"`
	PLR OptionalUint8  `json:"plr_percent,omitzero"`
}

// SteeringModeIndicator is the Rel-17 Steering Mode Indicator of a
// Load-Balancing MAR (TS 29.244 §8.2.197).
type SteeringModeIndicator struct {
	// ALBI: the UPF may choose its own split; weights become defaults.
	AutonomousLoadBalancing bool `json:"albi,omitempty"`
	// UEAI: the UPF may apply the UE's split from PMF UE-assistance data.
	UEAssistance bool `json:"ueai,omitempty"`
}

// ATSSSControl is what the SMF asked for in Provide ATSSS Control
// Information and what the UPF allocated for it (TS 29.244 §5.20.2.2).
type ATSSSControl struct {
	Requested ATSSSRequest `json:"requested,omitzero"`
	Params    ATSSSParams  `json:"params,omitzero"`
}

// ATSSSRequest is the content of Provide ATSSS Control Information.
type ATSSSRequest struct {
	MPTCP   bool    `json:"mptcp,omitempty"`    // MPTCP Control Information TCI
	ATSSSLL bool    `json:"atsss_ll,omitempty"` // ATSSS-LL Control Information LLI
	PMF     bool    `json:"pmf,omitempty"`      // PMF Control Information PMFI
	DRTTI   bool    `json:"drtti,omitempty"`    // PMF RTT not allowed: use RTT without PMF
	PQPM    bool    `json:"pqpm,omitempty"`     // per-QoS-flow PMF measurement
	QFIs    []uint8 `json:"qfis,omitempty"`     // with PQPM
}

// ATSSSParams are the resources allocated for an ATSSSRequest and returned
// to the SMF in ATSSS Control Parameters.
type ATSSSParams struct {
	MPTCP   *MPTCPParams `json:"mptcp,omitempty"`
	ATSSSLL bool         `json:"atsss_ll,omitempty"`
	// PMF holds the default measurement ports (QFI 0) first, then one entry
	// per QFI asked for with PQPM.
	PMF []PMFParams `json:"pmf,omitempty"`
}

// MPTCPParams are the MPTCP proxy parameters of a session (TS 29.244 §8.2.171).
type MPTCPParams struct {
	ProxyType uint8 `json:"proxy_type"` // 1: transport converter (RFC 8803)
	// ProxyIPv4 and ProxyIPv6 share ProxyPort; either may be invalid.
	ProxyIPv4 netip.Addr `json:"proxy_ipv4,omitzero"`
	ProxyIPv6 netip.Addr `json:"proxy_ipv6,omitzero"`
	ProxyPort uint16     `json:"proxy_port"`
	// LinkSpecific holds the UE's link-specific multipath addresses per access.
	LinkSpecific [2]AddrPair `json:"link_specific"`
}

// AddrPair is an IPv4 and an IPv6 address; either may be invalid.
type AddrPair struct {
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	IPv6 netip.Addr `json:"ipv6,omitzero"`
}

// Addrs returns the valid addresses of p.
func (p AddrPair) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range [2]netip.Addr{p.IPv4, p.IPv6} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

// PMFParams are the PMF address and per-access UDP ports of a session, for
// the default QoS flow (QFI 0) or one QoS flow (TS 29.244 §8.2.172).
type PMFParams struct {
	QFI   uint8     `json:"qfi,omitempty"`
	Addr  AddrPair  `json:"addr"`
	Ports [2]uint16 `json:"ports"` // indexed by AccessType
}

// Optional values: N4 distinguishes an absent IE from a zero value.
type (
	OptionalUint8 struct {
		Value uint8
		Set   bool
	}
	OptionalUint16 struct {
		Value uint16
		Set   bool
	}
	OptionalUint32 struct {
		Value uint32
		Set   bool
	}
	OptionalPriority struct {
		Value Priority
		Set   bool
	}
	OptionalInterfaceType struct {
		Value InterfaceType
		Set   bool
	}
)

// MAPDUAddrs returns the UE's MA PDU session addresses, taken from the UE IP
// Address of its PDRs.
func (s *Session) MAPDUAddrs() []netip.Addr {
	var out []netip.Addr
	for i := range s.PDRs {
		if ue := s.PDRs[i].PDI.UEIP; ue != nil {
			for _, a := range [2]netip.Addr{ue.IPv4, ue.IPv6} {
				if a.IsValid() && !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// LinkSpecificAddrs returns the link-specific multipath addresses allocated
// to the UE for access a (none without MPTCP).
func (s *Session) LinkSpecificAddrs(a AccessType) []netip.Addr {
	if s.ATSSS.Params.MPTCP == nil || !a.Valid() {
		return nil
	}
	return s.ATSSS.Params.MPTCP.LinkSpecific[a].Addrs()
}

// UEAddrs returns every address that belongs to the UE: MA PDU addresses
// and link-specific addresses of both accesses.
func (s *Session) UEAddrs() []netip.Addr {
	out := s.MAPDUAddrs()
	for _, a := range Accesses {
		out = append(out, s.LinkSpecificAddrs(a)...)
	}
	return out
}

// PDR returns the PDR with the given ID, or nil.
func (s *Session) PDR(id uint16) *PDR { return find(s.PDRs, func(r *PDR) bool { return r.ID == id }) }

// FAR returns the FAR with the given ID, or nil.
func (s *Session) FAR(id uint32) *FAR { return find(s.FARs, func(r *FAR) bool { return r.ID == id }) }

// QER returns the QER with the given ID, or nil.
func (s *Session) QER(id uint32) *QER { return find(s.QERs, func(r *QER) bool { return r.ID == id }) }

// URR returns the URR with the given ID, or nil.
func (s *Session) URR(id uint32) *URR { return find(s.URRs, func(r *URR) bool { return r.ID == id }) }

// MAR returns the MAR with the given ID, or nil.
func (s *Session) MAR(id uint16) *MAR { return find(s.MARs, func(r *MAR) bool { return r.ID == id }) }

// SRR returns the SRR with the given ID, or nil.
func (s *Session) SRR(id uint8) *SRR { return find(s.SRRs, func(r *SRR) bool { return r.ID == id }) }

func find[T any](rules []T, match func(*T) bool) *T {
	for i := range rules {
		if match(&rules[i]) {
			return &rules[i]
		}
	}
	return nil
}

// Clone returns a deep copy of s that shares no memory with it.
func (s *Session) Clone() *Session {
	c := *s
	c.PDRs = slices.Clone(s.PDRs)
	for i := range c.PDRs {
		p := &c.PDRs[i]
		p.QERIDs = slices.Clone(p.QERIDs)
		p.URRIDs = slices.Clone(p.URRIDs)
		p.PDI.SDFFilters = slices.Clone(p.PDI.SDFFilters)
		p.PDI.QFIs = slices.Clone(p.PDI.QFIs)
		p.PDI.FTEID = clonePtr(p.PDI.FTEID)
		p.PDI.UEIP = clonePtr(p.PDI.UEIP)
	}
	c.FARs = slices.Clone(s.FARs)
	for i := range c.FARs {
		f := &c.FARs[i]
		if f.Forwarding != nil {
			fw := *f.Forwarding
			fw.OuterHeaderCreation = clonePtr(fw.OuterHeaderCreation)
			f.Forwarding = &fw
		}
	}
	c.QERs = slices.Clone(s.QERs)
	c.URRs = slices.Clone(s.URRs)
	for i := range c.URRs {
		c.URRs[i].Raw = slices.Clone(c.URRs[i].Raw)
	}
	c.MARs = slices.Clone(s.MARs)
	for i := range c.MARs {
		m := &c.MARs[i]
		for a := range m.Legs {
			m.Legs[a].URRIDs = slices.Clone(m.Legs[a].URRIDs)
		}
		m.Thresholds = clonePtr(m.Thresholds)
		m.SMI = clonePtr(m.SMI)
	}
	c.SRRs = slices.Clone(s.SRRs)
	c.ATSSS.Requested.QFIs = slices.Clone(s.ATSSS.Requested.QFIs)
	c.ATSSS.Params.MPTCP = clonePtr(s.ATSSS.Params.MPTCP)
	c.ATSSS.Params.PMF = slices.Clone(s.ATSSS.Params.PMF)
	c.SNSSAI = clonePtr(s.SNSSAI)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// ErrUnknownSession: no session has the SEID or address asked for.
var ErrUnknownSession = errors.New("unknown session")
