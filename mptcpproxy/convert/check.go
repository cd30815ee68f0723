package convert

import (
	"fmt"
	"net/netip"
)

// Sender is the end of a Convert connection that wrote a message. The two
// directions carry different TLVs (RFC 8803 §5.2).
type Sender uint8

const (
	// FromClient is the client's message, at the start of its SYN payload.
	FromClient Sender = iota + 1
	// FromConverter is the converter's message, at the start of its bytes
	// to the client.
	FromConverter
)

func (s Sender) String() string {
	switch s {
	case FromClient:
		return "client"
	case FromConverter:
		return "converter"
	}
	return fmt.Sprintf("Sender(%d)", uint8(s))
}

// Check applies the rules of RFC 8803 that depend on who sent m, after
// Parse or ReadMessage checked its syntax. It returns nil or a *DecodeError
// whose Code and Value the receiver answers with.
//
// From a client (§5.2.3, §5.2.5, §5.2.7): only Info, Connect and Cookie
// TLVs; others are Unsupported Message. At least a Connect or an Info TLV,
// else the message asks for nothing: Malformed Message. The Connect address
// must not be multicast, broadcast or loopback (§5.2.5, RFC 6890), nor
// unspecified, which Linux connects to the local host as loopback; the RFC
// names no Error code for that, we answer Malformed Message.
//
// From a converter (§5.2.4, §5.2.6, §5.2.8): only Supported TCP Extensions,
// Extended TCP Header and Error TLVs, else Unsupported Message; the message
// may be empty. Only the outgoing (client-initiated) mode is supported, as
// 3GPP uses it (TS 29.244 Annex E.2.1).
func (m Message) Check(from Sender) error {
	var allowed tlvSet
	switch from {
	case FromClient:
		allowed = hasInfo | hasConnect | hasCookie
	case FromConverter:
		allowed = hasExtendedTCPHeader | hasSupportedTCPExtensions | hasError
	default:
		return fmt.Errorf("convert: check a message from unknown %v", from)
	}
	if extra := m.has &^ allowed; extra != 0 {
		for _, t := range [...]TLVType{TypeInfo, TypeConnect, TypeExtendedTCPHeader,
			TypeSupportedTCPExtensions, TypeCookie, TypeError} {
			if extra&bit(t) != 0 {
				return m.checkError(ErrUnsupportedMessage, "%v TLV in a message from the %v", t, from)
			}
		}
	}
	if from != FromClient {
		return nil
	}
	if m.has&(hasConnect|hasInfo) == 0 {
		return m.checkError(ErrMalformedMessage, "client message with neither a Connect nor an Info TLV")
	}
	if c, ok := m.Connect(); ok {
		a := c.Addr.Addr().Unmap()
		switch {
		case !a.IsValid():
			return m.checkError(ErrMalformedMessage, "Connect TLV without an address")
		case a.IsMulticast(), a.IsLoopback(), a.IsUnspecified(), a == limitedBroadcast:
			return m.checkError(ErrMalformedMessage, "Connect TLV to %v, which must not be a destination", a)
		}
	}
	return nil
}

// limitedBroadcast is the one broadcast address a converter can recognise
// without knowing the destination's subnet (RFC 6890 §2.2.2).
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// checkError is a DecodeError about m as a whole. The echo in its value is
// m's canonical encoding, which has the length of what was received.
func (m Message) checkError(code ErrorCode, format string, args ...any) *DecodeError {
	b, err := AppendMessage(nil, m)
	if err != nil {
		b = nil
	}
	return newDecodeError(code, b, 0, format, args...)
}
