package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

var thresholdsSuite = suite[atsss.Thresholds]{
	typ:   Thresholds,
	build: NewThresholds,
	parse: ParseThresholds,
	golden: []row[atsss.Thresholds]{
		// flags RTT|PLR, RTT 50 = 0x0032, PLR 5
		{"rtt and plr", atsss.Thresholds{RTT: u16(50), PLR: u8(5)}, "0120 0004 03 0032 05"},
		{"rtt", atsss.Thresholds{RTT: u16(300)}, "0120 0003 01 012c"},
		{"zero rtt", atsss.Thresholds{RTT: u16(0)}, "0120 0003 01 0000"},
		{"plr", atsss.Thresholds{PLR: u8(100)}, "0120 0002 02 64"},
	},
	decode: []row[atsss.Thresholds]{
		{"plr above 100 reads as 0", atsss.Thresholds{PLR: u8(0)}, "0120 0002 02 96"},
		{"spare flags", atsss.Thresholds{RTT: u16(50)}, "0120 0003 fd 0032"},
		{"trailing octet", atsss.Thresholds{RTT: u16(50), PLR: u8(5)}, "0120 0005 03 0032 05 ff"},
	},
	bad: []badRow{
		{"empty", "0120 0000", Thresholds, ErrInvalidLength},
		{"no flag", "0120 0001 00", Thresholds, ErrInvalidValue},
		{"short rtt", "0120 0002 01 00", Thresholds, ErrInvalidLength},
		{"no plr", "0120 0003 03 0032", Thresholds, ErrInvalidLength},
	},
}

var smiSuite = suite[atsss.SteeringModeIndicator]{
	typ:   SteeringModeIndicator,
	build: NewSteeringModeIndicator,
	parse: ParseSteeringModeIndicator,
	golden: []row[atsss.SteeringModeIndicator]{
		{"none", atsss.SteeringModeIndicator{}, "0121 0001 00"},
		{"albi", atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}, "0121 0001 01"},
		{"ueai", atsss.SteeringModeIndicator{UEAssistance: true}, "0121 0001 02"},
	},
	decode: []row[atsss.SteeringModeIndicator]{
		{"spare bits", atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}, "0121 0001 f9"},
	},
	bad: []badRow{
		{"albi and ueai", "0121 0001 03", SteeringModeIndicator, ErrInvalidValue},
		{"empty", "0121 0000", SteeringModeIndicator, ErrInvalidLength},
	},
}

var functionalitySuite = suite[atsss.SteeringFunctionality]{
	typ:   ie.SteeringFunctionality,
	build: NewSteeringFunctionality,
	parse: ParseSteeringFunctionality,
	golden: []row[atsss.SteeringFunctionality]{
		{"atsss-ll", atsss.FunctionalityATSSSLL, "00ab 0001 00"},
		{"mptcp", atsss.FunctionalityMPTCP, "00ab 0001 01"},
		{"mpquic-udp", atsss.FunctionalityMPQUICUDP, "00ab 0001 02"},
		{"mpquic-ip", atsss.FunctionalityMPQUICIP, "00ab 0001 03"},
		{"mpquic-e", atsss.FunctionalityMPQUICE, "00ab 0001 04"},
	},
	decode: []row[atsss.SteeringFunctionality]{
		{"spare bits", atsss.FunctionalityMPTCP, "00ab 0001 f1"},
	},
	bad: []badRow{
		{"spare value", "00ab 0001 05", ie.SteeringFunctionality, ErrInvalidValue},
		{"empty", "00ab 0000", ie.SteeringFunctionality, ErrInvalidLength},
	},
}

var modeSuite = suite[atsss.SteeringMode]{
	typ:   ie.SteeringMode,
	build: NewSteeringMode,
	parse: ParseSteeringMode,
	golden: []row[atsss.SteeringMode]{
		{"active-standby", atsss.ModeActiveStandby, "00ac 0001 00"},
		{"smallest delay", atsss.ModeSmallestDelay, "00ac 0001 01"},
		{"load balancing", atsss.ModeLoadBalancing, "00ac 0001 02"},
		{"priority-based", atsss.ModePriorityBased, "00ac 0001 03"},
		{"redundant", atsss.ModeRedundant, "00ac 0001 04"},
	},
	decode: []row[atsss.SteeringMode]{
		{"spare bits", atsss.ModeRedundant, "00ac 0001 84"},
	},
	bad: []badRow{
		{"spare value", "00ac 0001 05", ie.SteeringMode, ErrInvalidValue},
		{"largest spare value", "00ac 0001 0f", ie.SteeringMode, ErrInvalidValue},
		{"empty", "00ac 0000", ie.SteeringMode, ErrInvalidLength},
	},
}

var prioritySuite = suite[atsss.Priority]{
	typ:   ie.Priority,
	build: NewPriority,
	parse: ParsePriority,
	golden: []row[atsss.Priority]{
		{"active", atsss.PriorityActive, "00ae 0001 00"},
		{"standby", atsss.PriorityStandby, "00ae 0001 01"},
		{"no standby", atsss.PriorityNoStandby, "00ae 0001 02"},
		{"high", atsss.PriorityHigh, "00ae 0001 03"},
		{"low", atsss.PriorityLow, "00ae 0001 04"},
		{"primary", atsss.PriorityPrimary, "00ae 0001 05"},
		{"secondary", atsss.PrioritySecondary, "00ae 0001 06"},
	},
	decode: []row[atsss.Priority]{
		{"spare bits", atsss.PrioritySecondary, "00ae 0001 36"},
	},
	bad: []badRow{
		{"spare value", "00ae 0001 07", ie.Priority, ErrInvalidValue},
		{"empty", "00ae 0000", ie.Priority, ErrInvalidLength},
	},
}

func TestThresholds(t *testing.T)            { thresholdsSuite.run(t) }
func TestSteeringModeIndicator(t *testing.T) { smiSuite.run(t) }
func TestSteeringFunctionality(t *testing.T) { functionalitySuite.run(t) }
func TestSteeringMode(t *testing.T)          { modeSuite.run(t) }
func TestPriority(t *testing.T)              { prioritySuite.run(t) }

func u8(v uint8) atsss.OptionalUint8    { return atsss.OptionalUint8{Value: v, Set: true} }
func u16(v uint16) atsss.OptionalUint16 { return atsss.OptionalUint16{Value: v, Set: true} }
