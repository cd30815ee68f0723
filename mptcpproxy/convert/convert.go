package convert

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Fixed header values and size bounds (RFC 8803 §5.1).
const (
	// Version is the only protocol version defined (§5.1); version 0 is
	// reserved.
	Version = 1
	// Magic is the Magic Number field, 0x2263 (8803 in decimal).
	Magic = 0x2263
	// HeaderLen is the length of the fixed header in bytes.
	HeaderLen = 4
	// MaxLen is the longest message: Total Length is an 8-bit count of
	// 32-bit words that includes the header.
	MaxLen = 255 * 4
)

// TLVType is the Type field of a Convert TLV (RFC 8803 §5.2.1, IANA
// "Convert TLVs").
type TLVType uint8

// TLV types defined by RFC 8803 §5.2.
const (
	TypeInfo                   TLVType = 1  // §5.2.3: the client asks what the converter supports
	TypeConnect                TLVType = 10 // §5.2.5: the server the client wants
	TypeExtendedTCPHeader      TLVType = 20 // §5.2.6: the TCP options of the server's SYN+ACK
	TypeSupportedTCPExtensions TLVType = 21 // §5.2.4: the option kinds the converter supports
	TypeCookie                 TLVType = 22 // §5.2.7: opaque proof the client is reachable
	TypeError                  TLVType = 30 // §5.2.8: why the converter refused

	// TypePrivateFirst is the first of the types reserved for private use
	// (192-255, IANA "Convert TLVs" registry). This package defines none of them.
	TypePrivateFirst TLVType = 192
)

// IsPrivate reports whether t is in the private-use range 192-255.
func (t TLVType) IsPrivate() bool { return t >= TypePrivateFirst }

// String returns the IANA name of t, or its number.
func (t TLVType) String() string {
	switch t {
	case TypeInfo:
		return "Info"
	case TypeConnect:
		return "Connect"
	case TypeExtendedTCPHeader:
		return "Extended TCP Header"
	case TypeSupportedTCPExtensions:
		return "Supported TCP Extensions"
	case TypeCookie:
		return "Cookie"
	case TypeError:
		return "Error"
	}
	if t.IsPrivate() {
		return "Private(" + strconv.Itoa(int(t)) + ")"
	}
	return "TLVType(" + strconv.Itoa(int(t)) + ")"
}

// ErrorCode is the Error Code field of an Error TLV (RFC 8803 §5.2.8, IANA
// "Convert Errors"). It implements error, as syscall.Errno does, so that a
// *DecodeError unwraps to its code: errors.Is(err, ErrMalformedMessage).
type ErrorCode uint8

// Error codes of RFC 8803 §5.2.8. The range says where the error arose:
// 0-31 message validation, 32-63 the client's request, 64-95 the converter,
// 96-127 the server. What the Error TLV's value carries is given per code.
const (
	// ErrUnsupportedVersion: the fixed header's version is not supported.
	// Value: the versions the sender supports, one byte each (here: 1).
	ErrUnsupportedVersion ErrorCode = 0
	// ErrMalformedMessage: the message could not be parsed and validated.
	// Value: one zero byte, then the received message, so that the echo
	// keeps its 32-bit alignment.
	ErrMalformedMessage ErrorCode = 1
	// ErrUnsupportedMessage: the message carries a TLV the receiver does
	// not support. Value: as for ErrMalformedMessage.
	ErrUnsupportedMessage ErrorCode = 2
	// ErrMissingCookie: the converter requires a Cookie TLV. Value: one
	// zero byte, then the cookie the client must send next time.
	ErrMissingCookie ErrorCode = 3
	// ErrNotAuthorized: the converter refuses this client or destination.
	// Value: zero.
	ErrNotAuthorized ErrorCode = 32
	// ErrUnsupportedTCPOption: an option of the Connect TLV cannot be used.
	// Value: the kinds of the unsupported options, one byte each.
	ErrUnsupportedTCPOption ErrorCode = 33
	// ErrResourceExceeded: the converter lacks resources. Value: seconds
	// the client should wait before trying again; 0 means at least 30.
	ErrResourceExceeded ErrorCode = 64
	// ErrNetworkFailure: the converter cannot relay. Value: as for
	// ErrResourceExceeded.
	ErrNetworkFailure ErrorCode = 65
	// ErrConnectionReset: the server answered with a RST. Value: zero.
	ErrConnectionReset ErrorCode = 96
	// ErrDestinationUnreachable: an ICMP destination unreachable came back.
	// Value: the ICMP Code field.
	ErrDestinationUnreachable ErrorCode = 97
)

