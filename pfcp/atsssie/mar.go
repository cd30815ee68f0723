package atsssie

import (
	"encoding/binary"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// IE types of Rel-17 MAR IEs that go-pfcp v0.0.24 does not define
// (TS 29.244 Table 8.1.2-1).
const (
	Thresholds            uint16 = 288
	SteeringModeIndicator uint16 = 289
)

// Flags of octet 5 of Thresholds (TS 29.244 §8.2.196).
const (
	thresholdRTT = 1 << 0
	thresholdPLR = 1 << 1
)

// NewThresholds builds a Thresholds IE (TS 29.244 §8.2.196): a flags octet,
// the RTT in milliseconds (2 octets) when set, then the packet loss rate in
// percent (1 octet) when set. t should set one of them at least: an IE with
// neither is invalid.
func NewThresholds(t atsss.Thresholds) *ie.IE {
	b := []byte{0}
	if t.RTT.Set {
		b[0] |= thresholdRTT
		b = binary.BigEndian.AppendUint16(b, t.RTT.Value)
	}
	if t.PLR.Set {
		b[0] |= thresholdPLR
		b = append(b, t.PLR.Value)
	}
	return ie.New(Thresholds, b)
}

// ParseThresholds decodes a Thresholds IE. A packet loss rate above 100 is
// read as 0, as §8.2.196 says; an IE with neither flag set is invalid.
func ParseThresholds(i *ie.IE) (atsss.Thresholds, error) {
	r, err := open(i, Thresholds)
	if err != nil {
		return atsss.Thresholds{}, err
	}
	var t atsss.Thresholds
	flags := r.u8("flags")
	if flags&thresholdRTT != 0 {
		t.RTT = atsss.OptionalUint16{Value: r.u16("RTT"), Set: true}
	}
	if flags&thresholdPLR != 0 {
		plr := r.u8("packet loss rate")
		if plr > 100 {
			plr = 0
		}
		t.PLR = atsss.OptionalUint8{Value: plr, Set: true}
	}
	if r.err != nil {
		return atsss.Thresholds{}, r.err
	}
	if !t.RTT.Set && !t.PLR.Set {
		return atsss.Thresholds{}, ieErr(Thresholds, ErrInvalidValue, "neither RTT nor PLR flag set")
	}
	return t, nil
}

// Flags of octet 5 of Steering Mode Indicator (TS 29.244 §8.2.197).
const (
	smiALBI = 1 << 0
	smiUEAI = 1 << 1
)

// NewSteeringModeIndicator builds a Steering Mode Indicator IE
// (TS 29.244 §8.2.197). The IE with both flags clear is valid: it is how an
// SMF clears a flag it set before.
func NewSteeringModeIndicator(s atsss.SteeringModeIndicator) *ie.IE {
	var b byte
	if s.AutonomousLoadBalancing {
		b |= smiALBI
	}
	if s.UEAssistance {
		b |= smiUEAI
	}
	return ie.New(SteeringModeIndicator, []byte{b})
}

// ParseSteeringModeIndicator decodes a Steering Mode Indicator IE. ALBI and
// UEAI set together are invalid (§8.2.197).
func ParseSteeringModeIndicator(i *ie.IE) (atsss.SteeringModeIndicator, error) {
	flags, err := octet5(i, SteeringModeIndicator, "flags")
	if err != nil {
		return atsss.SteeringModeIndicator{}, err
	}
	if flags&smiALBI != 0 && flags&smiUEAI != 0 {
		return atsss.SteeringModeIndicator{}, ieErr(SteeringModeIndicator, ErrInvalidValue, "ALBI and UEAI both set")
	}
	return atsss.SteeringModeIndicator{
		AutonomousLoadBalancing: flags&smiALBI != 0,
		UEAssistance:            flags&smiUEAI != 0,
	}, nil
}

// NewSteeringFunctionality builds a Steering Functionality IE
// (TS 29.244 §8.2.124; MPQUIC values 2 to 4 are Rel-18). go-pfcp encodes it
// correctly; it lacks only the constants above MPTCP.
func NewSteeringFunctionality(f atsss.SteeringFunctionality) *ie.IE {
	return ie.NewSteeringFunctionality(uint8(f))
}

// ParseSteeringFunctionality decodes a Steering Functionality IE and rejects
// values atsss does not define.
func ParseSteeringFunctionality(i *ie.IE) (atsss.SteeringFunctionality, error) {
	return parseEnum[atsss.SteeringFunctionality](i, ie.SteeringFunctionality)
}

// NewSteeringMode builds a Steering Mode IE (TS 29.244 §8.2.125; Redundant,
// 4, is Rel-18). go-pfcp encodes it correctly; it lacks only the constant for
// Redundant.
func NewSteeringMode(m atsss.SteeringMode) *ie.IE { return ie.NewSteeringMode(uint8(m)) }

// ParseSteeringMode decodes a Steering Mode IE and rejects values atsss does
// not define.
func ParseSteeringMode(i *ie.IE) (atsss.SteeringMode, error) {
	return parseEnum[atsss.SteeringMode](i, ie.SteeringMode)
}

// NewPriority builds a Priority IE (TS 29.244 §8.2.127; Primary, 5, and
// Secondary, 6, are Rel-18). go-pfcp encodes it correctly; it lacks only the
// constants above Low.
func NewPriority(p atsss.Priority) *ie.IE { return ie.NewPriority(uint8(p)) }

// ParsePriority decodes a Priority IE and rejects values atsss does not
// define.
func ParsePriority(i *ie.IE) (atsss.Priority, error) {
	return parseEnum[atsss.Priority](i, ie.Priority)
}

// enum is an atsss enumeration carried in the low 4 bits of octet 5, the high
// 4 bits being spare (TS 29.244 §8.2.124, §8.2.125, §8.2.127).
type enum interface {
	~uint8
	Valid() bool
}

func parseEnum[T enum](i *ie.IE, typ uint16) (T, error) {
	b, err := octet5(i, typ, "value")
	if err != nil {
		return 0, err
	}
	v := T(b & 0x0f)
	if !v.Valid() {
		return 0, ieErr(typ, ErrInvalidValue, "spare value %d", uint8(v))
	}
	return v, nil
}
