package mptcpproxy

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/steering"
)

// dnServer is the data network server of the tests' connections.
var dnServer = netip.MustParseAddrPort("203.0.113.200:443")

// activeStandby returns session seid (atssstest.Session) with its MPTCP MAR
// made Active-Standby, 3GPP active, as the lab's sessions are.
func activeStandby(t testing.TB, seid atsss.SEID) *atsss.Session {
	t.Helper()
	s := atssstest.Session(seid)
	s.DNN = "internet"
	m := &s.MARs[0]
	m.Mode, m.SMI = atsss.ModeActiveStandby, nil
	for a, p := range [2]atsss.Priority{atsss.PriorityActive, atsss.PriorityStandby} {
		m.Legs[a].Weight = atsss.OptionalUint8{}
		m.Legs[a].Priority = atsss.OptionalPriority{Value: p, Set: true}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// lb returns downlink steering Load-Balancing w3gpp/100-w3gpp.
func lb(w3gpp uint8) *atsss.PolicySteering {
	return &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing, Weight: [2]atsss.OptionalUint8{{Value: w3gpp, Set: true}, {Value: 100 - w3gpp, Set: true}}}
}

// flowPolicy returns a policy that matches the downlink from the server
// prefix from (an SDF filter), as the lab's does.
func flowPolicy(t testing.TB, name string, from string, d *atsss.PolicySteering, rc atsss.RateCap) *atsss.Policy {
	t.Helper()
	fd := "permit out 6 from " + from + " to assigned"
	f, err := atsss.ParseFlowDescription(fd)
	if err != nil {
		t.Fatal(err)
	}
	return &atsss.Policy{Name: name, Match: atsss.PolicyMatch{FlowDescription: fd, Flow: &f}, Downlink: d, RateCap: rc}
}

// logCount counts the records logged.
type logCount struct {
	buf bytes.Buffer
}

func (l *logCount) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logCount) count(msg string) int { return strings.Count(l.buf.String(), msg) }

func TestRuleFor(t *testing.T) {
	as := activeStandby(t, 1)
	only3GPP := activeStandby(t, 2)
	only3GPP.MARs[0].Legs[atsss.AccessNon3GPP] = atsss.Leg{}
	if err := only3GPP.Validate(); err != nil {
		t.Fatal(err)
	}
	capOnly := &atsss.Policy{Name: "cap", RateCap: atsss.RateCap{DownlinkBPS: 1e6}}
	tests := []struct {
		name      string
		sess      *atsss.Session
		pol       *atsss.Policy
		wantMode  atsss.SteeringMode
		wantGroup string
		wantLog   int // "operator policy not applied" records
	}{
		{"no policy", as, nil, atsss.ModeActiveStandby, "", 0},
		{"rate cap only", as, capOnly, atsss.ModeActiveStandby, "", 0},
		{"load-balancing policy", as, flowPolicy(t, "lb", "203.0.113.200", lb(80), atsss.RateCap{}), atsss.ModeLoadBalancing, "lb", 0},
		{"policy needs a leg the MAR lacks", only3GPP, flowPolicy(t, "lb", "203.0.113.200", lb(80), atsss.RateCap{}), atsss.ModeActiveStandby, "", 1},
		{"policy the MAR checks refuse", as, flowPolicy(t, "bad", "203.0.113.200", lb(120), atsss.RateCap{}), atsss.ModeActiveStandby, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logCount
			pl := &policyLog{log: logs.logger()}
			u := newUE(tt.sess)
			var first *steering.Rule
			for i := range 3 { // at Info once, however often one asks and however many sessions meet it
				if i == 2 {
					u = newUE(tt.sess) // another session: its own cache, compiled again
				}
				rule, group := u.ruleFor(tt.pol, pl)
				if rule == nil || rule.Mode() != tt.wantMode || group != tt.wantGroup {
					t.Fatalf("ruleFor: %v, group %q; want %v, group %q", rule, group, tt.wantMode, tt.wantGroup)
				}
				switch i {
				case 0:
					first = rule
				case 1:
					if rule != first {
						t.Errorf("second ruleFor of the same session compiled again; want its cached rule")
					}
				}
			}
			if n := logs.count("level=INFO msg=\"operator policy not applied"); n != tt.wantLog {
				t.Errorf("logged %d times, want %d:\n%s", n, tt.wantLog, logs.buf.String())
			}
			// Once per session compiled (the second ask hits the cache):
			// at Info for the first, at Debug for the other.
			if n := logs.count("operator policy not applied"); n != 2*tt.wantLog {
				t.Errorf("%d records at any level, want %d:\n%s", n, 2*tt.wantLog, logs.buf.String())
			}
		})
	}
}

