package mptcpproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/steering/pmf"
)

// steerer applies each connection's steering decision to its subflows with
// the MPTCP backup flag, which on Linux 6.18 steers both the proxy's
// sending and, through MP_PRIO, the UE's (measured: a flagged subflow went
// from 175 Mbit/s to 0 both ways within a second).
//
// Why the userspace path manager: the in-kernel one sets flags per local
// endpoint for every connection at once and refuses a per-connection
// SET_FLAGS ("userspace PM not selected"); the proxy has one local address,
// so only the userspace PM can flag one UE's subflow of one access. With
// it, the kernel accepts a UE's MP_JOIN only while some process listens to
// the mptcp_pm events, so the steerer is that listener, and it learns of
// every new subflow from the events. The userspace PM enforces no subflow
// limit either: the steerer does (MaxSubflows), and it closes a connection
// whose new subflow comes from another session's address at once rather
// than at the next scan.
type steerer struct {
	log         *slog.Logger
	policyLog   *policyLog
	maxSubflows int
	pm          *pm.Client // commands (SET_FLAGS, SUBFLOW_DESTROY)

	// Lock order: steered.mu before mu.
	mu      sync.Mutex          // guards the fields below
	byToken map[uint32]*steered // for the events
	byConn  map[*conn]*steered  // for session changes and closing
	paths   map[atsss.SEID]*sessionPaths
	// linkDown: all the links of the access are down (AccessLinks).
	linkDown [2]bool
}

// sessionPaths is what the steerer knows of one session's accesses beyond
// N4 and the links: the PMF's measurements and reports, what the proxy
// measures, and the steering groups of its connections.
type sessionPaths struct {
	rtt     [2]time.Duration // PMF RTT; 0: not measured
	loss    [2]steering.LossRate
	lossSet [2]bool // loss holds a PMF PLR measurement
	pmfDown [2]bool // the UE reported the access unavailable
	// Measured by the proxy (measure.go) for the sessions that need it.
	saturated    [2]bool
	saturatedRun [2]int // samples in a row that found the access saturated
	subflowRTT   [2]time.Duration
	// groups holds the steering of the session's connections by rule: ""
	// for the MAR's, an operator policy's name for that policy's.
	groups map[string]*group
}

// group is the connections of one session under one rule, the MAR's or an
// operator policy's in its place: its own steering State (the hysteresis
// memory of that rule) and Load-Balancing splitter, so that connections
// under different rules do not disturb each other's.
type group struct {
	state    steering.State    // downlink: what the rule steers
	decision steering.Decision // the latest, for /paths
	split    splitter
	conns    int // steered connections in the group
}

// group returns the group named name, making it first if need be. s.mu
// must be held.
func (sp *sessionPaths) group(name string) *group {
	if sp.groups == nil {
		sp.groups = map[string]*group{}
	}
	return entry(sp.groups, name)
}

// steered is a connection under steering.
type steered struct {
	c     *conn
	token uint32

	mu sync.Mutex // guards the fields below; held while applying them
	// rule is what steers the connection: its session's MAR, or the
	// operator policy that matched the connection in its place; group
	// names its group ("" for the MAR's), joined is whether the connection
	// counts in it.
	rule   *steering.Rule
	group  string
	joined bool
	// pin is, while the decision splits traffic, this connection's access;
	// or noPin. It is chosen by the group's splitter when the connection
	// first meets a split under its rule, and chosen again when its rule
	// changes.
	pin      atsss.AccessType
	decision steering.Decision
}

func newSteerer(cfg Config, log *slog.Logger) (*steerer, error) {
	c, err := pm.Open()
	if err != nil {
		return nil, fmt.Errorf("mptcp path manager: %w", err)
	}
	return newSteererWith(c, cfg, log), nil
}

// newSteererWith builds a steerer on path manager c (nil in tests that
// never reach the kernel).
func newSteererWith(c *pm.Client, cfg Config, log *slog.Logger) *steerer {
	return &steerer{log: log, policyLog: &policyLog{log: log}, maxSubflows: 1 + int(cfg.MaxSubflows), pm: c,
		byToken: map[uint32]*steered{}, byConn: map[*conn]*steered{}, paths: map[atsss.SEID]*sessionPaths{}}
}

