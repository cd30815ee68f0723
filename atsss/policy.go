package atsss

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Policy is an operator's steering policy (the API's atsss.v1.Policy) in the
// form the data planes apply. A policy that matches a flow overrides the
// downlink steering of the SMF's MAR for that flow; flows no policy matches
// keep the MAR. A *Policy held by a PolicySet is immutable.
type Policy struct {
	Name       string
	Precedence uint32 // lowest wins; ties by Name
	Revision   uint64 // from the policy store, for display

	Match PolicyMatch
	// Functionality, when Set, limits the policy to MARs of that steering
	// functionality. The UPF cannot move a flow from one functionality to
	// another (the UE chooses it from its ATSSS rules, which the SMF owns),
	// so a policy for another functionality leaves the MAR alone.
	Functionality OptionalFunctionality
	// Downlink replaces the MAR's steering; nil keeps it. The uplink is the
	// UE's to enforce (TS 23.501 §5.32.8), so a policy's uplink steering is
	// only shown, never applied by the UPF, and is not kept here.
	Downlink *PolicySteering
	// RateCap limits each matched flow's bit rate; zero: no cap.
	RateCap RateCap
}

// OptionalFunctionality is a steering functionality that may be absent.
type OptionalFunctionality struct {
	Value SteeringFunctionality
	Set   bool
}

// RateCap limits one flow's bit rate in each direction; 0 means no cap.
type RateCap struct {
	DownlinkBPS uint64
	UplinkBPS   uint64
}

// PolicySteering is a steering mode in the MAR's own terms, so that
// steering.NewRule checks and applies it like the SMF's. Priority and
// Weight are indexed by AccessType.
type PolicySteering struct {
	Mode       SteeringMode
	Priority   [2]OptionalPriority // Active-Standby, Priority-based, Redundant
	Weight     [2]OptionalUint8    // Load-Balancing, summing to 100
	Thresholds *Thresholds
	SMI        *SteeringModeIndicator
}

// PolicyMatch selects flows by exactly one key. DNN, SNSSAI and UEPrefix
// select whole sessions; Flow and AppID select flows within any session.
type PolicyMatch struct {
	DNN      string // compared case-insensitively, as DNS names are
	SNSSAI   *SNSSAI
	UEPrefix netip.Prefix
	// FlowDescription is the SDF filter as the operator wrote it; Flow is
	// it parsed. It matches the flow's downlink direction, as PDR SDF
	// filters do ("permit out ... from <DN side> to <UE side>").
	FlowDescription string
	Flow            *FlowFilter
	AppID           string // the Application ID of the PDR that detected the flow
}

// PerFlow reports whether m selects flows rather than whole sessions.
func (m *PolicyMatch) PerFlow() bool { return m.Flow != nil || m.AppID != "" }

// Session reports whether m selects every flow of s.
func (m *PolicyMatch) Session(s *Session) bool {
	switch {
	case m.DNN != "":
		return strings.EqualFold(m.DNN, s.DNN)
	case m.SNSSAI != nil:
		return s.SNSSAI != nil && *s.SNSSAI == *m.SNSSAI
	case m.UEPrefix.IsValid():
		return slices.ContainsFunc(s.UEAddrs(), m.UEPrefix.Contains)
	}
	return false
}

// FlowInfo is what the data plane knows of one flow when it asks which
// policy applies: its protocol, both ends, and the PDR that detected it.
type FlowInfo struct {
	Proto  uint8
	UE     netip.AddrPort // the UE's end, as the UE addresses it
	Remote netip.AddrPort // the data network's end
	PDR    *PDR           // may be nil when unknown
}

// FlowMatches reports whether m selects flow f of session s.
func (m *PolicyMatch) FlowMatches(s *Session, f FlowInfo) bool {
	switch {
	case m.Flow != nil:
		// A proxied flow's UE end is a link-specific address; the
		// operator's filter may name the MA PDU address the UE's
		// application uses instead.
		return m.Flow.MatchDownlinkAny(f.Proto, f.Remote, f.UE, true, s.MAPDUAddrs())
	case m.AppID != "":
		return f.PDR != nil && f.PDR.PDI.ApplicationID == m.AppID
	}
	return m.Session(s)
}

// RuleMatches reports whether m selects the traffic of a PDR as a whole:
// the session keys for every PDR, an application ID for the PDRs that
// carry it, a flow description for the PDRs whose SDF filter is the same
// text. It is what SessionService shows per MAR; the data plane decides
// per flow with FlowMatches.
func (m *PolicyMatch) RuleMatches(s *Session, pdr *PDR) bool {
	switch {
	case m.Flow != nil:
		return slices.ContainsFunc(pdr.PDI.SDFFilters, func(f SDFFilter) bool {
			ff, ok := s.EvaluableFilter(f)
			return ok && ff.String() == m.Flow.String()
		})
	case m.AppID != "":
		return pdr.PDI.ApplicationID == m.AppID
	}
	return m.Session(s)
}

// Applies reports whether p may steer traffic of MAR mar.
func (p *Policy) Applies(mar *MAR) bool {
	return !p.Functionality.Set || p.Functionality.Value == mar.Functionality
}

