package atsssie

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// reader reads the fields of one IE value in order. The first read past the
// end records an ErrInvalidLength error and makes every later read return
// zero, so a parser checks err once, after its last read. Octets left after
// the last field are ignored: later releases may append fields (TS 29.244
// §8.1.1).
type reader struct {
	typ uint16
	b   []byte // the unread rest of the value
	err error
}

// open returns a reader of the value of i, which must be an IE of type want;
// a nil i is a missing IE.
func open(i *ie.IE, want uint16) (reader, error) {
	switch {
	case i == nil:
		return reader{}, &IEError{Type: want, Err: ErrMissingIE}
	case i.Type != want:
		return reader{}, ieErr(i.Type, ErrUnexpectedIE, "want %s (%d)", ieName(want), want)
	}
	return reader{typ: want, b: i.Payload}, nil
}

// take returns the next n octets, or nil once the value is exhausted.
func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = ieErr(r.typ, ErrInvalidLength, "%s: need %d, have %d octets", field, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// uint reads an n-octet big-endian unsigned integer, 1 <= n <= 4.
func (r *reader) uint(n int, field string) uint32 {
	var x uint32
	for _, c := range r.take(n, field) {
		x = x<<8 | uint32(c)
	}
	return x
}

func (r *reader) u8(field string) uint8 { return uint8(r.uint(1, field)) }

func (r *reader) u16(field string) uint16 { return uint16(r.uint(2, field)) }

// octet5 reads octet 5, the only field, of an IE of type t.
func octet5(i *ie.IE, t uint16, field string) (byte, error) {
	r, err := open(i, t)
	if err != nil {
		return 0, err
	}
	b := r.u8(field)
	return b, r.err
}

// pair reads the IPv4 address when flags has bit v4, then the IPv6 address
// when flags has bit v6: the layout of every address IE of ATSSS.
func (r *reader) pair(flags, v4, v6 byte, name4, name6 string) atsss.AddrPair {
	var p atsss.AddrPair
	if flags&v4 != 0 {
		if b := r.take(4, name4); b != nil {
			p.IPv4 = netip.AddrFrom4([4]byte(b))
		}
	}
	if flags&v6 != 0 {
		if b := r.take(16, name6); b != nil {
			p.IPv6 = netip.AddrFrom16([16]byte(b))
		}
	}
	return p
}

// appendUint appends the n low octets of x, big-endian.
func appendUint(b []byte, x uint32, n int) []byte {
	for k := n - 1; k >= 0; k-- {
		b = append(b, byte(x>>(8*k)))
	}
	return b
}

// ip4 and ip6 return a in the form go-pfcp takes, or nil when a is not an
// address of that family: an address field is written only for a valid
// address of its family.
func ip4(a netip.Addr) net.IP {
	if !a.Is4() {
		return nil
	}
	b := a.As4()
	return b[:]
}

func ip6(a netip.Addr) net.IP {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	return b[:]
}

// children splits the value of grouped IE i, of type want, into its child
// IEs (TS 29.244 §8.1.1). Unlike ie.ParseMultiIEs, it rejects a child whose
// length runs past the end of its parent. A vendor-specific child keeps its
// Enterprise ID in Payload; no parser here reads one.
func children(i *ie.IE, want uint16) ([]*ie.IE, error) {
	r, err := open(i, want)
	if err != nil {
		return nil, err
	}
	var kids []*ie.IE
	for len(r.b) > 0 {
		t, n := r.u16("child IE type"), r.u16("child IE length")
		v := r.take(int(n), "child IE value")
		if r.err != nil {
			return nil, r.err
		}
		kids = append(kids, &ie.IE{Type: t, Length: n, Payload: v})
	}
	return kids, nil
}

// first returns the first IE of type t in ies, or nil: of a repeated IE that
// is not a list, only the first copy counts (TS 29.244 §7.6). Handing the
// nil of an absent mandatory IE to a parser gets ErrMissingIE.
func first(ies []*ie.IE, t uint16) *ie.IE {
	for _, i := range ies {
		if i.Type == t {
			return i
		}
	}
	return nil
}

// within puts the name of grouped IE t in front of the error of a child.
func within(t uint16, err error) error { return fmt.Errorf("%s: %w", ieName(t), err) }
