package ll

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// lb returns downlink steering Load-Balancing w3gpp/100-w3gpp.
func lb(w3gpp uint8) *atsss.PolicySteering {
	return &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing, Weight: [2]atsss.OptionalUint8{{Value: w3gpp, Set: true}, {Value: 100 - w3gpp, Set: true}}}
}

// flowMatch returns a policy match on the flow description fd.
func flowMatch(t testing.TB, fd string) atsss.PolicyMatch {
	t.Helper()
	f, err := atsss.ParseFlowDescription(fd)
	if err != nil {
		t.Fatal(err)
	}
	return atsss.PolicyMatch{FlowDescription: fd, Flow: &f}
}

// policySession is session(t, nil) (ATSSS-LL Active-Standby, 3GPP active)
// with a DNN and an S-NSSAI for policies to match.
func policySession(t testing.TB, seid atsss.SEID) *atsss.Session {
	s := session(t, nil)
	s.LocalSEID = seid
	s.DNN = "internet"
	s.SNSSAI = &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}
	return s
}

// linkSpecific is the UE's link-specific address over 3GPP in
// withLinkSpecific's session.
var linkSpecific = netip.MustParseAddr("203.0.113.2")

// withLinkSpecific gives s's UE a link-specific address over 3GPP, as
// with MPTCP, and lets its ATSSS-LL PDR (9) serve every UE address, so
// that a downlink packet to it is steered by the ATSSS-LL MAR.
func withLinkSpecific(t testing.TB, s *atsss.Session) {
	t.Helper()
	s.ATSSS.Params.MPTCP = &atsss.MPTCPParams{ProxyType: 1, LinkSpecific: [2]atsss.AddrPair{{IPv4: linkSpecific}}}
	s.PDR(9).PDI.UEIP = nil
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// policyForwarder returns a Forwarder without sockets whose table holds
// sessions steered under set, logging to log.
func policyForwarder(set *atsss.PolicySet, log *slog.Logger, sessions ...*atsss.Session) *Forwarder {
	f := &Forwarder{now: time.Now}
	pol := &policies{log: log}
	pol.update(set, 1)
	views := map[atsss.SEID]*view{}
	for _, s := range sessions {
		views[s.LocalSEID] = compile(s, newSessState(), pol)
	}
	f.tab.Store(buildTable(views))
	return f
}

// perAccess sends pkt down n times and counts the packets per access;
// a dropped packet counts on neither.
func perAccess(f *Forwarder, pkt []byte, n int) [2]int {
	var c [2]int
	for range n {
		if _, _, to, ok := down(f, pkt); ok {
			if to == gnb {
				c[atsss.Access3GPP]++
			} else {
				c[atsss.AccessNon3GPP]++
			}
		}
	}
	return c
}

// TestDownlinkPolicy: a policy that matches a packet (by session key or
// flow filter) steers it instead of the MAR, as PolicySet.ForFlow says
// (first in precedence order among those that apply to the MAR's
// functionality); a policy that cannot steer the MAR leaves it the MAR's.
func TestDownlinkPolicy(t *testing.T) {
	udp53 := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("x"))
	udp54 := ipv4(17, dnAddr, ueAddr, 54, 4000, []byte("x"))
	icmp := ipv4(1, dnAddr, ueAddr, 0, 0, []byte("x"))
	tcp := ipv4(6, dnAddr, ueAddr, 80, 4000, []byte("x"))
	dnn := atsss.PolicyMatch{DNN: "Internet"}
	flow53 := flowMatch(t, "permit out 17 from 203.0.113.130 53 to assigned")
	llOnly := atsss.OptionalFunctionality{Value: atsss.FunctionalityATSSSLL, Set: true}
	mptcpOnly := atsss.OptionalFunctionality{Value: atsss.FunctionalityMPTCP, Set: true}
	non3GPPActive := &atsss.PolicySteering{Mode: atsss.ModeActiveStandby, Priority: [2]atsss.OptionalPriority{
		{Value: atsss.PriorityStandby, Set: true}, {Value: atsss.PriorityActive, Set: true}}}
	redundant := &atsss.PolicySteering{Mode: atsss.ModeRedundant, Priority: [2]atsss.OptionalPriority{
		{Value: atsss.PriorityPrimary, Set: true}, {Value: atsss.PrioritySecondary, Set: true}}}
	overweight := &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing, Weight: [2]atsss.OptionalUint8{{Value: 90, Set: true}, {Value: 30, Set: true}}}
	tests := []struct {
		name     string
		policies []*atsss.Policy
		pkt      []byte
		want     [2]int // of 100 packets; {0, 0}: dropped
		refused  int    // "operator policy not applied" records at Info
		linkSpec bool   // the UE has a link-specific address, which the ATSSS-LL PDR serves
	}{
		{name: "no policy", pkt: udp53, want: [2]int{100, 0}},
		{name: "DNN, case aside", policies: []*atsss.Policy{{Name: "p", Match: dnn, Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "other DNN", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{DNN: "ims"}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{100, 0}},
		{name: "S-NSSAI", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{SNSSAI: &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "other S-NSSAI", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{SNSSAI: &atsss.SNSSAI{SST: 2}}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{100, 0}},
		{name: "UE prefix", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{UEPrefix: netip.MustParsePrefix("203.0.113.0/28")}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "other UE prefix", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{UEPrefix: netip.MustParsePrefix("198.51.100.0/24")}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{100, 0}},
		{name: "active-standby the other way", policies: []*atsss.Policy{{Name: "p", Match: dnn, Downlink: non3GPPActive}}, pkt: udp53, want: [2]int{0, 100}},
		{name: "flow filter", policies: []*atsss.Policy{{Name: "p", Match: flow53, Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "flow filter, other flow", policies: []*atsss.Policy{{Name: "p", Match: flow53, Downlink: lb(70)}}, pkt: udp54, want: [2]int{100, 0}},
		{name: "flow filter naming the UE address", policies: []*atsss.Policy{{Name: "p", Match: flowMatch(t, "permit out ip from any to 203.0.113.1"), Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "flow filter naming the MA PDU address, packet to a link-specific one", policies: []*atsss.Policy{{Name: "p", Match: flowMatch(t, "permit out 17 from any to 203.0.113.1 4000"), Downlink: lb(70)}},
			pkt: ipv4(17, dnAddr, linkSpecific, 53, 4000, []byte("x")), want: [2]int{70, 30}, linkSpec: true},
		{name: "flow filter naming the MA PDU address, other port", policies: []*atsss.Policy{{Name: "p", Match: flowMatch(t, "permit out 17 from any to 203.0.113.1 4001"), Downlink: lb(70)}},
			pkt: ipv4(17, dnAddr, linkSpecific, 53, 4000, []byte("x")), want: [2]int{100, 0}, linkSpec: true},
		{name: "flow filter without ports, packet without ports", policies: []*atsss.Policy{{Name: "p", Match: flowMatch(t, "permit out ip from 203.0.113.130 to assigned"), Downlink: lb(70)}}, pkt: icmp, want: [2]int{70, 30}},
		{name: "flow filter on ports, packet without ports", policies: []*atsss.Policy{{Name: "p", Match: flowMatch(t, "permit out ip from any 0-53 to assigned"), Downlink: lb(70)}}, pkt: icmp, want: [2]int{100, 0}},
		{name: "application ID the PDR lacks", policies: []*atsss.Policy{{Name: "p", Match: atsss.PolicyMatch{AppID: "voip"}, Downlink: lb(70)}}, pkt: udp53, want: [2]int{100, 0}},
		{name: "policy for ATSSS-LL", policies: []*atsss.Policy{{Name: "p", Match: dnn, Functionality: llOnly, Downlink: lb(70)}}, pkt: udp53, want: [2]int{70, 30}},
		{name: "policy for MPTCP only", policies: []*atsss.Policy{{Name: "p", Match: dnn, Functionality: mptcpOnly, Downlink: lb(70)}}, pkt: udp53, want: [2]int{100, 0}},
		{name: "flow policy first, matched", policies: []*atsss.Policy{
			{Name: "flow", Precedence: 1, Match: flow53, Downlink: lb(20)},
			{Name: "dnn", Precedence: 2, Match: dnn, Downlink: lb(70)},
		}, pkt: udp53, want: [2]int{20, 80}},
		{name: "flow policy first, not matched: the session policy", policies: []*atsss.Policy{
			{Name: "flow", Precedence: 1, Match: flow53, Downlink: lb(20)},
			{Name: "dnn", Precedence: 2, Match: dnn, Downlink: lb(70)},
		}, pkt: udp54, want: [2]int{70, 30}},
		{name: "session policy first hides the flow policy", policies: []*atsss.Policy{
			{Name: "dnn", Precedence: 1, Match: dnn, Downlink: lb(70)},
			{Name: "flow", Precedence: 2, Match: flow53, Downlink: lb(20)},
		}, pkt: udp53, want: [2]int{70, 30}},
		{name: "a rate cap alone leaves the MAR's steering", policies: []*atsss.Policy{
			{Name: "cap", Precedence: 1, Match: flow53, RateCap: atsss.RateCap{DownlinkBPS: 1e6}},
			{Name: "dnn", Precedence: 2, Match: dnn, Downlink: lb(70)},
		}, pkt: udp53, want: [2]int{100, 0}},
		{name: "redundant is refused for ATSSS-LL", policies: []*atsss.Policy{{Name: "p", Match: dnn, Downlink: redundant}}, pkt: udp53, want: [2]int{100, 0}, refused: 1},
		{name: "weights over 100 are refused", policies: []*atsss.Policy{{Name: "p", Match: flow53, Downlink: overweight}}, pkt: udp53, want: [2]int{100, 0}, refused: 1},
		{name: "a refused policy still wins over later ones", policies: []*atsss.Policy{
			{Name: "bad", Precedence: 1, Match: flow53, Downlink: redundant},
			{Name: "dnn", Precedence: 2, Match: dnn, Downlink: lb(70)},
		}, pkt: udp53, want: [2]int{100, 0}, refused: 1},
		{name: "tcp stays the proxy's", policies: []*atsss.Policy{{Name: "p", Match: dnn, Downlink: lb(70)}}, pkt: tcp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			s := policySession(t, 7)
			if tc.linkSpec {
				withLinkSpecific(t, s)
			}
			f := policyForwarder(atsss.NewPolicySet(tc.policies), log, s)
			if got := perAccess(f, tc.pkt, 100); got != tc.want {
				t.Errorf("per access %v, want %v (drops %v)", got, tc.want, f.Stats().Drops)
			}
			if n := strings.Count(logs.String(), "operator policy not applied"); n != tc.refused {
				t.Errorf("logged %d refusals, want %d:\n%s", n, tc.refused, logs.String())
			}
		})
	}
}

// TestPolicyRefusedLoggedOnce: a policy that no session's MAR can take is
// logged at Info once per revision, whatever the sessions and recompiles.
func TestPolicyRefusedLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	pol := &policies{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	bad := func(rev uint64) *atsss.Policy {
		return &atsss.Policy{Name: "bad", Revision: rev, Match: atsss.PolicyMatch{DNN: "internet"},
			Downlink: &atsss.PolicySteering{Mode: atsss.ModeRedundant}}
	}
	count := func(level string) int {
		return strings.Count(logs.String(), "level="+level+" msg=\"operator policy not applied")
	}
	compileAll := func() {
		for seid := range atsss.SEID(3) {
			compile(policySession(t, seid+1), newSessState(), pol)
		}
	}
	pol.update(atsss.NewPolicySet([]*atsss.Policy{bad(1)}), 1)
	compileAll()
	pol.update(atsss.NewPolicySet([]*atsss.Policy{bad(1)}), 2) // another set, the same policy
	compileAll()
	if info, debug := count("INFO"), count("DEBUG"); info != 1 || debug != 5 {
		t.Errorf("info %d, debug %d; want 1 and 5:\n%s", info, debug, logs.String())
	}
	pol.update(atsss.NewPolicySet([]*atsss.Policy{bad(2)}), 3) // a new revision
	compileAll()
	if info := count("INFO"); info != 2 {
		t.Errorf("info %d after a new revision, want 2", info)
	}
	pol.update(atsss.NewPolicySet(nil), 4)
	pol.update(atsss.NewPolicySet([]*atsss.Policy{bad(2)}), 5) // gone and back: forgotten
	compileAll()
	if info := count("INFO"); info != 3 {
		t.Errorf("info %d after the policy went and came back, want 3", info)
	}
}

// TestPolicyFollow runs the follower: a policy set in atsss.Policies
// steers the next packet once the follower has run, a change of the
// policy and of the session keeps it in force, and deleting it restores
// the MAR's steering and drops the policy's steering state.
func TestPolicyFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := atsss.NewStore(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		s := policySession(t, 7)
		if err := store.Put(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		ps := atsss.NewPolicies()
		f := &Forwarder{cfg: Config{Policies: ps}, store: store, log: slog.New(slog.DiscardHandler), ready: make(chan struct{}), now: time.Now}
		f.tab.Store(buildTable(nil))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.follow(ctx) }()
		<-f.Ready()

		udp53 := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("x"))
		udp54 := ipv4(17, dnAddr, ueAddr, 54, 4000, []byte("x"))
		check := func(what string, pkt []byte, want [2]int) {
			t.Helper()
			if got := perAccess(f, pkt, 100); got != want {
				t.Errorf("%s: per access %v, want %v", what, got, want)
			}
		}
		set := func(p ...*atsss.Policy) {
			t.Helper()
			ps.Set(atsss.NewPolicySet(p))
			synctest.Wait() // the follower has applied it and waits again
			if _, gen := ps.Current(); f.PolicyGeneration() != gen {
				t.Fatalf("policy generation %d in force, want %d", f.PolicyGeneration(), gen)
			}
		}
		flow := flowMatch(t, "permit out 17 from 203.0.113.130 53 to assigned")
		check("no policy", udp53, [2]int{100, 0})
		set(&atsss.Policy{Name: "video", Revision: 1, Match: flow, Downlink: lb(70)})
		check("flow policy", udp53, [2]int{70, 30})
		check("flow policy, other flow", udp54, [2]int{100, 0})
		set(&atsss.Policy{Name: "video", Revision: 2, Match: flow, Downlink: lb(20)})
		check("changed policy", udp53, [2]int{20, 80})

		c := s.Clone()
		c.Unavailable[atsss.Access3GPP] = true
		if err := store.Put(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		check("3GPP unavailable, under the policy", udp53, [2]int{0, 100})
		check("3GPP unavailable, under the MAR", udp54, [2]int{0, 100})
		if err := store.Put(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		check("3GPP back, under the policy", udp53, [2]int{20, 80})

		keys := func() []stateKey {
			return slices.SortedFunc(maps.Keys(f.tab.Load().bySEID[7].st.mars), func(a, b stateKey) int { return strings.Compare(a.policy, b.policy) })
		}
		if got, want := keys(), []stateKey{{mar: 2}, {mar: 2, policy: "video"}}; !slices.Equal(got, want) {
			t.Errorf("steering states %v, want %v", got, want)
		}
		set()
		check("policy deleted", udp53, [2]int{100, 0})
		if got, want := keys(), []stateKey{{mar: 2}}; !slices.Equal(got, want) {
			t.Errorf("steering states after the delete %v, want %v", got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follow: %v", err)
		}
	})
}

// TestDownlinkPolicyAllocs: matching flow policies costs no allocation.
func TestDownlinkPolicyAllocs(t *testing.T) {
	for _, sport := range []uint16{53, 54} { // matched, not matched
		s := policySession(t, 7)
		f := policyForwarder(atsss.NewPolicySet([]*atsss.Policy{
			{Name: "other", Precedence: 1, Match: flowMatch(t, "permit out 17 from 198.51.100.0/24 to assigned"), Downlink: lb(50)},
			{Name: "video", Precedence: 2, Match: flowMatch(t, "permit out 17 from 203.0.113.130 53 to assigned"), Downlink: lb(70)},
		}), slog.New(slog.DiscardHandler), s)
		pkt := ipv4(17, dnAddr, ueAddr, sport, 4000, make([]byte, 100))
		buf := make([]byte, headroom+len(pkt))
		now := time.Unix(1000, 0)
		if n := testing.AllocsPerRun(100, func() {
			copy(buf[headroom:], pkt)
			if _, _, ok := f.downlink(buf, len(pkt), now); !ok {
				t.Fatal("dropped")
			}
		}); n != 0 {
			t.Errorf("source port %d: %v allocations per packet", sport, n)
		}
	}
}

// FuzzPolicyForFlow checks the data path's choice of policy against
// atsss.PolicySet.ForFlow, which the proxy uses: the same packet must be
// steered by the same policy.
func FuzzPolicyForFlow(f *testing.F) {
	s := policySession(f, 7)
	withLinkSpecific(f, s)
	set := atsss.NewPolicySet([]*atsss.Policy{
		{Name: "a", Precedence: 1, Match: flowMatch(f, "permit out 17 from 203.0.113.128/25 53 to assigned"), Downlink: lb(20)},
		{Name: "b", Precedence: 2, Match: flowMatch(f, "permit out 17 from any 1000-2000 to 203.0.113.1 4000"), Downlink: lb(30)},
		{Name: "c", Precedence: 3, Match: flowMatch(f, "permit out 132 from any to any"), Downlink: lb(40)},
		{Name: "d", Precedence: 4, Match: flowMatch(f, "permit out ip from any to any"), Downlink: lb(50),
			Functionality: atsss.OptionalFunctionality{Value: atsss.FunctionalityMPTCP, Set: true}},
		{Name: "e", Precedence: 5, Match: atsss.PolicyMatch{DNN: "ims"}, Downlink: lb(60)},
		{Name: "f", Precedence: 6, Match: flowMatch(f, "permit out ip from 203.0.113.130 to 203.0.113.0/24"), Downlink: lb(70)},
		{Name: "g", Precedence: 7, Match: atsss.PolicyMatch{UEPrefix: netip.MustParsePrefix("203.0.113.0/24")}, Downlink: lb(80)},
		{Name: "h", Precedence: 8, Match: flowMatch(f, "permit out ip from any to any"), Downlink: lb(90)},
	})
	fw := policyForwarder(set, slog.New(slog.DiscardHandler), s)
	mar := s.MAR(2)
	pdr := s.PDR(9)
	for _, seed := range []struct {
		proto, src   uint8
		sport, dport uint16
		link         bool
	}{{17, 130, 53, 4000, false}, {17, 200, 53, 1, false}, {17, 5, 1500, 4000, false}, {17, 5, 1500, 4000, true},
		{132, 1, 1, 1, false}, {1, 130, 0, 0, true}, {17, 131, 54, 4000, false}} {
		f.Add(seed.proto, seed.src, seed.sport, seed.dport, seed.link)
	}
	f.Fuzz(func(t *testing.T, proto, src uint8, sport, dport uint16, link bool) {
		remote := netip.AddrFrom4([4]byte{203, 0, 113, src})
		ue := ueAddr
		if link {
			ue = linkSpecific
		}
		p, ok := parseIP(ipv4(proto, remote, ue, sport, dport, nil))
		if !ok {
			t.Fatal("test packet does not parse")
		}
		v := fw.tab.Load().byUE[ue]
		r := v.match(&p)
		if r == nil || r.act != actSteer {
			return // TCP: the MPTCP MAR's
		}
		got := v.steerPlan(r, &p).policy
		want := ""
		if pol := set.ForFlow(s, mar, atsss.FlowInfo{Proto: p.proto, UE: netip.AddrPortFrom(p.dst, p.dport), Remote: netip.AddrPortFrom(p.src, p.sport), PDR: pdr}); pol != nil {
			want = pol.Name
		}
		if got != want {
			t.Errorf("%d from %v:%d to %v:%d: policy %q, ForFlow %q", proto, remote, p.sport, ue, p.dport, got, want)
		}
	})
}

// BenchmarkDownlinkPolicy is BenchmarkDownlink (Load-Balancing 70/30) with
// the steering an operator policy's: one matching the session (resolved
// when the view is compiled), one matching the flow, and a flow policy the
// packet does not match (the MAR's Load-Balancing steers it).
func BenchmarkDownlinkPolicy(b *testing.B) {
	lbMAR := func(m *atsss.MAR) {
		m.Mode = atsss.ModeLoadBalancing
		for a, w := range [2]uint8{70, 30} {
			m.Legs[a].Priority = atsss.OptionalPriority{}
			m.Legs[a].Weight = atsss.OptionalUint8{Value: w, Set: true}
		}
	}
	flow := flowMatch(b, "permit out 17 from 203.0.113.130 53 to assigned")
	for _, bc := range []struct {
		name   string
		mar    func(m *atsss.MAR)
		policy *atsss.Policy
		sport  uint16
	}{
		{"session", nil, &atsss.Policy{Name: "p", Match: atsss.PolicyMatch{DNN: "internet"}, Downlink: lb(70)}, 53},
		{"flow", nil, &atsss.Policy{Name: "p", Match: flow, Downlink: lb(70)}, 53},
		{"flow miss", lbMAR, &atsss.Policy{Name: "p", Match: flow, Downlink: lb(20)}, 54},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := session(b, bc.mar)
			s.DNN = "internet"
			f := policyForwarder(atsss.NewPolicySet([]*atsss.Policy{bc.policy}), slog.New(slog.DiscardHandler), s)
			pkt := ipv4(17, dnAddr, ueAddr, bc.sport, 4000, make([]byte, 1200))
			buf := make([]byte, headroom+len(pkt))
			copy(buf[headroom:], pkt)
			if per := perAccess(f, pkt, 10); per[0] == 0 || per[1] == 0 {
				b.Fatalf("per access %v: not load-balanced", per)
			}
			now := time.Unix(1000, 0)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				if _, _, ok := f.downlink(buf, len(pkt), now); !ok {
					b.Fatal("dropped")
				}
			}
		})
	}
}
