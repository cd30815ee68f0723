package test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering/pmf"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/traffic"
)

// Failover of an Active-Standby session when its active access (3GPP) is
// lost in the middle of a transfer both ways (issue 4, must show 3, and
// the PMF half of must show 4). TestNetnsFailover checks what can be
// checked without a clock: every byte arrives, the standby takes the
// traffic, and neither sender goes back to the dead access while it is
// down. BenchmarkFailover (failover_bench_test.go) reports the times.

// lossCause is how a failover run loses the active access.
type lossCause uint8

const (
	// lossLinkDown sets both ends of the 3GPP link down: atsssd hears of
	// it from its access link watch (netlink, access_links).
	lossLinkDown lossCause = iota
	// lossPMF drops the 3GPP access's traffic silently, with no link
	// event, and has the UE's PMF report 3GPP unavailable over non-3GPP
	// (TS 24.193 §6.1.3.2, access availability report) right after:
	// the UE's own time to notice the loss is not part of the run.
	lossPMF
)

var lossCauses = []lossCause{lossLinkDown, lossPMF}

func (c lossCause) String() string {
	if c == lossPMF {
		return "pmf-report"
	}
	return "link-down"
}

// failoverCase is a cause and what the UE does about it.
type failoverCase struct {
	cause lossCause
	// uePM: right after the cut (and the report), the UE's path manager
	// drops its 3GPP endpoint, as a UE's connection manager does when it
	// loses an access. That closes the UE's own 3GPP subflow, so its
	// MPTCP sends the data stuck there again on the standby at once;
	// without it the lab UE (a bare kernel) only does so as its
	// retransmission timers fire. Nothing the UPF does is different.
	uePM bool
}

func (c failoverCase) String() string {
	if c.uePM {
		return c.cause.String() + "+ue-pm"
	}
	return c.cause.String()
}

// Directions, as indexes of per-direction results.
const (
	dirUp   = 0 // UE → DN: what upf's end of an access link receives
	dirDown = 1 // DN → UE: what it sends
)

var dirNames = [2]string{"up", "down"}

const (
	// failoverSize is moved each way; the cut comes after a quarter of
	// the download, so the dead access stays down for the last three
	// quarters (about 2 s at the standby's 200 Mbit/s).
	failoverSize = 64 << 20
	// Sampling periods: the access links' and the applications' byte
	// counters (one netlink request per access), and the TCP senders'
	// subflow counters (a sock_diag dump in ue and in upf).
	linkSamplePeriod = 5 * time.Millisecond
	sockSamplePeriod = 10 * time.Millisecond
	// An access carries "traffic flowing" once it moves flowBytes within
	// flowWindow: 52 Mbit/s, a quarter of the standby's 200 Mbit/s and
	// eight times the ACK stream (about 8 KB per 10 ms) that a 200 Mbit/s
	// transfer the other way puts on it; not a stray ACK or MP_PRIO.
	flowBytes  = 64 << 10
	flowWindow = 10 * time.Millisecond
	// flowSustain: and it goes on so for 50 ms. Right after the cut a
	// sender may push one window of new data on the standby and then
	// wait for data stuck on the dead access (seen uplink: a 64 KiB
	// burst, then nothing for hundreds of ms); that is not the traffic
	// having moved.
	flowSustain = 50 * time.Millisecond
)