// String returns the IANA name of c, or its number.
func (c ErrorCode) String() string {
	switch c {
	case ErrUnsupportedVersion:
		return "Unsupported Version"
	case ErrMalformedMessage:
		return "Malformed Message"
	case ErrUnsupportedMessage:
		return "Unsupported Message"
	case ErrMissingCookie:
		return "Missing Cookie"
	case ErrNotAuthorized:
		return "Not Authorized"
	case ErrUnsupportedTCPOption:
		return "Unsupported TCP Option"
	case ErrResourceExceeded:
		return "Resource Exceeded"
	case ErrNetworkFailure:
		return "Network Failure"
	case ErrConnectionReset:
		return "Connection Reset"
	case ErrDestinationUnreachable:
		return "Destination Unreachable"
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// Error makes an ErrorCode usable as an error value.
func (c ErrorCode) Error() string {
	return "convert error " + strconv.Itoa(int(c)) + " (" + c.String() + ")"
}

// Connect is the value of a Connect TLV (RFC 8803 §5.2.5).
type Connect struct {
	// Addr is the server the client wants to reach. The wire carries IPv4
	// as an IPv4-mapped IPv6 address; decoding unmaps it, so an IPv4
	// server is always Is4.
	Addr netip.AddrPort
	// Options are TCP options, kind and length included and without the
	// zero padding, that the client asks the converter to put in its SYN
	// to the server. EOL and NOP are not allowed (§5.2.5).
	Options []byte
}

// Error is the value of an Error TLV (RFC 8803 §5.2.8).
type Error struct {
	Code ErrorCode
	// Value is what follows the code; its meaning depends on Code (see the
	// ErrorCode constants). Decoding returns every byte up to the end of
	// the TLV, zero padding included; encoding pads with zeros, and writes
	// one zero byte when Value is empty.
	Value []byte
}

// tlvSet records which TLVs a Message carries, one bit per known type.
type tlvSet uint8

const (
	hasInfo tlvSet = 1 << iota
	hasConnect
	hasExtendedTCPHeader
	hasSupportedTCPExtensions
	hasCookie
	hasError
)

// bit returns the tlvSet bit of a known type, or 0.
func bit(t TLVType) tlvSet {
	switch t {
	case TypeInfo:
		return hasInfo
	case TypeConnect:
		return hasConnect
	case TypeExtendedTCPHeader:
		return hasExtendedTCPHeader
	case TypeSupportedTCPExtensions:
		return hasSupportedTCPExtensions
	case TypeCookie:
		return hasCookie
	case TypeError:
		return hasError
	}
	return 0
}

// Message is one Convert message: the fixed header and at most one TLV of
// each known type. The zero Message is valid and empty (a header alone, as
// a converter may answer). Accessors return slices that alias the message;
// setters keep the slices they are given. A Message is a value: safe for
// concurrent reads, not for a read concurrent with a setter.
type Message struct {
	has     tlvSet
	connect Connect
	extHdr  []byte
	kinds   []byte
	cookie  []byte
	err     Error
}

// ConnectMessage returns the message a client sends in its SYN to reach dst
// through a converter, asking it to use the TCP options opts (nil for none).
func ConnectMessage(dst netip.AddrPort, opts []byte) Message {
	var m Message
	m.SetConnect(Connect{Addr: dst, Options: opts})
	return m
}

// ExtendedTCPHeaderMessage returns the converter's answer once the server
// accepted: the TCP options of the server's SYN+ACK (§5.2.6).
func ExtendedTCPHeaderMessage(opts []byte) Message {
	var m Message
	m.SetExtendedTCPHeader(opts)
	return m
}

// ErrorMessage returns the converter's refusal with code and its value
// (nil for a zero value); see the ErrorCode constants for what value holds.
// The converter closes the connection after sending it (§5.2.8).
func ErrorMessage(code ErrorCode, value []byte) Message {
	var m Message
	m.SetError(Error{Code: code, Value: value})
	return m
}

// Has reports whether m carries a TLV of type t.
func (m Message) Has(t TLVType) bool {
	b := bit(t)
	return b != 0 && m.has&b != 0
}

// Empty reports whether m carries no TLV.
func (m Message) Empty() bool { return m.has == 0 }

// Info reports whether m carries an Info TLV (§5.2.3).
func (m Message) Info() bool { return m.has&hasInfo != 0 }

// Connect returns the Connect TLV (§5.2.5), if m has one.
func (m Message) Connect() (Connect, bool) { return m.connect, m.has&hasConnect != 0 }

// ExtendedTCPHeader returns the TCP options of the Extended TCP Header TLV
// (§5.2.6), if m has one. They are returned as received, zero padding
// included: they are a copy of a TCP header's options, where zeros (EOL)
// can be meaningful.
func (m Message) ExtendedTCPHeader() ([]byte, bool) {
	return m.extHdr, m.has&hasExtendedTCPHeader != 0
}

// SupportedTCPExtensions returns the TCP option kinds of the Supported TCP
// Extensions TLV (§5.2.4), without padding, if m has one.
func (m Message) SupportedTCPExtensions() ([]byte, bool) {
	return m.kinds, m.has&hasSupportedTCPExtensions != 0
}

// Cookie returns the opaque cookie of the Cookie TLV (§5.2.7), if m has one.
func (m Message) Cookie() ([]byte, bool) { return m.cookie, m.has&hasCookie != 0 }

// Error returns the Error TLV (§5.2.8), if m has one.
func (m Message) Error() (Error, bool) { return m.err, m.has&hasError != 0 }

// SetInfo adds an Info TLV: the client asks for Supported TCP Extensions.
func (m *Message) SetInfo() { m.has |= hasInfo }

// SetConnect sets the Connect TLV.
func (m *Message) SetConnect(c Connect) { m.connect, m.has = c, m.has|hasConnect }

// SetExtendedTCPHeader sets the Extended TCP Header TLV to the TCP options
// opts; AppendMessage pads them with zeros to 32 bits.
func (m *Message) SetExtendedTCPHeader(opts []byte) {
	m.extHdr, m.has = opts, m.has|hasExtendedTCPHeader
}

// SetSupportedTCPExtensions sets the Supported TCP Extensions TLV to the
// option kinds; kind 0 cannot be listed, as zero is the padding.
func (m *Message) SetSupportedTCPExtensions(kinds []byte) {
	m.kinds, m.has = kinds, m.has|hasSupportedTCPExtensions
}

// SetCookie sets the Cookie TLV; its length must be a multiple of 4, as
// the cookie fills whole 32-bit words (§5.2.7).
func (m *Message) SetCookie(cookie []byte) { m.cookie, m.has = cookie, m.has|hasCookie }

// SetError sets the Error TLV.
func (m *Message) SetError(e Error) { m.err, m.has = e, m.has|hasError }

// String describes m for logs and test failures, TLVs in wire order.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString("convert.Message{")
	sep := ""
	item := func(format string, args ...any) {
		b.WriteString(sep)
		fmt.Fprintf(&b, format, args...)
		sep = " "
	}
	if m.Info() {
		item("Info")
	}
	if c, ok := m.Connect(); ok {
		item("Connect(%v options=%x)", c.Addr, c.Options)
	}
	if o, ok := m.ExtendedTCPHeader(); ok {
		item("ExtendedTCPHeader(%x)", o)
	}
	if k, ok := m.SupportedTCPExtensions(); ok {
		item("SupportedTCPExtensions(%v)", k)
	}
	if c, ok := m.Cookie(); ok {
		item("Cookie(%x)", c)
	}
	if e, ok := m.Error(); ok {
		item("Error(%s value=%x)", e.Code.String(), e.Value)
	}
	b.WriteString("}")
	return b.String()
}
