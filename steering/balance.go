package steering

import (
	"time"

	"github.com/openatsss/atsss/atsss"
)

// loadBalance splits traffic by the MAR's weights (TS 23.501 §5.32.8,
// TS 29.244 §8.2.126), with the Rel-17 options of TS 29.244 §5.20.6 and
// §8.2.197, in this order:
//   - UEAI, downlink, while the UE's PMF UE Assistance Data is in force:
//     the UE's split; the weights apply again after its termination (UAT).
//   - ALBI: a split the UPF derives from RTT, loss and congestion, with
//     the weights as defaults while the accesses are not both measured.
//   - Thresholds: an access over them while the other is not gets nothing
//     and the other everything. TS 23.501 lets the sender stop or reduce
//     traffic on it; stopping is the choice that clearly moves traffic.
//     Both over: the weights.
//
// An access that is the only one available takes everything.
func loadBalance(r *Rule, s *State, up [2]bool, now time.Time) Decision {
	m := &s.mem
	if !up[atsss.Access3GPP] || !up[atsss.AccessNon3GPP] {
		m.albiSet, m.albiPending = false, false // start afresh when both are back
		if up[atsss.Access3GPP] {
			return single(atsss.Access3GPP, ReasonOnlyAvailable)
		}
		return single(atsss.AccessNon3GPP, ReasonOnlyAvailable)
	}
	w := r.weight[atsss.Access3GPP]
	switch {
	case r.ueai && s.Direction == Downlink && s.Assist.Active && s.Assist.Share3GPP <= 100:
		return split(s.Assist.Share3GPP, r.first, ReasonUEAssistance)
	case r.albi:
		return autonomous(r, s, now)
	case r.thr.any():
		o3, on := m.over[atsss.Access3GPP], m.over[atsss.AccessNon3GPP]
		switch {
		case o3 && on:
			return split(w, r.first, ReasonBothOver)
		case o3:
			return single(atsss.AccessNon3GPP, ReasonOverThreshold)
		case on:
			return single(atsss.Access3GPP, ReasonOverThreshold)
		}
	}
	return split(w, r.first, ReasonWeights)
}

// autonomous is ALBI: each access's share is proportional to the rate a
// loss-based TCP flow could keep on it, approximated as delivered fraction
// over RTT, halved while the access is congested. The split moves in
// BalanceQuantum steps within [BalanceMinShare, 100-BalanceMinShare], and
// only by BalanceStep or more, at most once per BalanceHold.
func autonomous(r *Rule, s *State, now time.Time) Decision {
	m := &s.mem
	var score [2]uint64
	for _, a := range atsss.Accesses {
		p := &s.Paths[a]
		if p.RTT <= 0 {
			m.albiSet, m.albiPending = false, false
			return split(r.weight[atsss.Access3GPP], r.first, ReasonNoMeasurement)
		}
		delivered := uint64(1000)
		if p.LossKnown {
			delivered -= uint64(min(p.Loss, 1000))
		}
		// RTT in µs (at least 1) keeps the product within 64 bits for any
		// Duration: at most 1000<<30, and ×100 below.
		score[a] = delivered << 30 / uint64(max(p.RTT/time.Microsecond, 1))
		if p.Congested {
			score[a] /= 2
		}
	}
	total := score[0] + score[1]
	if total == 0 {
		m.albiSet, m.albiPending = false, false
		return split(r.weight[atsss.Access3GPP], r.first, ReasonNoMeasurement)
	}
	target := (score[0]*100 + total/2) / total
	target = (target + BalanceQuantum/2) / BalanceQuantum * BalanceQuantum
	target = min(max(target, BalanceMinShare), 100-BalanceMinShare)
	t := uint8(target)
	m.albiPending = false
	switch {
	case !m.albiSet:
		m.albiShare, m.albiSet, m.albiAt = t, true, now
	case absDiff(t, m.albiShare) < BalanceStep:
	case now.Before(m.albiAt):
		m.albiAt, m.albiPending = now, true // the clock went back: restart the hold
	case now.Sub(m.albiAt) >= BalanceHold:
		m.albiShare, m.albiAt = t, now
	default:
		m.albiPending = true
	}
	return split(m.albiShare, r.first, ReasonAutonomous)
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
