package pmf

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openatsss/atsss/atsss"
)

// harness joins a UPF core and the UE's links in memory: messages move
// only when pump is called, at the harness's time, so every exchange is
// deterministic.
type harness struct {
	t      *testing.T
	c      *core
	ue     [2]*link
	ueAddr [2]netip.AddrPort
	now    time.Time
	// drop, if set, loses a message; toUE says which way it goes.
	drop func(a atsss.AccessType, toUE bool, m Message) bool

	toUPF      []ueMsg
	events     []Event
	ueDone     []completion
	ueRequests []Message
}

type ueMsg struct {
	a atsss.AccessType
	m Message
}

var ueTiming = Config{}.WithDefaults().timing()

// addrCmp compares netip values by ==.
var addrCmp = cmpopts.EquateComparable(netip.AddrPort{}, netip.Addr{})

func newHarness(t *testing.T, cfg Config) *harness {
	return &harness{
		t:      t,
		c:      newTestCore(cfg),
		ue:     [2]*link{newLink(), newLink()},
		ueAddr: [2]netip.AddrPort{ue3GPP, netip.MustParseAddrPort("192.0.2.10:4001")},
		now:    t0,
	}
}

func (h *harness) dropped(a atsss.AccessType, toUE bool, m Message) bool {
	return h.drop != nil && h.drop(a, toUE, m)
}

// ueRequest has the UE send request m on access a.
func (h *harness) ueRequest(a atsss.AccessType, m Message) Message {
	h.t.Helper()
	m, err := h.ue[a].request(h.now, m)
	if err != nil {
		h.t.Fatalf("UE request %v: %v", m.Type, err)
	}
	h.toUPF = append(h.toUPF, ueMsg{a, m})
	return m
}

// upf runs a UPF command on path (testSEID, 0, a).
func (h *harness) upf(a atsss.AccessType, m Message) error {
	p, err := h.c.path(PathID{SEID: testSEID, Access: a})
	if err != nil {
		return err
	}
	return h.c.request(h.now, p, m)
}

func (h *harness) mustUPF(a atsss.AccessType, m Message) {
	h.t.Helper()
	if err := h.upf(a, m); err != nil {
		h.t.Fatalf("UPF %v: %v", m.Type, err)
	}
}

// pump delivers messages both ways until none are left.
func (h *harness) pump() {
	h.t.Helper()
	for len(h.c.out) > 0 || len(h.toUPF) > 0 {
		outs := h.c.out
		h.c.out = nil
		for _, o := range outs {
			a := h.c.listen[o.listener].Access
			if o.to != h.ueAddr[a] {
				h.t.Fatalf("UPF sent %v to %v on %v, the UE is at %v", o.m.Type, o.to, a, h.ueAddr[a])
			}
			if _, err := o.m.Append(nil); err != nil {
				h.t.Fatalf("UPF sent %+v: %v", o.m, err)
			}
			if h.dropped(a, true, o.m) {
				continue
			}
			r := h.ue[a].receive(h.now, o.m, ueTiming)
			if r.hasReply {
				h.toUPF = append(h.toUPF, ueMsg{a, r.reply})
			}
			if r.hasRequest {
				h.ueRequests = append(h.ueRequests, r.request)
			}
			if r.hasDone {
				h.ueDone = append(h.ueDone, r.done)
			}
		}
		ups := h.toUPF
		h.toUPF = nil
		for _, u := range ups {
			if !h.dropped(u.a, false, u.m) {
				h.c.receive(h.now, int(u.a), h.ueAddr[u.a], u.m)
			}
		}
	}
	h.events = append(h.events, h.c.events...)
	h.c.events = nil
}

// tick advances time by d and runs both ends' timers.
func (h *harness) tick(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.tick(h.now)
	for _, a := range atsss.Accesses {
		resend, done := h.ue[a].tick(h.now, ueTiming)
		for _, m := range resend {
			h.toUPF = append(h.toUPF, ueMsg{a, m})
		}
		h.ueDone = append(h.ueDone, done...)
	}
	h.pump()
}

// take returns the events of kind k seen so far and forgets them.
func (h *harness) take(k Kind) []Event {
	var got, rest []Event
	for _, e := range h.events {
		if e.Kind == k {
			got = append(got, e)
		} else {
			rest = append(rest, e)
		}
	}
	h.events = rest
	return got
}

