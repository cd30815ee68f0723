package pfcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/wmnsk/go-pfcp/ie"
)

// The helpers below read the children of a grouped IE. TS 29.244 §7.6.1:
// unknown IEs are ignored, and of a repeated IE that is not a list only the
// first copy counts, which is what first returns.

func first(ies []*ie.IE, t uint16) *ie.IE {
	for _, i := range ies {
		if i.Type == t {
			return i
		}
	}
	return nil
}

func all(ies []*ie.IE, t uint16) []*ie.IE {
	var out []*ie.IE
	for _, i := range ies {
		if i.Type == t {
			out = append(out, i)
		}
	}
	return out
}

// errGoPFCPPanic marks an IE on which go-pfcp panicked.
var errGoPFCPPanic = errors.New("malformed IE (the decoder failed on it)")

// safely calls a go-pfcp accessor on network input. go-pfcp v0.0.24 indexes
// past the end of some IEs instead of returning an error (found by
// FuzzDecodeRequest: OuterHeaderCreationFields.UnmarshalBinary on a short
// IE); the panic is turned into an error, answered as an invalid length.
func safely[T any](i *ie.IE, get func(*ie.IE) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errGoPFCPPanic, r)
		}
	}()
	return get(i)
}

// mandatory decodes the first IE of type t with get; absent is Cause 66.
func mandatory[T any](ies []*ie.IE, t uint16, where string, get func(*ie.IE) (T, error)) (T, error) {
	var zero T
	i := first(ies, t)
	if i == nil {
		return zero, missingIE(t, where)
	}
	v, err := safely(i, get)
	if err != nil {
		return zero, badIE(t, where, err)
	}
	return v, nil
}

// optional decodes the first IE of type t with get, if present.
func optional[T any](ies []*ie.IE, t uint16, where string, get func(*ie.IE) (T, error)) (v T, ok bool, err error) {
	i := first(ies, t)
	if i == nil {
		return v, false, nil
	}
	v, err = safely(i, get)
	if err != nil {
		return v, false, badIE(t, where, err)
	}
	return v, true, nil
}

// ids decodes every IE of type t (a list IE such as URR ID) with get.
func ids[T any](ies []*ie.IE, t uint16, where string, get func(*ie.IE) (T, error)) ([]T, error) {
	var out []T
	for _, i := range all(ies, t) {
		v, err := safely(i, get)
		if err != nil {
			return nil, badIE(t, where, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// children returns the children of a grouped IE. go-pfcp parses them when
// it parses the message, so a grouped IE that reached here is well formed.
func children(i *ie.IE) []*ie.IE { return i.ChildIEs }

func addrOf(ip net.IP) netip.Addr {
	if ip == nil {
		return netip.Addr{}
	}
	if v4 := ip.To4(); v4 != nil {
		a, _ := netip.AddrFromSlice(v4)
		return a
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}

func ipOf(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func be(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}
