package atsssie

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wmnsk/go-pfcp/ie"
)

// cmpOpts compares atsss values, which hold netip.Addr.
var cmpOpts = cmpopts.EquateComparable(netip.Addr{})

// suite is the test table of one IE: how to build and parse it, and wire
// bytes written by hand from the figures of TS 29.244, as hex of the whole
// IE (type, length, value; spaces are ignored).
type suite[T any] struct {
	typ   uint16
	build func(T) *ie.IE
	parse func(*ie.IE) (T, error)
	// golden holds canonical encodings: build(v) is exactly hex, and
	// parse(hex) is v.
	golden []row[T]
	// decode holds other valid encodings: spare bits set, trailing octets,
	// values the spec maps, unknown or repeated children. parse(hex) is v.
	decode []row[T]
	// bad holds invalid encodings, of grouped IEs too, that go-pfcp's
	// parser may let through: parse fails with an *IEError of Type blaming,
	// wrapping err.
	bad []badRow
	// infallible: parse has no error to return, so the misuse checks are
	// skipped.
	infallible bool
}

type row[T any] struct {
	name string
	v    T
	hex  string
}

type badRow struct {
	name    string
	hex     string
	blaming uint16
	err     error
}

func (s suite[T]) run(t *testing.T) {
	if !s.infallible {
		t.Run("misuse/nil", func(t *testing.T) {
			_, err := s.parse(nil)
			checkIEError(t, err, s.typ, ErrMissingIE)
		})
		t.Run("misuse/other type", func(t *testing.T) {
			_, err := s.parse(ie.NewRecoveryTimeStamp(time.Unix(0, 0)))
			checkIEError(t, err, ie.RecoveryTimeStamp, ErrUnexpectedIE)
		})
	}
	for _, r := range s.golden {
		t.Run("encode/"+r.name, func(t *testing.T) {
			if got, want := hex.EncodeToString(marshal(t, s.build(r.v))), compact(r.hex); got != want {
				t.Errorf("build(%+v)\n got %s\nwant %s", r.v, got, want)
			}
		})
	}
	for _, r := range slices.Concat(s.golden, s.decode) {
		t.Run("decode/"+r.name, func(t *testing.T) {
			got, err := s.parse(parseHex(t, r.hex))
			if err != nil {
				t.Fatalf("parse(%s): %v", r.hex, err)
			}
			if diff := cmp.Diff(r.v, got, cmpOpts); diff != "" {
				t.Errorf("parse(%s) (-want +got):\n%s", r.hex, diff)
			}
		})
	}
	for _, r := range s.bad {
		t.Run("bad/"+r.name, func(t *testing.T) {
			_, err := s.parse(rawIE(t, r.hex))
			checkIEError(t, err, r.blaming, r.err)
		})
	}
}

// checkIEError checks that err is an *IEError blaming IE typ and wrapping want.
func checkIEError(t *testing.T, err error, typ uint16, want error) {
	t.Helper()
	var e *IEError
	if !errors.As(err, &e) || e.Type != typ || !errors.Is(err, want) {
		t.Errorf("error %v, want an *IEError of IE %d wrapping %q", err, typ, want)
	}
}

// payloads returns the value of every IE of the tables, to seed fuzzing.
func (s suite[T]) payloads(tb testing.TB) [][]byte {
	var out [][]byte
	for _, r := range slices.Concat(s.golden, s.decode) {
		out = append(out, ieBytes(tb, r.hex)[4:])
	}
	for _, r := range s.bad {
		out = append(out, ieBytes(tb, r.hex)[4:])
	}
	return out
}

func compact(s string) string { return strings.ReplaceAll(s, " ", "") }

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(compact(s))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// parseHex decodes an IE with go-pfcp, as the N4 server receives it.
func parseHex(tb testing.TB, s string) *ie.IE {
	tb.Helper()
	i, err := ie.Parse(ieBytes(tb, s))
	if err != nil {
		tb.Fatalf("ie.Parse(%s): %v", s, err)
	}
	return i
}

// rawIE builds an IE from hex without go-pfcp's parser, which rejects some
// malformed grouped IEs before an N4 server could see them.
func rawIE(tb testing.TB, s string) *ie.IE {
	tb.Helper()
	b := ieBytes(tb, s)
	return ie.New(binary.BigEndian.Uint16(b), b[4:])
}

// ieBytes decodes the hex of one whole IE, checking its length field.
func ieBytes(tb testing.TB, s string) []byte {
	tb.Helper()
	b := mustHex(tb, s)
	if len(b) < 4 || int(binary.BigEndian.Uint16(b[2:4])) != len(b)-4 {
		tb.Fatalf("IE %s: the length field does not match the value", s)
	}
	return b
}

func marshal(tb testing.TB, i *ie.IE) []byte {
	tb.Helper()
	b, err := i.Marshal()
	if err != nil {
		tb.Fatalf("marshal IE %d: %v", i.Type, err)
	}
	return b
}

func hexOf(tb testing.TB, i *ie.IE) string { return hex.EncodeToString(marshal(tb, i)) }