// run listens to the path manager's events until ctx ends. events must be
// open before the listeners accept, or the first joins are refused.
func (s *steerer) run(parent context.Context, events *pm.Events) error {
	defer s.pm.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	wg.Go(func() { s.sampleLoop(ctx) })
	err := events.Run(ctx, s.event)
	if parent.Err() != nil {
		return nil
	}
	return fmt.Errorf("mptcp_pm events: %w", err)
}

func (s *steerer) event(e pm.Event) {
	if e.Type != pm.EventSubEstablished {
		return
	}
	s.mu.Lock()
	st := s.byToken[e.Token]
	s.mu.Unlock()
	if st == nil {
		return // not yet admitted: add applies to the subflows it finds
	}
	s.subflow(st, e.Local, e.Remote, true)
}

// add puts an admitted MPTCP connection under steering: it computes the
// decision of the connection's rule and applies it to the subflows the
// connection has; later ones come as events.
func (s *steerer) add(c *conn, now time.Time) {
	rc, err := c.client.SyscallConn()
	if err != nil {
		return
	}
	info, err := pm.ReadInfo(rc)
	if err != nil {
		s.log.Debug("steering: no MPTCP info", "ue_ip", c.src.Addr().String(), "err", err)
		return
	}
	st := s.track(c, info.Token, now)
	// Registered first, read second: a join between the two is seen by
	// both, and flagging a subflow twice is harmless.
	subs, err := pm.ReadSubflows(rc)
	if err != nil {
		return
	}
	for _, sf := range subs {
		s.subflow(st, sf.Local, sf.Remote, true)
	}
}

// track registers c, whose MPTCP token is token, and decides for it. It
// is published and decided under st.mu: an event for the connection waits
// for its first decision, and a policy change after the publication
// re-decides it.
func (s *steerer) track(c *conn, token uint32, now time.Time) *steered {
	st := &steered{c: c, token: token, pin: noPin}
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	s.byToken[st.token], s.byConn[c] = st, st
	s.mu.Unlock()
	s.redecideLocked(st, now)
	return st
}

// noPin: the connection is not pinned to an access.
const noPin = atsss.AccessType(255)

// entry returns m[k], making it first if need be.
func entry[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
}

// forget drops what the steerer keeps of a deleted session.
func (s *steerer) forget(seid atsss.SEID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.paths, seid)
}

// remove ends steering of c.
func (s *steerer) remove(c *conn) {
	s.mu.Lock()
	st := s.byConn[c]
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byToken, st.token)
	delete(s.byConn, c)
	s.leaveGroup(st)
}

