package gtpu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Port is the registered UDP port of GTP-U (TS 29.281 §4.4.2.3).
const Port = 2152

// MessageType is the GTP-U message type (TS 29.281 §6.1, Table 6.1-1).
type MessageType uint8

const (
	TypeEchoRequest                           MessageType = 1
	TypeEchoResponse                          MessageType = 2
	TypeErrorIndication                       MessageType = 26
	TypeSupportedExtensionHeadersNotification MessageType = 31
	TypeEndMarker                             MessageType = 254
	TypeGPDU                                  MessageType = 255
)

func (t MessageType) String() string {
	switch t {
	case TypeEchoRequest:
		return "echo-request"
	case TypeEchoResponse:
		return "echo-response"
	case TypeErrorIndication:
		return "error-indication"
	case TypeSupportedExtensionHeadersNotification:
		return "supported-extension-headers-notification"
	case TypeEndMarker:
		return "end-marker"
	case TypeGPDU:
		return "g-pdu"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Extension header types (TS 29.281 §5.2.1, Figure 5.2.1-3).
const (
	extNone                = 0x00
	extPDUSessionContainer = 0x85
)

// Flags of the first octet (TS 29.281 §5.1, Figure 5.1-1): version 1,
// protocol type 1 (GTP, not GTP'), then E, S and PN.
const (
	flagsV1  = 0x30
	flagE    = 0x04
	flagS    = 0x02
	flagPN   = 0x01
	flagMask = 0xf8 // version, PT and the spare bit
)

// ieRecovery is the Recovery IE of Echo Response (TS 29.281 §8.2): a TV IE
// whose Restart Counter "shall be set to zero" by the sender.
const ieRecovery = 14

// PDUType is the PDU Type of a PDU Session Container (TS 38.415 §5.5.3.1).
type PDUType uint8

const (
	PDUTypeDownlink PDUType = 0 // DL PDU SESSION INFORMATION
	PDUTypeUplink   PDUType = 1 // UL PDU SESSION INFORMATION
)

// Header is a decoded GTP-U header with the fields this package knows.
// The zero value with Type and TEID set is a plain 8-octet header.
type Header struct {
	Type MessageType
	TEID uint32
	// Seq is the sequence number, present when HasSeq (the S flag).
	Seq    uint16
	HasSeq bool
	// Session is the PDU Session Container, when HasSession.
	HasSession bool
	Session    SessionContainer
}

// SessionContainer is the part of the PDU Session Container extension
// header that an N3 UPF uses (TS 38.415 §5.5.2.1 DL and §5.5.2.2 UL PDU
// SESSION INFORMATION). Optional fields flagged inside the container
// (sending time stamps, sequence numbers, delay results) are skipped on
// decode and never sent.
type SessionContainer struct {
	PDUType PDUType
	QFI     uint8 // 6 bits
	// RQI is the Reflective QoS Indicator of a downlink container.
	RQI bool
	// PPI is the Paging Policy Indicator of a downlink container, valid
	// with HasPPI.
	PPI    uint8
	HasPPI bool
}

// Errors Parse returns. They are sentinels, never wrapped, so that parsing
// stays free of allocations and callers can count drops by reason.
var (
	ErrShort       = errors.New("gtpu: message shorter than its header or length field")
	ErrVersion     = errors.New("gtpu: not GTPv1 with protocol type GTP")
	ErrExtension   = errors.New("gtpu: malformed extension header")
	ErrUnsupported = errors.New("gtpu: unknown extension header that requires comprehension")
	ErrContainer   = errors.New("gtpu: malformed PDU session container")
)

// Parse decodes the GTP-U message in b and returns its header and payload:
// the T-PDU of a G-PDU, the information elements of other messages. The
// payload aliases b. Octets after the length the header gives are ignored.
// It is safe for concurrent use and does not allocate.
func Parse(b []byte) (Header, []byte, error) {
	var h Header
	if len(b) < 8 {
		return h, nil, ErrShort
	}
	if b[0]&0xf0 != flagsV1 {
		return h, nil, ErrVersion
	}
	h.Type = MessageType(b[1])
	n := int(binary.BigEndian.Uint16(b[2:4]))
	h.TEID = binary.BigEndian.Uint32(b[4:8])
	if 8+n > len(b) {
		return h, nil, ErrShort
	}
	msg := b[8 : 8+n]
	if b[0]&(flagE|flagS|flagPN) == 0 {
		return h, msg, nil
	}
	// TS 29.281 §5.1: with any of E, S, PN set, the sequence number, N-PDU
	// number and next extension header type octets are all present and
	// counted in the length; each is meaningful only with its flag.
	if len(msg) < 4 {
		return h, nil, ErrShort
	}
	if b[0]&flagS != 0 {
		h.Seq, h.HasSeq = binary.BigEndian.Uint16(msg[0:2]), true
	}
	next := msg[3]
	if b[0]&flagE == 0 {
		next = extNone
	}
	rest := msg[4:]
	for next != extNone {
		// TS 29.281 §5.2.1: a length octet in units of 4 octets (never 0),
		// the content, and the next extension header type in the last
		// octet.
		if len(rest) < 1 || rest[0] == 0 || int(rest[0])*4 > len(rest) {
			return h, nil, ErrExtension
		}
		ext := rest[:int(rest[0])*4]
		rest = rest[len(ext):]
		switch next {
		case extPDUSessionContainer:
			if err := h.Session.decode(ext[1 : len(ext)-1]); err != nil {
				return h, nil, err
			}
			h.HasSession = true
		default:
			// The two high bits say what a receiver that does not know
			// the type must do (TS 29.281 §5.2.1, Figure 5.2.1-2): with
			// the top bit set, comprehension is required at the endpoint.
			if next&0x80 != 0 {
				return h, nil, ErrUnsupported
			}
		}
		next = ext[len(ext)-1]
	}
	return h, rest, nil
}

// decode reads the content of a PDU Session Container (between its length
// octet and its next-type octet).
func (c *SessionContainer) decode(b []byte) error {
	if len(b) < 2 {
		return ErrContainer
	}
	*c = SessionContainer{PDUType: PDUType(b[0] >> 4), QFI: b[1] & 0x3f}
	switch c.PDUType {
	case PDUTypeDownlink:
		// TS 38.415 §5.5.2.1: octet 2 is PPP, RQI, QFI; with PPP the PPI
		// follows in the high three bits of octet 3.
		c.RQI = b[1]&0x40 != 0
		if b[1]&0x80 != 0 {
			if len(b) < 3 {
				return ErrContainer
			}
			c.PPI, c.HasPPI = b[2]>>5, true
		}
	case PDUTypeUplink:
	default:
		return ErrContainer
	}
	return nil
}

// Len returns the length of h on the wire: 8 octets, 12 with a sequence
// number, 16 with a PDU Session Container.
func (h *Header) Len() int {
	switch {
	case h.HasSession:
		return 16
	case h.HasSeq:
		return 12
	}
	return 8
}

// Put writes h into b[:h.Len()] for a payload of payloadLen octets that
// follows it, and returns h.Len(). b must be at least h.Len() long; the
// data path reads a packet at offset h.Len() of its buffer and prepends
// the header in place. It does not allocate.
func (h *Header) Put(b []byte, payloadLen int) int {
	n := h.Len()
	_ = b[n-1]
	flags := byte(flagsV1)
	if h.HasSeq {
		flags |= flagS
	}
	if h.HasSession {
		flags |= flagE
	}
	b[0] = flags
	b[1] = byte(h.Type)
	binary.BigEndian.PutUint16(b[2:4], uint16(n-8+payloadLen))
	binary.BigEndian.PutUint32(b[4:8], h.TEID)
	if n == 8 {
		return n
	}
	binary.BigEndian.PutUint16(b[8:10], h.Seq)
	b[10] = 0 // N-PDU number: PN is never set
	b[11] = extNone
	if !h.HasSession {
		return n
	}
	b[11] = extPDUSessionContainer
	c := &h.Session
	b[12] = 1 // one 4-octet unit
	b[13] = byte(c.PDUType) << 4
	b[14] = c.QFI & 0x3f
	if c.PDUType == PDUTypeDownlink && c.RQI {
		b[14] |= 0x40
	}
	b[15] = extNone
	return n
}

// AppendGPDU appends a G-PDU carrying pdu to dst: with a PDU Session
// Container of the given type and QFI unless qfi is negative.
func AppendGPDU(dst []byte, teid uint32, pduType PDUType, qfi int, pdu []byte) []byte {
	h := Header{Type: TypeGPDU, TEID: teid}
	if qfi >= 0 {
		h.HasSession, h.Session = true, SessionContainer{PDUType: pduType, QFI: uint8(qfi)}
	}
	n := len(dst)
	dst = append(dst, make([]byte, h.Len())...)
	h.Put(dst[n:], len(pdu))
	return append(dst, pdu...)
}

// AppendEchoRequest appends an Echo Request with sequence number seq to
// dst (TS 29.281 §7.2.1: TEID 0, S flag set).
func AppendEchoRequest(dst []byte, seq uint16) []byte {
	h := Header{Type: TypeEchoRequest, Seq: seq, HasSeq: true}
	n := len(dst)
	dst = append(dst, make([]byte, h.Len())...)
	h.Put(dst[n:], 0)
	return dst
}

// AppendEchoResponse appends the Echo Response to an Echo Request whose
// header is req: the same sequence number and a Recovery IE whose restart
// counter is 0 (TS 29.281 §7.2.2, §8.2).
func AppendEchoResponse(dst []byte, req Header) []byte {
	h := Header{Type: TypeEchoResponse, Seq: req.Seq, HasSeq: true}
	n := len(dst)
	dst = append(dst, make([]byte, h.Len())...)
	h.Put(dst[n:], 2)
	return append(dst, ieRecovery, 0)
}
