package convert

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpMessage compares Messages field by field.
var cmpMessage = cmp.Options{
	cmp.AllowUnexported(Message{}),
	cmpopts.EquateComparable(netip.AddrPort{}),
}

// hx decodes hex written with spaces and newlines for readability.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func build(f func(m *Message)) Message {
	var m Message
	f(&m)
	return m
}

// golden messages: each is encoded and compared with the bytes, and the
// bytes are decoded and compared with the message. The bytes were written
// by hand from RFC 8803 §5; where a sample exists in Tessares' libconvert
// (convert.h, tests/check_convert_util.c) or its scapy layer
// (scapy/convert.py), the layout was cross-checked against it.
var golden = []struct {
	name string
	hex  string
	msg  Message
}{
	{
		name: "empty converter reply",
		hex:  "01 01 22 63",
		msg:  Message{},
	},
	{
		name: "connect IPv4 as IPv4-mapped",
		hex: `01 06 22 63
		      0a 05 01 bb
		      00 00 00 00  00 00 00 00  00 00 ff ff  c0 00 02 01`,
		msg: ConnectMessage(netip.MustParseAddrPort("192.0.2.1:443"), nil),
	},
	{
		name: "connect IPv6",
		hex: `01 06 22 63
		      0a 05 1f 90
		      20 01 0d b8  00 00 00 00  00 00 00 00  00 00 00 10`,
		msg: ConnectMessage(netip.MustParseAddrPort("[2001:db8::10]:8080"), nil),
	},
	{
		// libconvert tests/check_convert_util.c sample_convert_connect:
		// length 5 words, port 12345, address ::1:5ee:bad:c0de.
		name: "connect libconvert sample",
		hex: `01 06 22 63
		      0a 05 30 39
		      00 00 00 00  00 00 00 00  00 01 05 ee  0b ad c0 de`,
		msg: ConnectMessage(netip.MustParseAddrPort("[::1:5ee:bad:c0de]:12345"), nil),
	},
	{
		name: "connect with MSS, no padding",
		hex: `01 07 22 63
		      0a 06 00 50
		      00 00 00 00  00 00 00 00  00 00 ff ff  c6 33 64 07
		      02 04 05 b4`,
		msg: ConnectMessage(netip.MustParseAddrPort("198.51.100.7:80"), hx("020405b4")),
	},
	{
		name: "connect with SACK-permitted and window scale, 3 bytes padding",
		hex: `01 08 22 63
		      0a 07 01 bb
		      00 00 00 00  00 00 00 00  00 00 ff ff  cb 00 71 09
		      04 02 03 03  07 00 00 00`,
		msg: ConnectMessage(netip.MustParseAddrPort("203.0.113.9:443"), hx("0402030307")),
	},
	{
		name: "connect with window scale, 1 byte padding",
		hex: `01 07 22 63
		      0a 06 01 bb
		      20 01 0d b8  00 00 00 00  00 00 00 00  00 00 00 01
		      03 03 07 00`,
		msg: ConnectMessage(netip.MustParseAddrPort("[2001:db8::1]:443"), hx("030307")),
	},
	{
		name: "info only",
		hex:  "01 02 22 63  01 01 00 00",
		msg:  build(func(m *Message) { m.SetInfo() }),
	},
	{
		name: "client info, connect and cookie",
		hex: `01 0a 22 63
		      01 01 00 00
		      0a 05 01 bb
		      00 00 00 00  00 00 00 00  00 00 ff ff  c0 00 02 01
		      16 03 00 00  01 02 03 04  05 06 07 08`,
		msg: build(func(m *Message) {
			m.SetInfo()
			m.SetConnect(Connect{Addr: netip.MustParseAddrPort("192.0.2.1:443")})
			m.SetCookie(hx("0102030405060708"))
		}),
	},
	{
		name: "extended TCP header of a Linux SYN+ACK",
		hex: `01 07 22 63
		      14 06 00 00
		      02 04 05 b4  04 02 08 0a  00 00 00 01  00 00 00 02  01 03 03 07`,
		msg: ExtendedTCPHeaderMessage(hx("020405b4 0402080a 00000001 00000002 01030307")),
	},
	{
		name: "extended TCP header without options",
		hex:  "01 02 22 63  14 01 00 00",
		msg:  ExtendedTCPHeaderMessage(nil),
	},
	{
		name: "converter reply to info and connect",
		hex: `01 05 22 63
		      14 02 00 00  02 04 05 b4
		      15 02 00 00  1e 00 00 00`,
		msg: build(func(m *Message) {
			m.SetExtendedTCPHeader(hx("020405b4"))
			m.SetSupportedTCPExtensions([]byte{30})
		}),
	},
	{
		name: "supported TCP extensions filling a word",
		hex:  "01 03 22 63  15 02 00 00  02 04 08 1e",
		msg:  build(func(m *Message) { m.SetSupportedTCPExtensions([]byte{2, 4, 8, 30}) }),
	},
	{
		// libconvert sample_convert_error (code 96, length 1, value 0)
		// and scapy ConvertTLV_Error: type, length, code, value byte.
		name: "error connection reset, libconvert sample",
		hex:  "01 02 22 63  1e 01 60 00",
		msg:  ErrorMessage(ErrConnectionReset, []byte{0}),
	},
	{
		name: "error unsupported version lists version 1",
		hex:  "01 02 22 63  1e 01 00 01",
		msg:  ErrorMessage(ErrUnsupportedVersion, []byte{1}),
	},
	{
		name: "error missing cookie carries the cookie after a zero byte",
		hex:  "01 04 22 63  1e 03 03 00  aa bb cc dd  ee ff 00 11",
		msg:  ErrorMessage(ErrMissingCookie, hx("00 aabbccdd eeff0011")),
	},
	{
		name: "error unsupported TCP options, padded",
		hex:  "01 03 22 63  1e 02 21 1e  22 00 00 00",
		msg:  ErrorMessage(ErrUnsupportedTCPOption, hx("1e22000000")),
	},
	{
		name: "error destination unreachable carries the ICMP code",
		hex:  "01 02 22 63  1e 01 61 01",
		msg:  ErrorMessage(ErrDestinationUnreachable, []byte{1}),
	},
}

