package mptcpproxy

import (
	"context"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/steering"
)

// What the proxy measures itself, for the sessions that steer by it: a
// Priority-based rule overflows when its high-priority access is
// saturated, and with DRTTI (the UE may not use PMF RTT) the RTTs are the
// MPTCP subflows' (RTTWP, TS 23.501 §5.32.5.1).
//
// Saturated means the path, not the application, limits the sender: a
// subflow holds data it has not been able to send yet (tcpi_notsent_bytes).
// Two readings that looked right and were not: the delivery rate's
// app-limited bit is never cleared on MPTCP subflows (6.18), and
// tcpi_busy_time counts time with data in flight, which a paced sender
// has all the time once its sends are closer than one RTT (measured: a 5
// Mbit/s flow over a 4 ms path read as saturated).
const (
	// sampleInterval is how often the subflows of such sessions are read.
	// 100 ms reacts within a few round trips of a cellular access and
	// costs one getsockopt per connection per sample.
	sampleInterval = 100 * time.Millisecond
	// saturatedNotSent is the backlog on a subflow that counts as
	// saturation: more than a burst an application writes at once
	// (measured through a 20 Mbit/s access: 0.4-1.5 MB for a bulk sender,
	// 0 for a 5 Mbit/s paced one).
	saturatedNotSent = 64 << 10
	// saturatedSamples is how many samples in a row must find an access
	// saturated, so that one burst does not start an overflow; the
	// overflow hold (steering.OverflowHold) keeps one quiet sample from
	// ending one.
	saturatedSamples = 2
)

// readings is what one sample found of a session's accesses.
type readings struct {
	saturated [2]bool
	rtt       [2]time.Duration // lowest subflow RTT; 0: no subflow
}

// measured reports whether a connection steered by rule in session u
// steers by what the proxy measures.
func measured(rule *steering.Rule, u *ue) bool {
	return rule != nil && (rule.Mode() == atsss.ModePriorityBased || u.drtti)
}

// sampleLoop samples the measured sessions every sampleInterval until ctx
// ends.
func (s *steerer) sampleLoop(ctx context.Context) {
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// sample reads the subflows of every measured session's connections,
// stores what it found as the session's path state and re-decides them.
func (s *steerer) sample(now time.Time) {
	s.mu.Lock()
	all := make([]*steered, 0, len(s.byConn))
	for _, st := range s.byConn {
		all = append(all, st)
	}
	s.mu.Unlock()
	// Not under s.mu: the lock order is steered.mu first.
	bySession := map[atsss.SEID][]*steered{}
	for _, st := range all {
		st.mu.Lock()
		if u := st.c.session(); measured(st.rule, u) {
			bySession[u.seid] = append(bySession[u.seid], st)
		}
		st.mu.Unlock()
	}
	for seid, sts := range bySession {
		var r readings
		for _, st := range sts {
			st.measure(&r)
		}
		s.mu.Lock()
		sp := entry(s.paths, seid)
		for _, a := range atsss.Accesses {
			if r.saturated[a] {
				sp.saturatedRun[a]++
			} else {
				sp.saturatedRun[a] = 0
			}
			sp.saturated[a] = sp.saturatedRun[a] >= saturatedSamples
			if r.rtt[a] > 0 {
				sp.subflowRTT[a] = r.rtt[a] // else keep the last: a new connection starts with it
			}
		}
		s.mu.Unlock()
		s.resteer(sts, now)
	}
	// A session whose measured connections all closed is not saturated.
	s.mu.Lock()
	for seid, sp := range s.paths {
		if _, ok := bySession[seid]; !ok {
			sp.saturated, sp.saturatedRun = [2]bool{}, [2]int{}
		}
	}
	s.mu.Unlock()
}

// measure adds st's established subflows to r.
func (st *steered) measure(r *readings) {
	rc, err := st.c.client.SyscallConn()
	if err != nil {
		return
	}
	subs, err := pm.ReadSubflows(rc)
	if err != nil {
		return
	}
	u := st.c.session()
	for _, sf := range subs {
		a, ok := u.accessOf(sf.Remote.Addr())
		if !ok || sf.State != tcpEstablished {
			continue
		}
		if sf.NotSent >= saturatedNotSent {
			r.saturated[a] = true
		}
		if sf.RTT > 0 && (r.rtt[a] == 0 || sf.RTT < r.rtt[a]) {
			r.rtt[a] = sf.RTT
		}
	}
}

// tcpEstablished is TCP_ESTABLISHED, a tcpi_state value.
const tcpEstablished = 1