// Budgets for the dead access while it is down, per direction.
const (
	// deadCarriedBudget: bytes upf's end of the dead link may count, each
	// way, from the moment the cut is in force. Neither cut lets a new
	// frame through, but the silent drop's hooks sit before the lab's tbf
	// qdiscs (lab/access.go), so what those queued before the cut still
	// goes out and is counted (131 KB seen downlink): at most the tbf's
	// limit, 10 ms at the 3GPP access's 100 Mbit/s plus its 128 KiB
	// bucket. A down link sends nothing at all.
	deadCarriedBudget = 100_000_000/8/100 + 128<<10 // bytes/s × 10 ms + bucket
	// deadNewDataBudget: new data (first transmissions, counted by the
	// subflows' tcp_info) a sender may put on the dead access's live
	// subflows after the standby took over its direction. Zero: the
	// scheduler placing data there is what "returning to the dead
	// access" means; control (ACKs, a join's SYN, MP_PRIO, resets)
	// carries no data bytes. (Closing subflows are logged: deadSends.)
	deadNewDataBudget = 0
	// deadRetransSeg: retransmissions of a live subflow's own unacked head segment
	// by its RTO timer are not the scheduler's choice, and nothing in
	// the UPF can stop them on the UE's side: the proxy's reset of that
	// subflow is lost on the dead access. One segment per RTO (cwnd 1),
	// the RTO at least 200 ms and doubling: deadRetransBudget allows one
	// per 200 ms of down time, several times what backoff lets through.
	deadRetransSeg = 1448
)

// deadRetransBudget is the retransmission budget for d of down time.
func deadRetransBudget(d time.Duration) uint64 {
	return uint64(d/(200*time.Millisecond)+1) * deadRetransSeg
}

// failoverOptions is the rig of a failover run: 3GPP 100 Mbit/s, non-3GPP
// 200 Mbit/s each way, steering on, debug logs (the proxy's "subflow ...
// destroyed" and "access link state" lines time its reaction), and the
// cause's input: the access link watch or the PMF server.
func failoverOptions(c lossCause) rig.Options {
	o := rig.Options{
		Lab:      lab.Config{Rate: [2]lab.Rate{{UpMbit: 100, DownMbit: 100}, {UpMbit: 200, DownMbit: 200}}},
		Proxy:    map[string]any{"steering": true},
		LogLevel: "debug",
	}
	switch c {
	case lossLinkDown:
		o.Proxy["access_links"] = map[string][]string{
			"3gpp": {lab.Access[atsss.Access3GPP].Link}, "non3gpp": {lab.Access[atsss.AccessNon3GPP].Link},
		}
	case lossPMF:
		o.PMF = map[string]any{}
	}
	return o
}

// TestNetnsFailover cuts the active access (3GPP) of an Active-Standby
// session in the middle of a 64 MiB transfer each way, by a link event
// and by a PMF unavailability report with a silent drop, and keeps it down
// until the transfer ends. Every byte arrives, the standby carries both
// directions, the dead access carries nothing while down, and the proxy
// (downlink) schedules no data on its subflows once the standby took over
// (what the UE's kernel does is logged: see below). The times are logged, not asserted (see
// BenchmarkFailover).
func TestNetnsFailover(t *testing.T) {
	for _, cause := range lossCauses {
		t.Run(cause.String(), func(t *testing.T) {
			r := newRig(t, failoverOptions(cause))
			run := runFailover(t, r, failoverCase{cause: cause})
			run.logTimes(t)
			run.writeTrace(t)
			down := run.end.Sub(run.cut)
			for d := range dirNames {
				if got := run.carriedAfterCut(atsss.AccessNon3GPP, d); got < 1<<20 {
					t.Errorf("%s: the standby carried %d bytes after the cut, want the transfer on it", dirNames[d], got)
				}
				if got := run.carriedWhileCut(d); got > deadCarriedBudget {
					t.Errorf("%s: the dead 3GPP link carried %d bytes while cut, want ≤ %d", dirNames[d], got, deadCarriedBudget)
				}
				switched, ok := run.toStandby(d)
				if !ok {
					t.Errorf("%s: traffic never flowed on the standby", dirNames[d])
					continue
				}
				sent, err := run.deadSent(d, run.cut.Add(switched))
				if err != nil {
					t.Error(err)
					continue
				}
				t.Logf("%s: after the switch the %s sent on the dead access's subflows: live %d new + %d retransmitted bytes, closing %d + %d",
					dirNames[d], senderNames[d], sent.live.newData, sent.live.retrans, sent.closing.newData, sent.closing.retrans)
				// The UE's kernel is not the UPF's to steer once its access
				// is dead: MP_PRIO and the reset go out on the dead subflow
				// and never reach it, so its scheduler may still queue data
				// there (8.5 KB behind a silent drop, 37 KB after a link
				// down, each once in CI; it never leaves the UE). Only a UE
				// that acts on its own loss stops that (the +ue-pm cases of
				// BenchmarkFailover), so the uplink is logged, and the
				// proxy, which the UPF steers, is held to it.
				ueSide := d == dirUp
				if sent.live.newData > deadNewDataBudget && !ueSide {
					t.Errorf("%s: the %s went back to the dead access: %d bytes of new data on its live subflows after the standby took over, want ≤ %d",
						dirNames[d], senderNames[d], sent.live.newData, deadNewDataBudget)
				}
				if b := deadRetransBudget(down); sent.live.retrans > b {
					t.Errorf("%s: the %s retransmitted %d bytes on the dead access's live subflows after the switch, want ≤ %d (one MSS per 200 ms)",
						dirNames[d], senderNames[d], sent.live.retrans, b)
				}
			}
			// The proxy acted on the cause itself, not on the kernel's
			// dead-path detection: it destroyed the 3GPP subflow.
			if _, ok := run.logTime(msgDestroyed, true); !ok {
				t.Errorf("atsssd did not log %q for 3gpp", msgDestroyed)
			}
		})
	}
}

