package pfcp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// dialAs starts a client playing the SMF "smf.test" with the given Recovery
// Time Stamp, and associates it.
func (h *harness) dialAs(t *testing.T, recovery time.Time) *pfcptest.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := pfcptest.Dialer{T1: 200 * time.Millisecond, N1: 5, Recovery: recovery}
	c, err := d.Dial(ctx, netip.MustParseAddrPort("127.0.0.1:0"), h.addr, "smf.test")
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	t.Cleanup(func() { cancel(); c.Close() })
	r, err := c.Associate(ctx)
	accepted(t, "associate", r, err)
	return c
}

func TestPeerRestartPurgesItsSessions(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	first := h.dialAs(t, time.Unix(1_700_000_000, 0))
	r, err := first.Establish(ctx, maSpec(1))
	accepted(t, "establish", r, err)

	// The same Recovery Time Stamp again: not a restart, the session stays.
	h.dialAs(t, time.Unix(1_700_000_000, 0))
	if h.store.Len() != 1 {
		t.Fatalf("re-association with the same stamp left %d sessions, want 1", h.store.Len())
	}
	// A new stamp: the SMF restarted and lost its sessions (TS 29.244
	// §6.2.6.2.2), so the UPF deletes them and frees their addresses.
	h.dialAs(t, time.Unix(1_700_000_100, 0))
	if h.store.Len() != 0 {
		t.Fatalf("%d sessions after the peer restarted, want 0", h.store.Len())
	}
	for i := range 2 { // the /30 pools hold two sessions: both free again
		r, err := first.Establish(ctx, maSpec(atsss.SEID(11+i)))
		accepted(t, "establish after purge", r, err)
	}
}

func TestSilentPeerIsLostAndPurged(t *testing.T) {
	h := start(t, func(c *pfcp.Config) {
		c.HeartbeatInterval, c.T1, c.N1, c.AssociationLossGrace = 50*time.Millisecond, 20*time.Millisecond, 2, 100*time.Millisecond
	})
	c := h.dialAs(t, time.Unix(1_700_000_000, 0))
	r, err := c.Establish(t.Context(), maSpec(1))
	accepted(t, "establish", r, err)
	c.Close() // the SMF falls silent: heartbeats go unanswered
	deadline := time.Now().Add(10 * time.Second)
	for h.store.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the silent peer's session is still installed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRequestsAreRetransmitted plays an SMF on a bare socket that ignores
// the UPF's first Heartbeat Request: the UPF sends the same bytes again
// after T1 (TS 29.244 §7.2.2.4.2) and, answered then, keeps the peer.
func TestRequestsAreRetransmitted(t *testing.T) {
	h := start(t, func(c *pfcp.Config) {
		c.HeartbeatInterval, c.T1, c.N1, c.AssociationLossGrace = 500*time.Millisecond, 100*time.Millisecond, 3, 50*time.Millisecond
	})
	smf := rawConn(t, h)
	recovery := time.Unix(1_700_000_000, 0)
	setup, _ := pfcptest.AssociationSetup("smf.raw", recovery, 1).Marshal()
	smf.roundTrip(t, setup)
	spec := maSpec(1)
	spec.NodeID, spec.CPAddr = "smf.raw", netip.MustParseAddr("127.0.0.1")
	est, _ := pfcptest.Establishment(spec, 2).Marshal()
	if got := readRejection(t, smf.roundTrip(t, est)); got.cause != pfcp.CauseAccepted {
		t.Fatalf("establish: %v", got.cause)
	}

	first := smf.read(t)
	again := smf.read(t)
	if !bytes.Equal(first, again) || parse(t, first).MessageType() != message.MsgTypeHeartbeatRequest {
		t.Fatalf("retransmission differs from the request:\n%x\n%x", first, again)
	}
	// Answer this one and every later heartbeat for a while: the peer
	// must stay associated and keep its session.
	hbResp := func(req []byte) []byte {
		b, _ := pfcptest.HeartbeatResponse(recovery, parse(t, req).Sequence()).Marshal()
		return b
	}
	smf.write(t, hbResp(again))
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		smf.write(t, hbResp(smf.read(t)))
	}
	if h.store.Len() != 1 {
		t.Errorf("the answering peer lost its session")
	}
}

// TestUnknownIEsAreIgnored: TS 29.244 §7.6.1 asks a receiver to skip IEs it
// does not know, at the top level and inside grouped IEs.
func TestUnknownIEsAreIgnored(t *testing.T) {
	h := start(t, nil)
	c := h.dial(t, "127.0.0.1:0", true)
	req := pfcptest.Establishment(maSpec(1), 0)
	req.NodeID = ie.NewNodeID("", "", "smf.test")
	req.IEs = append(req.IEs, ie.New(400, []byte{1, 2, 3}))
	req.CreateMAR[0].Add(ie.New(401, []byte{4}))
	r, err := c.Do(t.Context(), req)
	accepted(t, "establishment with unknown IEs", r, err)
}

func TestPerQoSFlowPMFPorts(t *testing.T) {
	h := start(t, nil)
	c := h.dial(t, "127.0.0.1:0", true)
	spec := maSpec(1)
	spec.ATSSS.PQPM, spec.ATSSS.QFIs = true, []uint8{5, 9}
	r, err := c.Establish(t.Context(), spec)
	accepted(t, "establish", r, err)
	var got []string
	for _, p := range r.ATSSS.PMF {
		got = append(got, fmt.Sprintf("qfi %d: %d/%d", p.QFI, p.Ports[0], p.Ports[1]))
	}
	want := []string{"qfi 0: 20000/20001", "qfi 5: 20010/20011", "qfi 9: 20018/20019"}
	if !slices.Equal(got, want) {
		t.Errorf("PMF parameters %v, want %v", got, want)
	}
}
