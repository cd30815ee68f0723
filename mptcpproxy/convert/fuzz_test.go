package convert

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// canonical is what AppendMessage must produce for msg, a message Parse
// accepted: its TLVs in ascending type order, unassigned bits cleared. It
// walks the TLVs on its own, as an oracle independent of the decoder.
func canonical(msg []byte) []byte {
	var tlvs [][]byte
	for off := HeaderLen; off < len(msg); {
		l := int(msg[off+1]) * 4
		b := bytes.Clone(msg[off : off+l])
		switch TLVType(b[0]) {
		case TypeInfo, TypeExtendedTCPHeader, TypeSupportedTCPExtensions, TypeCookie:
			b[2], b[3] = 0, 0
		}
		tlvs = append(tlvs, b)
		off += l
	}
	slices.SortStableFunc(tlvs, func(a, b []byte) int { return int(a[0]) - int(b[0]) })
	return slices.Concat(append([][]byte{msg[:HeaderLen]}, tlvs...)...)
}

// FuzzParse checks, for any input: no panic; Parse consumes no more than it
// was given; ReadMessage agrees with Parse and consumes the same bytes; an
// accepted message re-encodes to its canonical form and parses back equal;
// every DecodeError, from Parse or from Check, yields a reply that encodes.
func FuzzParse(f *testing.F) {
	for _, g := range golden {
		f.Add(hx(g.hex))
		f.Add(append(hx(g.hex), "GET / HTTP/1.1"...))
	}
	for _, c := range malformed {
		f.Add(hx(c.hex))
	}
	f.Add(hx("01 08 22 63  1e 01 00 00  01 01 00 00  0a 05 00 50  00000000 00000000 00000000 00000001"))
	f.Add(hx("01 06 22 63  01 01 ff ff  14 01 12 34  15 02 ab cd 1e 00 00 00  16 01 80 00"))

	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := Parse(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Parse consumed %d of %d bytes", n, len(b))
		}
		r := bytes.NewReader(b)
		rm, rerr := ReadMessage(r)
		consumed := len(b) - r.Len()

		var de *DecodeError
		switch {
		case err == nil:
			if n < HeaderLen || n%4 != 0 {
				t.Fatalf("accepted a message of %d bytes", n)
			}
			if rerr != nil || consumed != n {
				t.Fatalf("ReadMessage = %v after %d bytes; Parse accepted %d", rerr, consumed, n)
			}
			if d := cmp.Diff(m, rm, cmpMessage); d != "" {
				t.Fatalf("ReadMessage and Parse differ (-Parse +ReadMessage):\n%s", d)
			}
			enc, err := AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("re-encode %v: %v", m, err)
			}
			if want := canonical(b[:n]); !bytes.Equal(enc, want) {
				t.Fatalf("re-encoded %x\nwant      %x", enc, want)
			}
			m2, n2, err := Parse(enc)
			if err != nil || n2 != len(enc) {
				t.Fatalf("re-parse: %d, %v", n2, err)
			}
			if d := cmp.Diff(m, m2, cmpMessage); d != "" {
				t.Fatalf("re-parse differs (-first +second):\n%s", d)
			}
			for _, from := range []Sender{FromClient, FromConverter} {
				if err := m.Check(from); err != nil {
					var cde *DecodeError
					if !errors.As(err, &cde) {
						t.Fatalf("Check(%v) = %v, not a DecodeError", from, err)
					}
					checkReply(t, cde, enc)
				}
			}
		case errors.As(err, &de):
			var rde *DecodeError
			if !errors.As(rerr, &rde) || rde.Code != de.Code || rde.Offset != de.Offset {
				t.Fatalf("ReadMessage = %v; Parse = %v", rerr, err)
			}
			if consumed != n {
				t.Fatalf("ReadMessage consumed %d, Parse says the message is %d bytes", consumed, n)
			}
			if de.Offset < 0 || de.Offset >= n {
				t.Fatalf("offset %d outside the message of %d bytes", de.Offset, n)
			}
			checkReply(t, de, b[:n])
		case errors.Is(err, io.ErrUnexpectedEOF):
			if n != 0 {
				t.Fatalf("truncated input, consumed %d", n)
			}
			if !errors.Is(rerr, io.ErrUnexpectedEOF) && !(len(b) == 0 && rerr == io.EOF) {
				t.Fatalf("ReadMessage = %v; Parse = %v", rerr, err)
			}
		default:
			t.Fatalf("Parse error %v of no expected kind", err)
		}
	})
}
