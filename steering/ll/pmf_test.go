package ll

import (
	"net/netip"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

// The UPF's PMF address and the default QoS flow's ports, and QFI 5's.
var (
	pmfAddr    = netip.MustParseAddr("203.0.113.129")
	pmfDefault = [2]uint16{50001, 50002}
	pmfQFI5    = [2]uint16{50011, 50012}
)

// withPMF is session with PMF Parameters for the default QoS flow and QFI 5.
func withPMF(t testing.TB, edit func(m *atsss.MAR)) *atsss.Session {
	s := session(t, edit)
	s.ATSSS.Params.PMF = []atsss.PMFParams{
		{Addr: atsss.AddrPair{IPv4: pmfAddr}, Ports: pmfDefault},
		{QFI: 5, Addr: atsss.AddrPair{IPv4: pmfAddr}, Ports: pmfQFI5},
	}
	return s
}

// TestDownlinkPMF: the UPF's PMF messages leave on the access their source
// port names, whatever the ATSSS-LL MAR (Active-Standby, 3GPP active)
// decides, even on an access N4 reported unavailable; other traffic from
// the PMF address, or to the PMF ports, is steered as usual.
func TestDownlinkPMF(t *testing.T) {
	unavailable3GPP := withPMF(t, nil)
	unavailable3GPP.Unavailable[atsss.Access3GPP] = true
	both := withPMF(t, nil)
	both.Unavailable = [2]bool{true, true}
	from := func(port uint16) []byte { return ipv4(17, pmfAddr, ueAddr, port, 40000, []byte("pmf")) }
	for _, tc := range []struct {
		name string
		s    *atsss.Session
		pkt  []byte
		to   netip.AddrPort
		teid uint32
		qfi  uint8
	}{
		{name: "3gpp port on 3gpp", s: withPMF(t, nil), pkt: from(pmfDefault[0]), to: gnb, teid: 0x1000, qfi: 9},
		{name: "non-3gpp port on the standby", s: withPMF(t, nil), pkt: from(pmfDefault[1]), to: n3iwf, teid: 0x2000, qfi: 9},
		{name: "3gpp port while 3gpp is unavailable", s: unavailable3GPP, pkt: from(pmfDefault[0]), to: gnb, teid: 0x1000, qfi: 9},
		{name: "non-3gpp port with both unavailable", s: both, pkt: from(pmfDefault[1]), to: n3iwf, teid: 0x2000, qfi: 9},
		{name: "per-qos-flow port carries its qfi", s: withPMF(t, nil), pkt: from(pmfQFI5[1]), to: n3iwf, teid: 0x2000, qfi: 5},
		{name: "other port of the pmf address is steered", s: withPMF(t, nil), pkt: from(53), to: gnb, teid: 0x1000, qfi: 9},
		{name: "other port steered off the unavailable access", s: unavailable3GPP, pkt: from(53), to: n3iwf, teid: 0x2000, qfi: 9},
		{name: "pmf port of another address is steered", s: withPMF(t, nil), pkt: ipv4(17, dnAddr, ueAddr, pmfDefault[1], 40000, nil), to: gnb, teid: 0x1000, qfi: 9},
		{name: "tcp from the pmf port is not pmf", s: withPMF(t, nil), pkt: ipv4(6, pmfAddr, ueAddr, pmfDefault[1], 40000, nil)},
		{name: "no pmf parameters: steered", s: session(t, nil), pkt: from(pmfDefault[1]), to: gnb, teid: 0x1000, qfi: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := forwarder(tc.s)
			h, inner, to, ok := down(f, tc.pkt)
			if tc.to.IsValid() != ok {
				t.Fatalf("forwarded %v, want %v (drops %v)", ok, tc.to.IsValid(), f.Stats().Drops)
			}
			if !ok {
				return
			}
			if to != tc.to || h.TEID != tc.teid || !h.HasSession || h.Session.QFI != tc.qfi {
				t.Errorf("to %v header %+v; want to %v TEID %#x QFI %d", to, h, tc.to, tc.teid, tc.qfi)
			}
			if string(inner) != string(tc.pkt) {
				t.Errorf("inner %x, want %x", inner, tc.pkt)
			}
		})
	}
}

// TestUplinkPMF: the UE's PMF messages to the session's PMF ports pass
// even when the uplink PDRs' filters allow nothing else to that address.
func TestUplinkPMF(t *testing.T) {
	s := withPMF(t, nil)
	for i := range s.PDRs {
		p := &s.PDRs[i]
		if p.Uplink() {
			p.PDI.SDFFilters = []atsss.SDFFilter{{FlowDescription: "permit out 17 from 203.0.113.130 to assigned"}}
		}
	}
	f := forwarder(s)
	for _, tc := range []struct {
		name string
		pkt  []byte
		pass bool
	}{
		{name: "pmf port", pkt: ipv4(17, ueAddr, pmfAddr, 40000, pmfDefault[1], nil), pass: true},
		{name: "qfi 5 pmf port", pkt: ipv4(17, ueAddr, pmfAddr, 40000, pmfQFI5[0], nil), pass: true},
		{name: "other port of the pmf address", pkt: ipv4(17, ueAddr, pmfAddr, 40000, 53, nil)},
		{name: "filtered as before", pkt: ipv4(17, ueAddr, dnAddr, 40000, 53, nil), pass: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, tc.pkt)
			inner, _ := f.uplink(msg, gnb, nil)
			if (inner != nil) != tc.pass {
				t.Errorf("passed %v, want %v (drops %v)", inner != nil, tc.pass, f.Stats().Drops)
			}
		})
	}
}

