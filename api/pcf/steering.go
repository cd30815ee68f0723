package pcf

import (
	"errors"
	"fmt"

	"github.com/free5gc/openapi/models"
	"google.golang.org/protobuf/proto"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// Limits of the API's fields, which a PCF value must respect to convert.
const (
	maxLoad = 100   // 3gLoad, percent
	maxRTT  = 65535 // rttThres, ms: N4 Thresholds carry two octets (TS 29.244)
	maxPLR  = 1000  // plrThres, tenths of a percent (TS 29.571 PacketLossRate)
)

// Steering is the part of a policy that the PCF's TrafficControlData
// carries: its steering functionality and the steering of each direction.
// A nil DL or UL is an absent steerModeDl or steerModeUl.
type Steering struct {
	Fun    atsssv1.SteeringFunctionality
	DL, UL *atsssv1.SteeringMode
}

// ErrNotRepresentable is wrapped by the *FieldError of ToTrafficControlData
// for a valid API value that the free5gc model would read back as another
// value (see the package documentation).
var ErrNotRepresentable = errors.New("not representable in the PCF model")

// FieldError is a conversion error of one attribute.
type FieldError struct {
	// Field is the attribute's JSON path in TrafficControlData, e.g.
	// "steerModeDl.thresValue.plrThres".
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "pcf: " + e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

func fieldError(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// FromTrafficControlData returns the steering that t carries. It ignores
// t's other attributes and never keeps a reference into t. It is safe for
// concurrent use as long as t is not being changed.
func FromTrafficControlData(t *models.Pcf_SMPolCtrl_TrafficControlData) (Steering, error) {
	if t == nil {
		return Steering{}, errors.New("pcf: nil TrafficControlData")
	}
	fun, err := funFromPCF(t.SteerFun)
	if err != nil {
		return Steering{}, &FieldError{Field: "steerFun", Err: err}
	}
	dl, err := modeFromPCF("steerModeDl", t.SteerModeDl)
	if err != nil {
		return Steering{}, err
	}
	ul, err := modeFromPCF("steerModeUl", t.SteerModeUl)
	if err != nil {
		return Steering{}, err
	}
	return Steering{Fun: fun, DL: dl, UL: ul}, nil
}

// ToTrafficControlData returns a TrafficControlData that carries s and
// nothing else. It fails, naming the attribute, when s holds a value the
// model cannot carry or read back unchanged. It never keeps a reference
// into s and is safe for concurrent use as long as s is not being changed.
func ToTrafficControlData(s Steering) (*models.Pcf_SMPolCtrl_TrafficControlData, error) {
	fun, err := funToPCF(s.Fun)
	if err != nil {
		return nil, &FieldError{Field: "steerFun", Err: err}
	}
	dl, err := modeToPCF("steerModeDl", s.DL)
	if err != nil {
		return nil, err
	}
	ul, err := modeToPCF("steerModeUl", s.UL)
	if err != nil {
		return nil, err
	}
	return &models.Pcf_SMPolCtrl_TrafficControlData{SteerFun: fun, SteerModeDl: dl, SteerModeUl: ul}, nil
}

func modeFromPCF(path string, m *models.Pcf_SMPolCtrl_SteeringMode) (*atsssv1.SteeringMode, error) {
	if m == nil {
		return nil, nil
	}
	var (
		out atsssv1.SteeringMode
		err error
	)
	// steerModeValue is the one mandatory attribute of SteeringMode.
	if m.SteerModeValue == "" {
		return nil, fieldError(path+".steerModeValue", "missing")
	}
	if out.SteerModeValue, err = modeValueFromPCF(m.SteerModeValue); err != nil {
		return nil, &FieldError{Field: path + ".steerModeValue", Err: err}
	}
	if out.Active, err = accessFromPCF(string(m.Active)); err != nil {
		return nil, &FieldError{Field: path + ".active", Err: err}
	}
	if out.Standby, err = accessFromPCF(string(m.Standby)); err != nil {
		return nil, &FieldError{Field: path + ".standby", Err: err}
	}
	if out.PrioAcc, err = accessFromPCF(string(m.PrioAcc)); err != nil {
		return nil, &FieldError{Field: path + ".prioAcc", Err: err}
	}
	if out.SteerModeInd, err = indicatorFromPCF(m.SteerModeInd); err != nil {
		return nil, &FieldError{Field: path + ".steerModeInd", Err: err}
	}

	if m.Var3gLoad < 0 || m.Var3gLoad > maxLoad {
		return nil, fieldError(path+".3gLoad", "%d outside 0..%d percent", m.Var3gLoad, maxLoad)
	}
	// Load-Balancing always has a 3GPP share; the model drops a 0 (see the
	// package documentation), so absent means 0 there and unset elsewhere.
	if m.Var3gLoad != 0 || out.SteerModeValue == atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING {
		out.ThreeGLoad = proto.Uint32(uint32(m.Var3gLoad))
	}

	if tv := m.ThresValue; tv != nil {
		out.ThresValue = &atsssv1.ThresholdValue{}
		if tv.RttThres < 0 || tv.RttThres > maxRTT {
			return nil, fieldError(path+".thresValue.rttThres", "%d outside 0..%d ms (N4 carries two octets)", tv.RttThres, maxRTT)
		}
		if tv.RttThres != 0 {
			out.ThresValue.RttMs = proto.Uint32(uint32(tv.RttThres))
		}
		if tv.PlrThres < 0 || tv.PlrThres > maxPLR {
			return nil, fieldError(path+".thresValue.plrThres", "%d outside 0..%d tenths of a percent", tv.PlrThres, maxPLR)
		}
		if tv.PlrThres != 0 {
			out.ThresValue.PlrPerMille = proto.Uint32(uint32(tv.PlrThres))
		}
	}
	return &out, nil
}

func modeToPCF(path string, m *atsssv1.SteeringMode) (*models.Pcf_SMPolCtrl_SteeringMode, error) {
	if m == nil {
		return nil, nil
	}
	var (
		out models.Pcf_SMPolCtrl_SteeringMode
		err error
	)
	if m.GetSteerModeValue() == atsssv1.SteeringModeValue_STEERING_MODE_VALUE_UNSPECIFIED {
		return nil, fieldError(path+".steerModeValue", "missing")
	}
	if out.SteerModeValue, err = modeValueToPCF(m.GetSteerModeValue()); err != nil {
		return nil, &FieldError{Field: path + ".steerModeValue", Err: err}
	}
	var s string
	if s, err = accessToPCF(m.GetActive()); err != nil {
		return nil, &FieldError{Field: path + ".active", Err: err}
	}
	out.Active = models.AccessType(s)
	if s, err = accessToPCF(m.GetStandby()); err != nil {
		return nil, &FieldError{Field: path + ".standby", Err: err}
	}
	out.Standby = models.AccessTypeRm(s)
	if s, err = accessToPCF(m.GetPrioAcc()); err != nil {
		return nil, &FieldError{Field: path + ".prioAcc", Err: err}
	}
	out.PrioAcc = models.AccessType(s)
	if out.SteerModeInd, err = indicatorToPCF(m.GetSteerModeInd()); err != nil {
		return nil, &FieldError{Field: path + ".steerModeInd", Err: err}
	}

	if out.Var3gLoad, err = loadToPCF(m); err != nil {
		return nil, &FieldError{Field: path + ".3gLoad", Err: err}
	}

	if tv := m.GetThresValue(); tv != nil {
		out.ThresValue = &models.Pcf_SMPolCtrl_ThresholdValue{}
		if tv.RttMs != nil {
			switch v := tv.GetRttMs(); {
			case v == 0:
				return nil, fieldError(path+".thresValue.rttThres", "%w: rtt_ms 0 reads back as no RTT threshold", ErrNotRepresentable)
			case v > maxRTT:
				return nil, fieldError(path+".thresValue.rttThres", "rtt_ms %d above %d", v, maxRTT)
			default:
				out.ThresValue.RttThres = int32(v)
			}
		}
		if tv.PlrPerMille != nil {
			switch v := tv.GetPlrPerMille(); {
			case v == 0:
				return nil, fieldError(path+".thresValue.plrThres", "%w: plr_per_mille 0 reads back as no loss threshold", ErrNotRepresentable)
			case v > maxPLR:
				return nil, fieldError(path+".thresValue.plrThres", "plr_per_mille %d above %d", v, maxPLR)
			default:
				out.ThresValue.PlrThres = int32(v)
			}
		}
	}
	return &out, nil
}

// loadToPCF returns m's 3gLoad, or an error when FromTrafficControlData
// would not read it back as m's three_g_load, or when non_three_g_load, which
// the PCF lacks, says more than 100 - three_g_load.
func loadToPCF(m *atsssv1.SteeringMode) (int32, error) {
	lb := m.GetSteerModeValue() == atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING
	if m.NonThreeGLoad != nil && (m.ThreeGLoad == nil || m.GetThreeGLoad()+m.GetNonThreeGLoad() != 100) {
		return 0, fmt.Errorf("non_three_g_load %d is not 100 - three_g_load, and the PCF has no attribute for it", m.GetNonThreeGLoad())
	}
	if m.ThreeGLoad == nil {
		if lb {
			return 0, fmt.Errorf("%w: LOAD_BALANCING without three_g_load reads back as three_g_load 0", ErrNotRepresentable)
		}
		return 0, nil
	}
	switch v := m.GetThreeGLoad(); {
	case v > maxLoad:
		return 0, fmt.Errorf("three_g_load %d above %d percent", v, maxLoad)
	case v == 0 && !lb:
		return 0, fmt.Errorf("%w: three_g_load 0 outside LOAD_BALANCING reads back as unset", ErrNotRepresentable)
	default:
		return int32(v), nil
	}
}

func funFromPCF(f models.Pcf_SMPolCtrl_SteeringFunctionality) (atsssv1.SteeringFunctionality, error) {
	switch f {
	case "":
		return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_UNSPECIFIED, nil
	case models.Pcf_SMPolCtrl_SteeringFunctionality_MPTCP:
		return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP, nil
	case models.Pcf_SMPolCtrl_SteeringFunctionality_ATSSS_LL:
		return atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL, nil
	}
	return 0, fmt.Errorf("unknown steering functionality %q", string(f))
}

func funToPCF(f atsssv1.SteeringFunctionality) (models.Pcf_SMPolCtrl_SteeringFunctionality, error) {
	switch f {
	case atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_UNSPECIFIED:
		return "", nil
	case atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP:
		return models.Pcf_SMPolCtrl_SteeringFunctionality_MPTCP, nil
	case atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL:
		return models.Pcf_SMPolCtrl_SteeringFunctionality_ATSSS_LL, nil
	}
	return "", fmt.Errorf("unknown steering functionality %d", int32(f))
}

func modeValueFromPCF(v models.Pcf_SMPolCtrl_SteerModeValue) (atsssv1.SteeringModeValue, error) {
	switch v {
	case models.Pcf_SMPolCtrl_SteerModeValue_ACTIVE_STANDBY:
		return atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY, nil
	case models.Pcf_SMPolCtrl_SteerModeValue_LOAD_BALANCING:
		return atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING, nil
	case models.Pcf_SMPolCtrl_SteerModeValue_SMALLEST_DELAY:
		return atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY, nil
	case models.Pcf_SMPolCtrl_SteerModeValue_PRIORITY_BASED:
		return atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED, nil
	}
	return 0, fmt.Errorf("unknown steering mode %q", string(v))
}

func modeValueToPCF(v atsssv1.SteeringModeValue) (models.Pcf_SMPolCtrl_SteerModeValue, error) {
	switch v {
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY:
		return models.Pcf_SMPolCtrl_SteerModeValue_ACTIVE_STANDBY, nil
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING:
		return models.Pcf_SMPolCtrl_SteerModeValue_LOAD_BALANCING, nil
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY:
		return models.Pcf_SMPolCtrl_SteerModeValue_SMALLEST_DELAY, nil
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED:
		return models.Pcf_SMPolCtrl_SteerModeValue_PRIORITY_BASED, nil
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_REDUNDANT:
		return "", fmt.Errorf("%w: REDUNDANT (Rel-18) is not a SteerModeValue of free5gc/openapi v1.3.0", ErrNotRepresentable)
	}
	return "", fmt.Errorf("unknown steering mode %d", int32(v))
}

// accessFromPCF converts an AccessType or AccessTypeRm, which share their
// values (TS 29.571).
func accessFromPCF(s string) (atsssv1.AccessType, error) {
	switch s {
	case "":
		return atsssv1.AccessType_ACCESS_TYPE_UNSPECIFIED, nil
	case string(models.AccessType_3_GPP_ACCESS):
		return atsssv1.AccessType_ACCESS_TYPE_3GPP, nil
	case string(models.AccessType_NON_3_GPP_ACCESS):
		return atsssv1.AccessType_ACCESS_TYPE_NON_3GPP, nil
	}
	return 0, fmt.Errorf("unknown access type %q", s)
}

func accessToPCF(a atsssv1.AccessType) (string, error) {
	switch a {
	case atsssv1.AccessType_ACCESS_TYPE_UNSPECIFIED:
		return "", nil
	case atsssv1.AccessType_ACCESS_TYPE_3GPP:
		return string(models.AccessType_3_GPP_ACCESS), nil
	case atsssv1.AccessType_ACCESS_TYPE_NON_3GPP:
		return string(models.AccessType_NON_3_GPP_ACCESS), nil
	}
	return "", fmt.Errorf("unknown access type %d", int32(a))
}

func indicatorFromPCF(i models.Pcf_SMPolCtrl_SteerModeIndicator) (atsssv1.SteeringModeIndicator, error) {
	switch i {
	case "":
		return atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UNSPECIFIED, nil
	case models.Pcf_SMPolCtrl_SteerModeIndicator_AUTO_LOAD_BALANCE:
		return atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE, nil
	case models.Pcf_SMPolCtrl_SteerModeIndicator_UE_ASSISTANCE:
		return atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE, nil
	}
	return 0, fmt.Errorf("unknown steering mode indicator %q", string(i))
}

func indicatorToPCF(i atsssv1.SteeringModeIndicator) (models.Pcf_SMPolCtrl_SteerModeIndicator, error) {
	switch i {
	case atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UNSPECIFIED:
		return "", nil
	case atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE:
		return models.Pcf_SMPolCtrl_SteerModeIndicator_AUTO_LOAD_BALANCE, nil
	case atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE:
		return models.Pcf_SMPolCtrl_SteerModeIndicator_UE_ASSISTANCE, nil
	}
	return "", fmt.Errorf("unknown steering mode indicator %d", int32(i))
}
