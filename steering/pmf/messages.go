package pmf

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/openatsss/atsss/atsss"
)

// MessageType is the first octet of every PMFP message (TS 24.193 §6.2).
type MessageType uint8

// The PMFP messages this package speaks. The names and procedures are
// confirmed; the numeric values are NOT (see the table below).
const (
	TypeEchoRequest       MessageType = 1  // UNCONFIRMED value
	TypeEchoResponse      MessageType = 2  // UNCONFIRMED value
	TypeAccessReport      MessageType = 3  // UNCONFIRMED value
	TypeAck               MessageType = 4  // UNCONFIRMED value
	TypePLRCountRequest   MessageType = 5  // UNCONFIRMED value
	TypePLRCountResponse  MessageType = 6  // UNCONFIRMED value
	TypePLRReportRequest  MessageType = 7  // UNCONFIRMED value
	TypePLRReportResponse MessageType = 8  // UNCONFIRMED value
	TypeUAD               MessageType = 9  // UNCONFIRMED value
	TypeUAT               MessageType = 10 // UNCONFIRMED value
	TypeTDS               MessageType = 11 // UNCONFIRMED value
	TypeTDR               MessageType = 12 // UNCONFIRMED value
)

// direction says which end may send a message.
type direction uint8

const (
	both    direction = iota
	ueToUPF           // only the UE sends it; the UPF drops it
	upfToUE           // only the UPF sends it; the UE drops it
)

// spec is one row of the message table.
type spec struct {
	name string
	// size is the whole message in octets, type octet included. Every PMFP
	// message here has a fixed size, so Parse is exact: no trailing octets.
	size int
	dir  direction
	// response is the message that answers this request (0: none, it is a
	// response itself).
	response MessageType
	// retransmit: the sender repeats the request until answered; the
	// receiver answers a repeated sequence number from a cache, without
	// acting twice.
	retransmit bool
	// counted: the message counts as a measured packet for PLR. The PLR
	// control messages themselves do not, so starting or reading a count
	// does not change it.
	counted bool
	// clause is where the procedure is specified; the message subclause
	// of §6.2 could not be read (see specs).
	clause string
}

// specs is the one table of PMFP messages, indexed by MessageType.
//
// Sources. Confirmed (read): that PMFP has these messages and procedures,
// who sends them and what they are for: TS 29.244 §5.20.6 (RTT and PLR
// measurement by UE or UPF, access availability report, UE assistance data
// UAD/UAT, duplication suspend/resume TDS/TDR), TS 24.193 §5.4.10/§5.4.11
// (TDS/TDR, cited by 29.244), the PLR count/report exchange and its restart
// option (free5GC blog 2024-01-03, "UE-initiated PLR Measurement Procedure in
// PMFP Procedure"), UDP transport with one UPF port per access and the UE's
// address learned from its first uplink message (TS 24.193 §5.1, TS 29.244
// §8.2.159, TS 23.501 §5.32.5.1A).
//
// NOT confirmed: every numeric message type value, every field layout and
// size, the 2-octet sequence number, the echo timestamp, the ACCESS REPORT
// encoding (borrowed from the Access Availability Information IE of TS 29.244,
// IE 219: access type in bits 1-2, 0 unavailable / 1 available in bits 3-4),
// the UAD split encoding (one percent octet per access, summing to 100), and
// the use of one ACK for every acknowledged message. No source readable here
// (itecspec, tech-invite, the code index, the free5GC and Open5GS trees, the
// pycrate and free5GC NAS ATSSS codecs, which stop at the ATSSS container of
// §6.1) shows TS 24.193 §6.2. Fix the values here, in one place, once the
// clause can be read; the golden test (testdata/golden.txt) then shows what
// moved.
//
//	type  name                      octets  sender  answer             fields after type (UNCONFIRMED layout)
//	1     PMFP ECHO REQUEST         11      both    ECHO RESPONSE      seq(2) timestamp(8)
//	2     PMFP ECHO RESPONSE        11      both    -                  seq(2) timestamp(8), echoed
//	3     PMFP ACCESS REPORT        4       UE      ACK                seq(2) access/availability(1)
//	4     PMFP ACK                  3       both    -                  seq(2) of the message acknowledged
//	5     PMFP PLR COUNT REQUEST    3       both    PLR COUNT RESPONSE seq(2)
//	6     PMFP PLR COUNT RESPONSE   3       both    -                  seq(2)
//	7     PMFP PLR REPORT REQUEST   4       both    PLR REPORT RESP.   seq(2) flags(1): bit 1 restart
//	8     PMFP PLR REPORT RESPONSE  8       both    -                  seq(2) flags(1): bit 1 restarted, count(4)
//	9     PMFP UAD                  5       UE      ACK                seq(2) 3GPP %(1) non-3GPP %(1)
//	10    PMFP UAT                  3       UE      ACK                seq(2)
//	11    PMFP TDS                  3       UPF     ACK                seq(2)
//	12    PMFP TDR                  3       UPF     ACK                seq(2)
var specs = [...]spec{
	TypeEchoRequest:       {name: "ECHO REQUEST", size: 11, dir: both, response: TypeEchoResponse, counted: true, clause: "TS 24.193 §5.4 (RTT measurement)"},
	TypeEchoResponse:      {name: "ECHO RESPONSE", size: 11, dir: both, counted: true, clause: "TS 24.193 §5.4 (RTT measurement)"},
	TypeAccessReport:      {name: "ACCESS REPORT", size: 4, dir: ueToUPF, response: TypeAck, retransmit: true, counted: true, clause: "TS 24.193 §5.4 (access report); TS 23.501 §5.32.5.3"},
	TypeAck:               {name: "ACK", size: 3, dir: both, counted: true, clause: "TS 24.193 §5.4"},
	TypePLRCountRequest:   {name: "PLR COUNT REQUEST", size: 3, dir: both, response: TypePLRCountResponse, retransmit: true, clause: "TS 24.193 §5.4 (PLR measurement)"},
	TypePLRCountResponse:  {name: "PLR COUNT RESPONSE", size: 3, dir: both, clause: "TS 24.193 §5.4 (PLR measurement)"},
	TypePLRReportRequest:  {name: "PLR REPORT REQUEST", size: 4, dir: both, response: TypePLRReportResponse, retransmit: true, clause: "TS 24.193 §5.4 (PLR measurement)"},
	TypePLRReportResponse: {name: "PLR REPORT RESPONSE", size: 8, dir: both, clause: "TS 24.193 §5.4 (PLR measurement)"},
	TypeUAD:               {name: "UAD", size: 5, dir: ueToUPF, response: TypeAck, retransmit: true, counted: true, clause: "TS 24.193 §5.4 (UE assistance); TS 29.244 §5.20.6"},
	TypeUAT:               {name: "UAT", size: 3, dir: ueToUPF, response: TypeAck, retransmit: true, counted: true, clause: "TS 24.193 §5.4 (UE assistance); TS 29.244 §5.20.6"},
	TypeTDS:               {name: "TDS", size: 3, dir: upfToUE, response: TypeAck, retransmit: true, counted: true, clause: "TS 24.193 §5.4.10; TS 29.244 §5.20.6"},
	TypeTDR:               {name: "TDR", size: 3, dir: upfToUE, response: TypeAck, retransmit: true, counted: true, clause: "TS 24.193 §5.4.11; TS 29.244 §5.20.6"},
}

