package atsss

import "time"

// AccessState is what a data plane knows of one access of one session, for
// the API to show.
type AccessState struct {
	// Available: not reported unavailable by N4 or the UE's PMF, and the
	// access's links are up.
	Available bool
	RTT       time.Duration // 0: not measured
	// LossPermille is the downlink packet loss rate in tenths of a percent,
	// when LossKnown.
	LossPermille uint32
	LossKnown    bool
	// DownlinkBytes and UplinkBytes count the session's bytes over the
	// access since the data plane started, closed flows included.
	DownlinkBytes, UplinkBytes uint64
	Subflows                   int // MPTCP subflows over the access now
}

// AccessReporter is a data plane that reports the state of sessions'
// accesses. AccessStates returns false for a session it knows nothing of.
type AccessReporter interface {
	AccessStates(SEID) ([2]AccessState, bool)
}

// EffectiveSteering is what a data plane applies for one MAR of a session:
// the SMF's MAR, or an operator policy's steering in its place.
type EffectiveSteering struct {
	MAR    MAR     // as applied
	Policy *Policy // nil: the SMF's MAR
	// Err says why a matching policy could not be applied (the SMF's MAR
	// then applies); nil otherwise.
	Err error
}

// Effective returns the steering of each MAR of s under the policies set,
// as SessionService shows it: a MAR takes the first policy (in the set's
// order) that matches one of its PDRs as a whole (PolicySet.ForMAR).
// Per-flow policies whose filter no PDR carries steer individual flows
// only, so they do not show here.
func Effective(s *Session, set *PolicySet) []EffectiveSteering {
	out := make([]EffectiveSteering, len(s.MARs))
	for i := range s.MARs {
		mar := &s.MARs[i]
		out[i].MAR = *mar
		if p := set.ForMAR(s, mar); p != nil {
			steered, err := p.SteerMAR(s, *mar)
			out[i] = EffectiveSteering{MAR: steered, Policy: p, Err: err}
		}
	}
	return out
}
