package pfcptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

var (
	smfAddr = netip.MustParseAddrPort("127.0.0.2:8805")
	upfAddr = netip.MustParseAddrPort("127.0.0.1:8805")
)

// runClient runs c until the test ends and checks that Run stopped cleanly.
func runClient(t *testing.T, c *Client) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// memClient returns a running client connected in memory to a FakeUPF
// that answers with answer; for tests in a synctest bubble.
func memClient(t *testing.T, d Dialer, answer func(message.Message) message.Message) (*Client, *FakeUPF) {
	cc, uc := memPipe(smfAddr, upfAddr)
	upf := startFakeUPF(t, uc, upfAddr, answer)
	c := d.newClient(cc, upfAddr, "smf.example.net", smfAddr.Addr())
	runClient(t, c)
	return c, upf
}

// dropFirst answers like Accept, except that it drops the first n requests.
func dropFirst(n int64) func(message.Message) message.Message {
	var seen atomic.Int64
	return func(req message.Message) message.Message {
		if seen.Add(1) <= n {
			return nil
		}
		return Accept(req)
	}
}

// TestRetransmissionTimers checks T1 and N1 to the nanosecond, in fake time:
// the defaults (3 s, 3) send a request at 0, 3, 6 and 9 s and give up at 12 s.
func TestRetransmissionTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, upf := memClient(t, Dialer{}, dropFirst(4))
		start := time.Now()
		_, err := c.Heartbeat(t.Context())
		if !errors.Is(err, ErrNoResponse) {
			t.Fatalf("Heartbeat error = %v, want ErrNoResponse", err)
		}
		if got := time.Since(start); got != 12*time.Second {
			t.Errorf("gave up after %v, want 12s", got)
		}
		if n := len(upf.Requests()); n != 4 {
			t.Errorf("UPF got %d transmissions, want 4", n)
		}

		// The fifth request is answered: the next heartbeat gets through at once.
		r, err := c.Heartbeat(t.Context())
		if err != nil || r.Latency != 0 {
			t.Errorf("second heartbeat: %+v, %v", r, err)
		}
	})
}

func TestRetransmissionAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := memClient(t, Dialer{T1: time.Second, N1: 5}, dropFirst(2))
		r, err := c.Associate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if r.Latency != 2*time.Second || r.Cause != atsssie.CauseAccepted {
			t.Errorf("answered after %v with %v, want 2s and accepted", r.Latency, r.Cause)
		}
	})
}

// TestRetransmissionUDP is the same over loopback UDP: the dropped requests
// are sent again unchanged, sequence number included (TS 29.244 §6.4).
func TestRetransmissionUDP(t *testing.T) {
	upf := NewFakeUPF(t, dropFirst(2))
	c, err := (&Dialer{T1: 20 * time.Millisecond, N1: 2}).Dial(t.Context(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0), upf.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	runClient(t, c)
	r, err := c.Establish(t.Context(), DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	if r.Cause != atsssie.CauseAccepted || r.UPSEID != FakeUPSEID(1) {
		t.Errorf("cause %v UP SEID %v", r.Cause, r.UPSEID)
	}
	reqs := upf.Requests()
	if len(reqs) != 3 {
		t.Fatalf("UPF got %d transmissions, want 3", len(reqs))
	}
	for _, req := range reqs[1:] {
		if diff := cmp.Diff(encode(t, reqs[0]), encode(t, req)); diff != "" {
			t.Errorf("retransmission differs from the original:\n%s", diff)
		}
	}
	if id, _ := reqs[0].(*message.SessionEstablishmentRequest).NodeID.NodeID(); id != "127.0.0.1" {
		t.Errorf("Node ID %q, want the client's address", id)
	}
}

func encode(t testing.TB, m message.Message) []byte {
	t.Helper()
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConcurrentRequests has many establishments in flight over UDP and a
// UPF that answers them in reverse order: each must get its own response.
func TestConcurrentRequests(t *testing.T) {
	const n = 64
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		type request struct {
			m    message.Message
			from netip.AddrPort
		}
		var reqs []request
		buf := make([]byte, 64<<10)
		for len(reqs) < n {
			k, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			m, err := message.Parse(bytes.Clone(buf[:k]))
			if err != nil {
				t.Error(err)
				return
			}
			reqs = append(reqs, request{m, from})
		}
		for i := len(reqs) - 1; i >= 0; i-- {
			conn.WriteToUDPAddrPort(encode(t, Accept(reqs[i].m)), reqs[i].from)
		}
	}()
	c, err := (&Dialer{T1: time.Minute}).Dial(t.Context(), netip.AddrPort{}, conn.LocalAddr().(*net.UDPAddr).AddrPort(), "smf.example.net")
	if err != nil {
		t.Fatal(err)
	}
	runClient(t, c)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			spec := DefaultSpec().Nth(uint32(i))
			r, err := c.Establish(t.Context(), spec)
			if err != nil {
				t.Error(err)
				return
			}
			if r.UPSEID != FakeUPSEID(spec.SEID) {
				t.Errorf("session %v got the response of UP SEID %v", spec.SEID, r.UPSEID)
			}
			if up, ok := c.UPSEID(spec.SEID); !ok || up != r.UPSEID {
				t.Errorf("UPSEID(%v) = %v, %v", spec.SEID, up, ok)
			}
		})
	}
	wg.Wait()
}

func TestResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rejectMAR := func(req message.Message) message.Message {
			if _, ok := req.(*message.SessionEstablishmentRequest); !ok {
				return Accept(req)
			}
			return message.NewSessionEstablishmentResponse(0, 0, 0, req.Sequence(), 0,
				ie.NewCause(73), ie.NewOffendingIE(ie.CreateMAR), atsssie.NewFailedRuleID(atsss.RuleMAR, 2))
		}
		c, _ := memClient(t, Dialer{}, rejectMAR)
		r, err := c.Associate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !r.Recovery.Equal(fakeRecovery) || !r.Features.Has(atsssie.FeatureATSSSLL) || r.Features.Has(atsssie.FeatureREDSM) {
			t.Errorf("association: recovery %v, features %v", r.Recovery, r.Features)
		}
		r, err = c.Establish(t.Context(), DefaultSpec())
		if err != nil {
			t.Fatal(err)
		}
		want := &Response{Message: r.Message, Cause: 73, OffendingIE: ie.CreateMAR, FailedRule: &FailedRule{Type: atsss.RuleMAR, ID: 2}}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("rejection (-want +got):\n%s", diff)
		}
		if _, ok := c.UPSEID(1); ok {
			t.Error("a rejected session is known to the client")
		}
	})
}

func TestATSSSParameters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := memClient(t, Dialer{}, nil)
		spec := DefaultSpec()
		spec.ATSSS = atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true, PQPM: true, QFIs: []uint8{9}}
		r, err := c.Establish(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&fakeParams, r.ATSSS, cmpAddr); diff != "" {
			t.Errorf("ATSSS Control Parameters (-want +got):\n%s", diff)
		}
	})
}

func TestStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		never := func(message.Message) message.Message { return nil }
		c, _ := memClient(t, Dialer{T1: time.Hour}, never)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.Heartbeat(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Heartbeat with a deadline: %v", err)
		}
		go func() {
			time.Sleep(time.Second)
			c.Close()
		}()
		if _, err := c.Heartbeat(t.Context()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Heartbeat on a closed client: %v", err)
		}
	})
}

// upfSocket is the UPF's end of a UDP path to a client, driven by the test.
type upfSocket struct {
	t    *testing.T
	conn *net.UDPConn
	buf  []byte
}

func (u *upfSocket) send(m message.Message, to netip.AddrPort) {
	if _, err := u.conn.WriteToUDPAddrPort(encode(u.t, m), to); err != nil {
		u.t.Fatal(err)
	}
}

