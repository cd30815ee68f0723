package pfcp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// testConfig is a server on an ephemeral loopback port with a small pool
// of link-specific addresses (two per access) and PMF ports.
func testConfig() pfcp.Config {
	return pfcp.Config{
		NodeID:       "127.0.0.1",
		Listen:       []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		AllowedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		ATSSS: pfcp.ATSSSConfig{
			ATSSSLL: true,
			MPTCP: pfcp.MPTCPConfig{
				Address4: netip.MustParseAddr("203.0.113.1"), Port: 8803,
				LinkSpecificPools: pfcp.AccessPools{
					ThreeGPP: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/30")},
					Non3GPP:  []netip.Prefix{netip.MustParsePrefix("198.51.100.0/30")},
				},
			},
			PMF: pfcp.PMFConfig{Address4: netip.MustParseAddr("203.0.113.1"), PortBase: 20000},
		},
	}
}

type harness struct {
	srv   *pfcp.Server
	store *atsss.Store
	addr  netip.AddrPort
}

func start(t *testing.T, mutate func(*pfcp.Config)) *harness {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	store, err := atsss.NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pfcp.New(cfg, store, pfcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		store.Close()
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return &harness{srv: srv, store: store, addr: srv.Addrs()[0]}
}

// dial returns a running client on a fresh loopback port; associate it
// with the server unless noAssociation.
func (h *harness) dial(t *testing.T, local string, associate bool) *pfcptest.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := pfcptest.Dialer{T1: 200 * time.Millisecond, N1: 5}
	c, err := d.Dial(ctx, netip.MustParseAddrPort(local), h.addr, "smf.test")
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	t.Cleanup(func() { cancel(); c.Close() })
	if associate {
		r, err := c.Associate(ctx)
		if err != nil || r.Cause != atsssie.CauseAccepted {
			t.Fatalf("associate: %v %v", r, err)
		}
	}
	return c
}

// maSpec is the MA PDU session of the issue: an MPTCP Load-Balancing 70/30
// MAR and an ATSSS-LL Active-Standby MAR, with MPTCP, ATSSS-LL and PMF asked for.
func maSpec(seid atsss.SEID) pfcptest.SessionSpec {
	set8 := func(v uint8) atsss.OptionalUint8 { return atsss.OptionalUint8{Value: v, Set: true} }
	prio := func(p atsss.Priority) atsss.OptionalPriority { return atsss.OptionalPriority{Value: p, Set: true} }
	return pfcptest.SessionSpec{
		SEID:  seid,
		UEIP:  netip.MustParseAddr("192.0.2.100"),
		GNB:   &pfcptest.Tunnel{UPF: pfcptest.Endpoint{Addr: netip.MustParseAddr("203.0.113.10"), TEID: 0x100}, AN: pfcptest.Endpoint{Addr: netip.MustParseAddr("203.0.113.20"), TEID: 0x200}},
		N3IWF: &pfcptest.Tunnel{UPF: pfcptest.Endpoint{Addr: netip.MustParseAddr("203.0.113.10"), TEID: 0x101}, AN: pfcptest.Endpoint{Addr: netip.MustParseAddr("203.0.113.30"), TEID: 0x300}},
		MARs: []pfcptest.MARSpec{
			{ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing, SDF: "permit out 6 from any to assigned",
				Legs: [2]pfcptest.LegSpec{{Present: true, Weight: set8(70)}, {Present: true, Weight: set8(30)}}},
			{ID: 2, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby,
				Legs: [2]pfcptest.LegSpec{{Present: true, Priority: prio(atsss.PriorityActive)}, {Present: true, Priority: prio(atsss.PriorityStandby)}}},
		},
		ATSSS:              atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true},
		ReportAvailability: true,
	}
}

func accepted(t *testing.T, what string, r *pfcptest.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.Cause != atsssie.CauseAccepted {
		t.Fatalf("%s: cause %v (offending IE %d, failed rule %v), want accepted", what, r.Cause, r.OffendingIE, r.FailedRule)
	}
}

