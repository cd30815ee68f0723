package pfcptest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// FakeUPF is a PFCP peer on a loopback UDP socket that answers requests
// with what its answer function returns: a peer for tests of SMF-side code
// such as Client and smfsim, not a model of atsssd.
type FakeUPF struct {
	conn   packetConn
	addr   netip.AddrPort
	answer func(message.Message) message.Message

	mu       sync.Mutex // guards requests
	requests []message.Message
}

// NewFakeUPF starts a FakeUPF on 127.0.0.1 that runs until t ends. answer
// returns the response to a request, or nil to drop the request; nil
// answer means Accept.
func NewFakeUPF(t testing.TB, answer func(req message.Message) message.Message) *FakeUPF {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	return startFakeUPF(t, conn, conn.LocalAddr().(*net.UDPAddr).AddrPort(), answer)
}

func startFakeUPF(t testing.TB, conn packetConn, addr netip.AddrPort, answer func(message.Message) message.Message) *FakeUPF {
	if answer == nil {
		answer = Accept
	}
	u := &FakeUPF{conn: conn, addr: addr, answer: answer}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		u.serve(t)
	}()
	return u
}

// Addr returns the address the FakeUPF listens on.
func (u *FakeUPF) Addr() netip.AddrPort { return u.addr }

// Requests returns the requests received so far, retransmissions included.
func (u *FakeUPF) Requests() []message.Message {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests[:len(u.requests):len(u.requests)]
}

func (u *FakeUPF) serve(t testing.TB) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("fake UPF: read: %v", err)
			return
		}
		// go-pfcp keeps slices of its input: requests are kept, buf is not.
		req, err := message.Parse(bytes.Clone(buf[:n]))
		if err != nil {
			t.Errorf("fake UPF: parse a request: %v", err)
			continue
		}
		u.mu.Lock()
		u.requests = append(u.requests, req)
		u.mu.Unlock()
		resp := u.answer(req)
		if resp == nil {
			continue
		}
		out := make([]byte, resp.MarshalLen())
		if err := resp.MarshalTo(out); err != nil {
			t.Errorf("fake UPF: encode %s: %v", resp.MessageTypeName(), err)
			continue
		}
		if _, err := u.conn.WriteToUDPAddrPort(out, from); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("fake UPF: send: %v", err)
		}
	}
}

// What Accept answers with.
var (
	fakeRecovery = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fakeFeatures = []atsssie.UPFeature{atsssie.FeatureMPTCP, atsssie.FeatureATSSSLL, atsssie.FeatureRTTWP}
	// fakeParams are the ATSSS Control Parameters for a request of MPTCP,
	// ATSSS-LL and PMF with PQPM for one QFI.
	fakeParams = atsss.ATSSSParams{
		MPTCP: &atsss.MPTCPParams{
			ProxyType: 1,
			ProxyIPv4: netip.MustParseAddr("203.0.113.254"),
			ProxyPort: 8443,
			LinkSpecific: [2]atsss.AddrPair{
				{IPv4: netip.MustParseAddr("192.0.2.100")},
				{IPv4: netip.MustParseAddr("198.51.100.100")},
			},
		},
		ATSSSLL: true,
		PMF: []atsss.PMFParams{
			{Addr: atsss.AddrPair{IPv4: netip.MustParseAddr("203.0.113.254")}, Ports: [2]uint16{50001, 50002}},
			{QFI: 9, Addr: atsss.AddrPair{IPv4: netip.MustParseAddr("203.0.113.254")}, Ports: [2]uint16{50003, 50004}},
		},
	}
)

// FakeUPSEID is the UP SEID Accept gives the session with CP SEID cp. It
// is its own inverse: FakeUPSEID of a UP SEID is the CP SEID, which Accept
// puts in the header of its answers.
func FakeUPSEID(cp atsss.SEID) atsss.SEID { return cp ^ 1<<63 }

// Accept answers a request the way a UPF that accepts everything does:
// Cause 1; for an establishment, the UP SEID FakeUPSEID and ATSSS Control
// Parameters for what the request asks for (a proxy at 203.0.113.254:8443,
// PMF ports from 50001); for an association, MPTCP, ATSSS-LL and RTTWP.
// It returns nil for a message it does not answer.
func Accept(req message.Message) message.Message {
	accepted := ie.NewCause(uint8(atsssie.CauseAccepted))
	nodeID := ie.NewNodeIDHeuristic("127.0.0.1")
	seq := req.Sequence()
	switch req := req.(type) {
	case *message.HeartbeatRequest:
		return message.NewHeartbeatResponse(seq, ie.NewRecoveryTimeStamp(fakeRecovery))
	case *message.AssociationSetupRequest:
		return message.NewAssociationSetupResponse(seq, nodeID, accepted, ie.NewRecoveryTimeStamp(fakeRecovery), atsssie.NewUPFunctionFeatures(fakeFeatures...))
	case *message.AssociationReleaseRequest:
		return message.NewAssociationReleaseResponse(seq, nodeID, accepted)
	case *message.SessionEstablishmentRequest:
		var cp atsss.SEID
		if req.CPFSEID != nil {
			if f, err := req.CPFSEID.FSEID(); err == nil {
				cp = atsss.SEID(f.SEID)
			}
		}
		ies := []*ie.IE{nodeID, accepted, ie.NewFSEID(uint64(FakeUPSEID(cp)), net.IPv4(127, 0, 0, 1), nil)}
		if req.ProvideATSSSControlInformation != nil {
			if r, err := atsssie.ParseProvideATSSSControlInformation(req.ProvideATSSSControlInformation); err == nil {
				ies = append(ies, atsssie.NewATSSSControlParameters(fakeAllocate(r)))
			}
		}
		return message.NewSessionEstablishmentResponse(0, 0, uint64(cp), seq, 0, ies...)
	case *message.SessionModificationRequest:
		return message.NewSessionModificationResponse(0, 0, uint64(FakeUPSEID(atsss.SEID(req.SEID()))), seq, 0, accepted)
	case *message.SessionDeletionRequest:
		return message.NewSessionDeletionResponse(0, 0, uint64(FakeUPSEID(atsss.SEID(req.SEID()))), seq, 0, accepted)
	}
	return nil
}

// fakeAllocate returns the part of fakeParams that r asks for.
func fakeAllocate(r atsss.ATSSSRequest) atsss.ATSSSParams {
	var p atsss.ATSSSParams
	if r.MPTCP {
		p.MPTCP = fakeParams.MPTCP
	}
	p.ATSSSLL = r.ATSSSLL
	if r.PMF {
		p.PMF = fakeParams.PMF[:1]
		if r.PQPM {
			p.PMF = fakeParams.PMF
		}
	}
	return p
}