// SteerMAR returns mar, a MAR of session s, with the policy's downlink
// steering in place of the SMF's: its mode, the priorities and weights of
// the MAR's legs, its thresholds and indicator. The legs (their FARs) stay
// the SMF's. A policy that needs an access the MAR has no leg for, or
// whose result the MAR checks of Session.Validate refuse, is an error, and
// mar is returned unchanged: the caller keeps the SMF's steering. Without
// Downlink, mar is returned unchanged.
func (p *Policy) SteerMAR(s *Session, mar MAR) (MAR, error) {
	d := p.Downlink
	if d == nil {
		return mar, nil
	}
	out := mar
	out.Mode, out.Thresholds, out.SMI = d.Mode, d.Thresholds, d.SMI
	for _, a := range Accesses {
		l := &out.Legs[a]
		if !l.Present {
			if d.carries(a) {
				return mar, fmt.Errorf("policy %s: MAR %d has no %v access", p.Name, mar.ID, a)
			}
			continue
		}
		l.Priority, l.Weight = d.Priority[a], d.Weight[a]
	}
	if err := s.validateMAR(&out); err != nil {
		return mar, fmt.Errorf("policy %s: %w", p.Name, err)
	}
	return out, nil
}

// carries reports whether the steering may send traffic over access a in
// normal operation: an access it gives no weight, the Low priority or No
// Standby does not need a leg.
func (d *PolicySteering) carries(a AccessType) bool {
	if d.Weight[a].Set {
		return d.Weight[a].Value > 0
	}
	pr := d.Priority[a]
	return pr.Set && pr.Value != PriorityNoStandby && pr.Value != PriorityLow && pr.Value != PrioritySecondary
}

// PolicySet is an immutable set of policies in the order they apply:
// lowest Precedence first, ties by Name.
type PolicySet struct {
	policies []*Policy
}

// NewPolicySet orders ps. It keeps the slice's elements, not the slice.
func NewPolicySet(ps []*Policy) *PolicySet {
	s := &PolicySet{policies: slices.Clone(ps)}
	slices.SortFunc(s.policies, func(a, b *Policy) int {
		return cmp.Or(cmp.Compare(a.Precedence, b.Precedence), cmp.Compare(a.Name, b.Name))
	})
	return s
}

// Len returns the number of policies.
func (s *PolicySet) Len() int { return len(s.policies) }

// All returns the policies in the order they apply. The caller must not
// change them.
func (s *PolicySet) All() []*Policy { return s.policies }

// ForFlow returns the policy that steers flow f of session s under MAR mar,
// or nil when the MAR's own steering applies.
func (s *PolicySet) ForFlow(sess *Session, mar *MAR, f FlowInfo) *Policy {
	for _, p := range s.policies {
		if p.Applies(mar) && p.Match.FlowMatches(sess, f) {
			return p
		}
	}
	return nil
}

// ForMAR returns the policy that steers the traffic of MAR mar as a whole:
// the first that applies to it and matches one of the PDRs that use it
// (PolicyMatch.RuleMatches), or nil.
func (s *PolicySet) ForMAR(sess *Session, mar *MAR) *Policy {
	for _, p := range s.policies {
		if !p.Applies(mar) {
			continue
		}
		for j := range sess.PDRs {
			pdr := &sess.PDRs[j]
			if pdr.MARID.Set && pdr.MARID.Value == mar.ID && p.Match.RuleMatches(sess, pdr) {
				return p
			}
		}
	}
	return nil
}

// PolicyRevisions remembers policy revisions, for what a data plane does
// once per revision of a policy however many sessions meet it: logging at
// Info that the policy cannot steer a session's MAR (at Debug for the next
// sessions). A revision is its policy's name and Revision: the control
// plane builds a new *Policy for every set, so pointers do not last. The
// zero value is ready; it is safe for concurrent use.
type PolicyRevisions struct {
	mu   sync.Mutex
	seen map[policyRevision]bool
}

type policyRevision struct {
	name string
	rev  uint64
}

// First reports whether p's revision is met for the first time, and
// remembers it.
func (r *PolicyRevisions) First(p *Policy) bool {
	id := policyRevision{p.Name, p.Revision}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[id] {
		return false
	}
	if r.seen == nil {
		r.seen = map[policyRevision]bool{}
	}
	r.seen[id] = true
	return true
}

// Keep forgets the revisions that set does not hold, so that the memory
// stays as small as the set in force. Called on each change of the set:
// should a newer set come in between, a revision of it is First once more.
func (r *PolicyRevisions) Keep(set *PolicySet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := make(map[policyRevision]bool, len(r.seen))
	for _, p := range set.All() {
		if id := (policyRevision{p.Name, p.Revision}); r.seen[id] {
			keep[id] = true
		}
	}
	r.seen = keep
}

// Policies holds the current PolicySet and tells subscribers when it
// changes. The control plane sets it; the data planes read it. It is safe
// for concurrent use.
type Policies struct {
	mu   sync.Mutex
	set  *PolicySet
	gen  uint64
	subs map[chan struct{}]struct{}
}

// NewPolicies returns an empty holder.
func NewPolicies() *Policies {
	return &Policies{set: NewPolicySet(nil), subs: map[chan struct{}]struct{}{}}
}

// Current returns the set in force and its generation, which grows by one
// with every Set.
func (p *Policies) Current() (*PolicySet, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set, p.gen
}

// Set puts s in force and wakes every subscriber. A nil s holds no
// policy: Current never returns nil, so readers need no check.
func (p *Policies) Set(s *PolicySet) {
	if s == nil {
		s = NewPolicySet(nil)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set = s
	p.gen++
	for c := range p.subs {
		select {
		case c <- struct{}{}:
		default: // a wake-up is pending: it will read the newest set
		}
	}
}

// Subscribe returns a channel that receives a value after each Set (several
// Sets between two receives wake the subscriber once: it reads Current),
// and a function that ends the subscription.
func (p *Policies) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	p.mu.Lock()
	p.subs[c] = struct{}{}
	p.mu.Unlock()
	return c, func() {
		p.mu.Lock()
		delete(p.subs, c)
		p.mu.Unlock()
	}
}