// learn has the UE echo on access a so that the UPF learns its address.
func (h *harness) learn(a atsss.AccessType) {
	h.t.Helper()
	h.ueRequest(a, Message{Type: TypeEchoRequest})
	h.pump()
	if got := h.take(KindLearned); len(got) != 1 || got[0].UE != h.ueAddr[a] || got[0].Path.Access != a {
		h.t.Fatalf("learned events %+v, want one for %v on %v", got, h.ueAddr[a], a)
	}
}

func TestLearnAndAnswerEcho(t *testing.T) {
	h := newHarness(t, Config{})
	req := h.ueRequest(atsss.Access3GPP, Message{Type: TypeEchoRequest})
	h.now = h.now.Add(30 * time.Millisecond)
	h.pump()
	ev := h.take(KindLearned)
	want := []Event{{Kind: KindLearned, Path: PathID{SEID: testSEID, Access: atsss.Access3GPP}, Via: atsss.Access3GPP, UE: ue3GPP, Time: h.now}}
	if diff := cmp.Diff(want, ev, addrCmp); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(h.ueDone) != 1 || h.ueDone[0].rtt != 30*time.Millisecond || h.ueDone[0].resp.Timestamp != req.Timestamp {
		t.Errorf("UE completions %+v, want one echo of 30ms echoing timestamp %d", h.ueDone, req.Timestamp)
	}
	if s := h.c.stats; s.Received != 1 || s.Unexpected != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRTT checks the UPF's RTT samples and their smoothing (RFC 6298
// gain 1/8).
func TestRTT(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	for _, sample := range []time.Duration{40 * time.Millisecond, 20 * time.Millisecond} {
		h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
		h.now = h.now.Add(sample)
		h.pump()
	}
	got := h.take(KindRTT)
	id := PathID{SEID: testSEID, Access: atsss.Access3GPP}
	want := []Event{
		{Kind: KindRTT, Path: id, Via: atsss.Access3GPP, UE: ue3GPP, Time: t0.Add(40 * time.Millisecond), RTT: 40 * time.Millisecond, RTTSample: 40 * time.Millisecond, Samples: 1},
		{Kind: KindRTT, Path: id, Via: atsss.Access3GPP, UE: ue3GPP, Time: t0.Add(60 * time.Millisecond), RTT: 37500 * time.Microsecond, RTTSample: 20 * time.Millisecond, Samples: 2},
	}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("RTT events (-want +got):\n%s", diff)
	}
}

func TestEchoLost(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.drop = func(atsss.AccessType, bool, Message) bool { return true }
	for i := range 2 {
		h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
		h.tick(DefaultEchoTimeout)
		got := h.take(KindEchoLost)
		if len(got) != 1 || got[0].Lost != uint64(i+1) {
			t.Fatalf("echo %d: lost events %+v, want Lost %d", i, got, i+1)
		}
	}
	h.drop = nil
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
	h.pump()
	st, _ := h.pathState(atsss.Access3GPP)
	if st.Lost != 2 || st.Samples != 1 || h.c.sessions[testSEID].paths[pathKey{0, atsss.Access3GPP}].link.lostRun != 0 {
		t.Errorf("state %+v, want Lost 2, Samples 1 and the run of losses reset", st)
	}
}

func (h *harness) pathState(a atsss.AccessType) (PathState, bool) {
	p, err := h.c.path(PathID{SEID: testSEID, Access: a})
	if err != nil {
		return PathState{}, false
	}
	return h.c.state(p), true
}

// dropEvery drops every nth message of type tp going one way.
func dropEvery(n int, tp MessageType, toUE bool) func(atsss.AccessType, bool, Message) bool {
	i := 0
	return func(_ atsss.AccessType, down bool, m Message) bool {
		if m.Type != tp || down != toUE {
			return false
		}
		i++
		return i%n == 0
	}
}

