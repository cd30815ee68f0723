package ll

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// Operator policies (Config.Policies, atsss.Policy) replace the downlink
// steering of an ATSSS-LL MAR for the traffic they match, as
// atsss.PolicySet.ForFlow decides, and leave the rest to the MAR. Their
// rate caps are not applied here.
//
// What can be resolved without the packet is resolved when the follower
// compiles a session's view, once per session change and per policy
// generation: per downlink PDR, the policies that apply to its MAR (Applies)
// are walked in order; the first that matches the session (DNN, S-NSSAI, UE
// prefix) or the PDR (Application ID) ends the walk and steers what no
// earlier flow-filter policy matches. Only the flow-filter policies before
// it are left for the packet (dlRule.flows), so a session that no flow
// policy can reach pays nothing per packet, and one that some can pays a
// filter match per such policy, without allocating.
//
// Each (session, MAR, policy) has its own steering state (hysteresis,
// round robin), as each (session, policy) has in the proxy, keyed by the
// policy's name so that a new revision of a policy keeps it.

// stateKey names one steering state of a session: a MAR's own (policy ""),
// or an operator policy's in its place.
type stateKey struct {
	mar    uint16
	policy string
}

// flowPolicy is a flow-filter policy a downlink PDR's packets are matched
// against, and the plan that steers what it matches.
type flowPolicy struct {
	filter *atsss.FlowFilter
	plan   *marPlan
}

// steerPlan returns the plan that steers p under r (an actSteer rule of
// view v): that of the first flow policy that matches p, else r.mar.
func (v *view) steerPlan(r *dlRule, p *ipInfo) *marPlan {
	remote := netip.AddrPortFrom(p.src, p.sport)
	for i := range r.flows {
		if v.flowMatches(r.flows[i].filter, p, remote) {
			return r.flows[i].plan
		}
	}
	return r.mar
}

// flowMatches is atsss.PolicyMatch.FlowMatches for a flow filter, with
// the session's MA PDU addresses from the view (FlowMatches builds that
// list on every call: an allocation per packet), and knowing when a packet
// has no ports (ICMP, a later fragment): a filter on ports then does not
// match, as for PDRs.
func (v *view) flowMatches(f *atsss.FlowFilter, p *ipInfo, remote netip.AddrPort) bool {
	return f.MatchDownlinkAny(p.proto, remote, netip.AddrPortFrom(p.dst, p.dport), p.ports, v.mapdu)
}

// policies is what compile needs of the operator policies: the set in
// force and the memory of what was logged. The follower owns it; a nil
// *policies is no policy.
type policies struct {
	set *atsss.PolicySet
	gen uint64
	log *slog.Logger
	// logged holds the policy revisions whose refusal was logged at Info;
	// later refusals (other sessions, recompiles) go to Debug.
	logged atsss.PolicyRevisions
}

// update puts set (generation gen) in force and forgets the refusals of
// policies no longer in it.
func (ps *policies) update(set *atsss.PolicySet, gen uint64) {
	ps.set, ps.gen = set, gen
	ps.logged.Keep(set)
}

// refused logs that pol cannot steer MAR m of session seid: at Info the
// first time for each policy revision, at Debug after that, so that a
// policy that no session's MAR can take is logged once, not once per
// session and recompile.
func (ps *policies) refused(seid atsss.SEID, m *atsss.MAR, pol *atsss.Policy, err error) {
	level := slog.LevelDebug
	if ps.logged.First(pol) {
		level = slog.LevelInfo
	}
	ps.log.Log(context.Background(), level, "operator policy not applied: the MAR's steering stays (other sessions it cannot steer are logged at debug)",
		"seid", uint64(seid), "policy", pol.Name, "mar_id", m.ID, "err", err)
}

// policyRule is a policy's steering compiled for one MAR; rule nil: the
// policy cannot steer it.
type policyRule struct {
	rule *steering.Rule
}

// marCompiler compiles the plans of one session view: it shares a MAR's
// steering states between the PDRs that use it, compiles each policy's
// rule once per MAR, and records which states are in use.
type marCompiler struct {
	s     *atsss.Session
	st    *sessState
	pol   *policies // nil: no policy
	used  map[stateKey]bool
	rules map[stateKey]policyRule
}

// state returns the steering state named k, making it if need be.
func (c *marCompiler) state(k stateKey) *marState {
	c.used[k] = true
	ms := c.st.mars[k]
	if ms == nil {
		ms = &marState{}
		c.st.mars[k] = ms
	}
	return ms
}

// plans resolves the operator policies for a downlink PDR whose MAR m is
// ATSSS-LL and whose own plan is own: the plan for what no flow policy
// matches, and the flow policies to try first, in order. See the comment
// at the top of this file.
func (c *marCompiler) plans(pdr *atsss.PDR, m *atsss.MAR, own *marPlan) (*marPlan, []flowPolicy) {
	if c.pol == nil || c.pol.set.Len() == 0 {
		return own, nil
	}
	def := own
	var flows []flowPolicy
walk:
	for _, pol := range c.pol.set.All() {
		if !pol.Applies(m) {
			continue
		}
		switch mt := &pol.Match; {
		case mt.Flow != nil:
			flows = append(flows, flowPolicy{filter: mt.Flow, plan: c.policyPlan(m, pol, own)})
		case mt.AppID != "":
			if pdr.PDI.ApplicationID == mt.AppID {
				def = c.policyPlan(m, pol, own)
				break walk
			}
		case mt.Session(c.s):
			def = c.policyPlan(m, pol, own)
			break walk
		}
	}
	// A flow policy at the end that steers as the default does changes
	// nothing: the packet need not be matched against it.
	for len(flows) > 0 && flows[len(flows)-1].plan == def {
		flows = flows[:len(flows)-1]
	}
	return def, flows
}

// policyPlan is the plan of pol in place of MAR m, whose own plan is own:
// own when pol has no downlink steering or cannot steer m (logged).
func (c *marCompiler) policyPlan(m *atsss.MAR, pol *atsss.Policy, own *marPlan) *marPlan {
	if pol.Downlink == nil {
		return own
	}
	k := stateKey{mar: m.ID, policy: pol.Name}
	pr, ok := c.rules[k]
	if !ok {
		if r, err := steering.PolicyRule(pol, c.s, *m); err != nil {
			c.pol.refused(c.s.LocalSEID, m, pol, err)
		} else {
			pr.rule = &r
		}
		if c.rules == nil {
			c.rules = map[stateKey]policyRule{}
		}
		c.rules[k] = pr
	}
	if pr.rule == nil {
		return own
	}
	// The legs stay the MAR's (SteerMAR keeps them), and so do their
	// tunnels with this PDR's QFI.
	return &marPlan{rule: *pr.rule, legs: own.legs, ms: c.state(k), policy: pol.Name}
}
