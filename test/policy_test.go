package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/pace"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/timeline"
	"github.com/openatsss/atsss/test/traffic"
)

// TestNetnsPolicy applies operator policies with atsssctl, through
// atsssd's gRPC API, while traffic runs through its proxy: a steering
// policy moves live connections to another mode and back, and a rate cap
// holds a bulk connection to its rate and lets it go; GetSession shows the
// per-access bytes, subflows and RTT the proxy measured.
func TestNetnsPolicy(t *testing.T) {
	t.Run("load-balancing", testPolicyLoadBalancing)
	t.Run("rate-cap", testPolicyRateCap)
}

// newPolicyRig starts a rig whose atsssd steers and serves its API.
func newPolicyRig(t *testing.T, opts rig.Options) *rig.Rig {
	opts.API = true
	opts.Proxy = map[string]any{"steering": true}
	return newRig(t, opts)
}

// ctl runs atsssctl in the rig, failing t on an error.
func ctl(t *testing.T, r *rig.Rig, stdin string, args ...string) {
	t.Helper()
	if _, err := r.Ctl(t.Context(), stdin, args...); err != nil {
		t.Fatal(err)
	}
}

// testPolicyLoadBalancing: 20 connections of an Active-Standby session
// (3GPP active), each paced at 2 Mbit/s downlink, go over 3GPP alone; a
// Load-Balancing 80/20 policy for the DN server's flows makes the downlink
// split 80/20 within 5 points (from 1 s after the change), and deleting
// it takes them back to 3GPP alone. How long each move took is logged
// (100 ms timeline), not asserted.
func testPolicyLoadBalancing(t *testing.T) {
	r := newPolicyRig(t, rig.Options{
		Lab: lab.Config{Rate: [2]lab.Rate{{UpMbit: 100, DownMbit: 100}, {UpMbit: 100, DownMbit: 100}}},
	})
	ue, err := r.Establish(t.Context(), rig.SessionSpec{Mode: "active-standby", Priorities: "active/standby"})
	if err != nil {
		t.Fatal(err)
	}
	const conns = 20
	rate := new(pace.Rate)
	rate.Set(2)
	pacedFlows(t, r, ue, conns, rate, nil, func(i int) atsss.AccessType { return atsss.AccessType(i % 2) })
	sampler := downlinkSampler(t, r)

	time.Sleep(3 * time.Second)
	setAt := time.Now()
	sampler.Mark("policy 80/20")
	ctl(t, r, rig.PolicyFile("video", rig.DNFlow, "steerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 80}\n"), "policy", "apply", "-f", "-")
	steered := waitPolicyConns(t, r, ue, "policies/video", conns)
	t.Logf("policy applied: all %d connections under it %v after atsssctl started (/paths)", conns, steered.Sub(setAt).Round(time.Millisecond))

	time.Sleep(5 * time.Second)
	deletedAt := time.Now()
	sampler.Mark("policy deleted")
	ctl(t, r, "", "policy", "delete", "video")
	time.Sleep(5 * time.Second)
	tl := sampler.stop()

	share := func(from, to time.Time) float64 {
		g, n := tl.BytesBetween(0, from, to), tl.BytesBetween(1, from, to)
		if g+n == 0 {
			t.Fatalf("no downlink from %v to %v", from.Sub(tl.Start), to.Sub(tl.Start))
		}
		return 100 * float64(g) / float64(g+n)
	}
	// Within 100 ms windows, when the split first came within reach. It
	// is only logged, so a window without downlink (a short stall) is
	// skipped rather than failing the test as share would.
	reached := func(since time.Time, until time.Time, ok func(float64) bool) string {
		const w = 100 * time.Millisecond
		for at := since; at.Before(until); at = at.Add(w) {
			g, n := tl.BytesBetween(0, at, at.Add(w)), tl.BytesBetween(1, at, at.Add(w))
			if g+n == 0 {
				continue
			}
			if ok(100 * float64(g) / float64(g+n)) {
				return at.Add(w).Sub(since).String()
			}
		}
		return "never"
	}
	before := share(tl.Start.Add(time.Second), setAt)
	under := share(setAt.Add(time.Second), deletedAt)
	after := share(deletedAt.Add(time.Second), tl.End())
	t.Logf("3GPP share of the downlink: %.2f %% under the MAR (Active-Standby), %.1f %% under the 80/20 policy (from 1 s after), %.2f %% after its deletion (from 1 s after)",
		before, under, after)
	t.Logf("80/20 ± 5 reached in a 100 ms window %s after the policy was set; 3GPP ≥ 99 %% again %s after it was deleted",
		reached(setAt, deletedAt, func(s float64) bool { return s >= 75 && s <= 85 }),
		reached(deletedAt, tl.End(), func(s float64) bool { return s >= 99 }))
	logApplied(t, r)
	// The baseline only shows the MAR at work before the policy: 99.1 %
	// once (MPTCP may re-send over a backup subflow when the active one
	// stalls; TestNetnsSteeringActiveStandby holds the MAR's steering).
	if before < 95 {
		t.Errorf("under the MAR 3GPP carried %.2f %% of the downlink, want ≥ 95 %%", before)
	}
	if under < 75 || under > 85 {
		t.Errorf("under the 80/20 policy 3GPP carried %.1f %% of the downlink, want 80 ± 5", under)
	}
	if after < 99 {
		t.Errorf("after the policy's deletion 3GPP carried %.2f %% of the downlink, want ≥ 99 %% (the MAR's Active-Standby)", after)
	}
}