// TestPLRDownlink: the UPF counts what it sends, the UE what arrives.
func TestPLRDownlink(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	if err := h.upf(atsss.Access3GPP, Message{Type: TypePLRReportRequest}); !errors.Is(err, ErrNotCounting) {
		t.Fatalf("report before counting: %v, want ErrNotCounting", err)
	}
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRCountRequest})
	h.pump()
	h.drop = dropEvery(4, TypeEchoRequest, true)
	for range 8 {
		h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
		h.pump()
	}
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRReportRequest, Restart: true})
	h.pump()
	h.drop = nil
	for range 4 {
		h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
		h.pump()
	}
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRReportRequest})
	h.pump()
	var got []PLRResult
	for _, e := range h.take(KindPLR) {
		got = append(got, e.PLRResult)
	}
	want := []PLRResult{{Sent: 8, Received: 6, PLR: 25}, {Sent: 4, Received: 4}}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("PLR (-want +got):\n%s", diff)
	}
	st, _ := h.pathState(atsss.Access3GPP)
	if st.Counting || !st.HasPLR || st.PLR != want[1] {
		t.Errorf("state %+v: want the count ended with the last result", st)
	}
	if err := h.upf(atsss.Access3GPP, Message{Type: TypePLRReportRequest}); !errors.Is(err, ErrNotCounting) {
		t.Errorf("report after the count ended: %v, want ErrNotCounting", err)
	}
}

// TestPLRUplink: the UE starts the count; the UPF is the responder.
func TestPLRUplink(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.AccessNon3GPP)
	h.ueRequest(atsss.AccessNon3GPP, Message{Type: TypePLRCountRequest})
	h.pump()
	h.drop = dropEvery(3, TypeEchoRequest, false)
	for range 6 {
		h.ueRequest(atsss.AccessNon3GPP, Message{Type: TypeEchoRequest})
		h.pump()
	}
	h.ueDone = nil
	h.ueRequest(atsss.AccessNon3GPP, Message{Type: TypePLRReportRequest})
	h.pump()
	if len(h.ueDone) != 1 || h.ueDone[0].plr != (PLRResult{Sent: 6, Received: 4, PLR: 100.0 / 3}) {
		t.Errorf("UE completions %+v, want 4 of 6", h.ueDone)
	}
}

// TestPLRReportRetransmitted: a lost report response is asked for again
// and answered from the responder's cache, not from a restarted count.
func TestPLRReportRetransmitted(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRCountRequest})
	h.pump()
	for range 5 {
		h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
		h.pump()
	}
	h.drop = dropEvery(1, TypePLRReportResponse, false)
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRReportRequest, Restart: true})
	h.pump()
	h.drop = nil
	h.tick(DefaultRetransmitInterval)
	got := h.take(KindPLR)
	if len(got) != 1 || got[0].PLRResult != (PLRResult{Sent: 5, Received: 5}) {
		t.Errorf("PLR events %+v, want one of 5/5", got)
	}
}