// TestPolicyLogRevisions: a refusal is logged at Info once per policy
// revision, however often the control plane rebuilds the policy; a new
// revision, or one that left the set and came back, is logged again.
func TestPolicyLogRevisions(t *testing.T) {
	u := newUE(activeStandby(t, 6))
	pol := func(rev uint64) *atsss.Policy {
		p := flowPolicy(t, "bad", "203.0.113.200", lb(120), atsss.RateCap{})
		p.Revision = rev
		return p
	}
	var logs logCount
	pl := &policyLog{log: logs.logger()}
	info := func() int { return logs.count("level=INFO msg=\"operator policy not applied") }
	tests := []struct {
		what  string
		pol   *atsss.Policy
		prune []*atsss.Policy // the set in force before it, if not nil
		want  int             // Info records so far
	}{
		{"first", pol(1), nil, 1},
		{"rebuilt, same revision", pol(1), []*atsss.Policy{pol(1)}, 1},
		{"new revision", pol(2), []*atsss.Policy{pol(2)}, 2},
		{"gone and back", pol(2), []*atsss.Policy{}, 3},
	}
	for _, tt := range tests {
		if tt.prune != nil {
			pl.seen.Keep(atsss.NewPolicySet(tt.prune))
		}
		pl.refused(u, tt.pol, errors.New("refused"))
		if n := info(); n != tt.want {
			t.Fatalf("%s: %d records at Info, want %d:\n%s", tt.what, n, tt.want, logs.buf.String())
		}
	}
}

// policyProxy returns a proxy of an in-memory store (closed when tb
// ends) with policies and a steerer that never reaches the kernel (its
// connections' sockets are not open).
func policyProxy(tb testing.TB, policies *atsss.Policies, log *slog.Logger) *Proxy {
	tb.Helper()
	store, err := atsss.NewStore(nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cfg := Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("203.0.113.1:8803")}, Steering: true, Policies: policies}
	p, err := New(cfg, store, Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	p.steer = newSteererWith(nil, p.cfg, p.log)
	return p
}

// fakeConn registers a connection of u from its 3GPP link-specific address
// to dst, as admission does, and puts it under steering (token): its
// socket is not open, so applying decisions stops before the kernel.
func (p *Proxy) fakeConn(u *ue, port uint16, dst netip.AddrPort, token uint32) *conn {
	src := netip.AddrPortFrom(u.linkSpecific[atsss.Access3GPP][0], port)
	c := &conn{ue: u, cur: u, src: src, dst: dst, mptcp: true, client: &net.TCPConn{}, started: time.Now(),
		flow: atsss.FlowInfo{Proto: protoTCP, UE: src, Remote: dst}, carried: p.carried.get(u.seid)}
	if !p.conns.add(c, p.cfg.MaxConnections, p.cfg.MaxConnectionsPerUE) {
		panic("connection limit")
	}
	p.admitPolicy(c)
	p.steer.track(c, token, time.Now())
	return c
}