// spec returns t's row of the table and whether t is a known type.
func (t MessageType) spec() (spec, bool) {
	if int(t) >= len(specs) || specs[t].size == 0 {
		return spec{}, false
	}
	return specs[t], true
}

// Known reports whether t is a message type of the table.
func (t MessageType) Known() bool { _, ok := t.spec(); return ok }

func (t MessageType) String() string {
	if s, ok := t.spec(); ok {
		return "PMFP " + s.name
	}
	return fmt.Sprintf("PMFP type(%d)", uint8(t))
}

// Message is one PMFP message. Only the fields its Type carries may be set;
// the others must be zero (Append rejects them), so a parsed message
// appends to the very octets it came from.
type Message struct {
	Type MessageType
	// Seq matches a response or ACK to its request; the sender picks it.
	Seq uint16
	// Timestamp is the echo sender's clock (Unix nanoseconds), echoed
	// unchanged in the response. The UPF measures RTT with its own record
	// of the send time and treats the echoed value as opaque.
	Timestamp uint64
	// Access and Available are the access an ACCESS REPORT is about and its
	// new state. The report may travel on the other access.
	Access    atsss.AccessType
	Available bool
	// Restart: in a PLR REPORT REQUEST, the initiator asks the responder
	// to restart counting; in the response, the responder did.
	Restart bool
	// Count is the number of measured packets the responder received since
	// counting started (PLR REPORT RESPONSE).
	Count uint32
	// Split is the UE's downlink split in percent per access, indexed by
	// AccessType, summing to 100 (UAD).
	Split [2]uint8
}

// Codec errors; Parse and Append wrap them with what was wrong.
var (
	ErrTruncated   = errors.New("truncated")
	ErrTrailing    = errors.New("trailing octets")
	ErrUnknownType = errors.New("unknown message type")
	ErrInvalid     = errors.New("invalid field")
)

const (
	flagRestart      = 0x01
	accessTypeMask   = 0x03 // ACCESS REPORT bits 1-2, as TS 29.244 AAI
	availShift       = 2    // ACCESS REPORT bits 3-4
	availMask        = 0x03
	maxMessageOctets = 11
)

