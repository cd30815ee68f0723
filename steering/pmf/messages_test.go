package pmf

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
)

// goldenMessages are the values of testdata/golden.txt, by name.
var goldenMessages = map[string]Message{
	"echo-request":             {Type: TypeEchoRequest, Seq: 0x1234, Timestamp: 0x0102030405060708},
	"echo-response":            {Type: TypeEchoResponse, Seq: 0x1234, Timestamp: 0x0102030405060708},
	"access-report-n3gpp-down": {Type: TypeAccessReport, Seq: 7, Access: atsss.AccessNon3GPP},
	"access-report-3gpp-up":    {Type: TypeAccessReport, Seq: 8, Access: atsss.Access3GPP, Available: true},
	"ack":                      {Type: TypeAck, Seq: 7},
	"plr-count-request":        {Type: TypePLRCountRequest, Seq: 9},
	"plr-count-response":       {Type: TypePLRCountResponse, Seq: 9},
	"plr-report-request":       {Type: TypePLRReportRequest, Seq: 10},
	"plr-report-request-rst":   {Type: TypePLRReportRequest, Seq: 11, Restart: true},
	"plr-report-response":      {Type: TypePLRReportResponse, Seq: 10, Count: 1000},
	"plr-report-response-rst":  {Type: TypePLRReportResponse, Seq: 11, Restart: true},
	"uad-70-30":                {Type: TypeUAD, Seq: 12, Split: [2]uint8{70, 30}},
	"uat":                      {Type: TypeUAT, Seq: 13},
	"tds":                      {Type: TypeTDS, Seq: 14},
	"tdr":                      {Type: TypeTDR, Seq: 0xffff},
}

type golden struct {
	name string
	wire []byte
}

func readGolden(tb testing.TB) []golden {
	tb.Helper()
	f, err := os.Open("testdata/golden.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		wire, err := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
		if err != nil {
			tb.Fatalf("golden %s: %v", name, err)
		}
		out = append(out, golden{name, wire})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestGolden checks every golden message both ways and that the golden
// file covers every type of the table with the table's size.
func TestGolden(t *testing.T) {
	covered := map[MessageType]bool{}
	gs := readGolden(t)
	if len(gs) != len(goldenMessages) {
		t.Errorf("golden.txt has %d messages, the test table %d", len(gs), len(goldenMessages))
	}
	for _, g := range gs {
		t.Run(g.name, func(t *testing.T) {
			want, ok := goldenMessages[g.name]
			if !ok {
				t.Fatalf("no test value for %s", g.name)
			}
			covered[want.Type] = true
			if n := specs[want.Type].size; len(g.wire) != n {
				t.Errorf("%d octets, the table says %d", len(g.wire), n)
			}
			got, err := Parse(g.wire)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := want.Append([]byte{0xee})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(b[1:], g.wire) || b[0] != 0xee {
				t.Errorf("Append = % x, want ee % x", b, g.wire)
			}
		})
	}
	for i := range specs {
		if tp := MessageType(i); tp.Known() && !covered[tp] {
			t.Errorf("%v has no golden message", tp)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// badWire are datagrams Parse must reject, with the reason.
var badWire = []struct {
	name string
	wire string
	want error
}{
	{"empty", "", ErrTruncated},
	{"type 0", "00 0001", ErrUnknownType},
	{"type 13", "0d 0001", ErrUnknownType},
	{"type 255", "ff 0001 00", ErrUnknownType},
	{"type only", "04", ErrTruncated},
	{"echo short", "01 1234 01020304050607", ErrTruncated},
	{"echo long", "01 1234 0102030405060708 00", ErrTrailing},
	{"ack long", "04 0007 00", ErrTrailing},
	{"report access 2", "03 0001 02", ErrInvalid},
	{"report availability 2", "03 0001 08", ErrInvalid},
	{"report spare bit", "03 0001 10", ErrInvalid},
	{"plr report spare flag", "07 0001 02", ErrInvalid},
	{"plr response spare flag", "08 0001 80 00000001", ErrInvalid},
	{"plr response short", "08 0001 00 000001", ErrTruncated},
	{"uad sum 99", "09 0001 46 1d", ErrInvalid},
	{"uad sum 101", "09 0001 65 00", ErrInvalid},
	{"uad 255+101 wraps to 100 in a byte", "09 0001 ff 65", ErrInvalid},
}

func TestParseRejects(t *testing.T) {
	for _, tc := range badWire {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(mustHex(tc.wire))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tc.want)
			}
			if m != (Message{}) {
				t.Errorf("Parse returned %+v with its error", m)
			}
		})
	}
}

func TestAppendRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"unknown type", Message{Type: 200}},
		{"zero type", Message{}},
		{"timestamp on ack", Message{Type: TypeAck, Timestamp: 1}},
		{"count on report request", Message{Type: TypePLRReportRequest, Count: 3}},
		{"restart on count request", Message{Type: TypePLRCountRequest, Restart: true}},
		{"access on uad", Message{Type: TypeUAD, Split: [2]uint8{50, 50}, Available: true}},
		{"split on uat", Message{Type: TypeUAT, Split: [2]uint8{100, 0}}},
		{"uad split 60/60", Message{Type: TypeUAD, Split: [2]uint8{60, 60}}},
		{"report access 7", Message{Type: TypeAccessReport, Access: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.m.Append([]byte{1, 2})
			if err == nil {
				t.Fatalf("Append = % x, want an error", b)
			}
			if !bytes.Equal(b, []byte{1, 2}) {
				t.Errorf("Append appended % x on error", b[2:])
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	for tp, want := range map[MessageType]string{
		TypeEchoRequest: "PMFP ECHO REQUEST", TypeTDR: "PMFP TDR", 0: "PMFP type(0)", 99: "PMFP type(99)",
	} {
		if got := tp.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(tp), got, want)
		}
	}
}

// TestTable keeps the table consistent: requests name a response of the
// table that answers in the right direction, and only acknowledged or PLR
// control requests are retransmitted.
func TestTable(t *testing.T) {
	for i, s := range specs {
		tp := MessageType(i)
		if !tp.Known() {
			continue
		}
		if s.size < 3 || s.size > maxMessageOctets || s.clause == "" {
			t.Errorf("%v: size %d, clause %q", tp, s.size, s.clause)
		}
		if s.response == 0 {
			continue
		}
		r, ok := s.response.spec()
		if !ok || r.response != 0 {
			t.Errorf("%v: response %v is not a response", tp, s.response)
		}
		if s.retransmit == (tp == TypeEchoRequest) {
			t.Errorf("%v: retransmit %v", tp, s.retransmit)
		}
	}
}
