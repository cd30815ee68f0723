package ll

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

var (
	ueAddr = netip.MustParseAddr("203.0.113.1") // pfcptest.DefaultSpec's
	dnAddr = netip.MustParseAddr("203.0.113.130")
	gnb    = netip.MustParseAddrPort("192.0.2.254:2152")
	n3iwf  = netip.MustParseAddrPort("198.51.100.254:2152")
)

// session returns pfcptest's default MA PDU session (TCP over an MPTCP MAR
// 70/30, the rest over an ATSSS-LL Active-Standby MAR, 3GPP active) with
// the ATSSS-LL MAR changed by edit.
func session(t testing.TB, edit func(m *atsss.MAR)) *atsss.Session {
	t.Helper()
	s := pfcptest.DefaultSpec().Session()
	s.LocalSEID = 7
	if edit != nil {
		edit(s.MAR(2))
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// forwarder returns a Forwarder without sockets whose table holds sessions.
func forwarder(sessions ...*atsss.Session) *Forwarder {
	f := &Forwarder{now: time.Now}
	views := map[atsss.SEID]*view{}
	for _, s := range sessions {
		views[s.LocalSEID] = compile(s, newSessState(), nil)
	}
	f.tab.Store(buildTable(views))
	return f
}

// ipv4 returns an IPv4 packet of protocol proto from src:sport to dst:dport
// with payload (checksums left 0: the data path does not check them).
func ipv4(proto uint8, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0}
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	return b
}

func down(f *Forwarder, pkt []byte) (gtpu.Header, []byte, netip.AddrPort, bool) {
	buf := make([]byte, headroom+len(pkt))
	copy(buf[headroom:], pkt)
	msg, to, ok := f.downlink(buf, len(pkt), time.Unix(1000, 0))
	if !ok {
		return gtpu.Header{}, nil, to, false
	}
	h, inner, err := gtpu.Parse(msg)
	if err != nil {
		panic(err)
	}
	return h, inner, to, true
}

func TestDownlink(t *testing.T) {
	udp := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("hello"))
	tcp := ipv4(6, dnAddr, ueAddr, 80, 4000, []byte("hello"))
	unavailable3GPP := session(t, nil)
	unavailable3GPP.Unavailable[atsss.Access3GPP] = true
	both := session(t, nil)
	both.Unavailable = [2]bool{true, true}
	for _, tc := range []struct {
		name string
		s    *atsss.Session
		pkt  []byte
		to   netip.AddrPort
		teid uint32
		drop Drop
	}{
		{name: "udp on the active access", s: session(t, nil), pkt: udp, to: gnb, teid: 0x1000},
		{name: "udp on the standby when 3gpp is unavailable", s: unavailable3GPP, pkt: udp, to: n3iwf, teid: 0x2000},
		{name: "no access", s: both, pkt: udp, drop: dropNoAccess},
		{name: "tcp is the proxy's", s: session(t, nil), pkt: tcp, drop: dropNotLL},
		{name: "unknown destination", s: session(t, nil), pkt: ipv4(17, dnAddr, dnAddr, 1, 2, nil), drop: dropNoSession},
		{name: "not ip", s: session(t, nil), pkt: []byte{0x00, 1, 2, 3}, drop: dropBadInner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := forwarder(tc.s)
			h, inner, to, ok := down(f, tc.pkt)
			if tc.to.IsValid() != ok {
				t.Fatalf("forwarded %v, want %v (drops %v)", ok, tc.to.IsValid(), f.Stats().Drops)
			}
			if !ok {
				if f.drops[tc.drop].Load() != 1 {
					t.Errorf("drops %v, want one %v", f.Stats().Drops, tc.drop)
				}
				return
			}
			if to != tc.to || h.TEID != tc.teid || !h.HasSession || h.Session.QFI != 9 || h.Session.PDUType != gtpu.PDUTypeDownlink {
				t.Errorf("to %v header %+v; want to %v TEID %#x QFI 9 downlink", to, h, tc.to, tc.teid)
			}
			if string(inner) != string(tc.pkt) {
				t.Errorf("inner %x, want %x", inner, tc.pkt)
			}
		})
	}
}

func TestDownlinkLoadBalancing(t *testing.T) {
	s := session(t, func(m *atsss.MAR) {
		m.Mode = atsss.ModeLoadBalancing
		for a, w := range [2]uint8{70, 30} {
			m.Legs[a].Priority = atsss.OptionalPriority{}
			m.Legs[a].Weight = atsss.OptionalUint8{Value: w, Set: true}
		}
	})
	f := forwarder(s)
	pkt := ipv4(17, dnAddr, ueAddr, 53, 4000, []byte("x"))
	var per [2]int
	for i := range 1000 {
		_, _, to, ok := down(f, pkt)
		if !ok {
			t.Fatal("dropped")
		}
		if to == gnb {
			per[0]++
		} else {
			per[1]++
		}
		// Smooth round robin: exact on every 10 packets (70:30 = 7:3).
		if (i+1)%10 == 0 && per[0]*3 != per[1]*7 {
			t.Fatalf("after %d packets: %v", i+1, per)
		}
	}
	st, _ := f.SessionStats(7)
	if st.Downlink[0].Packets != 700 || st.Downlink[1].Packets != 300 {
		t.Errorf("stats %+v", st)
	}
}

