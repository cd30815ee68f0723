package server

import (
	"slices"
	"strconv"
	"strings"

	"github.com/openatsss/atsss/atsss"
)

// steeredBuffer is how many policy changes a WatchSessions stream may have
// pending before it is dropped.
const steeredBuffer = 64

// The server tells every WatchSessions stream which sessions a policy
// change re-steered (a fanout of SEID lists), so that each sends them as
// MODIFIED (session.proto: "rules or effective steering changed (N4
// modification or policy change)"). It works out the sessions once per
// change, not once per stream: that costs a recomputation of every
// session's steering in force.

// steeringChanged returns, in SEID order, the sessions whose steering in
// force (the policy, its revision, or why it could not apply, per MAR)
// differs between the policy sets old and set.
func steeringChanged(sessions []*atsss.Session, old, set *atsss.PolicySet) []atsss.SEID {
	var out []atsss.SEID
	for _, s := range sessions {
		if steeringKey(atsss.Effective(s, old)) != steeringKey(atsss.Effective(s, set)) {
			out = append(out, s.LocalSEID)
		}
	}
	slices.Sort(out)
	return out
}

// steeringKey identifies what GetSession shows of effs: a policy's
// revision fixes its steering, rate cap and path preference.
func steeringKey(effs []atsss.EffectiveSteering) string {
	var b strings.Builder
	for _, e := range effs {
		if p := e.Policy; p != nil {
			b.WriteString(p.Name)
			b.WriteByte('@')
			b.WriteString(strconv.FormatUint(p.Revision, 10))
			if e.Err != nil {
				b.WriteByte(':')
				b.WriteString(e.Err.Error())
			}
		}
		b.WriteByte(0)
	}
	return b.String()
}