// TestPLRUncertainEdge: when a PLR request is sent again after measured
// messages went out, the UPF cannot tell which window they fell in (the
// first copy or its answer may have been lost), so it drops the readings
// on either side of that edge rather than report too much loss in one and
// too little in the next; a retransmission with nothing sent between the
// copies loses nothing.
func TestPLRUncertainEdge(t *testing.T) {
	const g = atsss.Access3GPP
	echoes := func(h *harness, n int) {
		for range n {
			h.mustUPF(g, Message{Type: TypeEchoRequest})
			h.pump()
		}
	}
	// lostOnce loses the first message of type tp going one way.
	lostOnce := func(h *harness, tp MessageType, toUE bool) {
		n := 0
		h.drop = func(_ atsss.AccessType, down bool, m Message) bool {
			if m.Type == tp && down == toUE {
				n++
				return n == 1
			}
			return false
		}
	}
	report := func(h *harness) {
		h.mustUPF(g, Message{Type: TypePLRReportRequest, Restart: true})
		h.pump()
	}
	tests := []struct {
		name          string
		run           func(h *harness)
		want          []PLRResult
		wantUncertain uint64
	}{
		{"report answer lost, echoes between", func(h *harness) {
			h.mustUPF(g, Message{Type: TypePLRCountRequest})
			h.pump()
			echoes(h, 5)
			lostOnce(h, TypePLRReportResponse, false)
			report(h)
			echoes(h, 3) // the UE counts them in its new window
			h.tick(DefaultRetransmitInterval)
			echoes(h, 4)
			report(h)
			echoes(h, 2)
			report(h)
		}, []PLRResult{{Sent: 2, Received: 2}}, 2},
		{"report request lost, echoes between", func(h *harness) {
			h.mustUPF(g, Message{Type: TypePLRCountRequest})
			h.pump()
			echoes(h, 5)
			lostOnce(h, TypePLRReportRequest, true)
			report(h)
			echoes(h, 3) // the UE counts them in its old window
			h.tick(DefaultRetransmitInterval)
			echoes(h, 4)
			report(h)
			echoes(h, 2)
			report(h)
		}, []PLRResult{{Sent: 2, Received: 2}}, 2},
		{"count answer lost, echoes between", func(h *harness) {
			lostOnce(h, TypePLRCountResponse, false)
			h.mustUPF(g, Message{Type: TypePLRCountRequest})
			h.pump()
			echoes(h, 3)
			h.tick(DefaultRetransmitInterval)
			echoes(h, 4)
			report(h)
			echoes(h, 2)
			report(h)
		}, []PLRResult{{Sent: 2, Received: 2}}, 1},
		{"report answer lost, nothing between", func(h *harness) {
			h.mustUPF(g, Message{Type: TypePLRCountRequest})
			h.pump()
			echoes(h, 5)
			lostOnce(h, TypePLRReportResponse, false)
			report(h)
			h.tick(DefaultRetransmitInterval)
			echoes(h, 4)
			report(h)
		}, []PLRResult{{Sent: 5, Received: 5}, {Sent: 4, Received: 4}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.learn(g)
			tc.run(h)
			var got []PLRResult
			for _, e := range h.take(KindPLR) {
				got = append(got, e.PLRResult)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PLR readings (-want +got):\n%s", diff)
			}
			if h.c.stats.PLRUncertain != tc.wantUncertain {
				t.Errorf("%d uncertain readings dropped, want %d", h.c.stats.PLRUncertain, tc.wantUncertain)
			}
		})
	}
}

// TestPLRUplinkUncertain: the same rule on the UE's side, for the Client.
func TestPLRUplinkUncertain(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.ueRequest(atsss.Access3GPP, Message{Type: TypePLRCountRequest})
	h.pump()
	lost := false
	h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
		if toUE && m.Type == TypePLRReportResponse && !lost {
			lost = true
			return true
		}
		return false
	}
	h.ueRequest(atsss.Access3GPP, Message{Type: TypePLRReportRequest, Restart: true})
	h.pump()
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest}) // the UE's answer is measured
	h.pump()
	h.tick(DefaultRetransmitInterval)
	var got []completion
	for _, d := range h.ueDone {
		if d.req.Type == TypePLRReportRequest {
			got = append(got, d)
		}
	}
	if len(got) != 1 || !got[0].uncertain {
		t.Errorf("UE report completions %+v, want one, uncertain", got)
	}
}

// TestPeriodicHoldsEchoes: while a periodic PLR request waits for its
// answer, the UPF sends no echoes, so a lost answer leaves the windows'
// edges certain and the next readings exact.
func TestPeriodicHoldsEchoes(t *testing.T) {
	h := newHarness(t, Config{EchoInterval: 100 * time.Millisecond, PLRInterval: time.Second, PLRMinMessages: 5})
	h.learn(atsss.Access3GPP)
	var echoesAt []time.Duration // since t0
	lost := false
	h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
		switch {
		case toUE && m.Type == TypeEchoRequest:
			echoesAt = append(echoesAt, h.now.Sub(t0))
		case !toUE && m.Type == TypePLRReportResponse && !lost:
			lost = true // the first answer
			return true
		}
		return false
	}
	for range 61 { // to 3050ms: reports at 1050 (answered at 2050) and 3050
		h.tick(50 * time.Millisecond)
	}
	for _, at := range echoesAt {
		if at > 1050*time.Millisecond && at <= 2050*time.Millisecond {
			t.Errorf("an echo went out at %v, while the report of 1050ms was unanswered", at)
		}
	}
	var got []PLRResult
	for _, e := range h.take(KindPLR) {
		got = append(got, e.PLRResult)
	}
	// The first window, 150..1050ms, read at 2050ms from the UE's cache;
	// the second, from 1050ms on, held its echoes until the answer:
	// 2100..3000ms.
	want := []PLRResult{{Sent: 10, Received: 10}, {Sent: 10, Received: 10}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PLR readings (-want +got):\n%s", diff)
	}
	if h.c.stats.PLRUncertain != 0 {
		t.Errorf("%d readings dropped, want none", h.c.stats.PLRUncertain)
	}
}