// pins counts the steered connections by the access they are pinned to
// (index 2: not pinned), and returns their decisions' modes.
func (s *steerer) pins() (n [3]int, decisions map[steering.Reason]int) {
	decisions = map[steering.Reason]int{}
	s.mu.Lock()
	all := make([]*steered, 0, len(s.byConn))
	for _, st := range s.byConn {
		all = append(all, st)
	}
	s.mu.Unlock()
	for _, st := range all {
		st.mu.Lock()
		i := int(st.pin)
		if st.pin == noPin {
			i = 2
		}
		n[i]++
		decisions[st.decision.Reason]++
		st.mu.Unlock()
	}
	return n, decisions
}

// TestPolicyRepins: 20 live connections of an Active-Standby session; a
// Load-Balancing 80/20 policy for their server pins 16 to 3GPP and 4 to
// non-3GPP, a 50/50 one under the same name re-pins them 10/10, and
// deleting the policy unpins them all back to the MAR's steering. A
// connection to another server is never touched. /paths names the policy
// while it steers.
func TestPolicyRepins(t *testing.T) {
	policies := atsss.NewPolicies()
	p := policyProxy(t, policies, nil)
	u := newUE(activeStandby(t, 7))
	for i := range 20 {
		p.fakeConn(u, uint16(40000+i), dnServer, uint32(i+1))
	}
	other := p.fakeConn(u, 50000, netip.MustParseAddrPort("203.0.113.201:443"), 100)

	apply := func(ps ...*atsss.Policy) {
		policies.Set(atsss.NewPolicySet(ps))
		p.applyPolicies(time.Now())
	}
	check := func(what string, want [3]int) {
		t.Helper()
		got, reasons := p.steer.pins()
		got[2]-- // the other server's connection
		if got != want {
			t.Errorf("%s: pinned 3GPP/non-3GPP/none %v, want %v (decisions by reason %v)", what, got, want, reasons)
		}
		if pol := other.policy(); pol != nil {
			t.Errorf("%s: the other server's connection got policy %q", what, pol.Name)
		}
	}
	check("MAR", [3]int{0, 0, 20})

	apply(flowPolicy(t, "video", "203.0.113.200", lb(80), atsss.RateCap{}))
	check("policy 80/20", [3]int{16, 4, 0})
	paths := p.Paths()
	if len(paths) != 1 || len(paths[0].Policies) != 1 || paths[0].Policies[0].Policy != "video" || paths[0].Policies[0].Connections != 20 {
		t.Errorf("/paths under the policy: %+v", paths)
	}

	apply(flowPolicy(t, "video", "203.0.113.200", lb(50), atsss.RateCap{}))
	check("policy 50/50", [3]int{10, 10, 0})

	apply()
	check("policy deleted", [3]int{0, 0, 20})
	if paths := p.Paths(); len(paths) != 1 || len(paths[0].Policies) != 0 {
		t.Errorf("/paths after the policy went: %+v", paths)
	}
}

// TestPolicyGroupsPruned: a policy's steering group outlives its
// connections while the policy is in force (connections one after another
// share its splitter), stays while a connection is in it, and goes once
// the policy is deleted and its last connection has left.
func TestPolicyGroupsPruned(t *testing.T) {
	policies := atsss.NewPolicies()
	p := policyProxy(t, policies, nil)
	u := newUE(activeStandby(t, 9))
	video := flowPolicy(t, "video", "203.0.113.200", lb(80), atsss.RateCap{})
	apply := func(ps ...*atsss.Policy) {
		policies.Set(atsss.NewPolicySet(ps))
		p.applyPolicies(time.Now())
	}
	groups := func(what string, want ...string) {
		t.Helper()
		p.steer.mu.Lock()
		var got []string
		if sp := p.steer.paths[u.seid]; sp != nil {
			for name := range sp.groups {
				got = append(got, name)
			}
		}
		p.steer.mu.Unlock()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: groups %q, want %q", what, got, want)
		}
	}

	apply(video)
	c := p.fakeConn(u, 40000, dnServer, 1)
	groups("one connection under the policy", "video")
	p.steer.remove(c)
	apply(video)
	groups("policy in force, no connection", "video")

	c = p.fakeConn(u, 40001, dnServer, 2)
	p.steer.pruneGroups(atsss.NewPolicySet(nil))
	groups("pruned by a set without the policy while a connection is in it", "video")

	apply()
	groups("policy deleted: its connection went back to the MAR", "")
	p.steer.remove(c)
}

