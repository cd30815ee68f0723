package steering

import (
	"fmt"

	"github.com/openatsss/atsss/atsss"
)

// Role is what an access does in a Decision.
type Role uint8

const (
	// RoleUnused: the access carries nothing and is no fallback: the MAR
	// has no leg for it, or it is the No Standby access of Active-Standby.
	RoleUnused Role = 0
	// RoleActive: the access carries traffic (its Share is above 0).
	RoleActive Role = 1
	// RoleBackup: the access is up but carries nothing now; it is the
	// fallback. For MPTCP its subflow carries the backup flag (MP_JOIN B,
	// MP_PRIO; RFC 8684 §3.3.8), so the peer sends on it only when no
	// other subflow is left. ATSSS-LL has no such flag: it sends nothing
	// there until the next Decision moves traffic.
	RoleBackup Role = 2
	// RoleDown: the MAR has a leg for the access but it is unavailable.
	// Tear its subflow down now instead of waiting for dead-path detection.
	RoleDown Role = 3
)

var roleNames = [...]string{"unused", "active", "backup", "down"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Decision is how one MAR's traffic in one direction goes over the two
// accesses. It is a comparable value: a data plane applies a Decision when
// it differs from the one it applied last.
type Decision struct {
	// Share is the percentage of the traffic per access, indexed by
	// atsss.AccessType. The shares of the accesses in use sum to 100, or
	// are all 0 when nothing can be sent; with Duplicate both are 100.
	Share [2]uint8
	Role  [2]Role
	// Primary is the access the decision prefers: the one with the larger
	// share, the Active/High/Primary access when it is up. It is only
	// meaningful when some Share is above 0.
	Primary atsss.AccessType
	// Duplicate: send every packet on both accesses (Redundant mode).
	Duplicate bool
	// Overflow: Priority-based overflow. Send on Primary first and put on
	// the other access only what Primary cannot carry. Share is the split
	// for data planes that cannot tell what Primary can carry.
	Overflow bool
	// Reason says why, in a few words, for operators.
	Reason Reason
}

// Uses reports whether the decision sends traffic on access a.
func (d Decision) Uses(a atsss.AccessType) bool { return a.Valid() && d.Share[a] > 0 }

// Backup reports whether access a is the fallback (the MPTCP backup flag).
func (d Decision) Backup(a atsss.AccessType) bool { return a.Valid() && d.Role[a] == RoleBackup }

func (d Decision) String() string {
	dup := ""
	switch {
	case d.Duplicate:
		dup = " duplicate"
	case d.Overflow:
		dup = " overflow"
	}
	return fmt.Sprintf("3gpp %d%% %v, non3gpp %d%% %v%s (%s)",
		d.Share[atsss.Access3GPP], d.Role[atsss.Access3GPP],
		d.Share[atsss.AccessNon3GPP], d.Role[atsss.AccessNon3GPP], dup, d.Reason)
}

// Reason is a short explanation of a Decision for operators; String gives
// the text. A small integer rather than a string keeps Decision free of
// pointers: cheap to copy and compare on the hot path.
type Reason uint8

const (
	ReasonNone Reason = iota // the zero Decision: nothing decided yet
	ReasonNoAccess
	ReasonNoLeg
	ReasonActive
	ReasonStandby
	ReasonNoStandby
	ReasonOnlyAvailable
	ReasonLowerRTT
	ReasonRTTUnknown
	ReasonWeights
	ReasonAutonomous
	ReasonNoMeasurement
	ReasonUEAssistance
	ReasonOverThreshold
	ReasonBothOver
	ReasonHighPriority
	ReasonCongested
	ReasonHighOver
	ReasonHighDown
	ReasonDuplicate
	ReasonThresholdDup
	ReasonSuspended
	ReasonUnderThr
)

var reasonText = [...]string{
	ReasonNone:          "none",
	ReasonNoAccess:      "no access available",
	ReasonNoLeg:         "rule has no access",
	ReasonActive:        "active access",
	ReasonStandby:       "active access down: standby",
	ReasonNoStandby:     "active access down, no standby",
	ReasonOnlyAvailable: "only available access",
	ReasonLowerRTT:      "lowest RTT (with hysteresis)",
	ReasonRTTUnknown:    "RTT not measured on both: kept or default access",
	ReasonWeights:       "fixed weights",
	ReasonAutonomous:    "autonomous split from measurements",
	ReasonNoMeasurement: "autonomous split: not measured, weights",
	ReasonUEAssistance:  "UE assistance split",
	ReasonOverThreshold: "other access over threshold",
	ReasonBothOver:      "both accesses over threshold: weights",
	ReasonHighPriority:  "high priority access",
	ReasonCongested:     "overflow: high priority access congested",
	ReasonHighOver:      "overflow: high priority access over threshold",
	ReasonHighDown:      "high priority access down: low priority",
	ReasonDuplicate:     "duplicating on both accesses",
	ReasonThresholdDup:  "duplicating: primary access over threshold",
	ReasonSuspended:     "duplication suspended: primary access",
	ReasonUnderThr:      "primary under threshold: no duplication",
}

func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}
