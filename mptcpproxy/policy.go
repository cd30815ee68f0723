package mptcpproxy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// Operator policies (Config.Policies, atsss.Policy) act per connection: at
// admission the first policy that matches the connection (PolicySet.ForFlow)
// is its policy; its downlink steering replaces the MAR's for that
// connection (steer.go keeps a steering State and a Load-Balancing splitter
// per session and policy), and its rate cap paces the relay (ratecap.go).
// A change of the policy set re-evaluates every live connection at once
// (followPolicies), and so does a change of its session over N4 (follow).

// policyRule is the steering rule an operator policy gives one session.
type policyRule struct {
	rule *steering.Rule // nil: the policy's steering cannot apply (err)
	err  error
}

// policyRules caches the rules of the policies met by one session state, so
// that a policy's steering is checked and compiled once per session and
// policy, and a policy that cannot apply is logged once.
type policyRules struct {
	mu sync.Mutex // guards m
	m  map[*atsss.Policy]policyRule
}

// maxPolicyRules bounds the cache: the policies of replaced sets are never
// asked for again, so a full cache is emptied rather than kept.
const maxPolicyRules = 16

// policyLog logs why a policy could not apply: at Info the first time for
// each policy revision, at Debug for the sessions after it, so that a
// policy no session's MAR can take logs once, not once per session nor
// again on each change of the set that leaves it as it was. Safe for
// concurrent use.
type policyLog struct {
	log  *slog.Logger
	seen atsss.PolicyRevisions
}

func (l *policyLog) refused(u *ue, pol *atsss.Policy, err error) {
	level := slog.LevelDebug
	if l.seen.First(pol) {
		level = slog.LevelInfo
	}
	l.log.Log(context.Background(), level, "operator policy not applied: the MAR's steering stays (other sessions it cannot steer are logged at debug)",
		"seid", uint64(u.seid), "policy", pol.Name, "mar_id", u.mar.ID, "err", err)
}

// ruleFor returns the steering rule of u's connections that policy pol
// matched (nil: none did), and the name of the steering group it belongs
// to: the policy's name when the policy's steering applies, "" when the
// MAR's does. A policy without downlink steering, a session without an
// MPTCP MAR, and a policy that the MAR cannot take (steering.PolicyRule
// fails: logged once, see policyLog) leave the MAR's rule. Safe for
// concurrent use.
func (u *ue) ruleFor(pol *atsss.Policy, log *policyLog) (*steering.Rule, string) {
	if pol == nil || pol.Downlink == nil || u.mar == nil {
		return u.rule, ""
	}
	u.rules.mu.Lock()
	defer u.rules.mu.Unlock()
	pr, ok := u.rules.m[pol]
	if !ok {
		pr = compilePolicy(u, pol)
		if pr.err != nil {
			log.refused(u, pol, pr.err)
		}
		if u.rules.m == nil || len(u.rules.m) >= maxPolicyRules {
			u.rules.m = make(map[*atsss.Policy]policyRule)
		}
		u.rules.m[pol] = pr
	}
	if pr.rule == nil {
		return u.rule, ""
	}
	return pr.rule, pol.Name
}

func compilePolicy(u *ue, pol *atsss.Policy) policyRule {
	r, err := steering.PolicyRule(pol, u.sess, *u.mar)
	if err != nil {
		return policyRule{err: err}
	}
	return policyRule{rule: &r}
}

// flowMAR is what a session without an MPTCP MAR is matched with: a
// policy for another functionality does not apply to proxied connections.
var flowMAR = atsss.MAR{Functionality: atsss.FunctionalityMPTCP}

// evaluate finds c's policy in the policy set in force and applies its rate
// cap; u, if not nil, is c's session's new state. The set is read under
// c.pmu, so evaluations of c are serialised and each sees the newest set
// and session: the admission, the policy follower and a session change
// over N4, which may race on a connection, leave the result of the last
// one, and it is matched against both the newest set and the newest
// session.
func (p *Proxy) evaluate(c *conn, u *ue) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if u != nil {
		c.cur = u
	}
	if p.cfg.Policies == nil {
		return
	}
	set, _ := p.cfg.Policies.Current()
	mar := c.cur.mar
	if mar == nil {
		mar = &flowMAR
	}
	c.pol = set.ForFlow(c.cur.sess, mar, c.flow)
	var rc atsss.RateCap
	if c.pol != nil {
		rc = c.pol.RateCap
	}
	c.down.set(rc.DownlinkBPS, p.cfg.Relay.BufferSize)
	c.up.set(rc.UplinkBPS, p.cfg.Relay.BufferSize)
}

// policy returns the operator policy that matched c at its last
// evaluation; nil: none.
func (c *conn) policy() *atsss.Policy {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.pol
}

// session returns c's session as last seen.
func (c *conn) session() *ue {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.cur
}

// admitPolicy evaluates a just-registered connection. Registered first,
// evaluated second: a policy set in between is seen by this evaluation or
// by the follower's pass over the registry, and whichever runs last reads
// the newer set.
func (p *Proxy) admitPolicy(c *conn) {
	if p.cfg.Policies == nil {
		return
	}
	p.evaluate(c, nil)
}

// followPolicies re-evaluates every live connection after each change of
// the policy set, until ctx ends.
func (p *Proxy) followPolicies(ctx context.Context) error {
	wake, stop := p.cfg.Policies.Subscribe()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		start := time.Now()
		set, gen := p.cfg.Policies.Current() // for the log: applyPolicies reads it again
		n, matched, changed := p.applyPolicies(start)
		p.log.Info("operator policies applied", "generation", gen, "policies", set.Len(), "connections", n,
			"matched", matched, "redecided", changed, "took", time.Since(start).Round(time.Microsecond))
	}
}

// applyPolicies evaluates every live connection under the policy set in
// force and re-steers the steered ones. It returns the connections seen,
// how many a policy matched, and how many got a new steering decision,
// which is applied to their subflows before it returns. What the steerer
// keeps of policies the set no longer holds goes: their refusals and,
// once no connection is left in them, their steering groups.
func (p *Proxy) applyPolicies(now time.Time) (n, matched, changed int) {
	// Read first: a newer set that evaluate meets is pruned on its own pass.
	set, _ := p.cfg.Policies.Current()
	conns := p.conns.all()
	for _, c := range conns {
		p.evaluate(c, nil)
		if c.policy() != nil {
			matched++
		}
	}
	if p.steer != nil {
		changed = p.steer.resteerAll(now)
		p.steer.policyLog.seen.Keep(set)
		p.steer.pruneGroups(set)
	}
	return len(conns), matched, changed
}

// refreshPolicies re-evaluates the connections of a session whose state
// changed over N4 (u is its new state): the session keys and the MAR that
// policies match may have changed with it. Without policies it only
// records u.
func (p *Proxy) refreshPolicies(conns []*conn, u *ue) {
	for _, c := range conns {
		p.evaluate(c, u)
	}
}
