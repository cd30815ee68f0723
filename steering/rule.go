package steering

import (
	"errors"
	"fmt"

	"github.com/openatsss/atsss/atsss"
)

// Rule is a MAR reduced to what steering needs, with the priorities already
// resolved into "which access comes first". Build one with NewRule when a MAR
// is created or updated and keep it next to the MAR: it is a small comparable
// value with no pointers, so Decide does no nil checks and no lookups, and
// State can tell that the MAR changed (its hysteresis memory is then reset).
//
// The zero Rule has no access and decides that nothing is sent.
type Rule struct {
	id   uint16
	fn   atsss.SteeringFunctionality
	mode atsss.SteeringMode
	// present: the MAR has forwarding information for the access.
	present [2]bool
	// first is the access the mode prefers: the Active access
	// (Active-Standby), the High priority access (Priority-based), the
	// Primary access (Redundant). Otherwise, and for Redundant without
	// priorities, it is the 3GPP access when present (our tie-breaker).
	first atsss.AccessType
	// fallback: in Active-Standby the other access is a Standby access
	// (false for No Standby, TS 29.244 §8.2.127).
	fallback bool
	// prioritized: Redundant with Primary/Secondary priorities.
	prioritized bool
	weight      [2]uint8 // Load-Balancing only, summing to 100 over present accesses
	thr         thresholds
	albi, ueai  bool // Steering Mode Indicator (TS 29.244 §8.2.197)
}

// thresholds are the MAR's Thresholds (TS 29.244 §8.2.196): RTT in
// milliseconds, PLR in whole percent.
type thresholds struct {
	rtt    uint16
	plr    uint8
	rttSet bool
	plrSet bool
}

func (t thresholds) any() bool { return t.rttSet || t.plrSet }

