package pfcptest

import (
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// The builders below return the messages an SMF sends, with sequence number
// seq; Client.Do replaces it with its own. Session messages after the
// establishment carry the UP SEID, the UPF's end of the session, in their
// header. Builders do not validate, so that tests can send what a UPF must
// reject.

// Establishment returns the Session Establishment Request for spec
// (TS 29.244 §7.5.2): Node ID, CP F-SEID, PDN Type, the Create PDR, FAR,
// URR, QER, MAR and SRR IEs of spec.Session, Provide ATSSS Control
// Information, and APN/DNN and S-NSSAI when spec has them.
func Establishment(spec SessionSpec, seq uint32) *message.SessionEstablishmentRequest {
	s := spec.Session()
	ies := withNodeID([]*ie.IE{fseid(s.RemoteSEID, s.PeerAddr), ie.NewPDNType(ie.PDNTypeIPv4)}, s.PeerNodeID)
	ies = appendEach(ies, s.PDRs, createPDR)
	ies = appendEach(ies, s.FARs, createFAR)
	ies = appendEach(ies, s.URRs, createURR)
	ies = appendEach(ies, s.QERs, createQER)
	ies = appendEach(ies, s.MARs, createMAR)
	ies = appendEach(ies, s.SRRs, createSRR)
	if r := s.ATSSS.Requested; r.MPTCP || r.ATSSSLL || r.PMF {
		ies = append(ies, atsssie.NewProvideATSSSControlInformation(r))
	}
	if s.DNN != "" {
		ies = append(ies, ie.NewAPNDNN(s.DNN))
	}
	if s.SNSSAI != nil {
		ies = append(ies, atsssie.NewSNSSAI(*s.SNSSAI))
	}
	// The UPF has no SEID for the session yet: the header carries 0
	// (TS 29.244 §7.2.2.4.2).
	return message.NewSessionEstablishmentRequest(0, 0, 0, seq, 0, ies...)
}

// MARUpdate is a change to one MAR of a session built by SessionSpec.Session.
// UpdateMAR sends what is set and nothing else, as an SMF does
// (TS 29.244 §7.5.4.16).
type MARUpdate struct {
	ID            uint16
	Functionality *atsss.SteeringFunctionality
	Mode          *atsss.SteeringMode
	Legs          [2]LegUpdate // indexed by atsss.AccessType
	// Thresholds replaces the MAR's thresholds. An Update MAR cannot
	// remove them: a Thresholds IE without a threshold is invalid
	// (§8.2.196).
	Thresholds *atsss.Thresholds
	// SMI replaces the steering mode indicator; the zero value clears both
	// flags, which §7.5.4.16 says to send when a flag goes from 1 to 0.
	SMI *atsss.SteeringModeIndicator
}

// LegUpdate changes a MAR's use of one access.
type LegUpdate struct {
	Op       LegOp
	Weight   atsss.OptionalUint8
	Priority atsss.OptionalPriority
}

// LegOp says what an Update MAR does with an access.
type LegOp uint8

const (
	// LegChange sends an Update AFAI with the Weight and Priority that are
	// set, or nothing when neither is.
	LegChange LegOp = iota
	// LegRemove sends a zero-length Update AFAI: the MAR stops using the access.
	LegRemove
	// LegAdd sends an AFAI inside the Update MAR: the MAR uses the access
	// again, through the FAR and URR Session made for it.
	LegAdd
)

// UpdateMAR returns a Session Modification Request for the session with UP
// SEID seid that carries one Update MAR, made of u.
func UpdateMAR(seid atsss.SEID, seq uint32, u MARUpdate) *message.SessionModificationRequest {
	kids := []*ie.IE{ie.NewMARID(u.ID)}
	if u.Functionality != nil {
		kids = append(kids, atsssie.NewSteeringFunctionality(*u.Functionality))
	}
	if u.Mode != nil {
		kids = append(kids, atsssie.NewSteeringMode(*u.Mode))
	}
	for _, a := range atsss.Accesses {
		l := u.Legs[a]
		switch l.Op {
		case LegRemove:
			kids = append(kids, ie.NewGroupedIE(updateAFAIType[a]))
		case LegAdd:
			leg := atsss.Leg{FARID: dlFARID(u.ID, a), Weight: l.Weight, Priority: l.Priority, URRIDs: []uint32{accessURRID(a)}}
			kids = append(kids, ie.NewGroupedIE(afaiType[a], afai(&leg)...))
		case LegChange:
			if params := appendLegParams(nil, l.Weight, l.Priority); params != nil {
				kids = append(kids, ie.NewGroupedIE(updateAFAIType[a], params...))
			}
		}
	}
	if u.Thresholds != nil {
		kids = append(kids, atsssie.NewThresholds(*u.Thresholds))
	}
	if u.SMI != nil {
		kids = append(kids, atsssie.NewSteeringModeIndicator(*u.SMI))
	}
	return message.NewSessionModificationRequest(0, 0, uint64(seid), seq, 0, ie.NewUpdateMAR(kids...))
}

// AccessAvailability returns a Session Modification Request telling the UPF
// that access a of the session became available or unavailable: Access
// Availability Information at the top level of the request
// (TS 29.244 §7.5.4.1, §5.20.4.1).
func AccessAvailability(seid atsss.SEID, seq uint32, a atsss.AccessType, available bool) *message.SessionModificationRequest {
	return message.NewSessionModificationRequest(0, 0, uint64(seid), seq, 0, atsssie.NewAccessAvailabilityInformation(a, available))
}

// Deletion returns the Session Deletion Request of the session with UP SEID seid.
func Deletion(seid atsss.SEID, seq uint32) *message.SessionDeletionRequest {
	return message.NewSessionDeletionRequest(0, 0, uint64(seid), seq, 0)
}

// AssociationSetup returns an Association Setup Request from the SMF with
// Node ID nodeID that last started at recovery (TS 29.244 §7.4.4.1).
func AssociationSetup(nodeID string, recovery time.Time, seq uint32) *message.AssociationSetupRequest {
	return message.NewAssociationSetupRequest(seq, withNodeID([]*ie.IE{ie.NewRecoveryTimeStamp(recovery)}, nodeID)...)
}

// AssociationRelease returns an Association Release Request (TS 29.244 §7.4.4.5).
func AssociationRelease(nodeID string, seq uint32) *message.AssociationReleaseRequest {
	return message.NewAssociationReleaseRequest(seq, ie.NewNodeIDHeuristic(nodeID)) // nil for ""
}

// withNodeID appends the Node ID IE of id (an address or an FQDN), unless
// id is empty: a test of a missing mandatory IE leaves it out.
func withNodeID(ies []*ie.IE, id string) []*ie.IE {
	if id == "" {
		return ies
	}
	return append(ies, ie.NewNodeIDHeuristic(id))
}

// HeartbeatRequest returns a Heartbeat Request (TS 29.244 §7.4.2.1).
func HeartbeatRequest(recovery time.Time, seq uint32) *message.HeartbeatRequest {
	return message.NewHeartbeatRequest(seq, ie.NewRecoveryTimeStamp(recovery), nil)
}

// HeartbeatResponse returns a Heartbeat Response (TS 29.244 §7.4.2.2).
func HeartbeatResponse(recovery time.Time, seq uint32) *message.HeartbeatResponse {
	return message.NewHeartbeatResponse(seq, ie.NewRecoveryTimeStamp(recovery))
}
