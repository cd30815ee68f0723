package convert

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestReadMessageOneByteAtATime(t *testing.T) {
	for _, tt := range golden {
		t.Run(tt.name, func(t *testing.T) {
			in := append(hx(tt.hex), "rest"...)
			r := bytes.NewReader(in)
			m, err := ReadMessage(iotest.OneByteReader(r))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.msg, m, cmpMessage); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if r.Len() != len("rest") {
				t.Errorf("left %d bytes, want 4", r.Len())
			}
		})
	}
}

func TestReadMessageEOF(t *testing.T) {
	if _, err := ReadMessage(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF itself", err)
	}
	for _, tt := range golden {
		in := hx(tt.hex)
		for i := 1; i < len(in); i++ {
			_, err := ReadMessage(bytes.NewReader(in[:i]))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: %v, want io.ErrUnexpectedEOF", tt.name, i, err)
			}
		}
	}
}

func TestReadMessageReaderError(t *testing.T) {
	boom := errors.New("boom")
	tests := map[string]io.Reader{
		"in the header": iotest.ErrReader(boom),
		"in the body":   io.MultiReader(bytes.NewReader(hx("01 06 22 63 0a")), iotest.ErrReader(boom)),
	}
	for name, r := range tests {
		if _, err := ReadMessage(r); !errors.Is(err, boom) || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want boom", name, err)
		}
	}
}

func TestReadMessageUnsupportedVersionSkips(t *testing.T) {
	// A version 2 message of 3 words, then application data: the whole
	// message is consumed so the stream stays in step.
	r := bytes.NewReader(hx("02 03 22 63  aa bb cc dd  ee ff 00 11  47 45 54"))
	_, err := ReadMessage(r)
	var de *DecodeError
	if !errors.As(err, &de) || de.Code != ErrUnsupportedVersion {
		t.Fatalf("ReadMessage = %v, want Unsupported Version", err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "GET" {
		t.Errorf("left %q, want GET", rest)
	}
}

func TestReadMessageOwnsItsBytes(t *testing.T) {
	dst := netip.MustParseAddrPort("192.0.2.1:443")
	var in []byte
	in, _ = AppendMessage(in, ConnectMessage(dst, hx("020405b4")))
	in, _ = AppendMessage(in, ConnectMessage(dst, hx("030307")))
	r := bytes.NewReader(in)
	a, err := ReadMessage(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadMessage(r)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Connect()
	cb, _ := b.Connect()
	if !bytes.Equal(ca.Options, hx("020405b4")) || !bytes.Equal(cb.Options, hx("030307")) {
		t.Errorf("options %x and %x: the first message shares the read buffer", ca.Options, cb.Options)
	}
	if _, err := ReadMessage(r); err != io.EOF {
		t.Errorf("third read: %v, want io.EOF", err)
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers at random under the race detector")
	}
	dst := netip.MustParseAddrPort("192.0.2.1:443")
	plain, _ := AppendMessage(nil, ConnectMessage(dst, nil))
	withOpts, _ := AppendMessage(nil, ConnectMessage(dst, hx("020405b4 0402 0303 07")))
	r := bytes.NewReader(nil)
	buf := make([]byte, 0, MaxLen)
	m := ConnectMessage(dst, hx("020405b4"))
	tests := []struct {
		name string
		max  float64
		f    func()
	}{
		{"ReadMessage connect", 0, func() { r.Reset(plain); ReadMessage(r) }},
		{"ReadMessage connect with options", 1, func() { r.Reset(withOpts); ReadMessage(r) }},
		{"Parse connect with options", 0, func() { Parse(withOpts) }},
		{"AppendMessage", 0, func() { AppendMessage(buf[:0], m) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.f); got > tt.max {
			t.Errorf("%s: %v allocations, want at most %v", tt.name, got, tt.max)
		}
	}
}

func BenchmarkReadMessageConnect(b *testing.B) {
	msg, _ := AppendMessage(nil, ConnectMessage(netip.MustParseAddrPort("192.0.2.1:443"), nil))
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(msg)
		if _, err := ReadMessage(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadMessageConnectOptions(b *testing.B) {
	msg, _ := AppendMessage(nil, ConnectMessage(netip.MustParseAddrPort("192.0.2.1:443"), hx("020405b4 0402 0303 07")))
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(msg)
		if _, err := ReadMessage(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseConnect(b *testing.B) {
	msg, _ := AppendMessage(nil, ConnectMessage(netip.MustParseAddrPort("192.0.2.1:443"), nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessageConnect(b *testing.B) {
	m := ConnectMessage(netip.MustParseAddrPort("[2001:db8::1]:443"), hx("020405b4"))
	buf := make([]byte, 0, MaxLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendMessage(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}
