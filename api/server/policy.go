package server

import (
	"fmt"
	"net/netip"
	"strconv"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// fieldError is a policy that passed protovalidate but that the UPF cannot
// apply, naming the field as protovalidate does.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

func fieldErr(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

// toPolicy converts a stored policy to the form the data planes apply. The
// API's rules (protovalidate) have been checked; what it refuses here is
// what the UPF cannot carry out, e.g. a PLR threshold finer than N4's
// whole percent.
func toPolicy(p *atsssv1.Policy) (*atsss.Policy, error) {
	out := &atsss.Policy{Name: p.GetName(), Precedence: p.GetPrecedence(), Revision: p.GetRevision()}
	if err := toMatch(p.GetMatch(), &out.Match); err != nil {
		return nil, err
	}
	switch p.GetSteerFun() {
	case atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP:
		out.Functionality = atsss.OptionalFunctionality{Value: atsss.FunctionalityMPTCP, Set: true}
	case atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL:
		out.Functionality = atsss.OptionalFunctionality{Value: atsss.FunctionalityATSSSLL, Set: true}
	}
	switch {
	case p.GetSteerModeDl() != nil:
		d, err := toSteering(p.GetSteerModeDl(), "policy.steer_mode_dl")
		if err != nil {
			return nil, err
		}
		out.Downlink = d
	case p.GetPathPreference() != atsssv1.PathPreference_PATH_PREFERENCE_UNSPECIFIED:
		d, err := pathSteering(p.GetPathPreference())
		if err != nil {
			return nil, err
		}
		out.Downlink = d
	}
	if c := p.GetRateCap(); c != nil {
		out.RateCap = atsss.RateCap{DownlinkBPS: c.GetDownlinkBps(), UplinkBPS: c.GetUplinkBps()}
	}
	return out, nil
}

func toMatch(m *atsssv1.PolicyMatch, out *atsss.PolicyMatch) error {
	switch k := m.GetKey().(type) {
	case *atsssv1.PolicyMatch_Dnn:
		out.DNN = k.Dnn
	case *atsssv1.PolicyMatch_Snssai:
		s := &atsss.SNSSAI{SST: uint8(k.Snssai.GetSst())}
		if sd := k.Snssai.GetSd(); sd != "" {
			v, err := strconv.ParseUint(sd, 16, 24)
			if err != nil {
				return fieldErr("policy.match.snssai.sd", "%v", err)
			}
			s.SD, s.SDSet = uint32(v), true
		}
		if err := s.Validate(); err != nil {
			return fieldErr("policy.match.snssai.sd", "%v", err)
		}
		out.SNSSAI = s
	case *atsssv1.PolicyMatch_UePrefix:
		pfx, err := netip.ParsePrefix(k.UePrefix)
		if err != nil {
			return fieldErr("policy.match.ue_prefix", "%v", err)
		}
		if pfx != pfx.Masked() {
			return fieldErr("policy.match.ue_prefix", "host bits set in %s (want %s)", pfx, pfx.Masked())
		}
		out.UEPrefix = pfx
	case *atsssv1.PolicyMatch_Application:
		switch a := k.Application.GetSelector().(type) {
		case *atsssv1.Application_FlowDescription:
			f, err := atsss.ParseFlowDescription(a.FlowDescription)
			if err != nil {
				return fieldErr("policy.match.application.flow_description", "%v", err)
			}
			out.FlowDescription, out.Flow = a.FlowDescription, &f
		case *atsssv1.Application_AppId:
			out.AppID = a.AppId
		default:
			return fieldErr("policy.match.application", "no selector")
		}
	default:
		return fieldErr("policy.match", "no match key")
	}
	return nil
}

// toSteering converts an API steering mode to the MAR's terms. field names
// the message for errors.
func toSteering(m *atsssv1.SteeringMode, field string) (*atsss.PolicySteering, error) {
	d := &atsss.PolicySteering{}
	switch m.GetSteerModeValue() {
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY:
		d.Mode = atsss.ModeActiveStandby
		active, err := toAccess(m.GetActive(), field+".active")
		if err != nil {
			return nil, err
		}
		d.Priority[active] = prio(atsss.PriorityActive)
		d.Priority[active.Other()] = prio(atsss.PriorityNoStandby)
		if m.GetStandby() != atsssv1.AccessType_ACCESS_TYPE_UNSPECIFIED {
			d.Priority[active.Other()] = prio(atsss.PriorityStandby)
		}
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING:
		d.Mode = atsss.ModeLoadBalancing
		load := uint32(50) // with an indicator alone: the UPF's default split
		if m.ThreeGLoad != nil {
			load = m.GetThreeGLoad()
		}
		d.Weight[atsss.Access3GPP] = atsss.OptionalUint8{Value: uint8(load), Set: true}
		d.Weight[atsss.AccessNon3GPP] = atsss.OptionalUint8{Value: uint8(100 - load), Set: true}
		switch m.GetSteerModeInd() {
		case atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE:
			d.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}
		case atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE:
			d.SMI = &atsss.SteeringModeIndicator{UEAssistance: true}
		}
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY:
		d.Mode = atsss.ModeSmallestDelay
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED:
		d.Mode = atsss.ModePriorityBased
		high, err := toAccess(m.GetPrioAcc(), field+".prio_acc")
		if err != nil {
			return nil, err
		}
		d.Priority[high] = prio(atsss.PriorityHigh)
		d.Priority[high.Other()] = prio(atsss.PriorityLow)
	default:
		return nil, fieldErr(field+".steer_mode_value", "%v cannot be set by a policy", m.GetSteerModeValue())
	}
	if t := m.GetThresValue(); t != nil {
		d.Thresholds = &atsss.Thresholds{}
		if t.RttMs != nil {
			d.Thresholds.RTT = atsss.OptionalUint16{Value: uint16(t.GetRttMs()), Set: true}
		}
		if t.PlrPerMille != nil {
			// N4 Thresholds and our steering resolve whole percent: refuse
			// what would be rounded rather than change the operator's value.
			if t.GetPlrPerMille()%10 != 0 {
				return nil, fieldErr(field+".thres_value.plr_per_mille", "%d‰ is not a whole percent: the UPF steers on whole percent (N4 Thresholds)", t.GetPlrPerMille())
			}
			d.Thresholds.PLR = atsss.OptionalUint8{Value: uint8(t.GetPlrPerMille() / 10), Set: true}
		}
	}
	return d, nil
}

// pathSteering is the steering that carries out a path preference.
func pathSteering(p atsssv1.PathPreference) (*atsss.PolicySteering, error) {
	activeStandby := func(active atsss.AccessType, standby atsss.Priority) *atsss.PolicySteering {
		d := &atsss.PolicySteering{Mode: atsss.ModeActiveStandby}
		d.Priority[active], d.Priority[active.Other()] = prio(atsss.PriorityActive), prio(standby)
		return d
	}
	switch p {
	case atsssv1.PathPreference_PATH_PREFERENCE_3GPP_ONLY:
		return activeStandby(atsss.Access3GPP, atsss.PriorityNoStandby), nil
	case atsssv1.PathPreference_PATH_PREFERENCE_NON_3GPP_ONLY:
		return activeStandby(atsss.AccessNon3GPP, atsss.PriorityNoStandby), nil
	case atsssv1.PathPreference_PATH_PREFERENCE_PREFER_3GPP:
		return activeStandby(atsss.Access3GPP, atsss.PriorityStandby), nil
	case atsssv1.PathPreference_PATH_PREFERENCE_PREFER_NON_3GPP:
		return activeStandby(atsss.AccessNon3GPP, atsss.PriorityStandby), nil
	case atsssv1.PathPreference_PATH_PREFERENCE_LOWEST_LATENCY:
		return &atsss.PolicySteering{Mode: atsss.ModeSmallestDelay}, nil
	case atsssv1.PathPreference_PATH_PREFERENCE_HIGHEST_THROUGHPUT:
		// Redundant without priorities keeps every available access active:
		// the MPTCP scheduler then spreads one flow over both.
		return &atsss.PolicySteering{Mode: atsss.ModeRedundant}, nil
	}
	return nil, fieldErr("policy.path_preference", "unknown value %v", p)
}

func toAccess(a atsssv1.AccessType, field string) (atsss.AccessType, error) {
	switch a {
	case atsssv1.AccessType_ACCESS_TYPE_3GPP:
		return atsss.Access3GPP, nil
	case atsssv1.AccessType_ACCESS_TYPE_NON_3GPP:
		return atsss.AccessNon3GPP, nil
	}
	return 0, fieldErr(field, "an access is required")
}

func fromAccess(a atsss.AccessType) atsssv1.AccessType {
	if a == atsss.Access3GPP {
		return atsssv1.AccessType_ACCESS_TYPE_3GPP
	}
	return atsssv1.AccessType_ACCESS_TYPE_NON_3GPP
}

func prio(p atsss.Priority) atsss.OptionalPriority {
	return atsss.OptionalPriority{Value: p, Set: true}
}
