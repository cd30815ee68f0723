package steering

import (
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Decide returns how traffic of rule r goes over the two accesses given
// what s says about them, and moves s's hysteresis memory on (the exported
// fields of s, the inputs, are left as they are). now is the only time it
// knows: it reads no clock, does no I/O and allocates nothing, so the same
// r, *s and now always give the same Decision and the same new *s. It is
// safe for concurrent use on States that are not shared.
//
// State is updated in place rather than returned because it is the larger
// part of the cost: passing it by value and back took Decide from about
// 30 to 60 ns.
//
// Availability is applied at once: an access that is not available never
// gets a share, and a returning Active or High access is taken back
// immediately. Measurements (RTT, PLR, congestion) move decisions through
// the hysteresis of hysteresis.go, so Decide must be called again (on the
// next measurement, or at s.Deadline()) for a held change to take effect.
func Decide(r *Rule, s *State, now time.Time) Decision {
	if r == nil {
		r = &Rule{}
	}
	if !s.mem.set || s.mem.rule != *r {
		s.mem = memory{rule: *r, set: true}
	}
	if r.thr.any() {
		updateThresholds(r.thr, &s.Paths, &s.mem, now)
	}
	var up [2]bool
	for _, a := range atsss.Accesses {
		up[a] = r.present[a] && s.Paths[a].Available()
	}
	var d Decision
	switch {
	case !up[atsss.Access3GPP] && !up[atsss.AccessNon3GPP]:
		s.mem.dropHolds()
		d = none(r)
	case r.mode == atsss.ModeActiveStandby:
		d = activeStandby(r, up)
	case r.mode == atsss.ModeSmallestDelay:
		d = smallestDelay(r, s, up, now)
	case r.mode == atsss.ModeLoadBalancing:
		d = loadBalance(r, s, up, now)
	case r.mode == atsss.ModePriorityBased:
		d = priorityBased(r, s, up, now)
	case r.mode == atsss.ModeRedundant:
		d = redundant(r, s, up)
	default:
		d = none(r) // NewRule admits no other mode
	}
	d.setRoles(r, up)
	return d
}

// none is the decision when nothing can be sent.
func none(r *Rule) Decision {
	if !r.present[atsss.Access3GPP] && !r.present[atsss.AccessNon3GPP] {
		return Decision{Primary: r.first, Reason: ReasonNoLeg}
	}
	return Decision{Primary: r.first, Reason: ReasonNoAccess}
}

// single sends everything on access a.
func single(a atsss.AccessType, why Reason) Decision {
	var d Decision
	d.Share[a], d.Primary, d.Reason = 100, a, why
	return d
}

// split sends share3GPP percent on the 3GPP access and the rest on the
// other; Primary is the access with the larger share, first on a tie.
func split(share3GPP uint8, first atsss.AccessType, why Reason) Decision {
	d := Decision{Share: [2]uint8{share3GPP, 100 - share3GPP}, Primary: first, Reason: why}
	switch {
	case d.Share[atsss.Access3GPP] > d.Share[atsss.AccessNon3GPP]:
		d.Primary = atsss.Access3GPP
	case d.Share[atsss.AccessNon3GPP] > d.Share[atsss.Access3GPP]:
		d.Primary = atsss.AccessNon3GPP
	}
	return d
}

// setRoles derives each access's Role from the shares: down when the MAR
// has the access but it is unavailable, active with a share, otherwise a
// backup, except where the mode gives the access no fallback role.
func (d *Decision) setRoles(r *Rule, up [2]bool) {
	for _, a := range atsss.Accesses {
		switch {
		case !r.present[a]:
			d.Role[a] = RoleUnused
		case !up[a]:
			d.Role[a] = RoleDown
		case d.Share[a] > 0:
			d.Role[a] = RoleActive
		case r.mode == atsss.ModeActiveStandby && a != r.first && !r.fallback:
			d.Role[a] = RoleUnused // No Standby
		default:
			d.Role[a] = RoleBackup
		}
	}
}
