package atsss

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// RuleType names a kind of rule. The values are the Rule ID Type of the
// Failed Rule ID IE (TS 29.244 §8.2.80), so the N4 server can report them.
type RuleType uint8

const (
	RulePDR RuleType = 0
	RuleFAR RuleType = 1
	RuleQER RuleType = 2
	RuleURR RuleType = 3
	RuleBAR RuleType = 4
	RuleMAR RuleType = 5
	RuleSRR RuleType = 6
)

var ruleTypeNames = [...]string{"PDR", "FAR", "QER", "URR", "BAR", "MAR", "SRR"}

func (t RuleType) String() string {
	if int(t) < len(ruleTypeNames) {
		return ruleTypeNames[t]
	}
	return fmt.Sprintf("rule(%d)", uint8(t))
}

// RuleError says which rule of a session broke which validation rule, and in
// which field. The N4 server answers it with Cause 73 and a Failed Rule ID.
type RuleError struct {
	Rule  RuleType
	ID    uint32
	Field string // e.g. "legs.weight", "far_id"
	Err   error  // one of the Err* sentinels below, wrapped with detail
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%v %d: %s: %v", e.Rule, e.ID, e.Field, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Sentinels that RuleError wraps; callers branch on them with errors.Is.
var (
	ErrDuplicateRule    = errors.New("rule ID used twice")
	ErrUnknownReference = errors.New("references a rule that does not exist")
	ErrMissingField     = errors.New("required field missing")
	ErrInvalidValue     = errors.New("invalid value")
	ErrConflict         = errors.New("conflicting fields")
)

func ruleErr(t RuleType, id uint32, field string, sentinel error, format string, args ...any) *RuleError {
	return &RuleError{Rule: t, ID: id, Field: field, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// Validate checks the session against the rules of TS 29.244 for an MA PDU
// session and returns the first violation as a *RuleError. It checks every
// rule, not only changed ones, so a session that passes is whole.
func (s *Session) Validate() error {
	for _, check := range []func() error{s.uniqueIDs, s.validatePDRs, s.validateFARs, s.validateMARs} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) uniqueIDs() error {
	if err := unique(s.PDRs, RulePDR, func(r PDR) uint32 { return uint32(r.ID) }); err != nil {
		return err
	}
	if err := unique(s.FARs, RuleFAR, func(r FAR) uint32 { return r.ID }); err != nil {
		return err
	}
	if err := unique(s.QERs, RuleQER, func(r QER) uint32 { return r.ID }); err != nil {
		return err
	}
	if err := unique(s.URRs, RuleURR, func(r URR) uint32 { return r.ID }); err != nil {
		return err
	}
	if err := unique(s.MARs, RuleMAR, func(r MAR) uint32 { return uint32(r.ID) }); err != nil {
		return err
	}
	return unique(s.SRRs, RuleSRR, func(r SRR) uint32 { return uint32(r.ID) })
}

func unique[T any](rules []T, t RuleType, id func(T) uint32) error {
	seen := make(map[uint32]struct{}, len(rules))
	for _, r := range rules {
		k := id(r)
		if _, dup := seen[k]; dup {
			return ruleErr(t, k, "id", ErrDuplicateRule, "%v ID %d", t, k)
		}
		seen[k] = struct{}{}
	}
	return nil
}

func (s *Session) validatePDRs() error {
	for i := range s.PDRs {
		p := &s.PDRs[i]
		id := uint32(p.ID)
		if !p.PDI.SourceInterface.Valid() {
			return ruleErr(RulePDR, id, "pdi.source_interface", ErrInvalidValue, "%v", p.PDI.SourceInterface)
		}
		// A Flow Description the data planes cannot read is refused at N4
		// time, not found when a connection arrives (TS 29.212 §5.4.2).
		for j, f := range p.PDI.SDFFilters {
			if f.FlowDescription == "" {
				continue
			}
			if _, err := ParseFlowDescription(f.FlowDescription); err != nil {
				return ruleErr(RulePDR, id, fmt.Sprintf("pdi.sdf_filters[%d].flow_description", j), ErrInvalidValue, "%v", err)
			}
		}
		// The FAR ID is conditional on the MAR ID being absent (TS 29.244
		// Table 7.5.2.2-1): a PDR names exactly one of them.
		switch {
		case p.FARID.Set && p.MARID.Set:
			return ruleErr(RulePDR, id, "far_id", ErrConflict, "a PDR has a FAR ID or a MAR ID, not both")
		case !p.FARID.Set && !p.MARID.Set:
			return ruleErr(RulePDR, id, "far_id", ErrMissingField, "a PDR needs a FAR ID or a MAR ID")
		case p.FARID.Set && s.FAR(p.FARID.Value) == nil:
			return ruleErr(RulePDR, id, "far_id", ErrUnknownReference, "FAR %d", p.FARID.Value)
		case p.MARID.Set && s.MAR(p.MARID.Value) == nil:
			return ruleErr(RulePDR, id, "mar_id", ErrUnknownReference, "MAR %d", p.MARID.Value)
		case p.MARID.Set && p.Uplink():
			return ruleErr(RulePDR, id, "mar_id", ErrInvalidValue, "a MAR steers downlink: PDR with source interface access cannot name MAR %d", p.MARID.Value)
		}
		for _, q := range p.QERIDs {
			qer := s.QER(q)
			if qer == nil {
				return ruleErr(RulePDR, id, "qer_ids", ErrUnknownReference, "QER %d", q)
			}
			// GBR traffic is never split: a GBR DL PDR names a MAR only in
			// redundant mode, else a FAR (TS 29.244 §5.20.1, TS 23.501 §5.32.4).
			if p.MARID.Set && (qer.GBRUL != 0 || qer.GBRDL != 0) {
				if m := s.MAR(p.MARID.Value); m.Mode != ModeRedundant {
					return ruleErr(RulePDR, id, "mar_id", ErrConflict, "GBR traffic (QER %d) may use a MAR only in redundant mode, MAR %d is %v", q, m.ID, m.Mode)
				}
			}
		}
		for _, u := range p.URRIDs {
			if s.URR(u) == nil {
				return ruleErr(RulePDR, id, "urr_ids", ErrUnknownReference, "URR %d", u)
			}
		}
	}
	return nil
}

func (s *Session) validateFARs() error {
	for i := range s.FARs {
		f := &s.FARs[i]
		// TS 29.244 §8.2.26: exactly one of DROP, FORW and BUFF.
		if bits.OnesCount16(uint16(f.ApplyAction&(ActionDrop|ActionForw|ActionBuff))) != 1 {
			return ruleErr(RuleFAR, f.ID, "apply_action", ErrInvalidValue, "%v: exactly one of DROP, FORW, BUFF is required", f.ApplyAction)
		}
		if f.ApplyAction&ActionForw != 0 && f.Forwarding == nil {
			return ruleErr(RuleFAR, f.ID, "forwarding_parameters", ErrMissingField, "FORW needs forwarding parameters")
		}
		if f.Forwarding != nil && !f.Forwarding.DestinationInterface.Valid() {
			return ruleErr(RuleFAR, f.ID, "forwarding_parameters.destination_interface", ErrInvalidValue, "%v", f.Forwarding.DestinationInterface)
		}
	}
	return nil
}

func (s *Session) validateMARs() error {
	for i := range s.MARs {
		if err := s.validateMAR(&s.MARs[i]); err != nil {
			return err
		}
	}
	return nil
}

// validateMAR enforces TS 29.244 §5.20, §7.5.2.8 and §8.2.123–127.
func (s *Session) validateMAR(m *MAR) error {
	id := uint32(m.ID)
	fail := func(field string, sentinel error, format string, args ...any) error {
		return ruleErr(RuleMAR, id, field, sentinel, format, args...)
	}
	if !m.Functionality.Valid() {
		return fail("steering_functionality", ErrInvalidValue, "%v", m.Functionality)
	}
	if !m.Mode.Valid() {
		return fail("steering_mode", ErrInvalidValue, "%v", m.Mode)
	}
	if m.Mode == ModeRedundant && m.Functionality == FunctionalityATSSSLL {
		return fail("steering_mode", ErrConflict, "redundant steering is not allowed with ATSSS-LL")
	}
	if m.TransportMode.Set && !m.Functionality.IsMPQUIC() {
		return fail("transport_mode", ErrConflict, "transport mode applies to MPQUIC only, not %v", m.Functionality)
	}
	if m.Thresholds != nil && m.SMI != nil {
		return fail("thresholds", ErrConflict, "thresholds and steering mode indicator are mutually exclusive")
	}
	if err := s.validateLegs(m, fail); err != nil {
		return err
	}
	if err := validateModeParams(m, fail); err != nil {
		return err
	}
	// A leg's URRs report per access; they must differ from the URRs of the
	// PDRs that use this MAR (TS 29.244 Table 7.5.2.8-2).
	for pi := range s.PDRs {
		p := &s.PDRs[pi]
		if !p.MARID.Set || p.MARID.Value != m.ID {
			continue
		}
		for a, leg := range m.Legs {
			for _, u := range leg.URRIDs {
				for _, pu := range p.URRIDs {
					if u == pu {
						return fail(legField(a, "urr_ids"), ErrConflict, "URR %d is also a URR of PDR %d", u, p.ID)
					}
				}
			}
		}
	}
	return nil
}

func legField(a int, field string) string {
	return fmt.Sprintf("legs[%v].%s", AccessType(a), field)
}

func (s *Session) validateLegs(m *MAR, fail func(string, error, string, ...any) error) error {
	present := 0
	for a, leg := range m.Legs {
		if !leg.Present {
			continue
		}
		present++
		f := s.FAR(leg.FARID)
		if f == nil {
			return fail(legField(a, "far_id"), ErrUnknownReference, "FAR %d", leg.FARID)
		}
		// TS 29.244 §5.20.1: a FAR of a MAR carries the 3GPP Interface Type,
		// which tells the access it forwards to.
		if f.Forwarding == nil {
			return fail(legField(a, "far_id"), ErrMissingField, "FAR %d has no forwarding parameters, so no 3GPP interface type", f.ID)
		}
		if !f.Forwarding.InterfaceType.Set {
			return fail(legField(a, "far_id"), ErrMissingField, "FAR %d has no 3GPP interface type", f.ID)
		}
		if acc, ok := f.Forwarding.InterfaceType.Value.Access(); ok && acc != AccessType(a) {
			return fail(legField(a, "far_id"), ErrConflict, "FAR %d forwards to %v access (%v)", f.ID, acc, f.Forwarding.InterfaceType.Value)
		}
		for _, u := range leg.URRIDs {
			if s.URR(u) == nil {
				return fail(legField(a, "urr_ids"), ErrUnknownReference, "URR %d", u)
			}
		}
		if leg.Priority.Set && !leg.Priority.Value.Valid() {
			return fail(legField(a, "priority"), ErrInvalidValue, "%v", leg.Priority.Value)
		}
	}
	if present == 0 {
		return fail("legs", ErrMissingField, "no access forwarding action information")
	}
	l3, ln := m.Legs[Access3GPP], m.Legs[AccessNon3GPP]
	if l3.Present && ln.Present && l3.FARID == ln.FARID {
		return fail("legs", ErrConflict, "both accesses use FAR %d", l3.FARID)
	}
	if l3.Present && ln.Present && l3.Priority.Set && ln.Priority.Set && l3.Priority.Value == ln.Priority.Value {
		return fail("legs.priority", ErrConflict, "both accesses have priority %v", l3.Priority.Value)
	}
	return nil
}

// allowedPriorities lists, per mode, the priorities a leg may carry and
// whether a present leg must carry one (TS 29.244 §8.2.127).
var allowedPriorities = map[SteeringMode]struct {
	required bool
	values   []Priority
}{
	ModeActiveStandby: {true, []Priority{PriorityActive, PriorityStandby, PriorityNoStandby}},
	ModePriorityBased: {true, []Priority{PriorityHigh, PriorityLow}},
	ModeRedundant:     {false, []Priority{PriorityPrimary, PrioritySecondary}},
}

func validateModeParams(m *MAR, fail func(string, error, string, ...any) error) error {
	rule, hasRule := allowedPriorities[m.Mode]
	for a, leg := range m.Legs {
		if !leg.Present {
			continue
		}
		switch {
		case hasRule && rule.required && !leg.Priority.Set:
			return fail(legField(a, "priority"), ErrMissingField, "%v needs a priority per access", m.Mode)
		case hasRule && leg.Priority.Set && !slices.Contains(rule.values, leg.Priority.Value):
			return fail(legField(a, "priority"), ErrInvalidValue, "%v is not a priority of %v (want one of %v)", leg.Priority.Value, m.Mode, rule.values)
		case m.Mode == ModeLoadBalancing && !leg.Weight.Set:
			return fail(legField(a, "weight"), ErrMissingField, "load-balancing needs a weight per access")
		case leg.Weight.Set && leg.Weight.Value > 100:
			return fail(legField(a, "weight"), ErrInvalidValue, "%d > 100", leg.Weight.Value)
		}
	}
	switch m.Mode {
	case ModeActiveStandby:
		actives := 0
		for _, l := range m.Legs {
			if l.Present && l.Priority.Value == PriorityActive {
				actives++
			}
		}
		if actives != 1 {
			return fail("legs.priority", ErrInvalidValue, "active-standby needs exactly one active access, have %d", actives)
		}
	case ModeLoadBalancing:
		// Only present legs count: a weight left on an absent leg is not used.
		sum, terms := 0, ""
		for a, l := range m.Legs {
			if l.Present {
				sum += int(l.Weight.Value)
				if terms != "" {
					terms += " + "
				}
				terms += fmt.Sprintf("%v %d", AccessType(a), l.Weight.Value)
			}
		}
		if sum != 100 {
			return fail("legs.weight", ErrInvalidValue, "weights %s = %d, want 100", terms, sum)
		}
	}
	if m.SMI != nil {
		if m.Mode != ModeLoadBalancing {
			return fail("smi", ErrConflict, "the steering mode indicator applies to load-balancing only, not %v", m.Mode)
		}
		if m.SMI.AutonomousLoadBalancing && m.SMI.UEAssistance {
			return fail("smi", ErrConflict, "ALBI and UEAI are never both set")
		}
	}
	if t := m.Thresholds; t != nil {
		if !t.RTT.Set && !t.PLR.Set {
			return fail("thresholds", ErrMissingField, "thresholds with neither RTT nor PLR")
		}
		if t.PLR.Set && t.PLR.Value > 100 {
			return fail("thresholds.plr", ErrInvalidValue, "%d%% > 100%%", t.PLR.Value)
		}
		// Redundant mode triggers duplication on one threshold, RTT or PLR.
		if m.Mode == ModeRedundant && t.RTT.Set && t.PLR.Set {
			return fail("thresholds", ErrConflict, "redundant mode takes an RTT or a PLR threshold, not both")
		}
	}
	return nil
}

// Validate checks that n is in the single form of a slice: an SD of at most
// 24 bits that is not the reserved NoSD, and no SD value without SDSet.
// The error wraps ErrInvalidValue. A slice is not a rule, so Session.Validate
// leaves it to the decoders that build one (N4, the API) to call this.
func (n SNSSAI) Validate() error {
	switch {
	case n.SDSet && n.SD > NoSD:
		return fmt.Errorf("S-NSSAI: %w: SD %#x is longer than 24 bits", ErrInvalidValue, n.SD)
	case n.SDSet && n.SD == NoSD:
		return fmt.Errorf("S-NSSAI: %w: SD %#x is the reserved value for no SD (TS 23.003 §28.4.2): leave SD unset", ErrInvalidValue, n.SD)
	case !n.SDSet && n.SD != 0:
		return fmt.Errorf("S-NSSAI: %w: SD %#x without SDSet", ErrInvalidValue, n.SD)
	}
	return nil
}