func TestSessionLifecycle(t *testing.T) {
	h := start(t, nil)
	c := h.dial(t, "127.0.0.1:0", true)
	ctx := t.Context()

	r, err := c.Establish(ctx, maSpec(0x1001))
	accepted(t, "establish", r, err)
	p := r.ATSSS
	if p == nil || p.MPTCP == nil {
		t.Fatalf("no MPTCP parameters in %+v", p)
	}
	if got, want := netip.AddrPortFrom(p.MPTCP.ProxyIPv4, p.MPTCP.ProxyPort), netip.MustParseAddrPort("203.0.113.1:8803"); got != want {
		t.Errorf("proxy %v, want %v", got, want)
	}
	if p.MPTCP.ProxyType != 1 {
		t.Errorf("proxy type %d, want 1 (transport converter)", p.MPTCP.ProxyType)
	}
	for a, pool := range []string{"192.0.2.0/30", "198.51.100.0/30"} {
		if got := p.MPTCP.LinkSpecific[a].IPv4; !netip.MustParsePrefix(pool).Contains(got) {
			t.Errorf("%v link-specific address %v not from %s", atsss.AccessType(a), got, pool)
		}
	}
	if !p.ATSSSLL || len(p.PMF) != 1 || p.PMF[0].Ports[0] == p.PMF[0].Ports[1] {
		t.Errorf("ATSSS-LL %v, PMF %+v: want LL and one PMF entry with two ports", p.ATSSSLL, p.PMF)
	}

	stored, ok := h.store.Get(r.UPSEID)
	if !ok {
		t.Fatalf("session %v not in the store", r.UPSEID)
	}
	want := maSpec(0x1001).Session()
	want.LocalSEID, want.PeerNodeID, want.PeerAddr, want.ATSSS.Params = r.UPSEID, "smf.test", netip.MustParseAddr("127.0.0.1"), *p
	if d := cmp.Diff(want, stored, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("stored session (-want +got):\n%s", d)
	}
	if got, ok := h.store.ByUEAddr(p.MPTCP.LinkSpecific[atsss.AccessNon3GPP].IPv4); !ok || got.LocalSEID != r.UPSEID {
		t.Errorf("link-specific address does not find the session")
	}

	// Remove the non-3GPP access from the MPTCP MAR, then add it back.
	r, err = c.Do(ctx, pfcptest.UpdateMAR(r.UPSEID, 0, pfcptest.MARUpdate{ID: 1,
		Legs: [2]pfcptest.LegUpdate{{Weight: atsss.OptionalUint8{Value: 100, Set: true}}, {Op: pfcptest.LegRemove}}}))
	accepted(t, "remove non-3GPP leg", r, err)
	seid := stored.LocalSEID
	if s, _ := h.store.Get(seid); s.MAR(1).Legs[atsss.AccessNon3GPP].Present || s.MAR(1).Legs[atsss.Access3GPP].Weight.Value != 100 {
		t.Errorf("after removal: legs %+v", s.MAR(1).Legs)
	}
	r, err = c.Do(ctx, pfcptest.UpdateMAR(seid, 0, pfcptest.MARUpdate{ID: 1, Legs: [2]pfcptest.LegUpdate{
		{Weight: atsss.OptionalUint8{Value: 70, Set: true}}, {Op: pfcptest.LegAdd, Weight: atsss.OptionalUint8{Value: 30, Set: true}}}}))
	accepted(t, "re-add non-3GPP leg", r, err)
	if s, _ := h.store.Get(seid); !s.MAR(1).Legs[atsss.AccessNon3GPP].Present || s.MAR(1).Legs[atsss.AccessNon3GPP].Weight.Value != 30 {
		t.Errorf("after re-add: legs %+v", s.MAR(1).Legs)
	}

	// Access Availability Information marks the access unavailable.
	r, err = c.Do(ctx, pfcptest.AccessAvailability(seid, 0, atsss.AccessNon3GPP, false))
	accepted(t, "access availability", r, err)
	if s, _ := h.store.Get(seid); !s.Unavailable[atsss.AccessNon3GPP] {
		t.Errorf("non-3GPP access not marked unavailable")
	}

	// The SMF's report rule makes the UPF report availability.
	if err := h.srv.ReportAccessAvailability(ctx, seid, atsss.AccessNon3GPP, true); err != nil {
		t.Fatalf("report: %v", err)
	}
	reports := c.Reports()
	if len(reports) != 1 || len(reports[0].Sessions) != 1 {
		t.Fatalf("reports %+v, want one session report", reports)
	}

	// Deletion frees the addresses: two more sessions fit the /30 pools,
	// whose two addresses the first session and then the next one take.
	r, err = c.Do(ctx, pfcptest.Deletion(seid, 0))
	accepted(t, "delete", r, err)
	if h.store.Len() != 0 {
		t.Fatalf("%d sessions after delete", h.store.Len())
	}
	for i := range 2 {
		r, err := c.Establish(ctx, maSpec(atsss.SEID(0x2000+i)))
		accepted(t, "establish after delete", r, err)
	}
	r, err = c.Establish(ctx, maSpec(0x3000))
	if err != nil || r.Cause != pfcp.CauseNoResources {
		t.Fatalf("third session on a two-address pool: %v %v, want no resources", r, err)
	}
}