// testPolicyRateCap: one bulk connection each way through an
// Active-Standby session (3GPP at 100 Mbit/s); a policy capping its flow
// to 10 Mbit/s each way holds both directions' application throughput
// within 10 % of it (from 1 s after the change, over 3 s), and once the
// policy is deleted the connection goes well above again.
func testPolicyRateCap(t *testing.T) {
	r := newPolicyRig(t, rig.Options{
		Lab: lab.Config{Rate: [2]lab.Rate{{UpMbit: 100, DownMbit: 100}, {UpMbit: 100, DownMbit: 100}}},
	})
	ue, err := r.Establish(t.Context(), rig.SessionSpec{Mode: "active-standby", Priorities: "active/standby"})
	if err != nil {
		t.Fatal(err)
	}
	bulk := new(pace.Rate) // pace.Bulk
	f := pacedFlows(t, r, ue, 1, bulk, bulk, func(int) atsss.AccessType { return atsss.Access3GPP })

	// Application throughput each way (Mbit/s) over d, after settle.
	measure := func(what string, settle, d time.Duration) (down, up float64) {
		time.Sleep(settle)
		d0, u0 := f.ueDown.Load(), f.dnUp.Load()
		time.Sleep(d)
		d1, u1 := f.ueDown.Load(), f.dnUp.Load()
		down, up = float64(d1-d0)*8/1e6/d.Seconds(), float64(u1-u0)*8/1e6/d.Seconds()
		t.Logf("%s: downlink %.2f Mbit/s, uplink %.2f Mbit/s", what, down, up)
		return down, up
	}
	const capMbit = 10
	freeDown, freeUp := measure("uncapped", time.Second, 2*time.Second)
	ctl(t, r, rig.PolicyFile("bulk", fmt.Sprintf("permit out 6 from %v %d to assigned", lab.DNAddr, dnPort),
		fmt.Sprintf("rateCap: {downlinkBps: %d, uplinkBps: %d}\n", capMbit*1_000_000, capMbit*1_000_000)), "policy", "apply", "-f", "-")
	cappedDown, cappedUp := measure("capped at 10 Mbit/s", time.Second, 3*time.Second)
	ctl(t, r, "", "policy", "delete", "bulk")
	againDown, againUp := measure("cap removed", time.Second, 2*time.Second)

	logApplied(t, r)
	checkAccessStates(t, r, ue, f, func() {
		// The server resets the connection: the proxy learns at once. (A
		// UE whose close finds no unread data sends a DATA_FIN, not an
		// MP_FASTCLOSE, and the proxy's connection then stayed, both
		// subflows established, beyond the 10 s this waits: the UE's
		// orphaned MPTCP socket keeps them until its close timeout,
		// net.mptcp.close_timeout.)
		c := <-f.servers
		c.SetLinger(0)
		c.Close()
	})
	for _, m := range []struct {
		what string
		got  float64
	}{{"downlink", cappedDown}, {"uplink", cappedUp}} {
		if m.got < 0.9*capMbit || m.got > 1.1*capMbit {
			t.Errorf("capped %s: %.2f Mbit/s, want %d ± 10 %%", m.what, m.got, capMbit)
		}
	}
	for _, m := range []struct {
		what        string
		free, again float64
	}{{"downlink", freeDown, againDown}, {"uplink", freeUp, againUp}} {
		if m.free < 3*capMbit || m.again < 3*capMbit {
			t.Errorf("%s uncapped: %.1f Mbit/s before the cap, %.1f after; want both over %d (3 × the cap)", m.what, m.free, m.again, 3*capMbit)
		}
	}
}