// pruneGroups forgets the steering groups of the operator policies that
// set does not hold and no connection is in: a session keeps as many groups
// as policies in force, and a policy deleted and later created again starts
// afresh (its hysteresis and splitter credit) rather than where the old one
// left off. A group a connection is in stays: it may have joined under a
// newer set than set.
func (s *steerer) pruneGroups(set *atsss.PolicySet) {
	held := make(map[string]bool, set.Len())
	for _, pol := range set.All() {
		held[pol.Name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.paths {
		for name, g := range sp.groups {
			if name != "" && g.conns == 0 && !held[name] {
				delete(sp.groups, name)
			}
		}
	}
}

// leaveGroup takes st out of its group's count. s.mu and st.mu must be
// held.
func (s *steerer) leaveGroup(st *steered) {
	if !st.joined {
		return
	}
	st.joined = false
	if sp := s.paths[st.c.ue.seid]; sp != nil {
		if g := sp.groups[st.group]; g != nil {
			g.conns--
		}
	}
}

// subflow applies st's decision to one subflow: a fresh one (just joined,
// or found when the connection was admitted) or one whose connection's
// decision changed.
func (s *steerer) subflow(st *steered, local, remote netip.AddrPort, fresh bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.c
	u := c.session()
	if !u.owns(remote.Addr()) {
		s.log.Warn("connection closed: subflow from a foreign address", "seid", uint64(u.seid), "ue_ip", c.src.Addr().String(), "subflow_ip", remote.Addr().String())
		c.abort("foreign subflow")
		return
	}
	if fresh {
		if n := s.subflows(c); n > s.maxSubflows {
			s.log.Info("subflow refused: limit reached", "seid", uint64(u.seid), "subflow_ip", remote.Addr().String(), "subflows", n)
			if err := s.pm.DestroySubflow(st.token, local, remote); err != nil {
				s.log.Debug("destroy subflow", "err", err)
			}
			return
		}
	}
	a, ok := u.accessOf(remote.Addr())
	if !ok {
		return // the MA PDU address belongs to no access
	}
	d := st.decision
	log := s.log.With("seid", uint64(u.seid), "access", a.String(), "reason", d.Reason.String())
	backup := d.Backup(a)
	switch {
	case d.Role[a] == steering.RoleDown && !fresh:
		// The access just went: close its subflow now, so that its unacked
		// data is sent again on the other at once, instead of after the
		// retransmission timeouts MPTCP's dead-path detection waits for.
		// The UE joins again when the access returns.
		if err := s.pm.DestroySubflow(st.token, local, remote); err != nil {
			log.Info("destroy subflow of an unavailable access", "err", err)
			return
		}
		log.Debug("subflow of an unavailable access destroyed")
		return
	case d.Role[a] == steering.RoleDown:
		// A join over an access we hold for down: the news that it is back
		// may be on its way (a link's state settles after its first
		// packets pass). Keep the subflow, idle, until it is.
		backup = true
	case fresh && !backup:
		return // a new subflow is not a backup
	}
	if err := s.pm.SetBackup(st.token, local, remote, backup); err != nil {
		log.Info("set backup flag", "local", local.String(), "remote", remote.String(), "backup", backup, "fresh", fresh, "err", err)
		return
	}
	log.Debug("subflow backup flag set", "backup", backup)
}

// update re-decides for the connections of a session whose rule or
// availability changed. A new state of the session must be in the
// connections already (Proxy.evaluate).
func (s *steerer) update(conns []*conn, now time.Time) {
	var todo []*steered
	s.mu.Lock()
	for _, c := range conns {
		if st := s.byConn[c]; st != nil {
			todo = append(todo, st)
		}
	}
	s.mu.Unlock()
	s.resteer(todo, now)
}

// linkChanged re-decides for every connection after the links of access a
// went down or came back up.
func (s *steerer) linkChanged(a atsss.AccessType, down bool, now time.Time) {
	s.mu.Lock()
	s.linkDown[a] = down
	s.mu.Unlock()
	s.resteerAll(now)
}

// resteerAll re-decides for every connection, and returns how many got a
// new decision.
func (s *steerer) resteerAll(now time.Time) int {
	s.mu.Lock()
	todo := make([]*steered, 0, len(s.byToken))
	for _, st := range s.byToken {
		todo = append(todo, st)
	}
	s.mu.Unlock()
	return s.resteer(todo, now)
}

// resteer applies a new decision to each connection whose decision
// changed. It returns how many changed.
func (s *steerer) resteer(todo []*steered, now time.Time) int {
	n := 0
	for _, st := range todo {
		if !s.redecide(st, now) {
			continue
		}
		n++
		rc, err := st.c.client.SyscallConn()
		if err != nil {
			continue
		}
		subs, err := pm.ReadSubflows(rc)
		if err != nil {
			continue
		}
		for _, sf := range subs {
			// A subflow on its way out (the first one lingers in
			// FIN_WAIT1 after SUBFLOW_DESTROY while its access is down)
			// has no flags to set: the path manager no longer finds it.
			if sf.State == tcpEstablished {
				s.subflow(st, sf.Local, sf.Remote, false)
			}
		}
	}
	return n
}

// redecide brings st up to date and decides again. It reports whether the
// decision changed.
func (s *steerer) redecide(st *steered, now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return s.redecideLocked(st, now)
}

// redecideLocked is redecide with st.mu held. The connection's rule is
// found again from its session and its operator policy (either may have
// changed); under a new rule it leaves its group for the new rule's and is
// pinned again if the new decision splits.
func (s *steerer) redecideLocked(st *steered, now time.Time) bool {
	u := st.c.session()
	rule, name := u.ruleFor(st.c.policy(), s.policyLog)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !st.joined || name != st.group || !sameRule(rule, st.rule) {
		s.leaveGroup(st)
		st.rule, st.group, st.pin = rule, name, noPin
		st.joined = true
		entry(s.paths, u.seid).group(name).conns++
	}
	nd := s.decideLocked(st, u, now)
	changed := nd != st.decision
	st.decision = nd
	return changed
}

// sameRule reports whether a and b steer alike.
func sameRule(a, b *steering.Rule) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// decideLocked is the decision for st's connection, whose session is u
// now: its rule's with what is known of the session's accesses: N4
// availability, the access links, the PMF's reports, RTTs and loss, and
// what the proxy measures (saturation; subflow RTTs with DRTTI). The
// group's steering State persists, so that hysteresis holds across
// decisions. While the decision splits traffic the connection is pinned to
// one access (split.go). A rule of nil (a session without an MPTCP rule)
// steers nothing. s.mu and st.mu must be held.
func (s *steerer) decideLocked(st *steered, u *ue, now time.Time) steering.Decision {
	if st.rule == nil {
		return steering.Decision{}
	}
	sp := entry(s.paths, u.seid)
	g := sp.group(st.group)
	state := &g.state
	for _, a := range atsss.Accesses {
		p := &state.Paths[a]
		p.LinkDown = s.linkDown[a]
		// N4 and PMF reports: down while either says so. (The spec's
		// "latest of the two wins" needs their order, which the store's
		// session does not keep.)
		p.Unavailable = u.unavailable[a] || sp.pmfDown[a]
		p.RTT = sp.rtt[a]
		if u.drtti {
			p.RTT = sp.subflowRTT[a] // PMF RTT is not allowed (RTTWP)
		}
		p.Congested = sp.saturated[a]
		p.Loss, p.LossKnown = sp.loss[a], sp.lossSet[a]
	}
	d := steering.Decide(st.rule, state, now)
	g.decision = d
	if !splits(d) {
		return d
	}
	if st.pin == noPin {
		st.pin = g.split.pick(d.Share)
	}
	return pinned(d, st.pin)
}

// pmfRTT takes the PMF's smoothed RTT of a session's access.
func (s *steerer) pmfRTT(seid atsss.SEID, a atsss.AccessType, rtt time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry(s.paths, seid).rtt[a] = rtt
}

// pmfLoss takes the PMF's downlink packet loss rate (percent) of a
// session's access.
func (s *steerer) pmfLoss(seid atsss.SEID, a atsss.AccessType, percent float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := entry(s.paths, seid)
	sp.loss[a], sp.lossSet[a] = steering.LossFromPercent(percent), true
}

// pmfAvailability takes the UE's PMF report on a session's access.
func (s *steerer) pmfAvailability(seid atsss.SEID, a atsss.AccessType, available bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry(s.paths, seid).pmfDown[a] = !available
}

func (s *steerer) subflows(c *conn) int {
	rc, err := c.client.SyscallConn()
	if err != nil {
		return 0
	}
	subs, err := pm.ReadSubflows(rc)
	if err != nil {
		return 0
	}
	return len(subs)
}

// mptcpMAR returns the session's first MPTCP MAR, or nil. One per session
// is what SMFs send for MPTCP today; a session with several would need the
// connection's PDR to choose.
func mptcpMAR(s *atsss.Session) *atsss.MAR {
	for i := range s.MARs {
		if s.MARs[i].Functionality == atsss.FunctionalityMPTCP {
			return &s.MARs[i]
		}
	}
	return nil
}

// marRule returns the steering rule of mar, or nil for no MAR or one that
// steering cannot apply.
func marRule(mar *atsss.MAR) *steering.Rule {
	if mar == nil {
		return nil
	}
	r, err := steering.NewRule(mar)
	if err != nil {
		return nil
	}
	return &r
}

// PathEvent feeds a PMF event (steering/pmf) to steering: the RTTs, the
// downlink PLR measurements and the UE's access availability reports of a
// session's default QoS flow re-decide its connections. Other kinds are not
// used yet.
func (p *Proxy) PathEvent(ev pmf.Event) {
	if p.steer == nil || ev.Path.QFI != 0 {
		return
	}
	switch ev.Kind {
	case pmf.KindRTT:
		p.steer.pmfRTT(ev.Path.SEID, ev.Path.Access, ev.RTT)
	case pmf.KindPLR:
		p.steer.pmfLoss(ev.Path.SEID, ev.Path.Access, ev.PLR)
	case pmf.KindAvailability:
		p.steer.pmfAvailability(ev.Path.SEID, ev.Path.Access, ev.Available)
	default:
		return
	}
	p.steer.update(p.conns.session(ev.Path.SEID), time.Now())
}