// senderNames name the sender of each direction, whose subflows deadSent
// reads.
var senderNames = [2]string{"UE", "proxy"}

// failoverRun is one loss of the active access during a transfer both
// ways, with what was sampled.
type failoverRun struct {
	failoverCase
	cut, cutDone time.Time // the cut was called, and returned
	report, ack  time.Time // lossPMF: ReportAccess called, and returned with the ACK
	end          time.Time // the transfer ended; the access was down from cut to end
	links        []linkSample
	socks        [2][2][]sockSample // by direction and access: dirUp the UE's subflows, dirDown the proxy's
	log          string             // atsssd's
}

// runFailover runs a failover on r (a fresh rig of
// failoverOptions(fc.cause)): an Active-Standby session with 3GPP active,
// a connection with a subflow over each access (the first over 3GPP),
// 64 MiB each way, and the cut when a quarter of the download arrived.
// The access stays cut.
func runFailover(tb testing.TB, r *rig.Rig, fc failoverCase) *failoverRun {
	tb.Helper()
	cause := fc.cause
	ctx := tb.Context()
	ue, err := r.Establish(ctx, rig.SessionSpec{Mode: "active-standby", Priorities: "active/standby"})
	if err != nil {
		tb.Fatal(err)
	}
	var client *pmf.Client
	if cause == lossPMF {
		if client, err = ue.StartPMF(ctx); err != nil {
			tb.Fatal(err)
		}
		defer client.Close()
	}
	ln, err := r.ListenDN(dnPort)
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	var dnUp, ueDown traffic.Counter
	served := traffic.Serve(ln, &dnUp, nil)
	c := dialBoth(tb, ue, atsss.Access3GPP)
	defer c.Close()

	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	linksDone := make(chan []linkSample, 1)
	linksErr := make(chan error, 1)
	go func() {
		s, err := sampleLinks(sctx, r.Lab, [2]*traffic.Counter{dirUp: &dnUp, dirDown: &ueDown})
		linksErr <- err
		linksDone <- s
	}()
	socks, err := newSockSampler(r.Lab, ue.LinkSpecific)
	if err != nil {
		tb.Fatal(err)
	}
	defer socks.close()
	socksDone := make(chan error, 1)
	go func() { socksDone <- socks.run(sctx) }()

	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	moved := make(chan traffic.Result, 1)
	go func() {
		req := traffic.Request{Up: failoverSize, Down: failoverSize, Seed: 41, KeepWriteOpen: true}
		moved <- traffic.Run(tctx, c, req, nil, &ueDown)
	}()
	if err := daemontest.WaitFor(tctx, func() bool {
		down, _ := ueDown.Read()
		up, _ := dnUp.Read()
		return down >= failoverSize/4 && up >= failoverSize/8
	}); err != nil {
		tb.Fatalf("waiting for the transfer to get going: %v", err)
	}

	run := &failoverRun{failoverCase: fc}
	run.cut = time.Now()
	switch cause {
	case lossLinkDown:
		err = r.Lab.Cut(atsss.Access3GPP, lab.LinkDown)
		run.cutDone = time.Now()
	case lossPMF:
		err = r.Lab.Cut(atsss.Access3GPP, lab.SilentDrop)
		run.cutDone = time.Now()
		if err == nil {
			run.report = time.Now()
			err = client.ReportAccess(ctx, atsss.AccessNon3GPP, atsss.Access3GPP, false)
			run.ack = time.Now()
		}
	}
	if err == nil && fc.uePM {
		err = ue.DropEndpoint(atsss.Access3GPP)
	}
	if err != nil {
		tb.Fatal(err)
	}
	res := <-moved
	run.end = time.Now()
	stopSampling()
	if err := <-linksErr; err != nil {
		tb.Fatalf("sample the links: %v", err)
	}
	run.links = <-linksDone
	if err := <-socksDone; err != nil {
		tb.Fatalf("sample the subflows: %v", err)
	}
	run.socks = socks.samples
	run.log = r.Daemon.Log()
	if res.Err != nil || res.Sent != failoverSize || res.Received != failoverSize {
		tb.Fatalf("UE side: sent %d, received %d: %v", res.Sent, res.Received, res.Err)
	}
	c.Close()
	if srv := <-served; srv.Err != nil || srv.Received != failoverSize {
		tb.Fatalf("DN side: received %d: %v", srv.Received, srv.Err)
	}
	return run
}