// NewRule checks m for what Decide relies on and returns its Rule. It is
// the subset of atsss.Session.Validate's MAR checks that steering depends
// on, so a MAR from the store always passes; the error is an
// *atsss.RuleError for a MAR that did not come through Validate.
//
// Thresholds are applied in Load-Balancing, Priority-based and Redundant
// mode, the modes that list them among their parameters (TS 23.501
// §5.32.8, TS 29.244 §7.5.2.8); in Active-Standby and Smallest Delay they
// are left out of the Rule. NewRule is safe for concurrent use and does not
// keep m.
func NewRule(m *atsss.MAR) (Rule, error) {
	if m == nil {
		return Rule{}, errors.New("new steering rule: nil MAR")
	}
	fail := func(field string, sentinel error, format string, args ...any) (Rule, error) {
		return Rule{}, &atsss.RuleError{Rule: atsss.RuleMAR, ID: uint32(m.ID), Field: field,
			Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
	}
	r := Rule{id: m.ID, fn: m.Functionality, mode: m.Mode}
	switch {
	case !m.Functionality.Valid():
		return fail("steering_functionality", atsss.ErrInvalidValue, "%v", m.Functionality)
	case !m.Mode.Valid():
		return fail("steering_mode", atsss.ErrInvalidValue, "%v", m.Mode)
	case m.Mode == atsss.ModeRedundant && m.Functionality == atsss.FunctionalityATSSSLL:
		// TS 29.244 §5.20.1: no duplication with ATSSS-LL.
		return fail("steering_mode", atsss.ErrConflict, "redundant steering is not allowed with ATSSS-LL")
	case m.Thresholds != nil && m.SMI != nil:
		// TS 29.244 §7.5.2.8: mutually exclusive, so neither wins.
		return fail("thresholds", atsss.ErrConflict, "thresholds and steering mode indicator are mutually exclusive")
	}
	prio := [2]atsss.Priority{}
	prioSet := [2]bool{}
	for _, a := range atsss.Accesses {
		l := &m.Legs[a]
		r.present[a] = l.Present
		if !l.Present {
			continue
		}
		prio[a], prioSet[a] = l.Priority.Value, l.Priority.Set
		if l.Weight.Set {
			r.weight[a] = l.Weight.Value
		}
	}
	if !r.present[atsss.Access3GPP] && !r.present[atsss.AccessNon3GPP] {
		return fail("legs", atsss.ErrMissingField, "no access forwarding action information")
	}
	r.first = firstPresent(r.present)
	var err error
	switch m.Mode {
	case atsss.ModeActiveStandby:
		err = r.setActiveStandby(prio, prioSet)
	case atsss.ModePriorityBased:
		err = r.setFirst(prio, prioSet, atsss.PriorityHigh, atsss.PriorityLow, true)
	case atsss.ModeRedundant:
		if prioSet[0] || prioSet[1] {
			r.prioritized = true
			err = r.setFirst(prio, prioSet, atsss.PriorityPrimary, atsss.PrioritySecondary, false)
		}
	case atsss.ModeLoadBalancing:
		sum := 0
		for _, a := range atsss.Accesses {
			if r.present[a] {
				if !m.Legs[a].Weight.Set || r.weight[a] > 100 {
					return fail(legField(a, "weight"), atsss.ErrInvalidValue, "load-balancing needs a weight 0..100 per access")
				}
				sum += int(r.weight[a])
			}
		}
		if sum != 100 {
			return fail("legs.weight", atsss.ErrInvalidValue, "weights sum to %d, want 100", sum)
		}
	}
	if err != nil {
		return fail("legs.priority", atsss.ErrInvalidValue, "%v", err)
	}
	if smi := m.SMI; smi != nil && m.Mode == atsss.ModeLoadBalancing {
		if smi.AutonomousLoadBalancing && smi.UEAssistance {
			return fail("smi", atsss.ErrConflict, "ALBI and UEAI are never both set")
		}
		r.albi, r.ueai = smi.AutonomousLoadBalancing, smi.UEAssistance
	}
	if t := m.Thresholds; t != nil {
		switch m.Mode {
		case atsss.ModeLoadBalancing, atsss.ModePriorityBased, atsss.ModeRedundant:
			r.thr = thresholds{rtt: t.RTT.Value, rttSet: t.RTT.Set, plr: t.PLR.Value, plrSet: t.PLR.Set}
		}
	}
	return r, nil
}

// setActiveStandby finds the Active access; the other is a fallback only
// with the Standby priority.
func (r *Rule) setActiveStandby(prio [2]atsss.Priority, set [2]bool) error {
	active := -1
	for _, a := range atsss.Accesses {
		if !r.present[a] {
			continue
		}
		if !set[a] {
			return fmt.Errorf("%v access has no priority", a)
		}
		switch prio[a] {
		case atsss.PriorityActive:
			if active >= 0 {
				return fmt.Errorf("both accesses are active")
			}
			active = int(a)
		case atsss.PriorityStandby, atsss.PriorityNoStandby:
		default:
			return fmt.Errorf("%v is not an active-standby priority", prio[a])
		}
	}
	if active < 0 {
		return fmt.Errorf("active-standby needs an active access")
	}
	r.first = atsss.AccessType(active)
	o := r.first.Other()
	r.fallback = r.present[o] && prio[o] == atsss.PriorityStandby
	return nil
}

// setFirst finds the access with priority hi. Without one, the access that
// is not lo comes first, or the 3GPP access when neither says. With
// required, every present access must carry a priority.
func (r *Rule) setFirst(prio [2]atsss.Priority, set [2]bool, hi, lo atsss.Priority, required bool) error {
	r.first = firstPresent(r.present)
	var count [2]int // of hi, lo
	var low atsss.AccessType
	for _, a := range atsss.Accesses {
		switch {
		case !r.present[a]:
		case !set[a] && required:
			return fmt.Errorf("%v access has no priority", a)
		case !set[a]:
		case prio[a] == hi:
			count[0]++
			r.first = a
		case prio[a] == lo:
			count[1]++
			low = a
		default:
			return fmt.Errorf("%v is not %v or %v", prio[a], hi, lo)
		}
	}
	switch {
	case count[0] > 1:
		return fmt.Errorf("both accesses are %v", hi)
	case count[1] > 1:
		return fmt.Errorf("both accesses are %v", lo)
	case count[0] == 0 && count[1] == 1 && r.present[low.Other()]:
		r.first = low.Other()
	}
	return nil
}

func firstPresent(present [2]bool) atsss.AccessType {
	if present[atsss.Access3GPP] {
		return atsss.Access3GPP
	}
	return atsss.AccessNon3GPP
}

func legField(a atsss.AccessType, field string) string {
	return fmt.Sprintf("legs[%v].%s", a, field)
}

// MARID returns the ID of the MAR the rule was built from.
func (r Rule) MARID() uint16 { return r.id }

// Mode returns the rule's steering mode.
func (r Rule) Mode() atsss.SteeringMode { return r.mode }

// Functionality returns the rule's steering functionality.
func (r Rule) Functionality() atsss.SteeringFunctionality { return r.fn }

// Uses reports whether the MAR has forwarding information for access a.
func (r Rule) Uses(a atsss.AccessType) bool { return a.Valid() && r.present[a] }
