package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
)

// DecodeError is a message that breaks RFC 8803. Code is the Error code
// the receiver answers with (§5.2.8) and Value the Error TLV's value that
// goes with it, ready for ErrorMessage(Code, Value): the supported version
// for ErrUnsupportedVersion, an echo of the message for ErrMalformedMessage
// and ErrUnsupportedMessage. It unwraps to Code.
type DecodeError struct {
	Code  ErrorCode
	Value []byte
	// Offset is the byte offset, from the start of the message, of the
	// field at fault; 0 when the fault is the message as a whole.
	Offset int
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("convert: %s at byte %d: %s", e.Code.String(), e.Offset, e.Reason)
}

// Unwrap returns e.Code, so that errors.Is(err, ErrMalformedMessage) works.
func (e *DecodeError) Unwrap() error { return e.Code }

// maxEcho is the longest echo of a received message that fits in an Error
// TLV: the message header, the TLV's type, length and code, and the one
// zero byte that keeps the echo 32-bit aligned leave 1012 bytes.
const maxEcho = MaxLen - HeaderLen - 3 - 1

// newDecodeError builds a DecodeError about msg, the message as received,
// with the Error value RFC 8803 §5.2.8 prescribes for code.
func newDecodeError(code ErrorCode, msg []byte, off int, format string, args ...any) *DecodeError {
	e := &DecodeError{Code: code, Offset: off, Reason: fmt.Sprintf(format, args...)}
	switch code {
	case ErrUnsupportedVersion:
		// §5.2.8: the value lists the versions the receiver supports.
		e.Value = []byte{Version}
	case ErrMalformedMessage, ErrUnsupportedMessage:
		// §5.2.8: the value echoes the message, shifted by one byte to
		// keep its alignment. The RFC does not say what to do when the
		// echo cannot fit (a message of more than 1012 bytes): we keep its
		// head.
		msg = msg[:min(len(msg), maxEcho)]
		e.Value = make([]byte, 1+len(msg))
		copy(e.Value[1:], msg)
	}
	return e
}

// Parse decodes the Convert message at the start of b and returns it with
// the number of bytes it occupies; the bytes after it are application data.
// The Message's slices alias b.
//
// A b too short for the header, or for the Total Length the header gives,
// is an error wrapping io.ErrUnexpectedEOF, with n = 0. A message that
// breaks RFC 8803 is a *DecodeError, with n the length of the message when
// its header could be trusted (so a caller can skip it) and 4 otherwise.
// Parse never panics and never reads past b.
func Parse(b []byte) (m Message, n int, err error) {
	if len(b) < HeaderLen {
		return Message{}, 0, fmt.Errorf("convert header: %w", io.ErrUnexpectedEOF)
	}
	if err := checkMagic(b); err != nil {
		return Message{}, HeaderLen, err
	}
	n = max(msgLen(b), HeaderLen)
	if len(b) < n {
		return Message{}, 0, fmt.Errorf("convert message of %d bytes: %w", n, io.ErrUnexpectedEOF)
	}
	m, err = decode(b[:n], false)
	return m, n, err
}

// bufPool holds ReadMessage's buffers. A buffer handed to an io.Reader
// always escapes to the heap; the pool makes reading a message cost no
// allocation. decode copies every field out before the buffer goes back.
var bufPool = sync.Pool{New: func() any { return new([MaxLen]byte) }}

