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
	maxSubflows int
	pm          *pm.Client // commands (SET_FLAGS, SUBFLOW_DESTROY)

	mu      sync.Mutex               // guards the fields below
	byToken map[uint32]*steered      // for the events
	byConn  map[*conn]*steered       // for session changes and closing
	splits  map[atsss.SEID]*splitter // Load-Balancing sessions' assignment
	paths   map[atsss.SEID]*sessionPaths
	// linkDown: all the links of the access are down (AccessLinks).
	linkDown [2]bool
}

// sessionPaths is what the steerer knows of one session's accesses beyond
// N4 and the links: the PMF's measurements and reports, and the steering
// State (with its hysteresis memory) of the session's MPTCP rule.
type sessionPaths struct {
	rtt     [2]time.Duration // PMF RTT; 0: not measured
	loss    [2]steering.LossRate
	lossSet [2]bool // loss holds a PMF PLR measurement
	pmfDown [2]bool // the UE reported the access unavailable
	// Measured by the proxy (measure.go) for the sessions that need it.
	saturated    [2]bool
	saturatedRun [2]int // samples in a row that found the access saturated
	subflowRTT   [2]time.Duration
	state        steering.State    // downlink: what the MAR steers
	decision     steering.Decision // the latest, for /paths
}

// steered is a connection under steering.
type steered struct {
	c     *conn
	token uint32
	pin   atsss.AccessType // for a split decision, this connection's access; or noPin

	mu       sync.Mutex // guards the fields below; held while applying them
	ue       *ue        // the session as last seen (conn.ue is the one admitted)
	decision steering.Decision
}

func newSteerer(cfg Config, log *slog.Logger) (*steerer, error) {
	c, err := pm.Open()
	if err != nil {
		return nil, fmt.Errorf("mptcp path manager: %w", err)
	}
	return &steerer{log: log, maxSubflows: 1 + int(cfg.MaxSubflows), pm: c,
		byToken: map[uint32]*steered{}, byConn: map[*conn]*steered{}, splits: map[atsss.SEID]*splitter{}, paths: map[atsss.SEID]*sessionPaths{}}, nil
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
// decision of the session's rule and applies it to the subflows the
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
	st := &steered{c: c, token: info.Token, ue: c.ue, pin: noPin}
	d := s.decide(c.ue, now)
	s.mu.Lock()
	if splits(d) {
		st.pin = entry(s.splits, c.ue.seid).pick(d.Share)
	}
	st.decision = st.apply(d)
	s.byToken[st.token], s.byConn[c] = st, st
	s.mu.Unlock()
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

// noPin: the connection is not pinned to an access.
const noPin = atsss.AccessType(255)

// apply returns d as it applies to this connection: pinned to its access
// while d splits traffic.
func (st *steered) apply(d steering.Decision) steering.Decision {
	if st.pin != noPin && splits(d) {
		return pinned(d, st.pin)
	}
	return d
}

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
	delete(s.splits, seid)
	delete(s.paths, seid)
}

// remove ends steering of c.
func (s *steerer) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.byConn[c]; st != nil {
		delete(s.byToken, st.token)
		delete(s.byConn, c)
	}
}

// subflow applies st's decision to one subflow: a fresh one (just joined,
// or found when the connection was admitted) or one whose connection's
// decision changed.
func (s *steerer) subflow(st *steered, local, remote netip.AddrPort, fresh bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, u := st.c, st.ue
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
		log.Info("set backup flag", "err", err)
		return
	}
	log.Debug("subflow backup flag set", "backup", backup)
}

// update re-decides for the connections of a session whose rule or
// availability changed (u is its new state).
func (s *steerer) update(conns []*conn, u *ue, now time.Time) {
	var todo []*steered
	s.mu.Lock()
	for _, c := range conns {
		if st := s.byConn[c]; st != nil {
			todo = append(todo, st)
		}
	}
	s.mu.Unlock()
	s.resteer(todo, u, now)
}

// linkChanged re-decides for every connection after the links of access a
// went down or came back up.
func (s *steerer) linkChanged(a atsss.AccessType, down bool, now time.Time) {
	s.mu.Lock()
	s.linkDown[a] = down
	todo := make([]*steered, 0, len(s.byToken))
	for _, st := range s.byToken {
		todo = append(todo, st)
	}
	s.mu.Unlock()
	s.resteer(todo, nil, now)
}

// resteer applies a new decision to each connection whose decision
// changed; u, if not nil, is their session's new state.
func (s *steerer) resteer(todo []*steered, u *ue, now time.Time) {
	for _, st := range todo {
		st.mu.Lock()
		if u != nil {
			st.ue = u
		}
		nd := st.apply(s.decide(st.ue, now))
		changed := st.decision != nd
		st.decision = nd
		st.mu.Unlock()
		if !changed {
			continue
		}
		rc, err := st.c.client.SyscallConn()
		if err != nil {
			continue
		}
		subs, err := pm.ReadSubflows(rc)
		if err != nil {
			continue
		}
		for _, sf := range subs {
			s.subflow(st, sf.Local, sf.Remote, false)
		}
	}
}

// decide is the decision of u's MPTCP rule with what is known of its
// accesses now: N4 availability, the access links, the PMF's reports, RTTs
// and loss, and what the proxy measures (saturation; subflow RTTs with
// DRTTI). The session's steering State persists, so that hysteresis
// holds across decisions. A session without an MPTCP rule steers nothing.
func (s *steerer) decide(u *ue, now time.Time) steering.Decision {
	if u.rule == nil {
		return steering.Decision{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := entry(s.paths, u.seid)
	st := &sp.state
	for _, a := range atsss.Accesses {
		p := &st.Paths[a]
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
	sp.decision = steering.Decide(u.rule, st, now)
	return sp.decision
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

// mptcpRule returns the steering rule of the session's first MPTCP MAR, or
// nil. One per session is what SMFs send for MPTCP today; a session with
// several would need the connection's PDR to choose.
func mptcpRule(s *atsss.Session) *steering.Rule {
	for i := range s.MARs {
		if s.MARs[i].Functionality != atsss.FunctionalityMPTCP {
			continue
		}
		r, err := steering.NewRule(&s.MARs[i])
		if err != nil {
			return nil
		}
		return &r
	}
	return nil
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
	p.steer.update(p.conns.session(ev.Path.SEID), nil, time.Now())
}
