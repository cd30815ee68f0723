package gtpu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden are messages as the wire carries them, decoded by hand from
// TS 29.281 §5.1 and TS 38.415 §5.5.2.
var golden = []struct {
	name    string
	wire    string
	hdr     Header
	payload string
}{
	{
		name:    "g-pdu plain",
		wire:    "30ff0004 00001000 deadbeef",
		hdr:     Header{Type: TypeGPDU, TEID: 0x1000},
		payload: "deadbeef",
	},
	{
		name: "g-pdu downlink container qfi 9",
		wire: "34ff000c 00001000 0000 00 85 01 00 09 00 deadbeef",
		hdr: Header{Type: TypeGPDU, TEID: 0x1000, HasSession: true,
			Session: SessionContainer{PDUType: PDUTypeDownlink, QFI: 9}},
		payload: "deadbeef",
	},
	{
		name: "g-pdu uplink container qfi 63",
		wire: "34ff0009 00000100 0000 00 85 01 10 3f 00 aa",
		hdr: Header{Type: TypeGPDU, TEID: 0x100, HasSession: true,
			Session: SessionContainer{PDUType: PDUTypeUplink, QFI: 63}},
		payload: "aa",
	},
	{
		name: "g-pdu downlink container rqi",
		wire: "34ff0008 00000001 0000 00 85 01 00 45 00",
		hdr: Header{Type: TypeGPDU, TEID: 1, HasSession: true,
			Session: SessionContainer{PDUType: PDUTypeDownlink, QFI: 5, RQI: true}},
	},
	{
		name: "echo request",
		wire: "32010004 00000000 1234 00 00",
		hdr:  Header{Type: TypeEchoRequest, Seq: 0x1234, HasSeq: true},
	},
	{
		name:    "echo response",
		wire:    "32020006 00000000 1234 00 00 0e00",
		hdr:     Header{Type: TypeEchoResponse, Seq: 0x1234, HasSeq: true},
		payload: "0e00",
	},
}

func TestGolden(t *testing.T) {
	for _, tc := range golden {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.wire)
			h, payload, err := Parse(wire)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(tc.hdr, h); d != "" {
				t.Errorf("header (-want +got):\n%s", d)
			}
			if want := unhex(t, tc.payload); !bytes.Equal(payload, want) {
				t.Errorf("payload %x, want %x", payload, want)
			}
			// And back: Put writes the same octets.
			got := make([]byte, h.Len()+len(payload))
			h.Put(got, len(payload))
			copy(got[h.Len():], payload)
			if !bytes.Equal(got, wire) {
				t.Errorf("Put:\n got %x\nwant %x", got, wire)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	pdu := []byte{0xde, 0xad, 0xbe, 0xef}
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"gpdu dl", AppendGPDU(nil, 0x1000, PDUTypeDownlink, 9, pdu), golden[1].wire},
		{"gpdu plain", AppendGPDU(nil, 0x1000, PDUTypeDownlink, -1, pdu), golden[0].wire},
		{"echo request", AppendEchoRequest(nil, 0x1234), golden[4].wire},
		{"echo response", AppendEchoResponse(nil, Header{Type: TypeEchoRequest, Seq: 0x1234, HasSeq: true}), golden[5].wire},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if want := unhex(t, tc.want); !bytes.Equal(tc.got, want) {
				t.Errorf("got %x, want %x", tc.got, want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire string
		want error
	}{
		{"empty", "", ErrShort},
		{"7 octets", "30ff0000 000010", ErrShort},
		{"length past end", "30ff0005 00001000 deadbeef", ErrShort},
		{"version 2", "50ff0000 00001000", ErrVersion},
		{"gtp prime", "20ff0000 00001000", ErrVersion},
		{"optional octets missing", "32ff0002 00001000 0000", ErrShort},
		{"extension length 0", "34ff0008 00001000 0000 00 85 00 00 09 00", ErrExtension},
		{"extension past end", "34ff0008 00001000 0000 00 85 02 00 09 00", ErrExtension},
		{"extension missing", "34ff0004 00001000 0000 00 85", ErrExtension},
		{"container pdu type 2", "34ff0008 00001000 0000 00 85 01 20 09 00", ErrContainer},
		{"container ppp without ppi", "34ff0008 00001000 0000 00 85 01 00 89 00", ErrContainer},
		{"comprehension required", "34ff0008 00001000 0000 00 c0 01 00 00 00", ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(unhex(t, tc.wire))
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseSkipsOptionalExtension(t *testing.T) {
	// Type 0x40 (UDP port, comprehension not required) then the container.
	wire := unhex(t, "34ff000e 00001000 0000 00 40 01 0868 85 01 00 09 00 aabb")
	h, p, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasSession || h.Session.QFI != 9 || !bytes.Equal(p, []byte{0xaa, 0xbb}) {
		t.Errorf("got %+v %x", h, p)
	}
}

func TestParseNoAlloc(t *testing.T) {
	wire := unhex(t, golden[1].wire)
	if n := testing.AllocsPerRun(100, func() { Parse(wire) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range golden {
		f.Add(unhex(f, g.wire))
	}
	f.Add(unhex(f, "34ff000e 00001000 0000 00 40 01 0868 85 01 00 09 00 aabb"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := Parse(b)
		if err != nil {
			return
		}
		if len(payload) > len(b) {
			t.Fatalf("payload longer than the message")
		}
		// What parses re-encodes to something that parses to the same
		// header (optional extensions and container fields aside).
		if h.HasSession {
			h.Session = SessionContainer{PDUType: h.Session.PDUType, QFI: h.Session.QFI, RQI: h.Session.RQI && h.Session.PDUType == PDUTypeDownlink}
		}
		if h.HasSession {
			h.HasSeq = true // the optional octets are there anyway
		}
		out := make([]byte, h.Len()+len(payload))
		h.Put(out, len(payload))
		copy(out[h.Len():], payload)
		h2, p2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded %x does not parse: %v", out, err)
		}
		if !h.HasSeq {
			h2.HasSeq = false
		}
		if d := cmp.Diff(h, h2); d != "" || !bytes.Equal(payload, p2) {
			t.Fatalf("round trip of %x: %s payload %x vs %x", b, d, payload, p2)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	wire := unhex(b, golden[1].wire)
	b.ReportAllocs()
	for b.Loop() {
		Parse(wire)
	}
}
