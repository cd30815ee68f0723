package steering

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openatsss/atsss/atsss"
)

const (
	A = RoleActive
	B = RoleBackup
	D = RoleDown
	U = RoleUnused
)

var (
	pActive    = atsss.PriorityActive
	pStandby   = atsss.PriorityStandby
	pNoStandby = atsss.PriorityNoStandby
	pHigh      = atsss.PriorityHigh
	pLow       = atsss.PriorityLow
	pPrimary   = atsss.PriorityPrimary
	pSecondary = atsss.PrioritySecondary
)

// decideCase is one Decide call on a fresh State.
type decideCase struct {
	name string
	mar  atsss.MAR
	st   State
	want Decision
}

func st(p [2]Path) State { return State{Paths: p} }

func overflow(s3, sn uint8, primary atsss.AccessType, why Reason) Decision {
	d := dec(s3, sn, A, A, primary, why)
	d.Overflow = true
	return d
}

func duplicate(primary atsss.AccessType, why Reason) Decision {
	d := dec(100, 100, A, A, primary, why)
	d.Duplicate = true
	return d
}

func suspended(s State) State { s.DuplicationSuspended = true; return s }

func congested(s State, a atsss.AccessType) State { s.Paths[a].Congested = true; return s }

func uplink(s State) State { s.Direction = Uplink; return s }

func assist(s State, share3 uint8) State {
	s.Assist = UEAssistance{Active: true, Share3GPP: share3}
	return s
}

func withFn(m atsss.MAR, fn atsss.SteeringFunctionality) atsss.MAR { m.Functionality = fn; return m }