func TestGolden(t *testing.T) {
	for _, tt := range golden {
		t.Run(tt.name, func(t *testing.T) {
			want := hx(tt.hex)
			got, err := AppendMessage(nil, tt.msg)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("AppendMessage:\n got %x\nwant %x", got, want)
			}

			// Application data after the message must be left alone.
			in := append(bytes.Clone(want), "GET / HTTP/1.1\r\n"...)
			m, n, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(want) {
				t.Errorf("Parse consumed %d bytes, want %d", n, len(want))
			}
			if d := cmp.Diff(tt.msg, m, cmpMessage); d != "" {
				t.Errorf("Parse (-want +got):\n%s", d)
			}

			r := bytes.NewReader(in)
			m, err = ReadMessage(r)
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			if d := cmp.Diff(tt.msg, m, cmpMessage); d != "" {
				t.Errorf("ReadMessage (-want +got):\n%s", d)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "GET / HTTP/1.1\r\n" {
				t.Errorf("ReadMessage left %q, want the application data", rest)
			}
		})
	}
}

// Messages that decode but re-encode to the canonical form: TLVs in
// ascending type order, unassigned bits zero.
func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, canonical string
	}{
		{
			// scapy/convert.py's sample, Convert(tlvs=[ConvertTLV_Error(),
			// ConvertTLV_Info(), ConvertTLV_Connect(remote_addr="::1",
			// remote_port=80)]): mixed directions, which Check rejects,
			// but well formed.
			name: "scapy sample out of order",
			in: `01 08 22 63
			     1e 01 00 00
			     01 01 00 00
			     0a 05 00 50  00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 01`,
			canonical: `01 08 22 63
			     01 01 00 00
			     0a 05 00 50  00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 01
			     1e 01 00 00`,
		},
		{
			name:      "unassigned bits set",
			in:        "01 06 22 63  01 01 ff ff  14 01 12 34  15 02 ab cd 1e 00 00 00  16 01 80 00",
			canonical: "01 06 22 63  01 01 00 00  14 01 00 00  15 02 00 00 1e 00 00 00  16 01 00 00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := Parse(hx(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(hx(tt.in)) {
				t.Errorf("consumed %d, want %d", n, len(hx(tt.in)))
			}
			got, err := AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			if want := hx(tt.canonical); !bytes.Equal(got, want) {
				t.Errorf("re-encoded:\n got %x\nwant %x", got, want)
			}
		})
	}
}