// TestPolicySessionChange: a session change over N4 re-evaluates its
// connections' policies (here the DNN a policy matches) and keeps their
// rule in step.
func TestPolicySessionChange(t *testing.T) {
	policies := atsss.NewPolicies()
	policies.Set(atsss.NewPolicySet([]*atsss.Policy{{Name: "ims", Match: atsss.PolicyMatch{DNN: "ims"}, Downlink: lb(80), RateCap: atsss.RateCap{UplinkBPS: 2e6}}}))
	p := policyProxy(t, policies, nil)
	s := activeStandby(t, 3)
	c := p.fakeConn(newUE(s), 40000, dnServer, 1)
	if c.policy() != nil {
		t.Fatalf("DNN internet: policy %q matched", c.policy().Name)
	}
	s = s.Clone()
	s.DNN = "IMS"
	nu := newUE(s)
	conns := p.conns.session(nu.seid)
	p.refreshPolicies(conns, nu)
	p.steer.update(conns, time.Now())
	if c.policy() == nil || c.up.capBPS() != 2e6 || c.down.capBPS() != 0 {
		t.Fatalf("DNN IMS: policy %v, caps %d/%d bit/s", c.policy(), c.down.capBPS(), c.up.capBPS())
	}
	if n, _ := p.steer.pins(); n != [3]int{1, 0, 0} {
		t.Errorf("pins %v, want the one connection on 3GPP (the first pick of 80/20)", n)
	}
}

// TestEvaluateUsesTheNewest: a session change evaluated after a change of
// the policy set that the follower has not applied yet matches the new
// session against the new set, and the follower's pass after it keeps
// matching the new session (once, a session change that raced with the
// follower kept a policy matched against the old session).
func TestEvaluateUsesTheNewest(t *testing.T) {
	policies := atsss.NewPolicies()
	p := policyProxy(t, policies, nil)
	s := activeStandby(t, 4)
	c := p.fakeConn(newUE(s), 40000, dnServer, 1)
	policies.Set(atsss.NewPolicySet([]*atsss.Policy{{Name: "ims", Match: atsss.PolicyMatch{DNN: "ims"}, RateCap: atsss.RateCap{DownlinkBPS: 10e6}}}))
	s = s.Clone()
	s.DNN = "IMS"
	nu := newUE(s)
	p.refreshPolicies(p.conns.session(nu.seid), nu)
	if c.session() != nu || c.policy() == nil || c.down.capBPS() != 10e6 {
		t.Fatalf("session change after a set change: session new %v, policy %v, downlink cap %d; want the new session under the new set",
			c.session() == nu, c.policy(), c.down.capBPS())
	}
	p.applyPolicies(time.Now())
	if c.session() != nu || c.policy() == nil || c.down.capBPS() != 10e6 {
		t.Fatalf("after the follower's pass: session new %v, policy %v, downlink cap %d", c.session() == nu, c.policy(), c.down.capBPS())
	}
	policies.Set(atsss.NewPolicySet(nil))
	p.applyPolicies(time.Now())
	if c.policy() != nil || c.down.capBPS() != 0 {
		t.Fatalf("after the policy went: policy %v, downlink cap %d", c.policy(), c.down.capBPS())
	}
}

