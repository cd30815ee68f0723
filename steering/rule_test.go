package steering

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openatsss/atsss/atsss"
)

func TestNewRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		mar  atsss.MAR
		want Rule
	}{
		{"as", marAS(pActive, pStandby), Rule{id: 1, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeActiveStandby,
			present: [2]bool{true, true}, first: a3, fallback: true}},
		{"as/non3gpp-active/no-standby", marAS(pNoStandby, pActive), Rule{id: 1, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeActiveStandby,
			present: [2]bool{true, true}, first: aN}},
		{"as/thresholds-dropped", withRTT(without(marAS(pStandby, pActive), a3), 30), Rule{id: 1, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeActiveStandby,
			present: [2]bool{false, true}, first: aN}},
		{"sd/thresholds-dropped", withPLR(marSD(), 3), Rule{id: 2, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeSmallestDelay,
			present: [2]bool{true, true}}},
		{"lb/thresholds", withRTT(marLB(70), 30), Rule{id: 3, fn: atsss.FunctionalityATSSSLL, mode: atsss.ModeLoadBalancing,
			present: [2]bool{true, true}, weight: [2]uint8{70, 30}, thr: thresholds{rtt: 30, rttSet: true}}},
		{"lb/ueai", withSMI(marLB(20), false, true), Rule{id: 3, fn: atsss.FunctionalityATSSSLL, mode: atsss.ModeLoadBalancing,
			present: [2]bool{true, true}, weight: [2]uint8{20, 80}, ueai: true}},
		{"lb/non3gpp-only", without(withSMI(marLB(0), true, false), a3), Rule{id: 3, fn: atsss.FunctionalityATSSSLL, mode: atsss.ModeLoadBalancing,
			present: [2]bool{false, true}, first: aN, weight: [2]uint8{0, 100}, albi: true}},
		{"pb", withPLR(marPB(pLow, pHigh), 2), Rule{id: 4, fn: atsss.FunctionalityMPTCP, mode: atsss.ModePriorityBased,
			present: [2]bool{true, true}, first: aN, thr: thresholds{plr: 2, plrSet: true}}},
		{"pb/low-only", without(marPB(pHigh, pLow), a3), Rule{id: 4, fn: atsss.FunctionalityMPTCP, mode: atsss.ModePriorityBased,
			present: [2]bool{false, true}, first: aN}},
		{"red", marRed(pSecondary, pPrimary), Rule{id: 5, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeRedundant,
			present: [2]bool{true, true}, first: aN, prioritized: true}},
		{"red/no-priorities", withRTT(marRed(pPrimary, pPrimary), 30), Rule{id: 5, fn: atsss.FunctionalityMPTCP, mode: atsss.ModeRedundant,
			present: [2]bool{true, true}, first: a3, thr: thresholds{rtt: 30, rttSet: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewRule(&tc.mar)
			if err != nil {
				t.Fatalf("NewRule: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Rule{}, thresholds{})); diff != "" {
				t.Errorf("NewRule mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRuleErrors(t *testing.T) {
	edit := func(m atsss.MAR, f func(*atsss.MAR)) atsss.MAR { f(&m); return m }
	for _, tc := range []struct {
		name     string
		mar      atsss.MAR
		field    string
		sentinel error
	}{
		{"functionality", edit(marSD(), func(m *atsss.MAR) { m.Functionality = 9 }), "steering_functionality", atsss.ErrInvalidValue},
		{"mode", edit(marSD(), func(m *atsss.MAR) { m.Mode = 9 }), "steering_mode", atsss.ErrInvalidValue},
		{"redundant-atsss-ll", withFn(marRed(pPrimary, pSecondary), atsss.FunctionalityATSSSLL), "steering_mode", atsss.ErrConflict},
		{"no-legs", without(without(marSD(), a3), aN), "legs", atsss.ErrMissingField},
		{"as/no-active", marAS(pStandby, pNoStandby), "legs.priority", atsss.ErrInvalidValue},
		{"as/both-active", marAS(pActive, pActive), "legs.priority", atsss.ErrInvalidValue},
		{"as/high", marAS(pActive, pHigh), "legs.priority", atsss.ErrInvalidValue},
		{"as/unset", edit(marAS(pActive, pStandby), func(m *atsss.MAR) { m.Legs[aN].Priority = atsss.OptionalPriority{} }), "legs.priority", atsss.ErrInvalidValue},
		{"pb/both-high", marPB(pHigh, pHigh), "legs.priority", atsss.ErrInvalidValue},
		{"pb/both-low", marPB(pLow, pLow), "legs.priority", atsss.ErrInvalidValue},
		{"pb/unset", edit(marPB(pHigh, pLow), func(m *atsss.MAR) { m.Legs[a3].Priority = atsss.OptionalPriority{} }), "legs.priority", atsss.ErrInvalidValue},
		{"pb/active", marPB(pActive, pLow), "legs.priority", atsss.ErrInvalidValue},
		{"red/both-primary", edit(marRed(pPrimary, pSecondary), func(m *atsss.MAR) { m.Legs[aN].Priority.Value = pPrimary }), "legs.priority", atsss.ErrInvalidValue},
		{"lb/weight-unset", edit(marLB(70), func(m *atsss.MAR) { m.Legs[aN].Weight = atsss.OptionalUint8{} }), "legs[non3gpp].weight", atsss.ErrInvalidValue},
		{"lb/weight-over-100", edit(marLB(70), func(m *atsss.MAR) { m.Legs[a3].Weight.Value = 170 }), "legs[3gpp].weight", atsss.ErrInvalidValue},
		{"lb/sum", edit(marLB(70), func(m *atsss.MAR) { m.Legs[aN].Weight.Value = 20 }), "legs.weight", atsss.ErrInvalidValue},
		{"lb/smi-both", withSMI(marLB(70), true, true), "smi", atsss.ErrConflict},
		{"lb/smi-and-thresholds", withSMI(withRTT(marLB(70), 30), true, false), "thresholds", atsss.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRule(&tc.mar)
			var re *atsss.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("NewRule() = %v, want an *atsss.RuleError", err)
			}
			if re.Rule != atsss.RuleMAR || re.ID != uint32(tc.mar.ID) || re.Field != tc.field || !errors.Is(err, tc.sentinel) {
				t.Errorf("NewRule() = %v (field %q), want MAR %d field %q wrapping %v", err, re.Field, tc.mar.ID, tc.field, tc.sentinel)
			}
		})
	}
}

func TestNewRuleNil(t *testing.T) {
	if _, err := NewRule(nil); err == nil {
		t.Fatal("NewRule(nil) succeeded")
	}
}

func TestAccessors(t *testing.T) {
	m := without(withFn(marLB(100), atsss.FunctionalityMPTCP), aN)
	r := mustRule(t, m)
	if r.MARID() != m.ID || r.Mode() != atsss.ModeLoadBalancing || r.Functionality() != atsss.FunctionalityMPTCP {
		t.Errorf("MARID, Mode, Functionality = %d, %v, %v", r.MARID(), r.Mode(), r.Functionality())
	}
	if !r.Uses(a3) || r.Uses(aN) || r.Uses(7) {
		t.Errorf("Uses(3gpp, non3gpp, 7) = %v, %v, %v; want true, false, false", r.Uses(a3), r.Uses(aN), r.Uses(7))
	}
	d := dec(0, 100, B, A, aN, ReasonStandby)
	if d.Uses(a3) || !d.Uses(aN) || d.Uses(7) || !d.Backup(a3) || d.Backup(aN) || d.Backup(7) {
		t.Errorf("Uses/Backup of %v wrong", d)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Downlink.String(), "downlink"},
		{Uplink.String(), "uplink"},
		{Direction(7).String(), "direction(7)"},
		{SourceLink.String(), "link"},
		{Source(9).String(), "source(9)"},
		{RoleBackup.String(), "backup"},
		{ReasonNone.String(), "none"},
		{Reason(200).String(), "reason(200)"},
		{Role(9).String(), "role(9)"},
		{duplicate(a3, ReasonDuplicate).String(), "3gpp 100% active, non3gpp 100% active duplicate (duplicating on both accesses)"},
		{overflow(50, 50, a3, ReasonCongested).String(), "3gpp 50% active, non3gpp 50% active overflow (overflow: high priority access congested)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestPathAvailability(t *testing.T) {
	var p Path
	if !p.Available() || p.DownBy() != SourceNone {
		t.Fatalf("zero Path: available %v, down by %v", p.Available(), p.DownBy())
	}
	p.Report(SourceN4, false)
	p.Report(SourceLink, false)
	if p.Available() || p.DownBy() != SourceLink {
		t.Fatalf("link down and N4 unavailable: available %v, down by %v", p.Available(), p.DownBy())
	}
	p.Report(SourceLink, true)
	if p.Available() || p.DownBy() != SourceN4 {
		t.Fatalf("N4 unavailable: available %v, down by %v", p.Available(), p.DownBy())
	}
	p.Report(SourceNone, true)
	if p.Available() {
		t.Fatal("a SourceNone event changed availability")
	}
	p.Report(SourcePMF, true)
	if !p.Available() || p.DownBy() != SourceNone {
		t.Fatalf("PMF available: available %v, down by %v", p.Available(), p.DownBy())
	}
}
