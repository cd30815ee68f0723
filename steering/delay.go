package steering

import (
	"time"

	"github.com/openatsss/atsss/atsss"
)

// smallestDelay sends everything on the access with the lower RTT
// (TS 23.501 §5.32.8): measured by the PMF, or without it from MPTCP
// (RTTWP, DRTTI). The first choice takes the lower RTT at once; after that
// the other access must be better by the delay margin for DelayHold. An
// unmeasured RTT is no evidence: the access in use is kept, and with no
// access in use yet the measured one is taken, or the first present one.
func smallestDelay(r *Rule, s *State, up [2]bool, now time.Time) Decision {
	m := &s.mem
	if !up[atsss.Access3GPP] || !up[atsss.AccessNon3GPP] {
		a := atsss.Access3GPP
		if !up[a] {
			a = atsss.AccessNon3GPP
		}
		m.delayCur, m.delaySet, m.delaySince = a, true, time.Time{}
		return single(a, ReasonOnlyAvailable)
	}
	rtt := [2]time.Duration{s.Paths[0].RTT, s.Paths[1].RTT}
	known := rtt[0] > 0 && rtt[1] > 0
	why := ReasonLowerRTT
	if !known {
		why = ReasonRTTUnknown
	}
	if !m.delaySet {
		cur := firstPresent(r.present)
		switch {
		case known && rtt[cur.Other()] < rtt[cur]:
			cur = cur.Other()
		case !known && rtt[cur] <= 0 && rtt[cur.Other()] > 0:
			cur = cur.Other()
		}
		m.delayCur, m.delaySet, m.delaySince = cur, true, time.Time{}
		return single(cur, why)
	}
	cur := m.delayCur
	if known && rtt[cur]-rtt[cur.Other()] >= delayMargin(rtt[cur]) {
		if m.delaySince.IsZero() || now.Before(m.delaySince) {
			m.delaySince = now
		}
		if now.Sub(m.delaySince) >= DelayHold {
			cur = cur.Other()
			m.delayCur, m.delaySince = cur, time.Time{}
		}
	} else {
		m.delaySince = time.Time{}
	}
	return single(cur, why)
}

// delayMargin is how much lower the other access's RTT must be than cur's.
func delayMargin(cur time.Duration) time.Duration {
	return max(DelayMarginMin, cur*DelayMarginPercent/100)
}
