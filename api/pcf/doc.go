// Package pcf converts the steering fields of an atsss.v1 Policy to and from
// the PCF's TrafficControlData (TS 29.512 SM policy control data types
// TrafficControlData, SteeringMode, ThresholdValue, SteeringFunctionality,
// SteerModeValue and SteerModeIndicator; TS 29.571 AccessType, AccessTypeRm
// and PacketLossRate) in the shape of github.com/free5gc/openapi v1.3.0
// models.Pcf_SMPolCtrl_TrafficControlData, so that a PCF adapter can feed the
// PolicyService and a policy can be shown as the PCF would send it.
//
// Only steerFun, steerModeDl and steerModeUl are converted. The other
// TrafficControlData attributes (tcId, flowStatus, redirection, routing...)
// are not steering: FromTrafficControlData ignores them and
// ToTrafficControlData leaves them zero.
//
// # Units
//
// Both sides use the same units, so no value is scaled:
//   - rttThres and rtt_ms are milliseconds. The API caps rtt_ms at 65535
//     because N4 Thresholds carry it in two octets; a larger rttThres is an
//     error.
//   - plrThres is a PacketLossRate, an integer in tenths of a percent, 0..1000
//     (the model's comment says so; its Go type is int32), which is the API's
//     plr_per_mille.
//   - 3gLoad and three_g_load are whole percent, 0..100.
//
// # What the model can and cannot carry
//
// The free5gc model keeps every scalar as a Go value with `omitempty`, not as
// a pointer: 3gLoad, rttThres and plrThres are int32, the enumerations are
// strings. encoding/json drops a 0 or "" on marshalling, and a PCF built on
// these models cannot send an explicit 0 either, so in this model 0 and
// absent are the same thing. The enumerations lose nothing (the API's
// UNSPECIFIED is the PCF's absent attribute), and thresValue, steerModeDl and
// steerModeUl are pointers, so their presence survives, even of an empty
// thresValue. For the three integers the package fixes one reading and
// rejects, with a *FieldError wrapping ErrNotRepresentable, the API values that
// reading would change:
//
//   - 3gLoad: under LOAD_BALANCING the PCF must send 3gLoad (N4 needs a weight
//     per access), so a 0 or absent 3gLoad reads as three_g_load 0, a real
//     "everything over non-3GPP". Under another mode 0 reads as unset.
//     ToTrafficControlData therefore rejects LOAD_BALANCING without
//     three_g_load (which the API allows together with steer_mode_ind) and an
//     explicit three_g_load 0 under any other mode.
//   - rttThres and plrThres: 0 reads as no threshold, so an explicit rtt_ms 0
//     or plr_per_mille 0 is rejected. (A PCF cannot send plrThres 0 through
//     this model either.)
//
// STEERING_MODE_VALUE_REDUNDANT (Rel-18) has no SteerModeValue in
// free5gc/openapi v1.3.0: ToTrafficControlData rejects it with
// ErrNotRepresentable, and FromTrafficControlData rejects "REDUNDANT" as an
// unknown value.
//
// non_three_g_load is not a PCF attribute: ToTrafficControlData drops it after
// checking that it is 100 - three_g_load (so nothing but the redundancy is
// lost), and FromTrafficControlData leaves it unset.
//
// With those rules both conversions are exact inverses on what they accept,
// also through encoding/json of the model (what a PCF sends):
// From(json(To(s))) equals s without non_three_g_load, and
// To(From(t)) has the steering fields of t.
//
// Input from a PCF is checked, never trusted: an unknown enumeration string,
// a missing steerModeValue (mandatory in SteeringMode) or an integer out of
// the API's range is a *FieldError naming the attribute by its JSON path, as
// in "pcf: steerModeDl.active: unknown access type \"WLAN\"".
//
// Combinations (ACTIVE_STANDBY needs active, and so on) are the API's
// protovalidate rules' business, not this package's: what converts is what
// was there.
//
// This package imports only the generated atsssv1 code and the free5gc
// models; it must not import the atsss domain or any data plane.
package pcf
