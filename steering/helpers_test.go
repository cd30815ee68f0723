package steering

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Shorthands for the tests of this package.
const (
	a3 = atsss.Access3GPP
	aN = atsss.AccessNon3GPP
	ms = time.Millisecond
)

// t0 is an arbitrary start; tests add offsets to it.
var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func leg(far uint32) atsss.Leg { return atsss.Leg{Present: true, FARID: far} }

func prioLeg(far uint32, p atsss.Priority) atsss.Leg {
	l := leg(far)
	l.Priority = atsss.OptionalPriority{Value: p, Set: true}
	return l
}

func weightLeg(far uint32, w uint8) atsss.Leg {
	l := leg(far)
	l.Weight = atsss.OptionalUint8{Value: w, Set: true}
	return l
}

// marAS is Active-Standby with the given priorities of the 3GPP and the
// non-3GPP access.
func marAS(p3, pn atsss.Priority) atsss.MAR {
	return atsss.MAR{ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeActiveStandby,
		Legs: [2]atsss.Leg{prioLeg(1, p3), prioLeg(2, pn)}}
}

func marSD() atsss.MAR {
	return atsss.MAR{ID: 2, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeSmallestDelay,
		Legs: [2]atsss.Leg{leg(1), leg(2)}}
}

func marLB(w3 uint8) atsss.MAR {
	return atsss.MAR{ID: 3, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeLoadBalancing,
		Legs: [2]atsss.Leg{weightLeg(1, w3), weightLeg(2, 100-w3)}}
}

func marPB(p3, pn atsss.Priority) atsss.MAR {
	return atsss.MAR{ID: 4, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModePriorityBased,
		Legs: [2]atsss.Leg{prioLeg(1, p3), prioLeg(2, pn)}}
}

// marRed is Redundant; without priorities when p3 == pn.
func marRed(p3, pn atsss.Priority) atsss.MAR {
	m := atsss.MAR{ID: 5, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeRedundant,
		Legs: [2]atsss.Leg{leg(1), leg(2)}}
	if p3 != pn {
		m.Legs[a3].Priority = atsss.OptionalPriority{Value: p3, Set: true}
		m.Legs[aN].Priority = atsss.OptionalPriority{Value: pn, Set: true}
	}
	return m
}

func withRTT(m atsss.MAR, rttMS uint16) atsss.MAR {
	m.Thresholds = &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: rttMS, Set: true}}
	return m
}

func withPLR(m atsss.MAR, pct uint8) atsss.MAR {
	m.Thresholds = &atsss.Thresholds{PLR: atsss.OptionalUint8{Value: pct, Set: true}}
	return m
}

func withSMI(m atsss.MAR, albi, ueai bool) atsss.MAR {
	m.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: albi, UEAssistance: ueai}
	return m
}

func without(m atsss.MAR, a atsss.AccessType) atsss.MAR {
	m.Legs[a] = atsss.Leg{}
	return m
}

func mustRule(tb testing.TB, m atsss.MAR) Rule {
	tb.Helper()
	r, err := NewRule(&m)
	if err != nil {
		tb.Fatalf("NewRule(%+v): %v", m, err)
	}
	return r
}

// avail names the availability of the two accesses.
type avail uint8

const (
	bothUp avail = iota
	down3        // the 3GPP access is down
	downN        // the non-3GPP access is down
	bothDown
)

func (v avail) String() string {
	return [...]string{"both-up", "3gpp-down", "non3gpp-down", "both-down"}[v]
}

// paths returns path state with the given availability, RTTs in ms
// (0: unmeasured) and losses in tenths of a percent (-1: unmeasured).
func paths(v avail, rtt3, rttN int, loss3, lossN int) [2]Path {
	var p [2]Path
	p[a3].LinkDown = v == down3 || v == bothDown
	p[aN].Unavailable = v == downN || v == bothDown
	if p[aN].Unavailable {
		p[aN].ReportedBy = SourcePMF
	}
	for a, x := range [2]int{rtt3, rttN} {
		p[a].RTT = time.Duration(x) * ms
	}
	for a, x := range [2]int{loss3, lossN} {
		if x >= 0 {
			p[a].Loss, p[a].LossKnown = LossRate(x), true
		}
	}
	return p
}

// dec builds an expected Decision.
func dec(s3, sn uint8, r3, rn Role, primary atsss.AccessType, why Reason) Decision {
	return Decision{Share: [2]uint8{s3, sn}, Role: [2]Role{r3, rn}, Primary: primary, Reason: why}
}