// linkSample is one reading of the access links and the applications.
type linkSample struct {
	at   time.Time       // when the reading was complete
	link [2]lab.Counters // upf's end of each access link
	app  [2]uint64       // dirUp: bytes the DN server received; dirDown: the UE
}

// bytes is what access a's link carried in direction d so far.
func (s linkSample) bytes(a atsss.AccessType, d int) uint64 {
	if d == dirUp {
		return s.link[a].RxBytes
	}
	return s.link[a].TxBytes
}

// sampleLinks reads both access links' counters and the applications'
// every linkSamplePeriod until ctx ends. It keeps its own timestamps
// rather than a timeline.Sampler's grid: a late reading is kept as late,
// not spread over the intervals it covers.
func sampleLinks(ctx context.Context, l *lab.Lab, app [2]*traffic.Counter) ([]linkSample, error) {
	t := time.NewTicker(linkSamplePeriod)
	defer t.Stop()
	var out []linkSample
	for {
		var s linkSample
		for _, a := range atsss.Accesses {
			c, err := l.AccessCounters(a)
			if err != nil {
				return out, err
			}
			s.link[a] = c
		}
		for d := range app {
			s.app[d], _ = app[d].Read()
		}
		s.at = time.Now()
		out = append(out, s)
		select {
		case <-ctx.Done():
			return out, nil
		case <-t.C:
		}
	}
}

// sockSample is one sock_diag reading of the TCP senders on the dead
// access's subflows, by socket cookie.
type sockSample struct {
	at   time.Time
	sent map[[2]uint32]tcpSent
}

// tcpSent is a subflow's tcp_info byte counters (RFC 4898
// tcpEStatsPerfHCDataOctetsOut and tcpEStatsPerfOctetsRetrans).
type tcpSent struct {
	sent, retrans uint64
	state         uint8 // TCP state (netlink.TCP_ESTABLISHED…)
}

// sockSampler dumps the TCP sockets of ue and upf every sockSamplePeriod
// and keeps those of access 3GPP's subflows: in ue, the ones bound to its
// link-specific address (uplink sender); in upf, the proxy's ones to it
// (downlink sender). Link counters cannot show a sender going back to a
// dead access, since neither cut counts what it discards; the senders'
// own counters do.
type sockSampler struct {
	h       [2]*netlink.Handle // dirUp: in ue, dirDown: in upf
	addrs   [2]netip.Addr      // the UE's link-specific address per access
	samples [2][2][]sockSample // by direction and access; written by run, read after it returned
}