func TestUplink(t *testing.T) {
	s := session(t, nil)
	from := gnb // the FAR peer of 3GPP sends the uplink
	good := ipv4(17, ueAddr, dnAddr, 4000, 53, []byte("hi"))
	for _, tc := range []struct {
		name  string
		msg   []byte
		from  netip.AddrPort
		inner bool
		reply bool
		drop  Drop
	}{
		{name: "g-pdu", msg: gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, good), from: from, inner: true},
		{name: "g-pdu with padding after the inner packet", msg: gtpu.AppendGPDU(nil, 0x200, gtpu.PDUTypeUplink, -1, append(good, 0, 0)), from: n3iwf, inner: true},
		{name: "unknown teid", msg: gtpu.AppendGPDU(nil, 0x999, gtpu.PDUTypeUplink, 9, good), from: from, drop: dropUnknownTEID},
		{name: "spoofed source", msg: gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, ipv4(17, dnAddr, dnAddr, 1, 2, nil)), from: from, drop: dropSpoofed},
		{name: "bad inner", msg: gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, []byte{0x45, 0}), from: from, drop: dropBadInner},
		{name: "malformed", msg: []byte{0x30, 0xff, 0, 9, 0, 0, 1, 0}, from: from, drop: dropMalformed},
		{name: "end marker", msg: []byte{0x30, 254, 0, 0, 0, 0, 1, 0}, from: from, drop: dropNotGPDU},
		{name: "echo", msg: gtpu.AppendEchoRequest(nil, 77), from: from, reply: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := forwarder(s)
			inner, reply := f.uplink(tc.msg, tc.from, nil)
			switch {
			case tc.inner:
				if string(inner) != string(good) {
					t.Errorf("inner %x, want %x (drops %v)", inner, good, f.Stats().Drops)
				}
				st, _ := f.SessionStats(7)
				a := atsss.Access3GPP
				if tc.from == n3iwf {
					a = atsss.AccessNon3GPP
				}
				if st.Uplink[a] != (Counters{1, uint64(len(good))}) {
					t.Errorf("uplink counters %+v", st.Uplink)
				}
			case tc.reply:
				h, _, err := gtpu.Parse(reply)
				if err != nil || h.Type != gtpu.TypeEchoResponse || h.Seq != 77 {
					t.Errorf("reply %x: %+v %v", reply, h, err)
				}
			default:
				if inner != nil || reply != nil || f.drops[tc.drop].Load() != 1 {
					t.Errorf("inner %x reply %x drops %v, want one %v", inner, reply, f.Stats().Drops, tc.drop)
				}
			}
		})
	}
}

func FuzzUplink(f *testing.F) {
	s := session(f, nil)
	fw := forwarder(s)
	good := ipv4(17, ueAddr, dnAddr, 4000, 53, []byte("hi"))
	f.Add(gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, good))
	f.Add(gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, good[:20]))
	f.Add(gtpu.AppendEchoRequest(nil, 1))
	f.Fuzz(func(t *testing.T, msg []byte) {
		inner, _ := fw.uplink(msg, gnb, nil)
		if inner != nil {
			if p, ok := parseIP(inner); !ok || p.src != ueAddr {
				t.Fatalf("forwarded %x", inner)
			}
		}
		buf := make([]byte, headroom+len(msg))
		copy(buf[headroom:], msg)
		fw.downlink(buf, len(msg), time.Unix(0, 0))
	})
}

func BenchmarkDownlink(b *testing.B) {
	s := session(b, func(m *atsss.MAR) {
		m.Mode = atsss.ModeLoadBalancing
		for a, w := range [2]uint8{70, 30} {
			m.Legs[a].Priority = atsss.OptionalPriority{}
			m.Legs[a].Weight = atsss.OptionalUint8{Value: w, Set: true}
		}
	})
	f := forwarder(s)
	pkt := ipv4(17, dnAddr, ueAddr, 53, 4000, make([]byte, 1200))
	buf := make([]byte, headroom+len(pkt))
	copy(buf[headroom:], pkt)
	now := time.Unix(1000, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, ok := f.downlink(buf, len(pkt), now); !ok {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkUplink(b *testing.B) {
	f := forwarder(session(b, nil))
	msg := gtpu.AppendGPDU(nil, 0x100, gtpu.PDUTypeUplink, 9, ipv4(17, ueAddr, dnAddr, 4000, 53, make([]byte, 1200)))
	b.ReportAllocs()
	for b.Loop() {
		if inner, _ := f.uplink(msg, gnb, nil); inner == nil {
			b.Fatal("dropped")
		}
	}
}
