package server

import (
	"fmt"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// fromSession shows s with the steering in force per MAR (under set and the
// stored policies that set was made of) and the data plane's per-access state.
func fromSession(s *atsss.Session, set *atsss.PolicySet, stored map[string]*atsssv1.Policy, access atsss.AccessReporter) *atsssv1.Session {
	out := &atsssv1.Session{
		Seid:   uint64(s.LocalSEID),
		Peer:   s.PeerNodeID,
		CpSeid: uint64(s.RemoteSEID),
		Dnn:    s.DNN,
	}
	for _, a := range s.MAPDUAddrs() {
		out.UeAddresses = append(out.UeAddresses, a.String())
	}
	if n := s.SNSSAI; n != nil {
		out.Snssai = &atsssv1.Snssai{Sst: uint32(n.SST)}
		if n.SDSet {
			out.Snssai.Sd = fmt.Sprintf("%06X", n.SD)
		}
	}
	for i := range s.PDRs {
		out.Pdrs = append(out.Pdrs, fromPDR(&s.PDRs[i]))
	}
	for i, eff := range atsss.Effective(s, set) {
		out.Mars = append(out.Mars, fromMAR(&s.MARs[i], eff, stored))
	}
	var states [2]atsss.AccessState
	known := false
	if access != nil {
		states, known = access.AccessStates(s.LocalSEID)
	}
	for _, a := range atsss.Accesses {
		st := &atsssv1.AccessState{Access: fromAccess(a), Available: !s.Unavailable[a]}
		if addrs := s.LinkSpecificAddrs(a); len(addrs) > 0 {
			st.UeAddress = addrs[0].String()
		}
		if known {
			fillAccessState(st, states[a])
		}
		out.Accesses = append(out.Accesses, st)
	}
	return out
}

func fillAccessState(st *atsssv1.AccessState, m atsss.AccessState) {
	st.Available = m.Available
	if m.RTT > 0 {
		us := uint32(min(m.RTT.Microseconds(), 1<<32-1))
		st.RttUs = &us
	}
	if m.LossKnown {
		l := m.LossPermille
		st.LossPerMille = &l
	}
	st.DownlinkBytes, st.UplinkBytes, st.Subflows = m.DownlinkBytes, m.UplinkBytes, uint32(m.Subflows)
}

func fromPDR(p *atsss.PDR) *atsssv1.PacketDetectionRule {
	out := &atsssv1.PacketDetectionRule{
		PdrId:           uint32(p.ID),
		Precedence:      p.Precedence,
		SourceInterface: p.PDI.SourceInterface.String(),
		AppId:           p.PDI.ApplicationID,
		FarId:           p.FARID.Value,
		MarId:           uint32(p.MARID.Value),
		MptcpApplicable: p.Multipath.MPTCP,
	}
	for _, f := range p.PDI.SDFFilters {
		out.SdfFilters = append(out.SdfFilters, f.FlowDescription)
	}
	return out
}

func fromMAR(m *atsss.MAR, eff atsss.EffectiveSteering, stored map[string]*atsssv1.Policy) *atsssv1.MultiAccessRule {
	out := &atsssv1.MultiAccessRule{
		MarId:               uint32(m.ID),
		SmfSteerFun:         fromFunctionality(m.Functionality),
		SmfSteering:         fromMode(m),
		FarId_3Gpp:          m.Legs[atsss.Access3GPP].FARID,
		FarIdNon_3Gpp:       m.Legs[atsss.AccessNon3GPP].FARID,
		EffectiveSource:     atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR,
		EffectiveSteerFun:   fromFunctionality(m.Functionality),
		EffectiveSteeringDl: fromMode(m),
		// The uplink is the UE's, from the ATSSS rules the SMF derived from
		// the same PCF decision as this MAR.
		EffectiveSteeringUl: fromMode(m),
	}
	p := eff.Policy
	if p == nil {
		return out
	}
	if eff.Err != nil {
		out.PolicyError = eff.Err.Error()
		return out
	}
	out.EffectiveSource = atsssv1.SteeringSource_STEERING_SOURCE_OPERATOR_POLICY
	out.Policy = p.Name
	out.EffectiveSteeringDl = fromMode(&eff.MAR)
	if sp := stored[p.Name]; sp != nil {
		if sp.GetSteerModeUl() != nil {
			out.EffectiveSteeringUl = sp.GetSteerModeUl()
		}
		out.RateCap = sp.GetRateCap()
		out.PathPreference = sp.GetPathPreference()
	}
	return out
}

func fromFunctionality(f atsss.SteeringFunctionality) atsssv1.SteeringFunctionality {
	switch f {
	case atsss.FunctionalityMPTCP:
		return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP
	case atsss.FunctionalityATSSSLL:
		return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL
	}
	// MPQUIC has no value in the PCF's SteeringFunctionality of v1.3.0.
	return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_UNSPECIFIED
}

// fromMode shows a MAR's steering in the API's (the PCF's) terms: N4
// weights become three_g_load, N4 PLR percent becomes per mille.
func fromMode(m *atsss.MAR) *atsssv1.SteeringMode {
	out := &atsssv1.SteeringMode{}
	// legWith is the access whose leg has priority p; UNSPECIFIED if none.
	legWith := func(p atsss.Priority) atsssv1.AccessType {
		for _, a := range atsss.Accesses {
			if l := m.Legs[a]; l.Present && l.Priority.Set && l.Priority.Value == p {
				return fromAccess(a)
			}
		}
		return atsssv1.AccessType_ACCESS_TYPE_UNSPECIFIED
	}
	switch m.Mode {
	case atsss.ModeActiveStandby:
		out.SteerModeValue = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY
		out.Active = legWith(atsss.PriorityActive)
		out.Standby = legWith(atsss.PriorityStandby)
	case atsss.ModeSmallestDelay:
		out.SteerModeValue = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY
	case atsss.ModeLoadBalancing:
		out.SteerModeValue = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING
		var load uint32
		if l := m.Legs[atsss.Access3GPP]; l.Present {
			load = uint32(l.Weight.Value)
		}
		out.ThreeGLoad = &load
		if smi := m.SMI; smi != nil {
			switch {
			case smi.AutonomousLoadBalancing:
				out.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE
			case smi.UEAssistance:
				out.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE
			}
		}
	case atsss.ModePriorityBased:
		out.SteerModeValue = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED
		out.PrioAcc = legWith(atsss.PriorityHigh)
	case atsss.ModeRedundant:
		out.SteerModeValue = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_REDUNDANT
	}
	if t := m.Thresholds; t != nil {
		out.ThresValue = &atsssv1.ThresholdValue{}
		if t.RTT.Set {
			v := uint32(t.RTT.Value)
			out.ThresValue.RttMs = &v
		}
		if t.PLR.Set {
			v := uint32(t.PLR.Value) * 10
			out.ThresValue.PlrPerMille = &v
		}
	}
	return out
}