func TestAccessStatesUnknownSession(t *testing.T) {
	p := policyProxy(t, nil, nil)
	if _, ok := p.AccessStates(42); ok {
		t.Error("AccessStates of a session the store does not hold: ok")
	}
	s := activeStandby(t, 42)
	s.Unavailable[atsss.AccessNon3GPP] = true
	if err := p.store.Put(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	p.steer.pmfRTT(42, atsss.Access3GPP, 20*time.Millisecond)
	st, ok := p.AccessStates(42)
	if !ok || !st[atsss.Access3GPP].Available || st[atsss.AccessNon3GPP].Available || st[atsss.Access3GPP].RTT != 20*time.Millisecond {
		t.Errorf("AccessStates: %+v, %v; want 3GPP available with the PMF's 20 ms, non-3GPP unavailable (N4)", st, ok)
	}
}

// BenchmarkPolicyApply is the time from a change of the policy set to
// every live connection evaluated and re-decided (applyPolicies, what the
// policy follower runs on each change), over 10,000 Active-Standby
// sessions of one connection each, every iteration alternating between a
// Load-Balancing 80/20 policy for their server and none, so every
// decision changes. Each policy is built anew, as a control plane that
// rebuilds its set from the store does, so every session compiles it
// again. The connections' sockets are not open: applying a decision stops
// where it would read the subflows (one getsockopt and a SET_FLAGS per
// subflow; BenchmarkReadSubflows in pm measures the first).
func BenchmarkPolicyApply(b *testing.B) {
	const sessions = 10_000
	policies := atsss.NewPolicies()
	p := policyProxy(b, policies, nil)
	for i := range sessions {
		u := newUE(activeStandby(b, atsss.SEID(i+1)))
		p.fakeConn(u, 40000, dnServer, uint32(i+1))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		set := atsss.NewPolicySet(nil)
		if i%2 == 0 {
			set = atsss.NewPolicySet([]*atsss.Policy{flowPolicy(b, "video", "203.0.113.200", lb(80), atsss.RateCap{DownlinkBPS: 10e6})})
		}
		policies.Set(set)
		if _, _, changed := p.applyPolicies(time.Now()); changed != sessions {
			b.Fatalf("%d decisions changed, want %d", changed, sessions)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sessions, "ns/conn")
}

// TestAccessCounts: what a subflow carried still counts once the kernel
// has forgotten it, and a new subflow between the same ends adds to it.
func TestAccessCounts(t *testing.T) {
	u := newUE(activeStandby(t, 5))
	proxy := netip.MustParseAddrPort("203.0.113.1:8803")
	sf := func(id uint32, a atsss.AccessType, port uint16, down, up uint64) pm.Subflow {
		return pm.Subflow{ID: id, Local: proxy, Remote: netip.AddrPortFrom(u.linkSpecific[a][0], port), State: tcpEstablished,
			BytesAcked: down, BytesReceived: up, RTT: time.Duration(port) * time.Microsecond}
	}
	var ac accessCounts
	read := func(subs ...pm.Subflow) [2]accessReading {
		var r [2]accessReading
		ac.update(u, subs, &r)
		return r
	}
	read(sf(1, atsss.Access3GPP, 1000, 100, 10), sf(2, atsss.AccessNon3GPP, 2000, 5, 1))
	got := read(sf(1, atsss.Access3GPP, 1000, 300, 30)) // non-3GPP's subflow gone
	want := [2]accessReading{{down: 300, up: 30, subflows: 1, rtt: 1000 * time.Microsecond}, {down: 5, up: 1}}
	if got != want {
		t.Fatalf("after non-3GPP's subflow went: %+v, want %+v", got, want)
	}
	got = read(sf(3, atsss.AccessNon3GPP, 2000, 7, 2)) // a new one, same ends
	want = [2]accessReading{{down: 300, up: 30}, {down: 12, up: 3, subflows: 1, rtt: 2000 * time.Microsecond}}
	if got != want {
		t.Fatalf("after it came back: %+v, want %+v", got, want)
	}
}