func newSockSampler(l *lab.Lab, addrs [2]netip.Addr) (*sockSampler, error) {
	s := &sockSampler{addrs: addrs}
	for d, ns := range [2]*lab.NS{dirUp: l.UE, dirDown: l.UPF} {
		fd, err := netns.GetFromPath(ns.Path())
		if err != nil {
			s.close()
			return nil, fmt.Errorf("open %s: %w", ns.Name, err)
		}
		s.h[d], err = netlink.NewHandleAt(fd, unix.NETLINK_INET_DIAG)
		fd.Close()
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sock_diag in %s: %w", ns.Name, err)
		}
	}
	return s, nil
}

func (s *sockSampler) close() {
	for _, h := range s.h {
		if h != nil {
			h.Close()
		}
	}
}

func (s *sockSampler) run(ctx context.Context) error {
	t := time.NewTicker(sockSamplePeriod)
	defer t.Stop()
	for {
		for d, h := range s.h {
			socks, err := h.SocketDiagTCPInfo(unix.AF_INET)
			if err != nil {
				// An interrupted dump (sockets came or went) is retried at
				// the next tick rather than kept incomplete.
				continue
			}
			now := time.Now()
			ss := [2]sockSample{{at: now, sent: map[[2]uint32]tcpSent{}}, {at: now, sent: map[[2]uint32]tcpSent{}}}
			for _, k := range socks {
				id := k.InetDiagMsg.ID
				peer := id.Source
				if d == dirDown {
					peer = id.Destination
				}
				addr, ok := netip.AddrFromSlice(peer)
				if !ok || k.TCPInfo == nil {
					continue
				}
				for a := range ss {
					if addr.Unmap() == s.addrs[a] {
						ss[a].sent[id.Cookie] = tcpSent{sent: k.TCPInfo.Bytes_sent, retrans: k.TCPInfo.Bytes_retrans, state: k.InetDiagMsg.State}
					}
				}
			}
			for a := range ss {
				s.samples[d][a] = append(s.samples[d][a], ss[a])
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tcpBytes are data bytes a sender put on the wire: first
// transmissions and retransmissions.
type tcpBytes struct{ newData, retrans uint64 }

// deadSends is what one direction's sender put on the dead access's
// subflows: live ones (established, or closed by the peer only) are the
// MPTCP scheduler's to use; closing ones were closed on our side (the
// proxy's SUBFLOW_DESTROY is a shutdown and a close, not a reset) and
// TCP still delivers what was queued on them before their FIN, as on any
// closed socket: data the scheduler placed there before the cut, which
// MPTCP sends again on the standby.
type deadSends struct{ live, closing tcpBytes }

// deadSent is what direction d's sender put on the dead access's subflows
// from the first reading at or after from to the end.
func (r *failoverRun) deadSent(d int, from time.Time) (deadSends, error) {
	return r.sent(atsss.Access3GPP, d, from)
}

// sent is what direction d's sender put on access a's subflows from the
// first reading at or after from to the end, over the subflows there were
// then and any that came later; each reading's growth counts as live or
// closing by the subflow's state in it.
func (r *failoverRun) sent(a atsss.AccessType, d int, from time.Time) (deadSends, error) {
	var out deadSends
	samples := r.socks[d][a]
	base := slices.IndexFunc(samples, func(s sockSample) bool { return !s.at.Before(from) })
	if base < 0 {
		return out, fmt.Errorf("%s: no subflow reading after %v", dirNames[d], from.Format(time.StampMicro))
	}
	last := map[[2]uint32]tcpSent{} // as of the reading before the current one
	for _, s := range samples[:base+1] {
		maps.Copy(last, s.sent)
	}
	for _, s := range samples[base+1:] {
		for k, v := range s.sent {
			b := last[k] // zero for a subflow that came later
			grew := tcpBytes{newData: (v.sent - b.sent) - (v.retrans - b.retrans), retrans: v.retrans - b.retrans}
			to := &out.closing
			if v.state == netlink.TCP_ESTABLISHED || v.state == netlink.TCP_CLOSE_WAIT {
				to = &out.live
			}
			to.newData += grew.newData
			to.retrans += grew.retrans
			last[k] = v
		}
	}
	return out, nil
}

// indexAt is the index of the last link sample taken at or before t, or
// 0.
func (r *failoverRun) indexAt(t time.Time) int {
	i := 0
	for j, s := range r.links {
		if s.at.After(t) {
			break
		}
		i = j
	}
	return i
}

// carriedAfterCut is what access a's link carried in direction d from the
// cut to the end.
func (r *failoverRun) carriedAfterCut(a atsss.AccessType, d int) uint64 {
	if len(r.links) == 0 {
		return 0
	}
	return r.links[len(r.links)-1].bytes(a, d) - r.links[r.indexAt(r.cut)].bytes(a, d)
}

// carriedWhileCut is what the dead 3GPP link carried in direction d from
// the first reading after the cut was in force to the end.
func (r *failoverRun) carriedWhileCut(d int) uint64 {
	base := len(r.links) - 1
	for i, s := range r.links {
		if !s.at.Before(r.cutDone) {
			base = i
			break
		}
	}
	if base < 0 {
		return 0
	}
	return r.links[len(r.links)-1].bytes(atsss.Access3GPP, d) - r.links[base].bytes(atsss.Access3GPP, d)
}

// toStandby is the time from the cut to the first reading by which the
// standby (non-3GPP) link carried flowBytes in direction d within
// flowWindow and went on so for flowSustain: real traffic. If readings
// came late, the window is the gap to the previous one. ok is false if
// that never happened.
func (r *failoverRun) toStandby(d int) (_ time.Duration, ok bool) {
	at, ok := r.flowing(r.cut, func(s linkSample) uint64 { return s.bytes(atsss.AccessNon3GPP, d) })
	return at.Sub(r.cut), ok
}

// flowing returns the first reading after from by which get grew by
// flowBytes within flowWindow and went on growing so for flowSustain
// (or to the end of the readings).
func (r *failoverRun) flowing(from time.Time, get func(linkSample) uint64) (time.Time, bool) {
	base := r.indexAt(from)
	for i := base + 1; i < len(r.links); i++ {
		k := i
		for k < len(r.links) && r.links[k].at.Sub(r.links[i].at) <= flowSustain && r.flowsAt(k, base, get) {
			k++
		}
		if k == len(r.links) || r.links[k].at.Sub(r.links[i].at) > flowSustain {
			return r.links[i].at, true
		}
	}
	return time.Time{}, false
}

// appOutage is the time from the cut until the application receiving
// direction d has traffic flowing again (flowBytes within flowWindow)
// after it first stopped flowing; 0 if it never stopped. It is what a
// user sees; toStandby is what the access links see. ok is false if it
// stopped and never flowed again.
func (r *failoverRun) appOutage(d int) (_ time.Duration, ok bool) {
	get := func(s linkSample) uint64 { return s.app[d] }
	base := r.indexAt(r.cut)
	for i := base + 1; i < len(r.links); i++ {
		if !r.flowsAt(i, base, get) {
			at, ok := r.flowing(r.links[i].at, get)
			return at.Sub(r.cut), ok
		}
	}
	return 0, true
}

// flowsAt says whether get grew by flowBytes within the flowWindow (or
// the one reading gap) that ends at reading i, looking no further back
// than reading base.
func (r *failoverRun) flowsAt(i, base int, get func(linkSample) uint64) bool {
	j := i - 1
	for j > base && r.links[i].at.Sub(r.links[j-1].at) <= flowWindow {
		j--
	}
	return get(r.links[i])-get(r.links[j]) >= flowBytes
}

// writeTrace writes the run's link readings as CSV to the directory
// $ATSSS_TEST_TRACES, if set: ms from the cut, bytes per access link and
// direction, and the applications' bytes, all cumulative.
func (r *failoverRun) writeTrace(t *testing.T) {
	dir := os.Getenv("ATSSS_TEST_TRACES")
	if dir == "" {
		return
	}
	var b strings.Builder
	b.WriteString("ms,3gpp_up,3gpp_down,non3gpp_up,non3gpp_down,app_up,app_down\n")
	for _, s := range r.links {
		fmt.Fprintf(&b, "%.3f,%d,%d,%d,%d,%d,%d\n", float64(s.at.Sub(r.cut).Microseconds())/1000,
			s.link[0].RxBytes, s.link[0].TxBytes, s.link[1].RxBytes, s.link[1].TxBytes, s.app[dirUp], s.app[dirDown])
	}
	name := dir + "/" + strings.ReplaceAll(t.Name(), "/", "-") + ".csv"
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

// atsssd's log lines that time the proxy's reaction.
const (
	msgDestroyed = "subflow of an unavailable access destroyed" // mptcpproxy/steer.go, debug
	msgLinkState = "access link state"                          // mptcpproxy/links.go, info
)

// logTime returns the time of atsssd's first log line msg about access
// 3GPP after the cut; for msgLinkState, the one saying down is wantDown.
func (r *failoverRun) logTime(msg string, wantDown bool) (time.Time, bool) {
	for line := range strings.Lines(r.log) {
		if !strings.Contains(line, msg) {
			continue
		}
		var l struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Access string    `json:"access"`
			Down   *bool     `json:"down"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != msg || l.Access != atsss.Access3GPP.String() || l.Time.Before(r.cut) {
			continue
		}
		if l.Down != nil && *l.Down != wantDown {
			continue
		}
		return l.Time, true
	}
	return time.Time{}, false
}

// causeAt is when the proxy's input arrived at its door: the cut for a link
// event, the report being sent for a PMF report.
func (r *failoverRun) causeAt() time.Time {
	if r.cause == lossPMF {
		return r.report
	}
	return r.cut
}

// logTimes logs the run's times in ms.
func (r *failoverRun) logTimes(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%v: cut took %v", r.failoverCase, r.cutDone.Sub(r.cut).Round(time.Microsecond))
	if r.cause == lossPMF {
		fmt.Fprintf(&b, ", report ACKed in %v", r.ack.Sub(r.report).Round(time.Microsecond))
	}
	if at, ok := r.logTime(msgLinkState, true); ok {
		fmt.Fprintf(&b, "; link event logged %v after the cut", at.Sub(r.cut).Round(time.Microsecond))
	}
	if at, ok := r.logTime(msgDestroyed, true); ok {
		fmt.Fprintf(&b, "; 3GPP subflow destroyed %v after the %s", at.Sub(r.causeAt()).Round(time.Microsecond), map[bool]string{true: "report", false: "cut"}[r.cause == lossPMF])
	}
	for d := range dirNames {
		fmt.Fprintf(&b, "\n  %s: ", dirNames[d])
		if s, ok := r.toStandby(d); ok {
			fmt.Fprintf(&b, "standby flowing %v after the cut", s.Round(time.Microsecond))
		} else {
			b.WriteString("standby never flowing")
		}
		if o, ok := r.appOutage(d); ok {
			fmt.Fprintf(&b, ", application flowing again %v after the cut", o.Round(time.Microsecond))
		} else {
			b.WriteString(", application never flowing again")
		}
		if sb, err := r.sent(atsss.AccessNon3GPP, d, r.cut); err == nil {
			fmt.Fprintf(&b, "; the %s retransmitted %d bytes on the standby since the cut", senderNames[d], sb.live.retrans+sb.closing.retrans)
		}
	}
	fmt.Fprintf(&b, "\n  readings: %d of the links (longest gap %v), %d/%d of the subflows",
		len(r.links), r.longestGap().Round(time.Microsecond), len(r.socks[dirUp][0]), len(r.socks[dirDown][0]))
	t.Log(b.String())
}

// longestGap is the longest time between two link readings after the
// cut, the resolution of the times measured.
func (r *failoverRun) longestGap() time.Duration {
	var g time.Duration
	for i := r.indexAt(r.cut) + 1; i < len(r.links); i++ {
		g = max(g, r.links[i].at.Sub(r.links[i-1].at))
	}
	return g
}
