package pmf

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// FuzzParse: Parse never panics, and what it accepts is canonical: it
// appends to the same octets and parses back to the same message.
func FuzzParse(f *testing.F) {
	for _, g := range readGolden(f) {
		f.Add(g.wire)
	}
	for _, b := range badWire {
		f.Add(mustHex(b.wire))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		out, err := m.Append(nil)
		if err != nil {
			t.Fatalf("Parse(% x) = %+v, which does not append: %v", b, m, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Parse(% x) = %+v appends to % x", b, m, out)
		}
		if m2, err := Parse(out); err != nil || m2 != m {
			t.Fatalf("reparse = %+v, %v; want %+v", m2, err, m)
		}
	})
}

// FuzzCore feeds a UPF core a stream of datagrams from two UEs on both
// accesses, with ticks between them: it never panics, answers only UEs the
// lookup knows, and sends only messages that encode.
func FuzzCore(f *testing.F) {
	var seed []byte
	for _, g := range readGolden(f) {
		seed = append(seed, byte(len(g.wire)))
		seed = append(seed, g.wire...)
	}
	f.Add(seed)
	f.Add([]byte{3, 1, 0, 1, 11, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, stream []byte) {
		c := newTestCore(Config{EchoInterval: 100 * time.Millisecond, PLRInterval: 300 * time.Millisecond})
		now := t0
		for i := 0; len(stream) > 0; i++ {
			n := int(stream[0])
			stream = stream[1:]
			n = min(n, len(stream))
			b := stream[:n]
			stream = stream[n:]
			ue := ue3GPP
			if i%3 == 2 {
				ue = netip.MustParseAddrPort("192.0.2.99:1") // unknown
			}
			now = now.Add(time.Duration(n) * 10 * time.Millisecond)
			if m, err := Parse(b); err == nil {
				c.receive(now, i%2, ue, m)
			}
			c.tick(now)
			for _, o := range c.out {
				if o.to.Addr() != ue3GPP.Addr() {
					t.Fatalf("sent %v to %v", o.m.Type, o.to)
				}
				if _, err := o.m.Append(nil); err != nil {
					t.Fatalf("queued %+v: %v", o.m, err)
				}
			}
			c.out = c.out[:0]
			c.events = c.events[:0]
		}
		for _, s := range c.sessions {
			for _, p := range s.paths {
				if len(p.link.echoes)+len(p.link.pending) > maxOutstanding {
					t.Fatalf("%v: %d outstanding", p.id, len(p.link.echoes)+len(p.link.pending))
				}
			}
		}
	})
}

// t0 is the start of test time.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	ue3GPP  = netip.MustParseAddrPort("192.0.2.10:4000")
	testLis = []Listener{
		{Addr: netip.MustParseAddrPort("203.0.113.254:50001"), Access: atsss.Access3GPP},
		{Addr: netip.MustParseAddrPort("203.0.113.254:50002"), Access: atsss.AccessNon3GPP},
	}
)

const testSEID atsss.SEID = 0x42

// newTestCore returns a core whose lookup knows 192.0.2.10 as testSEID.
func newTestCore(cfg Config) *core {
	cfg.Listen = testLis
	cfg.Lookup = func(_ Listener, ue netip.AddrPort) (atsss.SEID, bool) {
		return testSEID, ue.Addr() == ue3GPP.Addr()
	}
	if cfg.EchoInterval == 0 {
		cfg.EchoInterval = -1
	}
	if cfg.PLRInterval == 0 {
		cfg.PLRInterval = -1
	}
	return newCore(cfg.WithDefaults(), testLis)
}

// FuzzPLRWindows: PLR control messages (count and report, requests and
// answers) are lost as the input says, measured ones never, and the UPF
// sometimes probes while a PLR request is unanswered. Whatever is lost,
// every reading the UPF reports is exact: no loss. A reading it cannot be
// sure of is dropped, never reported wrong.
func FuzzPLRWindows(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 2, 4, 8, 0x11, 0x22, 0x44, 0x88, 0xff, 0})
	f.Add([]byte{0x80, 0x81, 0x82, 0x84, 0x88, 0x90, 0xa0, 0xc0})
	f.Fuzz(func(t *testing.T, in []byte) {
		h := newHarness(t, Config{EchoInterval: 100 * time.Millisecond, PLRInterval: 300 * time.Millisecond, PLRMinMessages: 1})
		h.learn(atsss.Access3GPP)
		next := func() byte {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return b
		}
		// Bit i of the next input byte loses the i-th control message
		// type below (toUE: requests, else answers).
		control := []MessageType{TypePLRCountRequest, TypePLRReportRequest, TypePLRCountResponse, TypePLRReportResponse}
		h.drop = func(_ atsss.AccessType, toUE bool, m Message) bool {
			for i, tp := range control {
				if m.Type == tp && (i < 2) == toUE {
					return next()&(1<<i) != 0
				}
			}
			return false
		}
		for range 200 {
			if next()&0x80 != 0 {
				_ = h.upf(atsss.Access3GPP, Message{Type: TypeEchoRequest}) // ErrBusy is fine
			}
			h.tick(50 * time.Millisecond)
		}
		for _, e := range h.take(KindPLR) {
			if e.Received != e.Sent || e.PLR != 0 {
				t.Fatalf("PLR reading %+v with nothing measured lost", e.PLRResult)
			}
		}
	})
}