// ReadMessage reads exactly one Convert message from r: the 4-byte header,
// then the rest of the Total Length it gives, and not one byte more, since
// what follows is application data. It reads a whole message even when it
// then reports a *DecodeError, except after a bad Magic Number, where it
// stops after the header: the length of something that is not a Convert
// message cannot be trusted.
//
// io.EOF before the first byte is returned as is; a stream that ends inside
// the message is an error wrapping io.ErrUnexpectedEOF. The Message owns its
// slices. ReadMessage is safe for concurrent use on different readers.
func ReadMessage(r io.Reader) (Message, error) {
	p := bufPool.Get().(*[MaxLen]byte)
	defer bufPool.Put(p)
	if _, err := io.ReadFull(r, p[:HeaderLen]); err != nil {
		if err == io.EOF {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("read convert header: %w", err)
	}
	if err := checkMagic(p[:]); err != nil {
		return Message{}, err
	}
	n := max(msgLen(p[:]), HeaderLen)
	if _, err := io.ReadFull(r, p[HeaderLen:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, fmt.Errorf("read convert message of %d bytes: %w", n, err)
	}
	return decode(p[:n], true)
}

// checkMagic rejects a header whose Magic Number is not 0x2263 (§5.1). It
// is checked before the version: it tells a Convert message from other
// bytes, and the version only means something in a Convert message.
func checkMagic(h []byte) error {
	if magic := binary.BigEndian.Uint16(h[2:4]); magic != Magic {
		return newDecodeError(ErrMalformedMessage, h[:HeaderLen], 2,
			"magic number %#04x, want %#04x", magic, Magic)
	}
	return nil
}

// msgLen returns the Total Length of the header h in bytes.
func msgLen(h []byte) int { return int(h[1]) * 4 }

// decode decodes msg, one whole message whose Magic Number is good. With
// own set, the Message gets copies of msg's bytes instead of aliases.
func decode(msg []byte, own bool) (Message, error) {
	// §5.1: a receiver answers an unknown version with Unsupported
	// Version; version 0 is reserved and never valid.
	if msg[0] != Version {
		return Message{}, newDecodeError(ErrUnsupportedVersion, msg, 0,
			"version %d, want %d", msg[0], Version)
	}
	// §5.1: a Total Length of zero is invalid (it cannot even cover the
	// header); the connection must be reset.
	if msg[1] == 0 {
		return Message{}, newDecodeError(ErrMalformedMessage, msg, 1, "total length 0")
	}
	var m Message
	// Every TLV is a whole number of words (§5.2.1), so after the header
	// the message splits into TLVs with nothing left over, and at least
	// one word remains at the top of each round.
	for off := HeaderLen; off < len(msg); {
		t, l := TLVType(msg[off]), int(msg[off+1])*4
		if l == 0 {
			// The length includes the TLV's own header; 0 is impossible,
			// and a trailing zero word (garbage) lands here too.
			return Message{}, newDecodeError(ErrMalformedMessage, msg, off+1,
				"%v TLV of length 0", t)
		}
		if off+l > len(msg) {
			return Message{}, newDecodeError(ErrMalformedMessage, msg, off+1,
				"%v TLV of %d bytes overruns the message of %d", t, l, len(msg))
		}
		b := bit(t)
		if b == 0 {
			// §5.2.8: errors 0-31 answer invalid messages, "including
			// valid messages but with invalid or unknown TLVs"; a TLV
			// type we do not support is Unsupported Message.
			return Message{}, newDecodeError(ErrUnsupportedMessage, msg, off,
				"TLV type %d is not supported", uint8(t))
		}
		if m.has&b != 0 {
			// The RFC gives no meaning to a repeated TLV (two Connects
			// would name two servers for one connection). Our choice:
			// Malformed Message.
			return Message{}, newDecodeError(ErrMalformedMessage, msg, off,
				"second %v TLV", t)
		}
		if at, why := m.decodeValue(t, msg[off+2:off+l], own); why != "" {
			return Message{}, newDecodeError(ErrMalformedMessage, msg, off+2+at,
				"%v TLV: %s", t, why)
		}
		m.has |= b
		off += l
	}
	return m, nil
}

// connectFixedLen is the Connect TLV without options: type, length, port
// and a 128-bit address (§5.2.5).
const connectFixedLen = 2 + 2 + 16

// decodeValue stores into m the value v of a TLV of known type t: the bytes
// after its Type and Length fields. It returns why v is malformed, and the
// offset within v of the fault, or "" when it is well formed.
func (m *Message) decodeValue(t TLVType, v []byte, own bool) (at int, why string) {
	switch t {
	case TypeInfo:
		// §5.2.3: the Info TLV is exactly one word; its 16 bits after
		// the length are unassigned, ignored on receipt.
		if len(v) != 2 {
			return -1, fmt.Sprintf("length %d words, want 1", (len(v)+2)/4)
		}
	case TypeConnect:
		// §5.2.5: port, then the address as IPv6 (IPv4 mapped, RFC 4291
		// §2.5.5.2), then optional TCP options padded to 32 bits.
		if len(v) < connectFixedLen-2 {
			return -1, fmt.Sprintf("length %d words, want at least %d", (len(v)+2)/4, connectFixedLen/4)
		}
		port := binary.BigEndian.Uint16(v)
		addr := netip.AddrFrom16([16]byte(v[2:18])).Unmap()
		opts, at, why := splitOptions(v[18:])
		if why != "" {
			return 18 + at, why
		}
		m.connect = Connect{Addr: netip.AddrPortFrom(addr, port), Options: clone(opts, own)}
	case TypeExtendedTCPHeader:
		// §5.2.6: 16 unassigned bits (ignored), then the TCP options of
		// the server's SYN+ACK, zero padded. Kept as received: EOL and
		// NOP are legitimate there, so the padding cannot be told apart.
		m.extHdr = clone(v[2:], own)
	case TypeSupportedTCPExtensions:
		// §5.2.4: 16 unassigned bits (ignored), then one byte per option
		// kind, zero padded. Kind 0 (EOL) is no extension, so zeros can
		// only be padding, and padding only reaches the next 32-bit
		// boundary: more than 3 zeros, or a zero before a kind, is
		// malformed.
		k := v[2:]
		end := len(k)
		for end > 0 && k[end-1] == 0 {
			end--
		}
		if len(k)-end > 3 {
			return 2 + end, "a whole word of padding after the option kinds"
		}
		if i := bytes.IndexByte(k[:end], 0); i >= 0 {
			return 2 + i, "option kind 0 in the list"
		}
		m.kinds = clone(k[:end], own)
	case TypeCookie:
		// §5.2.7: 16 unassigned bits (ignored), then the opaque cookie.
		m.cookie = clone(v[2:], own)
	case TypeError:
		// §5.2.8: the code, then a value of at least 8 bits whose meaning
		// depends on the code; kept whole, padding included.
		m.err = Error{Code: ErrorCode(v[0]), Value: clone(v[1:], own)}
	}
	return 0, ""
}

// splitOptions splits the TCP options field of a Connect TLV into the
// options and their zero padding (§5.2.5): each option is kind, length (at
// least 2) and value; EOL (0) and NOP (1) must not appear; zeros pad the
// field to the next 32-bit boundary only. It returns the options, or why
// and where (offset in b) b is malformed.
func splitOptions(b []byte) (opts []byte, at int, why string) {
	for i := 0; i < len(b); {
		switch kind := b[i]; {
		case kind == 0:
			if len(b)-i > 3 {
				return nil, i, "TCP option kind 0 (EOL) is not allowed"
			}
			for j := i + 1; j < len(b); j++ {
				if b[j] != 0 {
					return nil, j, "non-zero byte in the padding after the TCP options"
				}
			}
			return b[:i], 0, ""
		case kind == 1:
			return nil, i, "TCP option kind 1 (NOP) is not allowed"
		case i+1 == len(b):
			return nil, i, fmt.Sprintf("TCP option kind %d has no length", kind)
		}
		l := int(b[i+1])
		if l < 2 {
			return nil, i + 1, fmt.Sprintf("TCP option kind %d of length %d, want at least 2", b[i], l)
		}
		if i+l > len(b) {
			return nil, i + 1, fmt.Sprintf("TCP option kind %d of length %d overruns the TLV", b[i], l)
		}
		i += l
	}
	return b, 0, ""
}

// clone returns b, or a copy of it when own is set; empty is always nil,
// so that a decoded Message compares equal to one built by hand.
func clone(b []byte, own bool) []byte {
	if len(b) == 0 {
		return nil
	}
	if own {
		return bytes.Clone(b)
	}
	return b
}
