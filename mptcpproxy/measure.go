package mptcpproxy

import (
	"context"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// What the proxy measures itself, for the sessions that steer by it: a
// Priority-based rule overflows when its high-priority access is
// saturated, and with DRTTI (the UE may not use PMF RTT) the RTTs are the
// MPTCP subflows' (RTTWP, TS 23.501 §5.32.5.1).
const (
	// sampleInterval is how often the subflows of such sessions are read.
	// 100 ms reacts within a few round trips of a cellular access and
	// costs one getsockopt per connection per sample.
	sampleInterval = 100 * time.Millisecond
	// saturatedBusy is the share of a sample interval a subflow must have
	// spent with data it could not send yet, for reasons of the path (its
	// congestion window, its send buffer) rather than of the UE (its
	// receive window), for its access to count as saturated. Measured on
	// 6.18 through a 20 Mbit/s shaped access: a bulk sender's subflow is
	// busy 100 % of the time, a 5 Mbit/s paced one 0 %; half sits well
	// between, and the Priority-based overflow hold (steering.OverflowHold)
	// keeps one quiet sample from ending an overflow.
	saturatedBusy = 0.5
	// saturatedSamples is how many samples in a row must find an access
	// saturated. One is not enough: a paced sender whose 16 KiB bursts
	// met a congestion window still small from a bulk phase's losses was
	// busy half of a sample now and then, and overflow started again (2
	// of 6 lab runs).
	saturatedSamples = 2
)

// readings is what one sample found of a session's accesses.
type readings struct {
	saturated [2]bool
	rtt       [2]time.Duration // lowest subflow RTT; 0: no subflow
}

// busyReading is a subflow's path-limited busy time when last sampled.
type busyReading struct {
	remote netip.AddrPort
	busy   time.Duration
}

// measured reports whether u's steering uses what the proxy measures.
func (u *ue) measured() bool {
	return u.rule != nil && (u.rule.Mode() == atsss.ModePriorityBased || u.drtti)
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
	bySession := map[atsss.SEID][]*steered{}
	s.mu.Lock()
	for _, st := range s.byConn {
		st.mu.Lock()
		if u := st.ue; u.measured() {
			bySession[u.seid] = append(bySession[u.seid], st)
		}
		st.mu.Unlock()
	}
	s.mu.Unlock()
	for seid, sts := range bySession {
		var r readings
		for _, st := range sts {
			st.measure(&r, now)
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
		}
		for _, a := range atsss.Accesses {
			if r.rtt[a] > 0 {
				sp.subflowRTT[a] = r.rtt[a] // else keep the last: a new connection starts with it
			}
		}
		s.mu.Unlock()
		s.resteer(sts, nil, now)
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

// measure adds st's subflows to r. Only the sampler calls it, so the busy
// readings need no lock.
func (st *steered) measure(r *readings, now time.Time) {
	rc, err := st.c.client.SyscallConn()
	if err != nil {
		return
	}
	subs, err := pm.ReadSubflows(rc)
	if err != nil {
		return
	}
	st.mu.Lock()
	u := st.ue
	st.mu.Unlock()
	elapsed := now.Sub(st.sampledAt)
	prev := st.busy
	st.busy, st.sampledAt = make([]busyReading, 0, len(subs)), now
	for _, sf := range subs {
		a, ok := u.accessOf(sf.Remote.Addr())
		if !ok || sf.State != tcpEstablished {
			continue
		}
		busy := sf.Busy - sf.RwndLimited
		st.busy = append(st.busy, busyReading{sf.Remote, busy})
		for _, p := range prev {
			if p.remote == sf.Remote && saturated(p.busy, busy, elapsed) {
				r.saturated[a] = true
			}
		}
		if sf.RTT > 0 && (r.rtt[a] == 0 || sf.RTT < r.rtt[a]) {
			r.rtt[a] = sf.RTT
		}
	}
}

// tcpEstablished is TCP_ESTABLISHED, a tcpi_state value.
const tcpEstablished = 1

// saturated reports whether a subflow whose path-limited busy time went
// from prev to cur over elapsed was limited by its path for at least
// saturatedBusy of it.
func saturated(prev, cur, elapsed time.Duration) bool {
	return elapsed > 0 && cur > prev && float64(cur-prev) >= saturatedBusy*float64(elapsed)
}