// unexpectedEOF marks a malformed case that is a truncation, not a
// DecodeError.
const unexpectedEOF ErrorCode = 255

// malformed inputs and the Error code the receiver answers with, the bytes
// Parse says the message occupies, and the offset of the fault.
var malformed = []struct {
	name   string
	hex    string
	code   ErrorCode
	n, off int
}{
	{"empty", "", unexpectedEOF, 0, 0},
	{"short header", "01 01 22", unexpectedEOF, 0, 0},
	{"total length past the input", "01 02 22 63", unexpectedEOF, 0, 0},
	{"total length far past the input", "01 ff 22 63  01 01 00 00", unexpectedEOF, 0, 0},
	{"bad magic", "01 01 22 64", ErrMalformedMessage, 4, 2},
	{"bad magic and version", "02 01 00 00", ErrMalformedMessage, 4, 2},
	{"bad magic with a length past the input", "01 ff 63 22", ErrMalformedMessage, 4, 2},
	{"total length 0", "01 00 22 63", ErrMalformedMessage, 4, 1},
	{"version 2", "02 02 22 63  0a 05 00 00", ErrUnsupportedVersion, 8, 0},
	{"version 0 is reserved", "00 01 22 63", ErrUnsupportedVersion, 4, 0},
	{"version 2 with total length 0", "02 00 22 63", ErrUnsupportedVersion, 4, 0},
	{"TLV length 0", "01 02 22 63  0a 00 00 00", ErrMalformedMessage, 8, 5},
	{"trailing zero word", "01 03 22 63  01 01 00 00  00 00 00 00", ErrMalformedMessage, 12, 9},
	{"TLV overruns the message", "01 02 22 63  01 02 00 00", ErrMalformedMessage, 8, 5},
	{"connect overruns the message", "01 05 22 63  0a 05 00 50  00000000 00000000 00000000", ErrMalformedMessage, 20, 5},
	{"info of two words", "01 03 22 63  01 02 00 00  00 00 00 00", ErrMalformedMessage, 12, 5},
	{"connect of four words", "01 05 22 63  0a 04 00 50  00000000 00000000 00000000", ErrMalformedMessage, 20, 5},
	{"connect with NOP", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  01 01 01 01", ErrMalformedMessage, 28, 24},
	{"connect with EOL word", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  00 00 00 00", ErrMalformedMessage, 28, 24},
	{"connect option length 1", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  02 01 00 00", ErrMalformedMessage, 28, 25},
	{"connect option overruns", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  02 08 05 b4", ErrMalformedMessage, 28, 25},
	{"connect option without length", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  03 03 07 1e", ErrMalformedMessage, 28, 27},
	{"connect non-zero padding", "01 07 22 63  0a 06 00 50  00000000 00000000 0000ffff c0000201  04 02 00 09", ErrMalformedMessage, 28, 27},
	{"unassigned type 5", "01 02 22 63  05 01 00 00", ErrUnsupportedMessage, 8, 4},
	{"reserved type 0", "01 02 22 63  00 01 00 00", ErrUnsupportedMessage, 8, 4},
	{"private type 200", "01 02 22 63  c8 01 00 00", ErrUnsupportedMessage, 8, 4},
	{"unknown type after connect", "01 07 22 63  0a 05 00 50  00000000 00000000 0000ffff c0000201  1f 01 00 00", ErrUnsupportedMessage, 28, 24},
	{"second info", "01 03 22 63  01 01 00 00  01 01 00 00", ErrMalformedMessage, 12, 8},
	{"second error", "01 03 22 63  1e 01 60 00  1e 01 61 00", ErrMalformedMessage, 12, 8},
	{"supported kinds with 0 inside", "01 03 22 63  15 02 00 00  00 1e 00 00", ErrMalformedMessage, 12, 8},
	{"supported kinds with a word of padding", "01 03 22 63  15 02 00 00  00 00 00 00", ErrMalformedMessage, 12, 8},
}

func TestMalformed(t *testing.T) {
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			in := hx(tt.hex)
			_, n, err := Parse(in)
			if n != tt.n {
				t.Errorf("Parse consumed %d, want %d", n, tt.n)
			}
			if tt.code == unexpectedEOF {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Parse error %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Parse error %v, want a *DecodeError", err)
			}
			if de.Code != tt.code || de.Offset != tt.off {
				t.Errorf("Parse error %v: code %v at %d, want %v at %d", err, de.Code, de.Offset, tt.code, tt.off)
			}
			if !errors.Is(err, tt.code) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.code)
			}
			checkReply(t, de, in[:n])

			// ReadMessage agrees, and consumes the same bytes.
			r := bytes.NewReader(append(bytes.Clone(in), "data"...))
			_, err = ReadMessage(r)
			var rde *DecodeError
			if !errors.As(err, &rde) || rde.Code != tt.code || rde.Offset != tt.off {
				t.Errorf("ReadMessage error %v, want code %v at %d", err, tt.code, tt.off)
			}
			if left := r.Len(); left != len(in)-n+4 {
				t.Errorf("ReadMessage left %d bytes, want %d", left, len(in)-n+4)
			}
		})
	}
}