func (u *upfSocket) receive() (message.Message, netip.AddrPort) {
	u.t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := u.conn.ReadFromUDPAddrPort(u.buf)
	if err != nil {
		u.t.Fatal(err)
	}
	m, err := message.Parse(bytes.Clone(u.buf[:n]))
	if err != nil {
		u.t.Fatal(err)
	}
	return m, from
}

// TestUPFRequests: the client answers Heartbeat Requests, and records and
// answers Session Report Requests; a retransmitted report is answered again
// but recorded once, a report for an unknown session is refused with 65.
func TestUPFRequests(t *testing.T) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	upf := &upfSocket{t: t, conn: conn, buf: make([]byte, 64<<10)}
	recovery := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	c, err := (&Dialer{Recovery: recovery}).Dial(t.Context(), netip.MustParseAddrPort("127.0.0.1:0"), conn.LocalAddr().(*net.UDPAddr).AddrPort(), "")
	if err != nil {
		t.Fatal(err)
	}
	runClient(t, c)

	established := make(chan error, 1)
	go func() {
		_, err := c.Establish(t.Context(), DefaultSpec())
		established <- err
	}()
	req, smf := upf.receive()
	upf.send(Accept(req), smf)
	if err := <-established; err != nil {
		t.Fatal(err)
	}

	upf.send(HeartbeatRequest(fakeRecovery, 10), smf)
	if resp, _ := upf.receive(); resp.Sequence() != 10 {
		t.Errorf("heartbeat answered with seq %d", resp.Sequence())
	} else if ts, _ := resp.(*message.HeartbeatResponse).RecoveryTimeStamp.RecoveryTimeStamp(); !ts.Equal(recovery) {
		t.Errorf("heartbeat response recovery %v, want %v", ts, recovery)
	}

	report := sessionReport(1, 11, atsss.AccessNon3GPP, false)
	for range 2 { // the second is a retransmission
		upf.send(report, smf)
		resp, _ := upf.receive()
		if got, want := describeMessage(resp), "57 seid=0x8000000000000001 seq=11 19=01"; got != want {
			t.Errorf("report answered with %s, want %s", got, want)
		}
	}
	upf.send(sessionReport(99, 12, atsss.Access3GPP, true), smf)
	if resp, _ := upf.receive(); describeMessage(resp) != "57 seid=0x0 seq=12 19=41" {
		t.Errorf("report of an unknown session answered with %s", describeMessage(resp))
	}

	reports, err := c.WaitReports(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Report{
		{SEID: 1, Type: ReportSESR, Cause: atsssie.CauseAccepted, Sessions: []SessionReport{{SRRID: 1, Availability: &Availability{Access: atsss.AccessNon3GPP}}}},
		{SEID: 99, Type: ReportSESR, Cause: atsssie.CauseSessionNotFound, Sessions: []SessionReport{{SRRID: 1, Availability: &Availability{Access: atsss.Access3GPP, Available: true}}}},
	}
	if diff := cmp.Diff(want, reports); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

// sessionReport returns a Session Report Request (Report Type SESR) with
// one Session Report for SRR 1 carrying an Access Availability Report.
func sessionReport(seid atsss.SEID, seq uint32, a atsss.AccessType, available bool) *message.SessionReportRequest {
	return message.NewSessionReportRequest(0, 0, uint64(seid), seq, 0,
		ie.New(ie.ReportType, []byte{ReportSESR}),
		ie.NewSessionReport(ie.NewSRRID(1), ie.NewAccessAvailabilityReport(atsssie.NewAccessAvailabilityInformation(a, available))))
}

// describeMessage writes a Session Report Response's type, SEID, sequence
// number and IEs.
func describeMessage(m message.Message) string {
	r := m.(*message.SessionReportResponse)
	s := fmt.Sprintf("%d seid=%#x seq=%d", r.MessageType(), r.SEID(), r.Sequence())
	for _, i := range []*ie.IE{r.Cause, r.OffendingIE} {
		if i != nil {
			s += " " + FormatIE(i)
		}
	}
	return s
}
