package test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/steering/ll"
	"github.com/openatsss/atsss/steering/ll/gtpu"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/ransim"
)

// The ATSSS-LL lab: the UE's MA PDU address sits in a pool routed into the
// Forwarder's TUN in upf; the ue namespace plays UE, gNB and N3IWF at once
// (test/ransim), with the gNB on ue's 3GPP address and the N3IWF on its
// non-3GPP one; the data network server is a UDP socket in dn.
var (
	llUE     = netip.MustParseAddr("203.0.113.40")
	llPool   = netip.MustParsePrefix("203.0.113.32/28")
	llUEPort = uint16(4000)
	llDN     = netip.AddrPortFrom(lab.DNAddr, 5000)
	llULTEID = [2]uint32{0x100, 0x200}
	llDLTEID = [2]uint32{0x1000, 0x2000}
)

const llSEID = atsss.SEID(0x11)

// llRig is a lab with an ATSSS-LL Forwarder in upf, a RAN simulator in ue
// and a UDP server in dn; policies are the Forwarder's operator policies.
type llRig struct {
	lab      *lab.Lab
	store    *atsss.Store
	policies *atsss.Policies
	fwd      *ll.Forwarder
	ran      *ransim.RAN
	dn       *net.UDPConn
}

// llSession is the MA PDU session an SMF installs for the lab UE
// (pfcptest.DefaultSpec: TCP over an MPTCP MAR, everything else over an
// ATSSS-LL MAR), with the ATSSS-LL MAR's mode set by mar.
func llSession(t testing.TB, mar func(m *pfcptest.MARSpec)) *atsss.Session {
	t.Helper()
	s := llSpec(mar).Session()
	s.LocalSEID = llSEID
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// llSpec is the lab UE's session as an SMF describes it.
func llSpec(mar func(m *pfcptest.MARSpec)) pfcptest.SessionSpec {
	spec := pfcptest.DefaultSpec()
	spec.UEIP = llUE
	spec.GNB = &pfcptest.Tunnel{
		UPF: pfcptest.Endpoint{Addr: lab.Access[atsss.Access3GPP].UPFAddr, TEID: llULTEID[0]},
		AN:  pfcptest.Endpoint{Addr: lab.Access[atsss.Access3GPP].UEAddr, TEID: llDLTEID[0]},
	}
	spec.N3IWF = &pfcptest.Tunnel{
		UPF: pfcptest.Endpoint{Addr: lab.Access[atsss.AccessNon3GPP].UPFAddr, TEID: llULTEID[1]},
		AN:  pfcptest.Endpoint{Addr: lab.Access[atsss.AccessNon3GPP].UEAddr, TEID: llDLTEID[1]},
	}
	if mar != nil {
		mar(&spec.MARs[1])
	}
	return spec
}

func newLLRig(t testing.TB, s *atsss.Session) *llRig {
	t.Helper()
	r := &llRig{lab: lab.NewForTest(t, lab.Config{Name: "atsssll"}), policies: atsss.NewPolicies()}
	var err error
	if r.store, err = atsss.NewStore(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if s != nil {
		if err := r.store.Put(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	// upf routes between its TUN and N6, but never forwards what comes
	// in over an access link: the UE reaches N6 only through GTP-U.
	// Writing "all" sets every link and the default for new ones.
	for _, s := range [][2]string{
		{"net.ipv4.conf.all.forwarding", "1"},
		{"net.ipv4.conf.3gpp.forwarding", "0"},
		{"net.ipv4.conf.n3gpp.forwarding", "0"},
	} {
		if err := r.lab.UPF.Sysctl(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := r.lab.UPF.Do(func() error {
		var err error
		r.fwd, err = ll.New(ll.Config{TUN: "atsssll0", Routes: []netip.Prefix{llPool}, Policies: r.policies}, r.store, log)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.fwd.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("forwarder: %v", err)
		}
	})
	select {
	case <-r.fwd.Ready():
	case err := <-done:
		t.Fatalf("forwarder ended: %v", err)
	}
	cfg := ransim.Config{ULTEID: llULTEID, DLTEID: llDLTEID, QFI: 9}
	for _, a := range atsss.Accesses {
		cfg.AN[a] = netip.AddrPortFrom(lab.Access[a].UEAddr, gtpu.Port)
		cfg.UPF[a] = netip.AddrPortFrom(lab.Access[a].UPFAddr, gtpu.Port)
	}
	if err := r.lab.UE.Do(func() error {
		var err error
		r.ran, err = ransim.New(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ranCtx, ranCancel := context.WithCancel(context.Background())
	ranDone := make(chan struct{})
	go func() { r.ran.Run(ranCtx); close(ranDone) }()
	t.Cleanup(func() { ranCancel(); <-ranDone })
	if err := r.lab.DN.Do(func() error {
		var err error
		r.dn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(llDN))
		if err == nil {
			err = r.dn.SetReadBuffer(8 << 20)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.dn.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			r.dump(t)
		}
	})
	return r
}

// dump logs the upf namespace's links, routes and sockets.
func (r *llRig) dump(t testing.TB) {
	for _, args := range [][]string{{"ip", "-s", "link"}, {"ip", "addr"}, {"ip", "route"}, {"ss", "-uanp"}, {"sysctl", "net.ipv4.ip_forward", "net.ipv4.conf.atsssll0.forwarding", "net.ipv4.conf.n6.forwarding", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.n6.rp_filter", "net.ipv4.conf.atsssll0.rp_filter"}, {"nstat", "-asz"}, {"ip", "rule"}, {"nft", "list", "ruleset"}} {
		out, err := r.lab.UPF.Command(context.Background(), args[0], args[1:]...).CombinedOutput()
		t.Logf("upf: %v: %v\n%s", args, err, out)
	}
}

// update changes the session in the store and waits until the data path
// applies it.
func (r *llRig) update(t testing.TB, edit func(s *atsss.Session), applied func(ll.SessionStats) bool) {
	t.Helper()
	s, ok := r.store.Get(llSEID)
	if !ok {
		t.Fatal("session gone")
	}
	c := s.Clone()
	edit(c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Put(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	llWaitFor(t, "the forwarder to apply the session change", func() bool {
		st, ok := r.fwd.SessionStats(llSEID)
		return ok && applied(st)
	})
}

// setPolicies puts ps in force and waits until the data path steers by
// them.
func (r *llRig) setPolicies(t testing.TB, ps ...*atsss.Policy) {
	t.Helper()
	start := time.Now()
	r.policies.Set(atsss.NewPolicySet(ps))
	_, gen := r.policies.Current()
	llWaitFor(t, "the forwarder to apply the policies", func() bool { return r.fwd.PolicyGeneration() >= gen })
	t.Logf("policy generation %d in force after %v", gen, time.Since(start).Round(time.Microsecond))
}

// waitFor polls cond: a liveness guard, not a timing assertion.
func llWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// downlink has dn send n datagrams to the UE, keeping at most window of
// them in flight (sent and not yet received by the RAN simulator), so that
// no socket buffer overflows, and returns the packets the UE received.
func (r *llRig) downlink(t testing.TB, n, window int, payload func(i int) []byte, keep bool) []ransim.Packet {
	t.Helper()
	ue := net.UDPAddrFromAddrPort(netip.AddrPortFrom(llUE, llUEPort))
	var got []ransim.Packet
	for i := 0; i < n; i++ {
		if _, err := r.dn.WriteToUDP(payload(i), ue); err != nil {
			t.Fatal(err)
		}
		for len(got) < i+1-window || (i == n-1 && len(got) < n) {
			select {
			case p := <-r.ran.C():
				if keep {
					got = append(got, p)
				} else {
					got = append(got, ransim.Packet{Access: p.Access})
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("downlink: %d of %d received; forwarder %+v, ran %+v", len(got), n, r.fwd.Stats(), r.ran.Stats())
			}
		}
	}
	return got
}

func llPerAccess(ps []ransim.Packet) [2]int {
	var c [2]int
	for _, p := range ps {
		c[p.Access]++
	}
	return c
}

func TestNetnsATSSSLL(t *testing.T) {
	r := newLLRig(t, llSession(t, nil)) // Active-Standby, 3GPP active

	t.Run("udp both ways byte-exact", func(t *testing.T) {
		for _, a := range atsss.Accesses {
			payload := bytes.Repeat([]byte(fmt.Sprintf("uplink over %v ", a)), 60)
			src := netip.AddrPortFrom(llUE, llUEPort)
			if err := r.ran.Send(a, ransim.UDP4(src, llDN, payload)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65536)
			r.dn.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, from, err := r.dn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("dn: %v (forwarder %+v)", err, r.fwd.Stats())
			}
			if from != src || !bytes.Equal(buf[:n], payload) {
				t.Errorf("dn got %d octets from %v, want %d from %v", n, from, len(payload), src)
			}
		}
		reply := bytes.Repeat([]byte{0xa5, 0x5a, 0x00, 0xff}, 300)
		got := r.downlink(t, 1, 1, func(int) []byte { return reply }, true)
		p := got[0]
		src, dst, payload, ok := ransim.ParseUDP4(p.IP)
		if !ok || src != llDN || dst != netip.AddrPortFrom(llUE, llUEPort) || !bytes.Equal(payload, reply) {
			t.Errorf("UE got %v -> %v %d octets (ok %v), want %v -> %v:%d %d octets", src, dst, len(payload), ok, llDN, llUE, llUEPort, len(reply))
		}
		if p.Access != atsss.Access3GPP || p.QFI != 9 {
			t.Errorf("downlink over %v with QFI %d, want 3gpp and 9", p.Access, p.QFI)
		}
		st, _ := r.fwd.SessionStats(llSEID)
		if st.Uplink[0].Packets != 1 || st.Uplink[1].Packets != 1 || st.Downlink[0].Packets != 1 {
			t.Errorf("session counters %+v", st)
		}
	})

	t.Run("active-standby follows availability", func(t *testing.T) {
		const n = 500
		payload := func(int) []byte { return []byte("as") }
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{n, 0} {
			t.Errorf("3GPP active and available: per access %v, want all %d on 3GPP", c, n)
		}
		r.update(t, func(s *atsss.Session) { s.Unavailable[atsss.Access3GPP] = true },
			func(st ll.SessionStats) bool { return st.Unavailable[atsss.Access3GPP] })
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{0, n} {
			t.Errorf("3GPP unavailable: per access %v, want all %d on non-3GPP", c, n)
		}
		r.update(t, func(s *atsss.Session) { s.Unavailable[atsss.Access3GPP] = false },
			func(st ll.SessionStats) bool { return !st.Unavailable[atsss.Access3GPP] })
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{n, 0} {
			t.Errorf("3GPP back: per access %v, want all %d on 3GPP", c, n)
		}
	})

	t.Run("operator policy steers the DN's flow", func(t *testing.T) {
		const n = 1000
		payload := func(int) []byte { return []byte("policy") }
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{n, 0} {
			t.Errorf("the MAR, Active-Standby: per access %v, want all %d on 3GPP", c, n)
		}
		fd := fmt.Sprintf("permit out 17 from %v %d to assigned", llDN.Addr(), llDN.Port())
		flow, err := atsss.ParseFlowDescription(fd)
		if err != nil {
			t.Fatal(err)
		}
		r.setPolicies(t, &atsss.Policy{Name: "dn-lb", Match: atsss.PolicyMatch{FlowDescription: fd, Flow: &flow},
			Downlink: &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing,
				Weight: [2]atsss.OptionalUint8{{Value: 70, Set: true}, {Value: 30, Set: true}}}})
		// Smooth weighted round robin is exact on every 10 packets.
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{700, 300} {
			t.Errorf("policy Load-Balancing 70/30: per access %v, want [700 300]", c)
		}
		r.setPolicies(t)
		if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{n, 0} {
			t.Errorf("policy deleted: per access %v, want all %d on 3GPP", c, n)
		}
	})

	t.Run("load-balancing 70/30", func(t *testing.T) {
		r.update(t, func(s *atsss.Session) {
			m := s.MAR(2)
			m.Mode = atsss.ModeLoadBalancing
			for a, w := range [2]uint8{70, 30} {
				m.Legs[a].Priority = atsss.OptionalPriority{}
				m.Legs[a].Weight = atsss.OptionalUint8{Value: w, Set: true}
			}
		}, func(ll.SessionStats) bool { return true })
		// The session's view changes with the Put; wait on the revision
		// through a probe: nothing else tells that the MAR changed.
		llWaitFor(t, "the load-balancing MAR", func() bool {
			c := llPerAccess(r.downlink(t, 10, 10, func(int) []byte { return []byte("probe") }, false))
			return c[1] > 0
		})
		mid, _ := r.fwd.SessionStats(llSEID)
		const n = 10000
		c := llPerAccess(r.downlink(t, n, 256, func(int) []byte { return []byte("lb") }, false))
		share := 100 * float64(c[0]) / n
		t.Logf("UE received 3GPP %d, non-3GPP %d: %.2f %% on 3GPP", c[0], c[1], share)
		if share < 67 || share > 73 {
			t.Errorf("3GPP share %.2f %%, want 70 ± 3", share)
		}
		after, _ := r.fwd.SessionStats(llSEID)
		d0 := after.Downlink[0].Packets - mid.Downlink[0].Packets
		d1 := after.Downlink[1].Packets - mid.Downlink[1].Packets
		if d0+d1 != n || int(d0) != c[0] {
			t.Errorf("forwarder sent %d/%d, UE received %v", d0, d1, c)
		}
	})

	t.Run("spoofed source and unknown TEID are dropped", func(t *testing.T) {
		before := r.fwd.Stats().Drops
		spoof := ransim.UDP4(netip.AddrPortFrom(netip.MustParseAddr("203.0.113.41"), llUEPort), llDN, []byte("spoofed"))
		if err := r.ran.Send(atsss.Access3GPP, spoof); err != nil {
			t.Fatal(err)
		}
		good := ransim.UDP4(netip.AddrPortFrom(llUE, llUEPort), llDN, []byte("good"))
		if err := r.ran.SendTEID(atsss.Access3GPP, 0x999, good); err != nil {
			t.Fatal(err)
		}
		if err := r.ran.SendRaw(atsss.Access3GPP, []byte{0x30, 0xff, 0, 200, 0, 0, 1, 0}); err != nil {
			t.Fatal(err)
		}
		marker := ransim.UDP4(netip.AddrPortFrom(llUE, llUEPort), llDN, []byte("marker"))
		if err := r.ran.Send(atsss.Access3GPP, marker); err != nil {
			t.Fatal(err)
		}
		// The forwarder reads N3 in order: once the marker is through,
		// the three before it were handled.
		buf := make([]byte, 2048)
		r.dn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := r.dn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != "marker" {
			t.Errorf("dn got %q first, want the marker", buf[:n])
		}
		after := r.fwd.Stats().Drops
		for _, k := range []string{"spoofed", "unknown_teid", "malformed"} {
			if after[k]-before[k] != 1 {
				t.Errorf("drops %s: %d, want 1 (all %v)", k, after[k]-before[k], after)
			}
		}
	})

	t.Run("echo", func(t *testing.T) {
		if err := r.ran.SendRaw(atsss.AccessNon3GPP, gtpu.AppendEchoRequest(nil, 9)); err != nil {
			t.Fatal(err)
		}
		llWaitFor(t, "an echo response", func() bool { return r.ran.Stats().EchoResponses == 1 })
	})
	t.Logf("forwarder %+v; ran %+v", r.fwd.Stats(), r.ran.Stats())
}

// TestNetnsATSSSLLN4 drives the Forwarder through N4: the pfcp server runs
// in upf on the same store, an SMF (pfcptest.Client) establishes an
// ATSSS-LL Active-Standby session and then reports the active access
// unavailable with Access Availability Information (TS 29.244 §5.20.4.1).
func TestNetnsATSSSLLN4(t *testing.T) {
	r := newLLRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n4 := netip.MustParseAddrPort("127.0.0.1:8805")
	srv, err := pfcp.New(pfcp.Config{
		NodeID:       "127.0.0.1",
		Listen:       []netip.AddrPort{n4},
		AllowedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		ATSSS:        pfcp.ATSSSConfig{ATSSSLL: true},
	}, r.store, pfcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- r.lab.UPF.Do(func() error { return srv.Run(ctx) }) }()
	defer func() {
		cancel()
		if err := <-srvDone; err != nil {
			t.Errorf("pfcp server: %v", err)
		}
	}()
	var smf *pfcptest.Client
	llWaitFor(t, "the N4 server", func() bool {
		err := r.lab.UPF.Do(func() error {
			var err error
			smf, err = pfcptest.Dial(ctx, netip.MustParseAddrPort("127.0.0.2:0"), n4, "smf.example")
			return err
		})
		return err == nil
	})
	go smf.Run(ctx)
	if resp, err := smf.Associate(ctx); err != nil || !resp.Cause.Accepted() {
		t.Fatalf("associate: %v %+v", err, resp)
	}
	spec := llSpec(nil)
	spec.MARs = spec.MARs[1:] // the ATSSS-LL MAR alone: no proxy here
	spec.ATSSS = atsss.ATSSSRequest{ATSSSLL: true}
	resp, err := smf.Establish(ctx, spec)
	if err != nil || !resp.Cause.Accepted() {
		t.Fatalf("establish: %v %+v", err, resp)
	}
	seid := resp.UPSEID
	llWaitFor(t, "the session in the forwarder", func() bool { _, ok := r.fwd.SessionStats(seid); return ok })
	payload := func(int) []byte { return []byte("n4") }
	const n = 300
	if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{n, 0} {
		t.Errorf("3GPP active: per access %v, want all %d on 3GPP", c, n)
	}
	if resp, err := smf.Do(ctx, pfcptest.AccessAvailability(seid, 0, atsss.Access3GPP, false)); err != nil || !resp.Cause.Accepted() {
		t.Fatalf("access availability: %v %+v", err, resp)
	}
	llWaitFor(t, "the availability in the forwarder", func() bool {
		st, _ := r.fwd.SessionStats(seid)
		return st.Unavailable[atsss.Access3GPP]
	})
	if c := llPerAccess(r.downlink(t, n, 64, payload, false)); c != [2]int{0, n} {
		t.Errorf("3GPP reported unavailable over N4: per access %v, want all %d on non-3GPP", c, n)
	}
	st, _ := r.fwd.SessionStats(seid)
	t.Logf("session %v: downlink %+v", seid, st.Downlink)
}

// BenchmarkNetnsATSSSLLDownlink measures downlink packets per second
// through the Forwarder in the lab: dn sends 1000-octet UDP datagrams to
// the UE, up to 256 in flight, the Forwarder steers them 70/30 and the
// RAN simulator receives them.
func BenchmarkNetnsATSSSLLDownlink(b *testing.B) {
	s := llSession(b, func(m *pfcptest.MARSpec) {
		m.Mode = atsss.ModeLoadBalancing
		m.Legs[0] = pfcptest.LegSpec{Present: true, Weight: atsss.OptionalUint8{Value: 70, Set: true}}
		m.Legs[1] = pfcptest.LegSpec{Present: true, Weight: atsss.OptionalUint8{Value: 30, Set: true}}
	})
	r := newLLRig(b, s)
	payload := make([]byte, 1000)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	n := b.N
	r.downlink(b, n, 256, func(int) []byte { return payload }, false)
	el := time.Since(start)
	b.ReportMetric(float64(n)/el.Seconds(), "pkt/s")
}