// checkReply checks the Error value of de against §5.2.8 for a message
// received as msg, and that the converter can send it.
func checkReply(t *testing.T, de *DecodeError, msg []byte) {
	t.Helper()
	switch de.Code {
	case ErrUnsupportedVersion:
		if !bytes.Equal(de.Value, []byte{Version}) {
			t.Errorf("Unsupported Version value %x, want 01", de.Value)
		}
	case ErrMalformedMessage, ErrUnsupportedMessage:
		want := append([]byte{0}, msg[:min(len(msg), maxEcho)]...)
		if !bytes.Equal(de.Value, want) {
			t.Errorf("echo value %x, want %x", de.Value, want)
		}
	default:
		t.Errorf("decode error code %v, want one of the message validation codes", de.Code)
	}
	b, err := AppendMessage(nil, ErrorMessage(de.Code, de.Value))
	if err != nil {
		t.Fatalf("encode the reply: %v", err)
	}
	reply, _, err := Parse(b)
	if err != nil {
		t.Fatalf("parse the reply %x: %v", b, err)
	}
	if err := reply.Check(FromConverter); err != nil {
		t.Errorf("reply %v: %v", reply, err)
	}
}

func TestEchoTruncated(t *testing.T) {
	// The longest message, of one unknown TLV: its echo cannot fit.
	in := make([]byte, MaxLen)
	copy(in, hx("01 ff 22 63  05 fe"))
	_, n, err := Parse(in)
	var de *DecodeError
	if !errors.As(err, &de) || de.Code != ErrUnsupportedMessage || n != MaxLen {
		t.Fatalf("Parse = %d, %v; want Unsupported Message over %d bytes", n, err, MaxLen)
	}
	if len(de.Value) != 1+maxEcho || !bytes.Equal(de.Value[1:], in[:maxEcho]) {
		t.Errorf("echo of %d bytes, want the first %d bytes after a zero", len(de.Value), maxEcho)
	}
	b, err := AppendMessage(nil, ErrorMessage(de.Code, de.Value))
	if err != nil || len(b) != MaxLen {
		t.Errorf("reply of %d bytes, %v; want exactly %d", len(b), err, MaxLen)
	}
}