// TestPathEvent: PMF events reach the steering of the ATSSS-LL MAR. Each
// step applies its event (if any) and its N4 availability (if any), then
// sends a downlink packet 600 ms after the previous step's, which is more
// than the Smallest Delay hold.
func TestPathEvent(t *testing.T) {
	udp := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("x"))
	type step struct {
		ev PathEvent
		n4 *[2]bool // a session modification with this availability
		to netip.AddrPort
	}
	rtt := func(a atsss.AccessType, d time.Duration) PathEvent {
		return PathEvent{Kind: EventRTT, SEID: 7, Access: a, RTT: d}
	}
	avail := func(a atsss.AccessType, up bool) PathEvent {
		return PathEvent{Kind: EventAvailability, SEID: 7, Access: a, Available: up}
	}
	loss := func(a atsss.AccessType, l steering.LossRate) PathEvent {
		return PathEvent{Kind: EventLoss, SEID: 7, Access: a, Loss: l}
	}
	lb := func(m *atsss.MAR) {
		m.Mode = atsss.ModeLoadBalancing
		m.Thresholds = &atsss.Thresholds{PLR: atsss.OptionalUint8{Value: 5, Set: true}}
		for a, w := range [2]uint8{100, 0} {
			m.Legs[a].Priority = atsss.OptionalPriority{}
			m.Legs[a].Weight = atsss.OptionalUint8{Value: w, Set: true}
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(m *atsss.MAR)
		drtti bool
		steps []step
	}{
		{
			name: "smallest delay follows the pmf rtt",
			edit: func(m *atsss.MAR) { m.Mode = atsss.ModeSmallestDelay },
			steps: []step{
				{ev: rtt(atsss.Access3GPP, 40*time.Millisecond), to: gnb},
				{ev: rtt(atsss.AccessNon3GPP, 10*time.Millisecond), to: gnb}, // hold starts
				{to: n3iwf},
				{ev: rtt(atsss.Access3GPP, 2*time.Millisecond), to: n3iwf},
				{to: gnb},
			},
		},
		{
			name:  "drtti: pmf rtt not used",
			edit:  func(m *atsss.MAR) { m.Mode = atsss.ModeSmallestDelay },
			drtti: true,
			steps: []step{
				{ev: rtt(atsss.Access3GPP, 40*time.Millisecond), to: gnb},
				{ev: rtt(atsss.AccessNon3GPP, 10*time.Millisecond), to: gnb},
				{to: gnb},
			},
		},
		{
			name: "active-standby switches on a pmf report and back",
			steps: []step{
				{ev: avail(atsss.Access3GPP, false), to: n3iwf},
				{ev: avail(atsss.Access3GPP, true), to: gnb},
			},
		},
		{
			name: "the latest of n4 and pmf wins",
			steps: []step{
				{n4: &[2]bool{true, false}, to: n3iwf},
				{ev: avail(atsss.Access3GPP, true), to: gnb},
				{ev: avail(atsss.Access3GPP, false), to: n3iwf},
				{n4: &[2]bool{false, false}, to: gnb},
			},
		},
		{
			name: "plr threshold moves load off the lossy access",
			edit: lb,
			steps: []step{
				{ev: loss(atsss.Access3GPP, 10), to: gnb},    // 1 %
				{ev: loss(atsss.Access3GPP, 200), to: n3iwf}, // 20 %
			},
		},
		{
			name: "events of another session are dropped",
			steps: []step{
				{ev: PathEvent{Kind: EventAvailability, SEID: 8, Access: atsss.Access3GPP}, to: gnb},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := session(t, tc.edit)
			s.ATSSS.Requested.DRTTI = tc.drtti
			st := newSessState()
			f := &Forwarder{now: time.Now}
			install := func(s *atsss.Session) {
				f.tab.Store(buildTable(map[atsss.SEID]*view{s.LocalSEID: compile(s, st, nil)}))
			}
			install(s)
			now := time.Unix(1000, 0)
			for i, step := range tc.steps {
				if step.ev.Kind != 0 {
					if got, want := f.PathEvent(step.ev), step.ev.SEID == 7; got != want {
						t.Errorf("step %d: PathEvent = %v, want %v", i, got, want)
					}
				}
				if step.n4 != nil {
					s = s.Clone()
					s.Unavailable = *step.n4
					install(s)
				}
				now = now.Add(600 * time.Millisecond)
				buf := make([]byte, headroom+len(udp))
				copy(buf[headroom:], udp)
				_, to, ok := f.downlink(buf, len(udp), now)
				if !ok || to != step.to {
					t.Errorf("step %d: to %v (forwarded %v), want %v", i, to, ok, step.to)
				}
			}
		})
	}
}

// TestPathEventConcurrent: PathEvent from one goroutine while the downlink
// steers, for the race detector.
func TestPathEventConcurrent(t *testing.T) {
	f := forwarder(session(t, func(m *atsss.MAR) { m.Mode = atsss.ModeSmallestDelay }))
	udp := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("x"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			a := atsss.AccessType(i % 2)
			f.PathEvent(PathEvent{Kind: EventRTT, SEID: 7, Access: a, RTT: time.Duration(1+i%7) * time.Millisecond})
			f.PathEvent(PathEvent{Kind: EventAvailability, SEID: 7, Access: a, Available: i%3 != 0})
		}
	}()
	for range 1000 {
		if _, _, _, ok := down(f, udp); !ok {
			t.Fatal("dropped")
		}
	}
	<-done
}
