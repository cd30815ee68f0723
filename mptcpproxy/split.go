package mptcpproxy

import (
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// splitter assigns a session's connections to accesses in proportion to a
// split decision (Load-Balancing). This kernel has no weighted MPTCP
// scheduler: within one connection the default scheduler fills both
// subflows as fast as each goes, so weights can only be honoured across a
// session's connections. Each new connection is pinned to one access (the
// other's subflow becomes its backup) by smooth weighted round robin, which
// keeps the running count within one connection of the weights at every
// step: 70/30 pins 7 of every 10 connections to the first access, evenly
// interleaved. The byte split follows if connections carry similar bytes;
// the lab measures it.
type splitter struct {
	credit [2]int // per access; owned by the steerer, under its lock
}

// pick returns the access the next connection goes over for shares that
// sum to 100 with both above 0.
func (w *splitter) pick(share [2]uint8) atsss.AccessType {
	best := atsss.Access3GPP
	for _, a := range atsss.Accesses {
		w.credit[a] += int(share[a])
		if w.credit[a] > w.credit[best] {
			best = a
		}
	}
	w.credit[best] -= 100
	return best
}

// splits reports whether d shares traffic between both accesses by
// weight: the case for pinning connections. Duplication sends on both, and
// a Priority-based overflow lets every connection use both: the kernel's
// scheduler fills the saturated high-priority subflow and sends the rest
// over the other, which is what overflow means.
func splits(d steering.Decision) bool {
	return !d.Duplicate && !d.Overflow && d.Share[atsss.Access3GPP] > 0 && d.Share[atsss.AccessNon3GPP] > 0
}

// pinned is d for a connection pinned to access a: the other access's
// subflow becomes a backup, used only if a's fails.
func pinned(d steering.Decision, a atsss.AccessType) steering.Decision {
	other := a.Other()
	d.Role[other] = steering.RoleBackup
	d.Share[a], d.Share[other] = 100, 0
	return d
}