// Parse decodes one PMFP message. It is strict: the length must be the
// type's exact size, spare bits must be zero and every value must be defined.
// It never panics, whatever b holds.
func Parse(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, fmt.Errorf("parse PMFP: %w: empty datagram", ErrTruncated)
	}
	m := Message{Type: MessageType(b[0])}
	s, ok := m.Type.spec()
	if !ok {
		return Message{}, fmt.Errorf("parse PMFP: %w %d", ErrUnknownType, b[0])
	}
	switch {
	case len(b) < s.size:
		return Message{}, fmt.Errorf("parse %v: %w: %d octets, want %d", m.Type, ErrTruncated, len(b), s.size)
	case len(b) > s.size:
		return Message{}, fmt.Errorf("parse %v: %w: %d octets, want %d", m.Type, ErrTrailing, len(b), s.size)
	}
	m.Seq = binary.BigEndian.Uint16(b[1:3])
	switch m.Type {
	case TypeEchoRequest, TypeEchoResponse:
		m.Timestamp = binary.BigEndian.Uint64(b[3:11])
	case TypeAccessReport:
		v := b[3]
		access, avail := v&accessTypeMask, v>>availShift&availMask
		if v&^(accessTypeMask|availMask<<availShift) != 0 {
			return Message{}, fmt.Errorf("parse %v: %w: spare bits set in %#02x", m.Type, ErrInvalid, v)
		}
		if !atsss.AccessType(access).Valid() {
			return Message{}, fmt.Errorf("parse %v: %w: access type %d", m.Type, ErrInvalid, access)
		}
		if avail > 1 {
			return Message{}, fmt.Errorf("parse %v: %w: availability %d", m.Type, ErrInvalid, avail)
		}
		m.Access, m.Available = atsss.AccessType(access), avail == 1
	case TypePLRReportRequest, TypePLRReportResponse:
		if b[3]&^flagRestart != 0 {
			return Message{}, fmt.Errorf("parse %v: %w: spare flags set in %#02x", m.Type, ErrInvalid, b[3])
		}
		m.Restart = b[3]&flagRestart != 0
		if m.Type == TypePLRReportResponse {
			m.Count = binary.BigEndian.Uint32(b[4:8])
		}
	case TypeUAD:
		m.Split = [2]uint8{b[3], b[4]}
		if err := checkSplit(m.Split); err != nil {
			return Message{}, fmt.Errorf("parse %v: %w", m.Type, err)
		}
	}
	return m, nil
}

func checkSplit(s [2]uint8) error {
	if int(s[0])+int(s[1]) != 100 {
		return fmt.Errorf("%w: split %d%%/%d%% does not sum to 100", ErrInvalid, s[0], s[1])
	}
	return nil
}

// Validate reports whether m can be encoded: a known type, defined values,
// and no field set that its type does not carry.
func (m Message) Validate() error {
	if !m.Type.Known() {
		return fmt.Errorf("%w %d", ErrUnknownType, uint8(m.Type))
	}
	var extra []string
	if m.Timestamp != 0 && m.Type != TypeEchoRequest && m.Type != TypeEchoResponse {
		extra = append(extra, "Timestamp")
	}
	if m.Type != TypeAccessReport && (m.Access != 0 || m.Available) {
		extra = append(extra, "Access/Available")
	}
	if m.Restart && m.Type != TypePLRReportRequest && m.Type != TypePLRReportResponse {
		extra = append(extra, "Restart")
	}
	if m.Count != 0 && m.Type != TypePLRReportResponse {
		extra = append(extra, "Count")
	}
	if m.Split != ([2]uint8{}) && m.Type != TypeUAD {
		extra = append(extra, "Split")
	}
	if len(extra) > 0 {
		return fmt.Errorf("%w: %v carries no %v", ErrInvalid, m.Type, extra)
	}
	switch m.Type {
	case TypeAccessReport:
		if !m.Access.Valid() {
			return fmt.Errorf("%w: access %v", ErrInvalid, m.Access)
		}
	case TypeUAD:
		if err := checkSplit(m.Split); err != nil {
			return err
		}
	}
	return nil
}

// Append appends m's encoding to b. It fails, appending nothing, if m does
// not Validate.
func (m Message) Append(b []byte) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return b, fmt.Errorf("append %v: %w", m.Type, err)
	}
	b = append(b, byte(m.Type))
	b = binary.BigEndian.AppendUint16(b, m.Seq)
	switch m.Type {
	case TypeEchoRequest, TypeEchoResponse:
		b = binary.BigEndian.AppendUint64(b, m.Timestamp)
	case TypeAccessReport:
		v := byte(m.Access)
		if m.Available {
			v |= 1 << availShift
		}
		b = append(b, v)
	case TypePLRReportRequest, TypePLRReportResponse:
		var f byte
		if m.Restart {
			f |= flagRestart
		}
		b = append(b, f)
		if m.Type == TypePLRReportResponse {
			b = binary.BigEndian.AppendUint32(b, m.Count)
		}
	case TypeUAD:
		b = append(b, m.Split[0], m.Split[1])
	}
	return b, nil
}
