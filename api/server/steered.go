package server

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/openatsss/atsss/atsss"
)

// steeredBuffer is how many policy changes a WatchSessions stream may have
// pending before it is dropped.
const steeredBuffer = 64

// steerHub tells every WatchSessions stream which sessions a policy change
// re-steered, so that each sends them as MODIFIED (session.proto: "rules
// or effective steering changed (N4 modification or policy change)"). The
// server works out the sessions once per change, not once per stream:
// that costs a recomputation of every session's steering in force.
type steerHub struct {
	mu   sync.Mutex // guards subs
	subs map[chan []atsss.SEID]struct{}
}

func newSteerHub() *steerHub {
	return &steerHub{subs: map[chan []atsss.SEID]struct{}{}}
}

// subscribe returns a channel of the SEIDs each policy change re-steered,
// closed if the subscriber falls behind, and a function that ends the
// subscription.
func (h *steerHub) subscribe() (<-chan []atsss.SEID, func()) {
	c := make(chan []atsss.SEID, steeredBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[c] = struct{}{}
	return c, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[c]; ok {
			delete(h.subs, c)
			close(c)
		}
	}
}

// active reports whether anyone subscribes: without, a change is not
// worth working out.
func (h *steerHub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

// publish hands ids to every subscriber without blocking; one that has no
// room is dropped (its channel closed).
func (h *steerHub) publish(ids []atsss.SEID) {
	if len(ids) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ids:
		default:
			delete(h.subs, c)
			close(c)
		}
	}
}

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
