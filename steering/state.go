package steering

import (
	"fmt"
	"math"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Direction is the direction a State and its Decision are for.
type Direction uint8

const (
	Downlink Direction = 0 // UPF to UE: what the MAR steers
	Uplink   Direction = 1 // UE to UPF: what the UPF asks of the UE (MPTCP backup flags)
)

func (d Direction) String() string {
	switch d {
	case Downlink:
		return "downlink"
	case Uplink:
		return "uplink"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Source says who reported an access's availability.
type Source uint8

const (
	SourceNone Source = 0 // nothing reported: an installed leg is assumed available
	// SourceN4 is Access Availability Information from the SMF in a
	// Session Modification Request (TS 29.244 §5.20.4.1).
	SourceN4 Source = 1
	// SourcePMF is a PMF access availability or unavailability report from
	// the UE (TS 24.193 §5.4, via steering/pmf).
	SourcePMF Source = 2
	// SourceLink is a link event at the UPF: the access's interface or
	// tunnel went down or up, or all its MPTCP subflows closed.
	SourceLink Source = 3
)

var sourceNames = [...]string{"none", "n4", "pmf", "link"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// LossRate is a packet loss rate in tenths of a percent (0..1000), the unit
// of TS 29.571 PacketLossRate; values above 1000 count as 1000. MAR
// thresholds are in whole percent (TS 29.244 §8.2.196), so a PMF reading
// keeps one more digit than the rule it is compared with.
type LossRate uint16

// LossFromPercent converts a measured loss in percent (the PMF's PLR) to a
// LossRate, rounded to the nearest tenth and capped at 1000.
func LossFromPercent(percent float64) LossRate {
	return LossRate(min(max(math.Round(percent*10), 0), 1000))
}

// Path is what is known about one access in one direction.
type Path struct {
	// LinkDown: a link event said the access is down. Only a link event
	// clears it: no report from elsewhere makes a dead link carry traffic.
	LinkDown bool
	// Unavailable and ReportedBy are the latest availability report from
	// the SMF (N4) or the UE (PMF). The latest of the two wins: the UPF
	// stops downlink on an access the SMF reported unavailable until the
	// UE's PMF reports it available again or the SMF does (TS 29.244
	// §5.20.4.1).
	Unavailable bool
	ReportedBy  Source
	// RTT is the smoothed round-trip time over the access (PMF echo, or the
	// MPTCP subflow's RTT with DRTTI); 0 means not measured. The feeder
	// zeroes it when its measurement goes stale.
	RTT time.Duration
	// Loss is the packet loss rate in this direction, valid with LossKnown.
	Loss      LossRate
	LossKnown bool
	// Congested: the data plane sees the access saturated in this
	// direction (queue building, send buffer full). The feeder decides how;
	// steering only holds overflow on for OverflowHold after it clears.
	Congested bool
}

// Available reports whether the access can carry traffic: no link event
// says it is down and the latest N4 or PMF report does not say unavailable.
func (p *Path) Available() bool { return !p.LinkDown && !p.Unavailable }

// Report records an availability event from src: a link event sets or
// clears LinkDown; an N4 or PMF report replaces the previous report of
// either. A SourceNone event is ignored.
func (p *Path) Report(src Source, available bool) {
	switch src {
	case SourceLink:
		p.LinkDown = !available
	case SourceN4, SourcePMF:
		p.Unavailable, p.ReportedBy = !available, src
	}
}

// DownBy returns the source that keeps the access unavailable, or
// SourceNone when it is available. A link event outranks a report.
func (p *Path) DownBy() Source {
	switch {
	case p.LinkDown:
		return SourceLink
	case p.Unavailable:
		return p.ReportedBy
	}
	return SourceNone
}

// UEAssistance is the downlink split the UE asked for with PMF UE
// Assistance Data (UAD), used in Load-Balancing with UEAI (TS 29.244
// §5.20.6). A UAT (termination) clears Active, and the SMF's weights apply
// again: they stay in the Rule, untouched.
type UEAssistance struct {
	Active bool
	// Share3GPP is the percentage for the 3GPP access; the non-3GPP access
	// gets the rest. A value over 100 is ignored.
	Share3GPP uint8
}

// State is what Decide knows about the two accesses for one MAR in one
// direction, and the hysteresis memory it carries from one call to the
// next. The caller owns it (one per MAR and direction), keeps its exported
// fields up to date as reports and measurements arrive, and passes the
// same State to every Decide call; Decide changes only the memory. A new
// State (Direction and Paths set, the rest zero) starts without memory.
//
// State is a plain value with no pointers; it is not safe for concurrent
// use: the goroutine that owns the session's steering owns it.
type State struct {
	Direction Direction
	Paths     [2]Path // indexed by atsss.AccessType
	// Assist is the UE's PMF UE assistance (downlink, UEAI only).
	Assist UEAssistance
	// DuplicationSuspended: Redundant mode sends on the primary access only,
	// as after the UPF asked the UE to suspend duplication (PMFP TDS,
	// TS 24.193 §5.4.10) until it resumes it (TDR).
	DuplicationSuspended bool

	mem memory
}

// memory is Decide's hysteresis state; see hysteresis.go.
type memory struct {
	rule Rule // the rule the memory belongs to; another rule resets it
	set  bool // rule is valid

	// Smallest Delay: the access in use, and since when the other one has
	// been better by the margin (zero: it is not).
	delayCur   atsss.AccessType
	delaySet   bool
	delaySince time.Time

	// Thresholds: per access, whether it is over, and since when it has
	// been back under threshold minus margin (zero: it is not).
	over         [2]bool
	recoverSince [2]time.Time

	// Priority-based overflow: on, why it started, and since when its
	// trigger is gone.
	overflow      bool
	overflowWhy   Reason
	overflowClear time.Time

	// Autonomous load balancing: the 3GPP share in use, when it was set,
	// and whether a new split waits for the hold to end.
	albiShare   uint8
	albiSet     bool
	albiPending bool
	albiAt      time.Time
}

// dropHolds forgets the changes that wait for a hold to end (not the
// threshold latches, which follow measurements): with no access up there
// is nothing to switch between, and a hold must start afresh afterwards.
func (m *memory) dropHolds() {
	m.delaySince = time.Time{}
	m.overflow, m.overflowWhy, m.overflowClear = false, ReasonNone, time.Time{}
	m.albiSet, m.albiPending = false, false
}

// Deadline returns the earliest time at which a held change (a Smallest
// Delay switch, a threshold recovery, the end of an overflow, a new
// autonomous split) can take effect if the inputs stay as they are, so a
// data plane that calls Decide only on events can set a timer for the next
// call. ok is false when nothing is pending.
func (s *State) Deadline() (t time.Time, ok bool) {
	consider := func(since time.Time, hold time.Duration) {
		if since.IsZero() {
			return
		}
		if d := since.Add(hold); !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	consider(s.mem.delaySince, DelayHold)
	for _, rs := range s.mem.recoverSince {
		consider(rs, ThresholdRecoverHold)
	}
	if s.mem.overflow {
		consider(s.mem.overflowClear, OverflowHold)
	}
	if s.mem.albiPending {
		consider(s.mem.albiAt, BalanceHold)
	}
	return t, ok
}
