package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// AppendMessage appends the encoding of m to dst and returns the extended
// slice. TLVs are written in ascending type order, unassigned fields and
// padding as zeros (RFC 8803 §5). It grows dst at most once and allocates
// nothing else.
//
// It refuses, leaving dst as it was, a message that Parse would reject or
// that exceeds MaxLen (1020 bytes, 255 words): a Connect TLV without a valid
// or with a zoned address, Connect options that are not well-formed TCP
// options or that contain EOL or NOP, a Supported TCP Extensions list with
// kind 0, a cookie whose length is not a multiple of 4.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	n, err := m.encodedLen()
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, Version, byte(n/4), Magic>>8, Magic&0xff)
	if m.has&hasInfo != 0 {
		dst = append(dst, byte(TypeInfo), 1, 0, 0)
	}
	if m.has&hasConnect != 0 {
		c := m.connect
		l := align4(connectFixedLen + len(c.Options))
		dst = append(dst, byte(TypeConnect), byte(l/4))
		dst = binary.BigEndian.AppendUint16(dst, c.Addr.Port())
		a := c.Addr.Addr().As16() // IPv4 comes out IPv4-mapped, as §5.2.5 wants
		dst = append(dst, a[:]...)
		dst = append(dst, c.Options...)
		dst = appendZeros(dst, l-connectFixedLen-len(c.Options))
	}
	if m.has&hasExtendedTCPHeader != 0 {
		dst = appendOpaque(dst, TypeExtendedTCPHeader, m.extHdr)
	}
	if m.has&hasSupportedTCPExtensions != 0 {
		dst = appendOpaque(dst, TypeSupportedTCPExtensions, m.kinds)
	}
	if m.has&hasCookie != 0 {
		dst = appendOpaque(dst, TypeCookie, m.cookie)
	}
	if m.has&hasError != 0 {
		v := m.err.Value
		l := errorLen(v)
		dst = append(dst, byte(TypeError), byte(l/4), byte(m.err.Code))
		dst = append(dst, v...)
		dst = appendZeros(dst, l-3-len(v))
	}
	return dst, nil
}

// encodedLen returns the length of m's encoding, or why m cannot be encoded.
func (m *Message) encodedLen() (int, error) {
	n := HeaderLen
	if m.has&hasInfo != 0 {
		n += 4
	}
	if m.has&hasConnect != 0 {
		c := m.connect
		if !c.Addr.IsValid() {
			return 0, errors.New("convert: Connect TLV without a valid address")
		}
		if c.Addr.Addr().Zone() != "" {
			return 0, fmt.Errorf("convert: Connect TLV address %v has a zone, which the TLV cannot carry", c.Addr)
		}
		// What Parse would strip as padding or reject must not go out.
		if o, at, why := splitOptions(c.Options); why != "" {
			return 0, fmt.Errorf("convert: Connect TLV options, byte %d: %s", at, why)
		} else if len(o) != len(c.Options) {
			return 0, errors.New("convert: Connect TLV options end in zeros, which the receiver takes for padding")
		}
		n += align4(connectFixedLen + len(c.Options))
	}
	if m.has&hasExtendedTCPHeader != 0 {
		n += align4(4 + len(m.extHdr))
	}
	if m.has&hasSupportedTCPExtensions != 0 {
		if bytes.IndexByte(m.kinds, 0) >= 0 {
			return 0, errors.New("convert: Supported TCP Extensions TLV lists kind 0, which is padding")
		}
		n += align4(4 + len(m.kinds))
	}
	if m.has&hasCookie != 0 {
		if len(m.cookie)%4 != 0 {
			return 0, fmt.Errorf("convert: cookie of %d bytes, want a multiple of 4", len(m.cookie))
		}
		n += 4 + len(m.cookie)
	}
	if m.has&hasError != 0 {
		n += errorLen(m.err.Value)
	}
	if n > MaxLen {
		return 0, fmt.Errorf("convert: message of %d bytes exceeds %d", n, MaxLen)
	}
	return n, nil
}

// appendOpaque appends a TLV whose value is 16 unassigned bits, then b,
// then zero padding: Extended TCP Header, Supported TCP Extensions, Cookie.
func appendOpaque(dst []byte, t TLVType, b []byte) []byte {
	l := align4(4 + len(b))
	dst = append(dst, byte(t), byte(l/4), 0, 0)
	dst = append(dst, b...)
	return appendZeros(dst, l-4-len(b))
}

// errorLen is the length of an Error TLV with value v: type, length, code,
// and a value of at least one byte (§5.2.8), padded to 32 bits.
func errorLen(v []byte) int { return align4(3 + max(len(v), 1)) }

func align4(n int) int { return (n + 3) &^ 3 }

func appendZeros(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, 0)
	}
	return dst
}