// decideCases covers every mode × availability × thresholds. RTTs in ms,
// losses in tenths of a percent (-1: not measured).
var decideCases = []decideCase{
	// Active-Standby: 3GPP active, non-3GPP standby.
	{"as/both-up", marAS(pActive, pStandby), st(paths(bothUp, 40, 10, -1, -1)), dec(100, 0, A, B, a3, ReasonActive)},
	{"as/3gpp-down", marAS(pActive, pStandby), st(paths(down3, 40, 10, -1, -1)), dec(0, 100, D, A, aN, ReasonStandby)},
	{"as/non3gpp-down", marAS(pActive, pStandby), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonActive)},
	{"as/both-down", marAS(pActive, pStandby), st(paths(bothDown, 40, 10, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"as/non3gpp-active/both-up", marAS(pStandby, pActive), st(paths(bothUp, 0, 0, -1, -1)), dec(0, 100, B, A, aN, ReasonActive)},
	{"as/non3gpp-active/non3gpp-down", marAS(pStandby, pActive), st(paths(downN, 0, 0, -1, -1)), dec(100, 0, A, D, a3, ReasonStandby)},
	{"as/non3gpp-active/3gpp-down", marAS(pStandby, pActive), st(paths(down3, 0, 0, -1, -1)), dec(0, 100, D, A, aN, ReasonActive)},
	{"as/no-standby/both-up", marAS(pActive, pNoStandby), st(paths(bothUp, 0, 0, -1, -1)), dec(100, 0, A, U, a3, ReasonActive)},
	{"as/no-standby/3gpp-down", marAS(pActive, pNoStandby), st(paths(down3, 0, 0, -1, -1)), dec(0, 0, D, U, a3, ReasonNoStandby)},
	{"as/no-standby/non3gpp-down", marAS(pActive, pNoStandby), st(paths(downN, 0, 0, -1, -1)), dec(100, 0, A, D, a3, ReasonActive)},
	{"as/no-standby/both-down", marAS(pActive, pNoStandby), st(paths(bothDown, 0, 0, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"as/standby-absent/both-up", without(marAS(pActive, pStandby), aN), st(paths(bothUp, 0, 0, -1, -1)), dec(100, 0, A, U, a3, ReasonActive)},
	{"as/standby-absent/3gpp-down", without(marAS(pActive, pStandby), aN), st(paths(down3, 0, 0, -1, -1)), dec(0, 0, D, U, a3, ReasonNoAccess)},
	{"as/atsss-ll/3gpp-down", withFn(marAS(pActive, pStandby), atsss.FunctionalityATSSSLL), st(paths(down3, 0, 0, -1, -1)), dec(0, 100, D, A, aN, ReasonStandby)},
	// Thresholds are not an Active-Standby parameter: the active access
	// stays active over them.
	{"as/threshold-ignored", withRTT(marAS(pActive, pStandby), 20), st(paths(bothUp, 40, 10, 500, 0)), dec(100, 0, A, B, a3, ReasonActive)},

	// Smallest Delay.
	{"sd/both-up/3gpp-lower", marSD(), st(paths(bothUp, 10, 40, -1, -1)), dec(100, 0, A, B, a3, ReasonLowerRTT)},
	{"sd/both-up/non3gpp-lower", marSD(), st(paths(bothUp, 40, 10, -1, -1)), dec(0, 100, B, A, aN, ReasonLowerRTT)},
	{"sd/both-up/equal", marSD(), st(paths(bothUp, 20, 20, -1, -1)), dec(100, 0, A, B, a3, ReasonLowerRTT)},
	{"sd/both-up/unmeasured", marSD(), st(paths(bothUp, 0, 0, -1, -1)), dec(100, 0, A, B, a3, ReasonRTTUnknown)},
	{"sd/both-up/only-non3gpp-measured", marSD(), st(paths(bothUp, 0, 30, -1, -1)), dec(0, 100, B, A, aN, ReasonRTTUnknown)},
	{"sd/3gpp-down", marSD(), st(paths(down3, 10, 40, -1, -1)), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
	{"sd/non3gpp-down", marSD(), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"sd/both-down", marSD(), st(paths(bothDown, 40, 10, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"sd/atsss-ll", withFn(marSD(), atsss.FunctionalityATSSSLL), st(paths(bothUp, 40, 10, -1, -1)), dec(0, 100, B, A, aN, ReasonLowerRTT)},
	{"sd/threshold-ignored", withRTT(marSD(), 5), st(paths(bothUp, 40, 10, -1, -1)), dec(0, 100, B, A, aN, ReasonLowerRTT)},
	{"sd/one-leg", without(marSD(), a3), st(paths(bothUp, 10, 40, -1, -1)), dec(0, 100, U, A, aN, ReasonOnlyAvailable)},

	// Load-Balancing, fixed weights.
	{"lb/both-up", marLB(70), st(paths(bothUp, 40, 10, -1, -1)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/3gpp-down", marLB(70), st(paths(down3, 40, 10, -1, -1)), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
	{"lb/non3gpp-down", marLB(70), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"lb/both-down", marLB(70), st(paths(bothDown, 40, 10, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"lb/0-100", marLB(0), st(paths(bothUp, 0, 0, -1, -1)), dec(0, 100, B, A, aN, ReasonWeights)},
	{"lb/0-100/non3gpp-down", marLB(0), st(paths(downN, 0, 0, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"lb/50-50", marLB(50), st(paths(bothUp, 0, 0, -1, -1)), dec(50, 50, A, A, a3, ReasonWeights)},
	{"lb/mptcp", withFn(marLB(30), atsss.FunctionalityMPTCP), st(paths(bothUp, 0, 0, -1, -1)), dec(30, 70, A, A, aN, ReasonWeights)},
	{"lb/mpquic", withFn(marLB(30), atsss.FunctionalityMPQUICUDP), st(paths(bothUp, 0, 0, -1, -1)), dec(30, 70, A, A, aN, ReasonWeights)},
	{"lb/100-0", withFn(marLB(100), atsss.FunctionalityMPTCP), st(paths(bothUp, 0, 0, -1, -1)), dec(100, 0, A, B, a3, ReasonWeights)},
	// Load-Balancing with thresholds (RTT 30 ms, PLR 2 %).
	{"lb/rtt/both-under", withRTT(marLB(70), 30), st(paths(bothUp, 10, 20, -1, -1)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/rtt/3gpp-over", withRTT(marLB(70), 30), st(paths(bothUp, 40, 10, -1, -1)), dec(0, 100, B, A, aN, ReasonOverThreshold)},
	{"lb/rtt/non3gpp-over", withRTT(marLB(70), 30), st(paths(bothUp, 10, 40, -1, -1)), dec(100, 0, A, B, a3, ReasonOverThreshold)},
	{"lb/rtt/at-threshold", withRTT(marLB(70), 30), st(paths(bothUp, 30, 10, -1, -1)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/rtt/both-over", withRTT(marLB(70), 30), st(paths(bothUp, 40, 40, -1, -1)), dec(70, 30, A, A, a3, ReasonBothOver)},
	{"lb/rtt/unmeasured", withRTT(marLB(70), 30), st(paths(bothUp, 0, 0, -1, -1)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/rtt/over-and-other-down", withRTT(marLB(70), 30), st(paths(downN, 10, 40, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"lb/rtt/over-but-only-one", withRTT(marLB(70), 30), st(paths(down3, 10, 40, -1, -1)), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
	{"lb/plr/non3gpp-over", withPLR(marLB(70), 2), st(paths(bothUp, 0, 0, 0, 30)), dec(100, 0, A, B, a3, ReasonOverThreshold)},
	{"lb/plr/at-threshold", withPLR(marLB(70), 2), st(paths(bothUp, 0, 0, 0, 20)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/plr/uplink-3gpp-over", withPLR(marLB(70), 2), uplink(st(paths(bothUp, 0, 0, 21, 0))), dec(0, 100, B, A, aN, ReasonOverThreshold)},
	// Load-Balancing with ALBI: weights as defaults, a split from RTT, loss
	// and congestion once both accesses are measured.
	{"lb/albi/unmeasured", withSMI(marLB(70), true, false), st(paths(bothUp, 0, 10, -1, -1)), dec(70, 30, A, A, a3, ReasonNoMeasurement)},
	{"lb/albi/rtt-40-10", withSMI(marLB(70), true, false), st(paths(bothUp, 40, 10, -1, -1)), dec(20, 80, A, A, aN, ReasonAutonomous)},
	{"lb/albi/loss", withSMI(marLB(70), true, false), st(paths(bothUp, 10, 10, 500, 0)), dec(35, 65, A, A, aN, ReasonAutonomous)},
	{"lb/albi/congested", withSMI(marLB(70), true, false), congested(st(paths(bothUp, 10, 10, -1, -1)), aN), dec(65, 35, A, A, a3, ReasonAutonomous)},
	{"lb/albi/clamped", withSMI(marLB(70), true, false), st(paths(bothUp, 1, 1000, -1, -1)), dec(90, 10, A, A, a3, ReasonAutonomous)},
	{"lb/albi/non3gpp-down", withSMI(marLB(70), true, false), st(paths(downN, 1, 1000, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	// Load-Balancing with UEAI: the UE's downlink split while in force.
	{"lb/ueai/assist", withSMI(marLB(70), false, true), assist(st(paths(bothUp, 0, 0, -1, -1)), 40), dec(40, 60, A, A, aN, ReasonUEAssistance)},
	{"lb/ueai/assist-0", withSMI(marLB(70), false, true), assist(st(paths(bothUp, 0, 0, -1, -1)), 0), dec(0, 100, B, A, aN, ReasonUEAssistance)},
	{"lb/ueai/no-assist", withSMI(marLB(70), false, true), st(paths(bothUp, 0, 0, -1, -1)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/ueai/uplink", withSMI(marLB(70), false, true), uplink(assist(st(paths(bothUp, 0, 0, -1, -1)), 40)), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/ueai/bad-share", withSMI(marLB(70), false, true), assist(st(paths(bothUp, 0, 0, -1, -1)), 101), dec(70, 30, A, A, a3, ReasonWeights)},
	{"lb/ueai/3gpp-down", withSMI(marLB(70), false, true), assist(st(paths(down3, 0, 0, -1, -1)), 90), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
	{"lb/assist-without-ueai", marLB(70), assist(st(paths(bothUp, 0, 0, -1, -1)), 40), dec(70, 30, A, A, a3, ReasonWeights)},

	// Priority-based: 3GPP high, non-3GPP low.
	{"pb/both-up", marPB(pHigh, pLow), st(paths(bothUp, 40, 10, -1, -1)), dec(100, 0, A, B, a3, ReasonHighPriority)},
	{"pb/3gpp-down", marPB(pHigh, pLow), st(paths(down3, 40, 10, -1, -1)), dec(0, 100, D, A, aN, ReasonHighDown)},
	{"pb/non3gpp-down", marPB(pHigh, pLow), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonHighPriority)},
	{"pb/both-down", marPB(pHigh, pLow), st(paths(bothDown, 40, 10, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"pb/non3gpp-high", marPB(pLow, pHigh), st(paths(bothUp, 0, 0, -1, -1)), dec(0, 100, B, A, aN, ReasonHighPriority)},
	{"pb/high-congested", marPB(pHigh, pLow), congested(st(paths(bothUp, 0, 0, -1, -1)), a3), overflow(50, 50, a3, ReasonCongested)},
	{"pb/low-congested", marPB(pHigh, pLow), congested(st(paths(bothUp, 0, 0, -1, -1)), aN), dec(100, 0, A, B, a3, ReasonHighPriority)},
	{"pb/high-congested/low-down", marPB(pHigh, pLow), congested(st(paths(downN, 0, 0, -1, -1)), a3), dec(100, 0, A, D, a3, ReasonHighPriority)},
	{"pb/high-congested/high-down", marPB(pHigh, pLow), congested(st(paths(down3, 0, 0, -1, -1)), a3), dec(0, 100, D, A, aN, ReasonHighDown)},
	// Priority-based with thresholds.
	{"pb/rtt/high-under", withRTT(marPB(pHigh, pLow), 30), st(paths(bothUp, 20, 10, -1, -1)), dec(100, 0, A, B, a3, ReasonHighPriority)},
	{"pb/rtt/high-over", withRTT(marPB(pHigh, pLow), 30), st(paths(bothUp, 40, 10, -1, -1)), overflow(50, 50, a3, ReasonHighOver)},
	{"pb/rtt/both-over", withRTT(marPB(pHigh, pLow), 30), st(paths(bothUp, 40, 50, -1, -1)), dec(100, 0, A, B, a3, ReasonHighPriority)},
	{"pb/rtt/low-over", withRTT(marPB(pHigh, pLow), 30), st(paths(bothUp, 20, 50, -1, -1)), dec(100, 0, A, B, a3, ReasonHighPriority)},
	{"pb/rtt/high-over/low-down", withRTT(marPB(pHigh, pLow), 30), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonHighPriority)},
	{"pb/plr/high-over", withPLR(marPB(pLow, pHigh), 1), st(paths(bothUp, 0, 0, 0, 15)), overflow(50, 50, aN, ReasonHighOver)},
	{"pb/atsss-ll/high-over", withFn(withRTT(marPB(pHigh, pLow), 30), atsss.FunctionalityATSSSLL), st(paths(bothUp, 40, 10, -1, -1)), overflow(50, 50, a3, ReasonHighOver)},

	// Redundant: 3GPP primary, non-3GPP secondary.
	{"red/both-up", marRed(pPrimary, pSecondary), st(paths(bothUp, 0, 0, -1, -1)), duplicate(a3, ReasonDuplicate)},
	{"red/3gpp-down", marRed(pPrimary, pSecondary), st(paths(down3, 0, 0, -1, -1)), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
	{"red/non3gpp-down", marRed(pPrimary, pSecondary), st(paths(downN, 0, 0, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"red/both-down", marRed(pPrimary, pSecondary), st(paths(bothDown, 0, 0, -1, -1)), dec(0, 0, D, D, a3, ReasonNoAccess)},
	{"red/suspended", marRed(pPrimary, pSecondary), suspended(st(paths(bothUp, 0, 0, -1, -1))), dec(100, 0, A, B, a3, ReasonSuspended)},
	{"red/non3gpp-primary", marRed(pSecondary, pPrimary), st(paths(bothUp, 0, 0, -1, -1)), duplicate(aN, ReasonDuplicate)},
	{"red/non3gpp-primary/suspended", marRed(pSecondary, pPrimary), suspended(st(paths(bothUp, 0, 0, -1, -1))), dec(0, 100, B, A, aN, ReasonSuspended)},
	{"red/no-priority", marRed(pPrimary, pPrimary), st(paths(bothUp, 0, 0, -1, -1)), duplicate(a3, ReasonDuplicate)},
	{"red/only-secondary-named", func() atsss.MAR {
		m := marRed(pPrimary, pPrimary)
		m.Legs[a3].Priority = atsss.OptionalPriority{Value: pSecondary, Set: true}
		return m
	}(), suspended(st(paths(bothUp, 0, 0, -1, -1))), dec(0, 100, B, A, aN, ReasonSuspended)},
	{"red/one-leg", without(marRed(pPrimary, pSecondary), aN), st(paths(bothUp, 0, 0, -1, -1)), dec(100, 0, A, U, a3, ReasonOnlyAvailable)},
	// Redundant with a threshold: duplicate only while over it.
	{"red/rtt/primary-under", withRTT(marRed(pPrimary, pSecondary), 30), st(paths(bothUp, 20, 10, -1, -1)), dec(100, 0, A, B, a3, ReasonUnderThr)},
	{"red/rtt/primary-over", withRTT(marRed(pPrimary, pSecondary), 30), st(paths(bothUp, 40, 10, -1, -1)), duplicate(a3, ReasonThresholdDup)},
	{"red/rtt/secondary-over", withRTT(marRed(pPrimary, pSecondary), 30), st(paths(bothUp, 20, 40, -1, -1)), dec(100, 0, A, B, a3, ReasonUnderThr)},
	{"red/rtt/no-priority/either-over", withRTT(marRed(pPrimary, pPrimary), 30), st(paths(bothUp, 20, 40, -1, -1)), duplicate(a3, ReasonThresholdDup)},
	{"red/rtt/primary-over/suspended", withRTT(marRed(pPrimary, pSecondary), 30), suspended(st(paths(bothUp, 40, 10, -1, -1))), dec(100, 0, A, B, a3, ReasonSuspended)},
	{"red/rtt/primary-over/secondary-down", withRTT(marRed(pPrimary, pSecondary), 30), st(paths(downN, 40, 10, -1, -1)), dec(100, 0, A, D, a3, ReasonOnlyAvailable)},
	{"red/plr/primary-over", withPLR(marRed(pPrimary, pSecondary), 1), st(paths(bothUp, 0, 0, 11, 0)), duplicate(a3, ReasonThresholdDup)},
	{"red/plr/primary-under", withPLR(marRed(pPrimary, pSecondary), 1), uplink(st(paths(bothUp, 0, 0, 10, 90))), dec(100, 0, A, B, a3, ReasonUnderThr)},
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRule(t, tc.mar)
			s := tc.st
			got := Decide(&r, &s, t0)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
			checkInvariants(t, tc.mar, s, got)
			// Deciding again on the same inputs changes nothing: no
			// hysteresis is pending on a first decision.
			again := Decide(&r, &s, t0)
			if again != got {
				t.Errorf("second Decide() = %v, want %v", again, got)
			}
		})
	}
}

func TestDecideZeroRule(t *testing.T) {
	want := dec(0, 0, U, U, a3, ReasonNoLeg)
	for _, r := range []*Rule{{}, nil} {
		if got := Decide(r, &State{}, t0); got != want {
			t.Errorf("Decide(%v) = %v, want %v", r, got, want)
		}
	}
}