func TestErrorValuePadding(t *testing.T) {
	tests := []struct {
		msg  Message
		want string
	}{
		{ErrorMessage(ErrNotAuthorized, nil), "01 02 22 63  1e 01 20 00"},
		{ErrorMessage(ErrUnsupportedTCPOption, []byte{0x1e, 0x22}), "01 03 22 63  1e 02 21 1e  22 00 00 00"},
		{ErrorMessage(ErrResourceExceeded, []byte{30}), "01 02 22 63  1e 01 40 1e"},
		{ErrorMessage(ErrMissingCookie, hx("00 01020304")), "01 03 22 63  1e 02 03 00  01 02 03 04"},
	}
	for _, tt := range tests {
		t.Run(tt.msg.String(), func(t *testing.T) {
			got, err := AppendMessage(nil, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if want := hx(tt.want); !bytes.Equal(got, want) {
				t.Errorf("got %x, want %x", got, want)
			}
		})
	}
}

func TestAppendMessageRefuses(t *testing.T) {
	dst := netip.MustParseAddrPort("192.0.2.1:443")
	tests := []struct {
		name string
		msg  Message
	}{
		{"connect without address", ConnectMessage(netip.AddrPort{}, nil)},
		{"connect with zone", ConnectMessage(netip.MustParseAddrPort("[fe80::1%eth0]:80"), nil)},
		{"connect with NOP", ConnectMessage(dst, hx("01 020405b4"))},
		{"connect with EOL", ConnectMessage(dst, hx("00"))},
		{"connect options ending in zero padding", ConnectMessage(dst, hx("030307 00"))},
		{"connect option overrun", ConnectMessage(dst, hx("0204"))},
		{"supported kind 0", build(func(m *Message) { m.SetSupportedTCPExtensions([]byte{30, 0}) })},
		{"cookie of 3 bytes", build(func(m *Message) { m.SetCookie([]byte{1, 2, 3}) })},
		{"cookie too long", build(func(m *Message) { m.SetCookie(make([]byte, MaxLen-HeaderLen)) })},
		{"error value too long", ErrorMessage(ErrMalformedMessage, make([]byte, MaxLen-HeaderLen-2))},
		{"too long by one word", build(func(m *Message) {
			m.SetInfo()
			m.SetCookie(make([]byte, MaxLen-HeaderLen-4))
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := AppendMessage(dst, tt.msg)
			if err == nil {
				t.Fatalf("AppendMessage = %x, want an error", got)
			}
			if string(got) != "prefix" {
				t.Errorf("AppendMessage changed dst to %q", got)
			}
		})
	}
	// The longest message is fine.
	var m Message
	m.SetCookie(make([]byte, MaxLen-HeaderLen-4))
	if b, err := AppendMessage(nil, m); err != nil || len(b) != MaxLen {
		t.Errorf("longest message: %d bytes, %v", len(b), err)
	}
}

func TestAppendMessageAppends(t *testing.T) {
	b, err := AppendMessage([]byte{0xde, 0xad}, ErrorMessage(ErrNotAuthorized, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := hx("dead 01022263 1e012000"); !bytes.Equal(b, want) {
		t.Errorf("got %x, want %x", b, want)
	}
}

func TestCheck(t *testing.T) {
	connect := func(s string) Message { return ConnectMessage(netip.MustParseAddrPort(s), nil) }
	tests := []struct {
		name string
		msg  Message
		from Sender
		want ErrorCode // 255: no error
	}{
		{"client connect", connect("192.0.2.1:443"), FromClient, 255},
		{"client connect IPv6", connect("[2001:db8::1]:443"), FromClient, 255},
		{"client info", build(func(m *Message) { m.SetInfo() }), FromClient, 255},
		{"client info connect cookie", build(func(m *Message) {
			m.SetInfo()
			m.SetConnect(Connect{Addr: netip.MustParseAddrPort("192.0.2.1:443")})
			m.SetCookie(hx("01020304"))
		}), FromClient, 255},
		{"client empty", Message{}, FromClient, ErrMalformedMessage},
		{"client cookie only", build(func(m *Message) { m.SetCookie(hx("01020304")) }), FromClient, ErrMalformedMessage},
		{"client error", build(func(m *Message) {
			m.SetConnect(Connect{Addr: netip.MustParseAddrPort("192.0.2.1:443")})
			m.SetError(Error{Code: ErrConnectionReset})
		}), FromClient, ErrUnsupportedMessage},
		{"client extended TCP header", ExtendedTCPHeaderMessage(nil), FromClient, ErrUnsupportedMessage},
		{"client supported extensions", build(func(m *Message) { m.SetSupportedTCPExtensions(nil) }), FromClient, ErrUnsupportedMessage},
		{"connect without address", ConnectMessage(netip.AddrPort{}, nil), FromClient, ErrMalformedMessage},
		{"connect to IPv4 loopback", connect("127.0.0.1:22"), FromClient, ErrMalformedMessage},
		{"connect to IPv4-mapped loopback", connect("[::ffff:127.0.0.1]:22"), FromClient, ErrMalformedMessage},
		{"connect to IPv6 loopback", connect("[::1]:22"), FromClient, ErrMalformedMessage},
		{"connect to IPv4 multicast", connect("224.0.0.1:80"), FromClient, ErrMalformedMessage},
		{"connect to IPv6 multicast", connect("[ff02::1]:80"), FromClient, ErrMalformedMessage},
		{"connect to broadcast", connect("255.255.255.255:80"), FromClient, ErrMalformedMessage},
		{"connect to 0.0.0.0", connect("0.0.0.0:80"), FromClient, ErrMalformedMessage},
		{"connect to ::", connect("[::]:80"), FromClient, ErrMalformedMessage},
		{"converter empty", Message{}, FromConverter, 255},
		{"converter extended TCP header", ExtendedTCPHeaderMessage(hx("020405b4")), FromConverter, 255},
		{"converter error", ErrorMessage(ErrNotAuthorized, nil), FromConverter, 255},
		{"converter supported and header", build(func(m *Message) {
			m.SetSupportedTCPExtensions([]byte{30})
			m.SetExtendedTCPHeader(nil)
		}), FromConverter, 255},
		{"converter connect", connect("192.0.2.1:443"), FromConverter, ErrUnsupportedMessage},
		{"converter info", build(func(m *Message) { m.SetInfo() }), FromConverter, ErrUnsupportedMessage},
		{"converter cookie", build(func(m *Message) { m.SetCookie(nil) }), FromConverter, ErrUnsupportedMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.msg.Check(tt.from)
			if tt.want == 255 {
				if err != nil {
					t.Errorf("Check(%v) = %v, want nil", tt.from, err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Code != tt.want {
				t.Fatalf("Check(%v) = %v, want %v", tt.from, err, tt.want)
			}
			enc, _ := AppendMessage(nil, tt.msg)
			checkReply(t, de, enc)
		})
	}
	if err := (Message{}).Check(0); err == nil || errors.As(err, new(*DecodeError)) {
		t.Errorf("Check(0) = %v, want a plain error", err)
	}
}

func TestAccessors(t *testing.T) {
	var m Message
	if !m.Empty() || m.Info() || m.Has(TypeConnect) {
		t.Fatal("zero Message is not empty")
	}
	if _, ok := m.Connect(); ok {
		t.Error("zero Message has a Connect TLV")
	}
	m.SetInfo()
	m.SetConnect(Connect{Addr: netip.MustParseAddrPort("192.0.2.1:443")})
	if m.Empty() || !m.Info() || !m.Has(TypeConnect) || !m.Has(TypeInfo) || m.Has(TypeError) || m.Has(200) {
		t.Errorf("Has after SetInfo, SetConnect: %v", m)
	}
	if c, ok := m.Connect(); !ok || c.Addr.Port() != 443 {
		t.Errorf("Connect() = %v, %v", c, ok)
	}
	if _, ok := m.Error(); ok {
		t.Error("Error() reports a TLV that was not set")
	}
	if got, want := m.String(), "convert.Message{Info Connect(192.0.2.1:443 options=)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[TLVType]string{
		TypeInfo: "Info", TypeConnect: "Connect", TypeExtendedTCPHeader: "Extended TCP Header",
		TypeSupportedTCPExtensions: "Supported TCP Extensions", TypeCookie: "Cookie", TypeError: "Error",
		0: "TLVType(0)", 191: "TLVType(191)", 192: "Private(192)", 255: "Private(255)",
	} {
		if got := v.String(); got != want {
			t.Errorf("TLVType(%d).String() = %q, want %q", uint8(v), got, want)
		}
	}
	for v, want := range map[ErrorCode]string{
		ErrUnsupportedVersion: "Unsupported Version", ErrMalformedMessage: "Malformed Message",
		ErrUnsupportedMessage: "Unsupported Message", ErrMissingCookie: "Missing Cookie",
		ErrNotAuthorized: "Not Authorized", ErrUnsupportedTCPOption: "Unsupported TCP Option",
		ErrResourceExceeded: "Resource Exceeded", ErrNetworkFailure: "Network Failure",
		ErrConnectionReset: "Connection Reset", ErrDestinationUnreachable: "Destination Unreachable",
		4: "ErrorCode(4)", 200: "ErrorCode(200)",
	} {
		if got := v.String(); got != want {
			t.Errorf("ErrorCode(%d).String() = %q, want %q", uint8(v), got, want)
		}
	}
	if got := ErrMalformedMessage.Error(); got != "convert error 1 (Malformed Message)" {
		t.Errorf("Error() = %q", got)
	}
	if FromClient.String() != "client" || FromConverter.String() != "converter" || Sender(9).String() != "Sender(9)" {
		t.Error("Sender.String")
	}
}
