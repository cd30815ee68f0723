package pfcptest

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// TestTemplate: what the template writes for session i is what go-pfcp
// encodes for spec.Nth(i), byte for byte, carries included.
func TestTemplate(t *testing.T) {
	spec := testSpec()
	spec.UEIP = netip.MustParseAddr("198.18.0.1")
	spec.GNB.UPF.TEID = 0xffff_fff0
	tmpl, err := newTemplate(spec)
	if err != nil {
		t.Fatal(err)
	}
	// F-SEID, 6 UE IP addresses, 4 F-TEIDs, 4 Outer Header Creations.
	if len(tmpl.fields) != 15 {
		t.Errorf("template has %d fields, want 15", len(tmpl.fields))
	}
	var buf []byte
	for _, i := range []uint32{0, 1, 255, 256, 0x10, 1 << 20} {
		seq := 0xabcdef - i
		buf = tmpl.encode(buf, i, seq)
		if want := encode(t, Establishment(spec.Nth(i), seq)); !bytes.Equal(buf, want) {
			t.Errorf("session %d:\ntemplate %x\n go-pfcp %x", i, buf, want)
		}
	}
}

func TestScanEstablishment(t *testing.T) {
	resp := encode(t, Accept(Establishment(testSpec(), 9)))
	cause, up, err := scanEstablishment(resp)
	if err != nil || cause != atsssie.CauseAccepted || up != FakeUPSEID(1) {
		t.Errorf("scan = %v, %v, %v", cause, up, err)
	}
	noCause := encode(t, message.NewSessionEstablishmentResponse(0, 0, 1, 9, 0, ie.NewFSEID(2, nil, nil)))
	if _, _, err := scanEstablishment(noCause); err == nil {
		t.Error("a response without Cause scanned without error")
	}
}

// FuzzReceive feeds the client's read loop what a UPF could send; nothing
// may panic, whatever the client makes of it.
func FuzzReceive(f *testing.F) {
	for _, m := range []message.Message{
		sessionReport(1, 1, atsss.AccessNon3GPP, false),
		message.NewSessionReportRequest(0, 0, 1, 2, 0, ie.NewSessionReport(ie.NewAccessAvailabilityReport(ie.NewSRRID(1)))),
		HeartbeatRequest(fakeRecovery, 3),
		Accept(Establishment(testSpec(), 4)),
	} {
		b := make([]byte, m.MarshalLen())
		if err := m.MarshalTo(b); err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, _ := memPipe(smfAddr, upfAddr)
		c := new(Dialer).newClient(cc, upfAddr, "smf.example.net", smfAddr.Addr())
		c.addSession(1, 2)
		c.pending[4] = make(chan []byte, 1)
		c.receive(b, upfAddr)
		if h, ok := parseHeader(b); ok && h.typ == message.MsgTypeSessionEstablishmentResponse {
			scanEstablishment(b)
		}
	})
}

func BenchmarkEstablishment(b *testing.B) {
	spec := testSpec()
	b.Run("go-pfcp", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := uint32(0); b.Loop(); i++ {
			m := Establishment(spec.Nth(i), i)
			buf = append(buf[:0], make([]byte, m.MarshalLen())...)
			if err := m.MarshalTo(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		tmpl, err := newTemplate(spec)
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		for i := uint32(0); b.Loop(); i++ {
			buf = tmpl.encode(buf, i, i)
		}
	})
}