// TestPeriodicWindowAfterRetransmission: a window whose restart had to be
// sent again still runs a whole PLRInterval of echoes, from the answer on:
// timed from the first request it lost the retransmission's second of
// echoes, and read loss at a third of the resolution.
func TestPeriodicWindowAfterRetransmission(t *testing.T) {
	h := newHarness(t, Config{EchoInterval: 100 * time.Millisecond, PLRInterval: 3 * time.Second, PLRMinMessages: 5})
	h.learn(atsss.Access3GPP)
	lost := false
	h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
		if !toUE && m.Type == TypePLRReportResponse && !lost {
			lost = true // the first answer: the report is sent again 1 s later
			return true
		}
		return false
	}
	for range 200 { // to 10 s: reports at 3050 (answered at 4050) and 7050
		h.tick(50 * time.Millisecond)
	}
	var got []PLRResult
	for _, e := range h.take(KindPLR) {
		got = append(got, e.PLRResult)
	}
	// 150..3050 ms, then 4100..7000 ms (not 4100..6000).
	want := []PLRResult{{Sent: 30, Received: 30}, {Sent: 30, Received: 30}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PLR readings (-want +got):\n%s", diff)
	}
}

func TestPLRNoCountNoAnswer(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.drop = dropEvery(1, TypePLRCountRequest, true)
	h.mustUPF(atsss.Access3GPP, Message{Type: TypePLRCountRequest})
	for range DefaultMaxRetransmits + 1 {
		h.tick(DefaultRetransmitInterval)
	}
	got := h.take(KindNoResponse)
	if len(got) != 1 || got[0].Request != TypePLRCountRequest {
		t.Fatalf("no-response events %+v, want one for the count request", got)
	}
	if st, _ := h.pathState(atsss.Access3GPP); st.Counting {
		t.Errorf("still counting after the count request was given up")
	}
}

// TestAccessReport: a retransmitted report is acknowledged again but acted
// on once, and the report may be about the other access.
func TestAccessReport(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.drop = dropEvery(1, TypeAck, true)
	h.ueRequest(atsss.Access3GPP, Message{Type: TypeAccessReport, Access: atsss.AccessNon3GPP})
	h.pump()
	h.drop = nil
	h.tick(DefaultRetransmitInterval)
	got := h.take(KindAvailability)
	want := []Event{{Kind: KindAvailability, Path: PathID{SEID: testSEID, Access: atsss.AccessNon3GPP}, Via: atsss.Access3GPP, UE: ue3GPP, Time: t0}}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("availability events (-want +got):\n%s", diff)
	}
	if len(h.ueDone) != 2 || h.ueDone[1].req.Type != TypeAccessReport || h.ueDone[1].err != nil {
		t.Errorf("UE completions %+v, want the report acknowledged", h.ueDone)
	}
	h.learn(atsss.AccessNon3GPP)
	if st, _ := h.pathState(atsss.AccessNon3GPP); st.Available {
		t.Errorf("non-3GPP path %+v: want unavailable", st)
	}
	h.ueRequest(atsss.AccessNon3GPP, Message{Type: TypeAccessReport, Access: atsss.AccessNon3GPP, Available: true})
	h.pump()
	if got := h.take(KindAvailability); len(got) != 1 || !got[0].Available || got[0].Via != atsss.AccessNon3GPP {
		t.Errorf("events %+v, want non-3GPP available", got)
	}
	if st, _ := h.pathState(atsss.AccessNon3GPP); !st.Available {
		t.Errorf("non-3GPP path %+v: want available", st)
	}
}