func TestDuplicateRequestAnsweredFromCache(t *testing.T) {
	h := start(t, nil)
	h.dial(t, "127.0.0.1:0", true) // associates 127.0.0.1, the raw socket's IP too
	raw := rawConn(t, h)
	req := pfcptest.Establishment(maSpec(0x42), 7)
	req.NodeID = ie.NewNodeID("", "", "smf.test")
	b, _ := req.Marshal()
	first := raw.roundTrip(t, b)
	second := raw.roundTrip(t, b)
	if !cmp.Equal(first, second) {
		t.Errorf("retransmission got a different answer")
	}
	if h.store.Len() != 1 {
		t.Errorf("%d sessions after a retransmitted establishment, want 1", h.store.Len())
	}
}

type raw struct{ c *net.UDPConn }

func rawConn(t *testing.T, h *harness) *raw {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(h.addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{c: c}
}

func (r *raw) roundTrip(t *testing.T, b []byte) []byte {
	t.Helper()
	resp, ok := r.exchange(t, b, 5*time.Second)
	if !ok {
		t.Fatal("no response")
	}
	return resp
}

// exchange sends b and returns the next datagram within wait.
func (r *raw) exchange(t *testing.T, b []byte, wait time.Duration) ([]byte, bool) {
	t.Helper()
	if _, err := r.c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	r.c.SetReadDeadline(time.Now().Add(wait))
	n, err := r.c.Read(buf)
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

// read returns the next datagram, failing the test after 5 s.
func (r *raw) read(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.c.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n]
}

func (r *raw) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func parse(t *testing.T, b []byte) message.Message {
	t.Helper()
	m, err := message.Parse(b)
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	return m
}

// TestOptionalFeatures: REDSM and RTTWP are advertised only when the
// configuration says the data path has them, and a Redundant MPTCP MAR is
// accepted only with REDSM.
func TestOptionalFeatures(t *testing.T) {
	redundant := maSpec(0x2001)
	prio := func(p atsss.Priority) atsss.OptionalPriority { return atsss.OptionalPriority{Value: p, Set: true} }
	redundant.MARs[0].Mode = atsss.ModeRedundant
	redundant.MARs[0].Legs = [2]pfcptest.LegSpec{{Present: true, Priority: prio(atsss.PriorityPrimary)}, {Present: true, Priority: prio(atsss.PrioritySecondary)}}
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled=%v", on), func(t *testing.T) {
			h := start(t, func(c *pfcp.Config) { c.ATSSS.RedundantMPTCP, c.ATSSS.RTTWP = on, on })
			c := h.dial(t, "127.0.0.1:0", false)
			a, err := c.Associate(t.Context())
			accepted(t, "associate", a, err)
			for _, f := range []atsssie.UPFeature{atsssie.FeatureREDSM, atsssie.FeatureRTTWP} {
				if got := a.Features.Has(f); got != on {
					t.Errorf("%v advertised: %v, want %v", f, got, on)
				}
			}
			r, err := c.Establish(t.Context(), redundant)
			if on {
				accepted(t, "establish", r, err)
				return
			}
			if err != nil || r.Cause != atsssie.CauseRuleCreationFailure || r.FailedRule == nil || r.FailedRule.Type != atsss.RuleMAR || r.FailedRule.ID != 1 {
				t.Errorf("establish without REDSM: %+v %v, want rule creation failure on MAR 1", r, err)
			}
		})
	}
}
