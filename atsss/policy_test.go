package atsss_test

import (
	"net/netip"
	"testing"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// flowPolicy is a policy matching flows by an SDF filter.
func flowPolicy(t testing.TB, name string, prec uint32, fd string) *atsss.Policy {
	t.Helper()
	f, err := atsss.ParseFlowDescription(fd)
	if err != nil {
		t.Fatal(err)
	}
	return &atsss.Policy{Name: name, Precedence: prec, Match: atsss.PolicyMatch{FlowDescription: fd, Flow: &f}}
}

func weights(w3gpp uint8) *atsss.PolicySteering {
	return &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing, Weight: [2]atsss.OptionalUint8{{Value: w3gpp, Set: true}, {Value: 100 - w3gpp, Set: true}}}
}

// TestForFlow: the lowest precedence wins, ties by name; a flow filter is
// read as a downlink filter (from the server to the UE); session keys
// select every flow of a session; a policy for another functionality
// never applies.
func TestForFlow(t *testing.T) {
	s := atssstest.Session(1)
	s.DNN = "Internet"
	s.SNSSAI = &atsss.SNSSAI{SST: 1, SD: 0x0102, SDSet: true}
	mar := &s.MARs[0]
	ue := netip.AddrPortFrom(s.ATSSS.Params.MPTCP.LinkSpecific[atsss.Access3GPP].IPv4, 40000)
	flow := atsss.FlowInfo{Proto: 6, UE: ue, Remote: netip.MustParseAddrPort("198.51.100.200:443")}

	ll := flowPolicy(t, "ll-only", 1, "permit out 6 from 198.51.100.200 to assigned")
	ll.Functionality = atsss.OptionalFunctionality{Value: atsss.FunctionalityATSSSLL, Set: true}
	tests := []struct {
		name     string
		policies []*atsss.Policy
		flow     atsss.FlowInfo
		want     string // "" for none
	}{
		{"none", nil, flow, ""},
		{"server filter", []*atsss.Policy{flowPolicy(t, "video", 10, "permit out 6 from 198.51.100.0/24 443 to assigned")}, flow, "video"},
		{"filter read as uplink does not match", []*atsss.Policy{flowPolicy(t, "reversed", 10, "permit out 6 from 203.0.113.0/24 to 198.51.100.200")}, flow, ""},
		{"other protocol", []*atsss.Policy{flowPolicy(t, "udp", 10, "permit out 17 from 198.51.100.200 to assigned")}, flow, ""},
		{"lowest precedence wins", []*atsss.Policy{
			flowPolicy(t, "a", 20, "permit out ip from any to assigned"),
			flowPolicy(t, "b", 10, "permit out ip from any to assigned"),
		}, flow, "b"},
		{"ties by name", []*atsss.Policy{
			flowPolicy(t, "z", 10, "permit out ip from any to assigned"),
			flowPolicy(t, "m", 10, "permit out ip from any to assigned"),
		}, flow, "m"},
		{"DNN, case aside", []*atsss.Policy{{Name: "dnn", Match: atsss.PolicyMatch{DNN: "internet"}}}, flow, "dnn"},
		{"S-NSSAI", []*atsss.Policy{{Name: "slice", Match: atsss.PolicyMatch{SNSSAI: &atsss.SNSSAI{SST: 1, SD: 0x0102, SDSet: true}}}}, flow, "slice"},
		{"other S-NSSAI", []*atsss.Policy{{Name: "slice", Match: atsss.PolicyMatch{SNSSAI: &atsss.SNSSAI{SST: 2}}}}, flow, ""},
		{"UE prefix", []*atsss.Policy{{Name: "ues", Match: atsss.PolicyMatch{UEPrefix: netip.MustParsePrefix("203.0.113.0/24")}}}, flow, "ues"},
		{"other functionality", []*atsss.Policy{ll}, flow, ""},
		{"UE side by MA PDU address", []*atsss.Policy{flowPolicy(t, "pdu", 10, "permit out 6 from 198.51.100.200 to "+s.MAPDUAddrs()[0].String())}, flow, "pdu"},
		{"UE side by another address", []*atsss.Policy{flowPolicy(t, "other", 10, "permit out 6 from 198.51.100.200 to 192.0.2.99")}, flow, ""},
		{"application ID without PDR", []*atsss.Policy{{Name: "app", Match: atsss.PolicyMatch{AppID: "video"}}}, flow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := atsss.NewPolicySet(tt.policies).ForFlow(s, mar, tt.flow)
			got := ""
			if p != nil {
				got = p.Name
			}
			if got != tt.want {
				t.Errorf("ForFlow: %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSteerMAR: a policy's steering replaces the MAR's and keeps its legs;
// one the MAR cannot take is an error and leaves the MAR as it was.
func TestSteerMAR(t *testing.T) {
	s := atssstest.Session(1)
	one := atssstest.Session(2)
	one.MARs[0].Legs[atsss.AccessNon3GPP] = atsss.Leg{}
	one.MARs[0].Legs[atsss.Access3GPP].Weight = atsss.OptionalUint8{Value: 100, Set: true}
	one.MARs[0].SMI = nil
	if err := one.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sess    *atsss.Session
		steer   *atsss.PolicySteering
		wantErr bool
		want3   uint8 // 3GPP weight after
	}{
		{"no downlink steering", s, nil, false, 70},
		{"80/20", s, weights(80), false, 80},
		{"weights over 100", s, &atsss.PolicySteering{Mode: atsss.ModeLoadBalancing, Weight: [2]atsss.OptionalUint8{{Value: 90, Set: true}, {Value: 30, Set: true}}}, true, 70},
		{"an access the MAR lacks", one, weights(80), true, 100},
		{"100/0 needs no second leg", one, weights(100), false, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &atsss.Policy{Name: "p", Downlink: tt.steer}
			got, err := p.SteerMAR(tt.sess, tt.sess.MARs[0])
			if (err != nil) != tt.wantErr {
				t.Fatalf("SteerMAR error %v, want error %v", err, tt.wantErr)
			}
			if w := got.Legs[atsss.Access3GPP].Weight.Value; w != tt.want3 {
				t.Errorf("3GPP weight %d, want %d", w, tt.want3)
			}
			if got.Legs[atsss.Access3GPP].FARID != tt.sess.MARs[0].Legs[atsss.Access3GPP].FARID {
				t.Error("the 3GPP leg's FAR changed")
			}
		})
	}
}

// TestPoliciesWake: several Sets between two receives wake a subscriber
// once, and Current then has the newest set; a nil set holds no policy.
func TestPoliciesWake(t *testing.T) {
	ps := atsss.NewPolicies()
	wake, stop := ps.Subscribe()
	defer stop()
	a := atsss.NewPolicySet([]*atsss.Policy{{Name: "a"}})
	ps.Set(a)
	ps.Set(nil)
	<-wake
	select {
	case <-wake:
		t.Fatal("woken twice for two Sets before a receive")
	default:
	}
	set, gen := ps.Current()
	if gen != 2 || set == nil || set.Len() != 0 {
		t.Fatalf("Current after Set(a), Set(nil): %v policies, generation %d; want an empty set, 2", set, gen)
	}
	if p := set.ForFlow(atssstest.Session(1), &atssstest.Session(1).MARs[0], atsss.FlowInfo{}); p != nil {
		t.Errorf("the empty set matched %q", p.Name)
	}
	stop()
	ps.Set(a) // a stopped subscriber is not woken, and Set does not block
	select {
	case <-wake:
		t.Error("woken after stop")
	default:
	}
}

// BenchmarkEffective is atsss.Effective, what SessionService shows per
// MAR, over 10,000 sessions under one flow policy that matches their
// downlink PDR's SDF filter (so every MAR's steering is replaced).
func BenchmarkEffective(b *testing.B) {
	const n = 10_000
	sessions := make([]*atsss.Session, n)
	for i := range sessions {
		sessions[i] = atssstest.Session(atsss.SEID(i + 1))
	}
	p := flowPolicy(b, "all", 1, "permit out ip from any to assigned")
	p.Downlink = weights(80)
	set := atsss.NewPolicySet([]*atsss.Policy{p})
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range sessions {
			if e := atsss.Effective(s, set); e[0].Policy == nil || e[0].Err != nil {
				b.Fatalf("not steered by the policy: %+v", e[0])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/session")
}
