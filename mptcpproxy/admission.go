package mptcpproxy

import (
	"hash/maphash"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// ue is what the proxy knows of one installed session: enough to admit a
// connection without touching the store. Immutable once built, but for
// rules, a cache with its own lock.
type ue struct {
	seid         atsss.SEID
	addrs        []netip.Addr    // every address of the session (Session.UEAddrs)
	linkSpecific [2][]netip.Addr // per access
	policy       atsss.UplinkPolicy
	rule         *steering.Rule // of the session's MPTCP MAR; nil: none
	unavailable  [2]bool        // N4 Access Availability Information
	drtti        bool           // RTTs from the MPTCP subflows, not the PMF
	// sess and mar are the session as the store holds it (immutable) and
	// its MPTCP MAR (nil: none), which operator policies are matched with.
	sess *atsss.Session
	mar  *atsss.MAR

	rules policyRules // the rules operator policies give this session
}

// owns reports whether a is an address of the session.
func (u *ue) owns(a netip.Addr) bool { return slices.Contains(u.addrs, a) }

// accessOf returns the access whose link-specific address a is.
func (u *ue) accessOf(a netip.Addr) (atsss.AccessType, bool) {
	for _, acc := range atsss.Accesses {
		if slices.Contains(u.linkSpecific[acc], a) {
			return acc, true
		}
	}
	return 0, false
}

func newUE(s *atsss.Session) *ue {
	mar := mptcpMAR(s)
	u := &ue{seid: s.LocalSEID, addrs: s.UEAddrs(), policy: s.UplinkFilters(), rule: marRule(mar), unavailable: s.Unavailable, drtti: s.ATSSS.Requested.DRTTI,
		sess: s, mar: mar}
	for _, a := range atsss.Accesses {
		u.linkSpecific[a] = s.LinkSpecificAddrs(a)
	}
	return u
}

// admissionShards splits the table so that one session change copies one
// small map, not all of them: at 100k sessions a change copies ~1.5k
// entries.
const admissionShards = 64

// admission maps a UE address to its session. Readers (every accepted
// connection) load a shard's map through an atomic pointer and never lock;
// the single writer (the store follower, see follow) replaces a shard's map
// whole, copy on write, so a reader always sees a consistent shard.
type admission struct {
	seed   maphash.Seed
	shards [admissionShards]atomic.Pointer[map[netip.Addr]*ue]
}

func newAdmission() *admission {
	t := &admission{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].Store(&map[netip.Addr]*ue{})
	}
	return t
}

func (t *admission) shard(a netip.Addr) int {
	return int(maphash.Comparable(t.seed, a) % admissionShards)
}

// lookup returns the session that owns a. It is safe for concurrent use.
func (t *admission) lookup(a netip.Addr) (*ue, bool) {
	u, ok := (*t.shards[t.shard(a)].Load())[a]
	return u, ok
}

// tableEdit gathers the changes of one batch of store changes, so that each
// touched shard is copied once per batch.
type tableEdit struct {
	t     *admission
	edits map[int]map[netip.Addr]*ue // shard -> address -> new owner (nil: remove)
}

func (t *admission) edit() *tableEdit {
	return &tableEdit{t: t, edits: make(map[int]map[netip.Addr]*ue)}
}

func (e *tableEdit) set(a netip.Addr, u *ue) {
	i := e.t.shard(a)
	m := e.edits[i]
	if m == nil {
		m = make(map[netip.Addr]*ue)
		e.edits[i] = m
	}
	m[a] = u
}

// remove takes a out of the table if seid still owns it: when two sessions
// claim one address the last Put owns it (as in atsss.Store.ByUEAddr), and
// the earlier one's deletion must not take it away.
func (e *tableEdit) remove(a netip.Addr, seid atsss.SEID) {
	if pending, ok := e.edits[e.t.shard(a)][a]; ok {
		if pending != nil && pending.seid == seid {
			e.set(a, nil)
		}
		return
	}
	if cur, ok := e.t.lookup(a); ok && cur.seid == seid {
		e.set(a, nil)
	}
}

// commit publishes the batch, one shard at a time. A reader may see one
// shard updated before another; each address is consistent on its own,
// which is all admission needs.
func (e *tableEdit) commit() {
	for i, changes := range e.edits {
		m := maps.Clone(*e.t.shards[i].Load())
		for a, u := range changes {
			if u == nil {
				delete(m, a)
			} else {
				m[a] = u
			}
		}
		e.t.shards[i].Store(&m)
	}
}

// len returns the number of addresses in the table (tests and metrics).
func (t *admission) len() int {
	n := 0
	for i := range t.shards {
		n += len(*t.shards[i].Load())
	}
	return n
}