func TestUEAssistance(t *testing.T) {
	h := newHarness(t, Config{})
	h.ueRequest(atsss.Access3GPP, Message{Type: TypeUAD, Split: [2]uint8{70, 30}})
	h.ueRequest(atsss.Access3GPP, Message{Type: TypeUAT})
	h.pump()
	var kinds []Kind
	for _, e := range h.events {
		kinds = append(kinds, e.Kind)
		if e.Kind == KindUEAssistance && e.Split != [2]uint8{70, 30} {
			t.Errorf("split %v, want 70/30", e.Split)
		}
	}
	if diff := cmp.Diff([]Kind{KindLearned, KindUEAssistance, KindUEAssistanceEnd}, kinds); diff != "" {
		t.Errorf("event kinds (-want +got):\n%s", diff)
	}
}

func TestDuplication(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeTDS})
	h.pump()
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeTDR})
	h.pump()
	got := h.take(KindDuplication)
	if len(got) != 2 || !got[0].Suspended || got[1].Suspended {
		t.Errorf("duplication events %+v, want suspended then resumed", got)
	}
	if len(h.ueRequests) != 2 || h.ueRequests[0].Type != TypeTDS || h.ueRequests[1].Type != TypeTDR {
		t.Errorf("UE saw %+v, want TDS then TDR", h.ueRequests)
	}

	// A UE that never answers: the first send and MaxRetransmits more.
	sent := 0
	h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
		if toUE && m.Type == TypeTDS {
			sent++
		}
		return true
	}
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeTDS})
	h.pump()
	for range DefaultMaxRetransmits + 1 {
		h.tick(DefaultRetransmitInterval)
	}
	if got := h.take(KindNoResponse); len(got) != 1 || got[0].Request != TypeTDS {
		t.Errorf("no-response events %+v, want one for TDS", got)
	}
	if sent != 1+DefaultMaxRetransmits {
		t.Errorf("TDS sent %d times, want %d", sent, 1+DefaultMaxRetransmits)
	}
}

func TestRejects(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	// Messages only the UPF sends, and responses to nothing.
	for _, m := range []Message{{Type: TypeTDS, Seq: 1}, {Type: TypeAck, Seq: 99}, {Type: TypeEchoResponse, Seq: 99}, {Type: TypePLRReportResponse, Seq: 3}} {
		h.c.receive(h.now, 0, ue3GPP, m)
	}
	if s := h.c.stats; s.Unexpected != 4 || len(h.c.out) != 0 {
		t.Errorf("stats %+v, out %+v: want 4 unexpected and no answer", s, h.c.out)
	}
	// A UE the lookup does not know gets nothing.
	h.c.receive(h.now, 0, netip.MustParseAddrPort("198.51.100.7:9"), Message{Type: TypeEchoRequest})
	if s := h.c.stats; s.UnknownUE != 1 || len(h.c.out) != 0 {
		t.Errorf("stats %+v, out %+v: want the unknown UE counted and not answered", s, h.c.out)
	}
	if err := h.upf(atsss.AccessNon3GPP, Message{Type: TypeEchoRequest}); !errors.Is(err, ErrUnknownPath) {
		t.Errorf("probe of an unlearned path: %v, want ErrUnknownPath", err)
	}
}

func TestRebindAndForget(t *testing.T) {
	h := newHarness(t, Config{})
	h.learn(atsss.Access3GPP)
	h.ueAddr[atsss.Access3GPP] = netip.MustParseAddrPort("192.0.2.10:5000")
	h.learn(atsss.Access3GPP)
	h.mustUPF(atsss.Access3GPP, Message{Type: TypeEchoRequest})
	h.pump() // fails the test if sent to the old port
	if len(h.c.byAddr) != 1 {
		t.Errorf("byAddr %v: want only the new address", h.c.byAddr)
	}
	h.c.forget(testSEID)
	if len(h.c.byAddr) != 0 || len(h.c.sessions) != 0 {
		t.Errorf("after forget: %d addresses, %d sessions", len(h.c.byAddr), len(h.c.sessions))
	}
}

