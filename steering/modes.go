package steering

import "time"

// The modes below get up[a] = "the MAR has access a and it is available",
// with at least one access up.

// activeStandby: all traffic on the Active access while it is available;
// on the Standby access while it is not; nothing without a Standby access
// (No Standby). TS 23.501 §5.32.8; priorities TS 29.244 §8.2.127.
func activeStandby(r *Rule, up [2]bool) Decision {
	act := r.first
	switch {
	case up[act]:
		return single(act, ReasonActive)
	case r.fallback:
		// Decide handles both accesses down, so the Standby is up.
		return single(act.Other(), ReasonStandby)
	}
	return Decision{Primary: act, Reason: ReasonNoStandby}
}

// priorityBased: all traffic on the High priority access; overflow onto the
// Low one while the High one is congested or over a threshold (and the Low
// one is not), everything on the Low one while the High one is unavailable.
// TS 23.501 §5.32.8 (thresholds Rel-17). Overflow is held for OverflowHold.
func priorityBased(r *Rule, s *State, up [2]bool, now time.Time) Decision {
	hi := r.first
	lo := hi.Other()
	m := &s.mem
	if !up[hi] || !up[lo] {
		m.overflow, m.overflowClear, m.overflowWhy = false, time.Time{}, ReasonNone
		if !up[hi] {
			return single(lo, ReasonHighDown)
		}
		return single(hi, ReasonHighPriority)
	}
	var why Reason
	switch {
	case s.Paths[hi].Congested:
		why = ReasonCongested
	case r.thr.any() && m.over[hi] && !m.over[lo]:
		why = ReasonHighOver
	}
	switch {
	case why != ReasonNone:
		m.overflow, m.overflowClear, m.overflowWhy = true, time.Time{}, why
	case !m.overflow:
	case m.overflowClear.IsZero() || now.Before(m.overflowClear):
		m.overflowClear = now
	case now.Sub(m.overflowClear) >= OverflowHold:
		m.overflow, m.overflowClear, m.overflowWhy = false, time.Time{}, ReasonNone
	}
	if !m.overflow {
		return single(hi, ReasonHighPriority)
	}
	var d Decision
	d.Share[hi], d.Share[lo] = OverflowHighShare, 100-OverflowHighShare
	d.Primary, d.Overflow, d.Reason = hi, true, m.overflowWhy
	return d
}

// redundant duplicates every packet on both accesses (TS 23.501 §5.32.8,
// Rel-18). With a threshold (RTT or PLR) it duplicates only while the
// Primary access is over it, or either access when the MAR names no
// Primary; otherwise, and while duplication is suspended, it sends on the
// Primary access only. Without priorities the 3GPP access stands in for
// Primary (our choice: the notes name no rule for it).
func redundant(r *Rule, s *State, up [2]bool) Decision {
	pr := r.first
	sc := pr.Other()
	switch {
	case !up[pr]:
		return single(sc, ReasonOnlyAvailable)
	case !up[sc]:
		return single(pr, ReasonOnlyAvailable)
	case s.DuplicationSuspended:
		return single(pr, ReasonSuspended)
	}
	why := ReasonDuplicate
	if r.thr.any() {
		if !s.mem.over[pr] && (r.prioritized || !s.mem.over[sc]) {
			return single(pr, ReasonUnderThr)
		}
		why = ReasonThresholdDup
	}
	return Decision{Share: [2]uint8{100, 100}, Primary: pr, Duplicate: true, Reason: why}
}
