package steering

import (
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Hysteresis. A steering change is not free: packets already in flight on
// the old access arrive after those sent on the new one (reordering at the
// receiver, spurious fast retransmits), and an MPTCP subflow that carried
// nothing restarts from a small congestion window. The inputs are noisy: a
// PMF echo RTT or an MPTCP srtt (RFC 6298 smoothing, α = 1/8) moves by a
// few milliseconds on an idle link and by some 10 % under load as queues
// build, and PLR from PMF counting windows of a few hundred packets moves by
// a fraction of a percent. So a measured difference must be clear (margin)
// and lasting (hold) before a decision moves, and recovery from a threshold
// must be clearly below it. Availability changes are never held: a lost
// access is left at once (issue 4 asks for ≤ 300 ms), a returning Active or
// High access is taken back at once, as TS 23.501 §5.32.8 describes.
//
// The values are this implementation's choice; 3GPP leaves them open.
const (
	// Smallest Delay switches to the other access only when its RTT is
	// lower than the current access's by at least
	// max(DelayMarginMin, DelayMarginPercent % of the current RTT), for
	// DelayHold without interruption. 3 ms is above the idle jitter of
	// an echo RTT; 15 % is above the load-dependent swing of srtt. A
	// 500 ms hold spans five or more RTT samples at an echo period of
	// 100 ms or less, so one sample never switches, and leaves room
	// within the 2 s in which issue 4 wants a swap of the RTTs followed.
	DelayMarginMin     = 3 * time.Millisecond
	DelayMarginPercent = 15
	DelayHold          = 500 * time.Millisecond

	// A threshold (TS 29.244 §8.2.196) is crossed as soon as a measurement
	// exceeds it: degradation is acted on at once. It counts as crossed
	// back only when RTT ≤ threshold − max(ThresholdRTTMarginMin,
	// ThresholdRTTMarginPercent %) and PLR ≤ threshold −
	// max(ThresholdPLRMarginMin, ThresholdPLRMarginPercent %), for
	// ThresholdRecoverHold without interruption. A PLR near 1 % is
	// counted over a few hundred packets, so it needs a wider relative
	// margin than RTT; half a point is at least one lost packet in 200.
	ThresholdRTTMarginMin     = 2 * time.Millisecond
	ThresholdRTTMarginPercent = 10
	ThresholdPLRMarginMin     = LossRate(5) // 0.5 %
	ThresholdPLRMarginPercent = 20
	ThresholdRecoverHold      = time.Second

	// Priority-based overflow stays on for OverflowHold after its trigger
	// (congestion, threshold) is gone: congestion signals come in bursts
	// (a full send buffer empties, then fills again), and switching the
	// low-priority access off between bursts would flap every RTT.
	// OverflowHighShare is the high-priority share during overflow for
	// data planes that split by share rather than by filling Primary first.
	OverflowHold      = 2 * time.Second
	OverflowHighShare = 50

	// Autonomous load balancing (ALBI) moves its split in steps of
	// BalanceQuantum points, keeps every available access at
	// BalanceMinShare or more (so the access keeps carrying traffic, and
	// RTT without PMF keeps being measured on it), and changes the split
	// only by BalanceStep points or more and at most once per BalanceHold:
	// a new split shuffles connections between accesses, so it must be
	// worth it and must not chase every sample.
	BalanceQuantum  = 5
	BalanceMinShare = 10
	BalanceStep     = 10
	BalanceHold     = 2 * time.Second
)

// updateThresholds moves the per-access "over threshold" latches. Unknown
// measurements neither cross nor recover.
func updateThresholds(t thresholds, paths *[2]Path, m *memory, now time.Time) {
	rttThr := time.Duration(t.rtt) * time.Millisecond
	// The margin is capped at half the threshold, so that a threshold of
	// a few milliseconds can still be crossed back.
	rttBack := rttThr - min(max(ThresholdRTTMarginMin, rttThr*ThresholdRTTMarginPercent/100), rttThr/2)
	plrThr := LossRate(t.plr) * 10
	plrBack := max(int(plrThr)-int(max(ThresholdPLRMarginMin, plrThr*ThresholdPLRMarginPercent/100)), 0)
	for _, a := range atsss.Accesses {
		p := &paths[a]
		rttKnown, plrKnown := t.rttSet && p.RTT > 0, t.plrSet && p.LossKnown
		loss := min(p.Loss, 1000)
		if (rttKnown && p.RTT > rttThr) || (plrKnown && loss > plrThr) {
			m.over[a], m.recoverSince[a] = true, time.Time{}
			continue
		}
		if !m.over[a] {
			continue
		}
		recovered := (rttKnown || !t.rttSet) && (plrKnown || !t.plrSet) &&
			(!rttKnown || p.RTT <= rttBack) && (!plrKnown || int(loss) <= plrBack)
		if !recovered {
			m.recoverSince[a] = time.Time{}
			continue
		}
		if m.recoverSince[a].IsZero() || now.Before(m.recoverSince[a]) {
			m.recoverSince[a] = now // a clock that went back restarts the hold
		}
		if now.Sub(m.recoverSince[a]) >= ThresholdRecoverHold {
			m.over[a], m.recoverSince[a] = false, time.Time{}
		}
	}
}