// TestPeriodic: echoes every EchoInterval, and a downlink count started
// when the UE's address is learned, then read and restarted every
// PLRInterval once its window holds PLRMinMessages measured messages.
//
// Ticks come every 50ms from t0+50ms: echoes at 50, 150, ..., the count
// at 50ms right after that tick's echo, so a window read at the tick of
// T ms holds the echoes of 150..T ms.
func TestPeriodic(t *testing.T) {
	const echo = 100 * time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		ticks int
		// dropNth, if not 0, loses every nth ECHO REQUEST to the UE.
		dropNth int
		want    []PLRResult
		// wantCount: PLR COUNT REQUESTs sent.
		wantCount int
	}{
		{"read every interval", Config{EchoInterval: echo, PLRInterval: time.Second, PLRMinMessages: 10}, 41,
			0, []PLRResult{{Sent: 10, Received: 10}, {Sent: 10, Received: 10}}, 1},
		// 10 echoes a second, below the default 20: each window runs two
		// intervals, 150..2050ms, and is read at 5 % resolution.
		{"short window runs on", Config{EchoInterval: echo, PLRInterval: time.Second}, 41,
			0, []PLRResult{{Sent: 20, Received: 20}}, 1},
		// Echoes 4, 8, ..., 20 of the first 21 are lost: 5 of the 20 in
		// the window.
		{"downlink loss", Config{EchoInterval: echo, PLRInterval: time.Second}, 41,
			4, []PLRResult{{Sent: 20, Received: 15, PLR: 25}}, 1},
		// Nothing measured is sent, so nothing is read: a 0/0 window is not
		// "no loss".
		{"no echoes, no reading", Config{EchoInterval: -1, PLRInterval: time.Second}, 100,
			0, nil, 1},
		{"off", Config{EchoInterval: echo, PLRInterval: -1}, 100,
			0, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			h.learn(atsss.Access3GPP)
			sent := map[MessageType]int{}
			h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
				if !toUE {
					return false
				}
				sent[m.Type]++
				return tc.dropNth > 0 && m.Type == TypeEchoRequest && sent[m.Type]%tc.dropNth == 0
			}
			for range tc.ticks {
				h.tick(50 * time.Millisecond)
			}
			var got []PLRResult
			for _, e := range h.take(KindPLR) {
				if e.Path.Access != atsss.Access3GPP || e.Via != atsss.Access3GPP {
					t.Errorf("PLR event on %+v via %v, want the 3GPP path", e.Path, e.Via)
				}
				got = append(got, e.PLRResult)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PLR readings (-want +got):\n%s", diff)
			}
			if sent[TypePLRCountRequest] != tc.wantCount {
				t.Errorf("%d PLR COUNT REQUESTs sent, want %d", sent[TypePLRCountRequest], tc.wantCount)
			}
			if st, _ := h.pathState(atsss.Access3GPP); st.Counting != (tc.wantCount > 0) {
				t.Errorf("counting %v, want %v", st.Counting, tc.wantCount > 0)
			}
		})
	}
}

// TestPeriodicEchoesLateTicks: ticks that come a little late, by varying
// amounts as a busy process's do, still send one echo per EchoInterval when
// it equals the tick.
func TestPeriodicEchoesLateTicks(t *testing.T) {
	const every = 50 * time.Millisecond
	h := newHarness(t, Config{EchoInterval: every, PLRInterval: -1})
	h.learn(atsss.Access3GPP)
	echoes := 0
	h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
		if toUE && m.Type == TypeEchoRequest {
			echoes++
		}
		return false
	}
	late := []time.Duration{2 * time.Millisecond, 0, 3 * time.Millisecond, time.Millisecond}
	for i := 1; i <= 60; i++ { // 3 s of ticks
		h.tick(t0.Add(time.Duration(i)*every + late[i%len(late)]).Sub(h.now))
	}
	if echoes < 59 {
		t.Errorf("%d echoes in 60 ticks of %v, want one per tick", echoes, every)
	}
}

// TestPeriodicEchoes: one echo per EchoInterval, each answered with an
// RTT event.
func TestPeriodicEchoes(t *testing.T) {
	h := newHarness(t, Config{EchoInterval: 100 * time.Millisecond})
	h.learn(atsss.Access3GPP)
	for range 21 {
		h.tick(50 * time.Millisecond)
	}
	if got := h.take(KindRTT); len(got) != 11 {
		t.Errorf("%d RTT events, want 11", len(got))
	}
}