// flowSet is the connections of pacedFlows: what each side received, and
// the servers' ends.
type flowSet struct {
	ueDown, dnUp atomic.Uint64
	servers      chan *net.TCPConn
}

// countTo counts what is written to it.
type countTo struct{ n *atomic.Uint64 }

func (c countTo) Write(b []byte) (int, error) { c.n.Add(uint64(len(b))); return len(b), nil }

// pacedFlows serves n connections from the data network (dnPort) and opens
// them from ue, connection i with its first subflow over first(i) and a
// subflow over each access: the server sends at down and the UE at up
// (pace.Send; nil: it sends nothing), and each side counts and discards
// what it receives. The connections end with t.
func pacedFlows(t *testing.T, r *rig.Rig, ue *rig.UE, n int, down, up *pace.Rate, first func(i int) atsss.AccessType) *flowSet {
	t.Helper()
	f := &flowSet{servers: make(chan *net.TCPConn, n)}
	ln, err := r.ListenDN(dnPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx := t.Context()
	exchange := func(c net.Conn, rate *pace.Rate, got *atomic.Uint64) {
		go io.Copy(countTo{got}, c)
		if rate != nil {
			pace.Send(ctx, c, &traffic.Pattern{}, rate)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.servers <- c.(*net.TCPConn)
			go exchange(c, down, &f.dnUp)
		}
	}()
	for i := range n {
		c := dialBoth(t, ue, first(i))
		t.Cleanup(func() { c.Close() })
		go exchange(c, up, &f.ueDown)
	}
	return f
}

// sampledDownlink records the downlink bytes of each access link (upf's
// transmit counters) on a 100 ms timeline, series indexed by access.
type sampledDownlink struct {
	*timeline.Sampler
	cancel context.CancelFunc
	done   chan error
}

func downlinkSampler(t *testing.T, r *rig.Rig) *sampledDownlink {
	var sources []timeline.Source
	for _, a := range atsss.Accesses {
		sources = append(sources, timeline.Source{Name: a.String() + " down", Read: func() (uint64, error) {
			c, err := r.Lab.AccessCounters(a)
			return c.TxBytes, err
		}})
	}
	s := &sampledDownlink{Sampler: timeline.NewSampler(100*time.Millisecond, sources...), done: make(chan error, 1)}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(t.Context())
	go func() { s.done <- s.Run(ctx) }()
	t.Cleanup(s.cancel)
	return s
}

// stop ends the sampling and returns the timeline.
func (s *sampledDownlink) stop() timeline.Timeline {
	s.cancel()
	<-s.done
	return s.Timeline()
}

// waitPolicyConns waits until the proxy shows n connections of ue's
// session under policy name, and returns when it did. It only bounds the
// wait.
func waitPolicyConns(t *testing.T, r *rig.Rig, ue *rig.UE, name string, n int) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := daemontest.WaitFor(ctx, func() bool {
		paths, err := r.Daemon.Paths(ctx)
		if err != nil {
			return false
		}
		for _, sp := range paths {
			for _, pd := range sp.Policies {
				if sp.SEID == ue.SEID && pd.Policy == name && pd.Connections == n {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("the proxy never showed %d connections under policy %q: %v", n, name, err)
	}
	return time.Now()
}

// logApplied logs the proxy's account of each policy change: connections
// re-evaluated and how long it took from the change to the last one
// re-decided (subflows flagged).
func logApplied(t *testing.T, r *rig.Rig) {
	for line := range strings.Lines(r.Daemon.Log()) {
		if strings.Contains(line, `"operator policies applied"`) {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// checkAccessStates checks what GetSession shows of ue's Active-Standby
// session (3GPP active) while its one connection runs, and again after
// end closes it: its bytes as the application counted them each way
// (f's, at the UE and at the server), nearly all over 3GPP, a subflow
// over each access while it runs and none after, and the closed
// connection's bytes still counted. The proxy counts the downlink the UE
// acknowledged, which may trail what the UE application read by the
// acknowledgements on their way: up to inFlight.
func checkAccessStates(t *testing.T, r *rig.Rig, ue *rig.UE, f *flowSet, end func()) {
	t.Helper()
	const inFlight = 1 << 20
	conn, err := r.DialAPI()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessions := atsssv1.NewSessionServiceClient(conn)
	states := func() [2]*atsssv1.AccessState {
		resp, err := sessions.GetSession(t.Context(), &atsssv1.GetSessionRequest{Seid: uint64(ue.SEID)})
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		var out [2]*atsssv1.AccessState
		for _, st := range resp.GetSession().GetAccesses() {
			switch st.GetAccess() {
			case atsssv1.AccessType_ACCESS_TYPE_3GPP:
				out[atsss.Access3GPP] = st
			case atsssv1.AccessType_ACCESS_TYPE_NON_3GPP:
				out[atsss.AccessNon3GPP] = st
			}
		}
		if out[0] == nil || out[1] == nil {
			t.Fatalf("GetSession: accesses %v, want both", resp.GetSession().GetAccesses())
		}
		return out
	}
	total := func(st [2]*atsssv1.AccessState) (down, up uint64) {
		return st[0].GetDownlinkBytes() + st[1].GetDownlinkBytes(), st[0].GetUplinkBytes() + st[1].GetUplinkBytes()
	}
	down0, up0 := f.ueDown.Load(), f.dnUp.Load()
	live := states()
	t.Logf("accesses while the connection runs: %v", live)
	down, up := total(live)
	g := live[atsss.Access3GPP]
	switch {
	case down+inFlight < down0 || up < up0:
		t.Errorf("GetSession counts %d bytes down, %d up; the application had moved %d, %d", down, up, down0, up0)
	case float64(g.GetDownlinkBytes()) < 0.99*float64(down):
		t.Errorf("GetSession: 3GPP (active) carried %d of %d downlink bytes, want ≥ 99 %%", g.GetDownlinkBytes(), down)
	}
	for _, a := range atsss.Accesses {
		if st := live[a]; !st.GetAvailable() || st.GetSubflows() != 1 {
			t.Errorf("GetSession %v: available %v, %d subflows; want available with one", a, st.GetAvailable(), st.GetSubflows())
		}
	}
	if g.RttUs == nil || g.GetRttUs() == 0 {
		t.Errorf("GetSession: no RTT for 3GPP (the subflow's smoothed RTT without PMF)")
	}

	end()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var conns []mptcpproxy.Connection
	if err := daemontest.WaitFor(ctx, func() bool { conns, err = r.Daemon.Connections(ctx); return err == nil && len(conns) == 0 }); err != nil {
		t.Fatalf("the connection did not close: %v: %+v", err, conns)
	}
	down1, up1 := f.ueDown.Load(), f.dnUp.Load()
	closed := states()
	t.Logf("accesses after it closed: %v", closed)
	if cd, cu := total(closed); cd < down || cu < up || cd+inFlight < down1 || cu < up1 || closed[0].GetSubflows()+closed[1].GetSubflows() != 0 {
		t.Errorf("GetSession after the connection closed: %d bytes down, %d up, %v; want at least the %d, %d counted while it ran and the %d, %d the application moved in all, no subflow",
			cd, cu, closed, down, up, down1, up1)
	}
}
