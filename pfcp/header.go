package pfcp

import (
	"encoding/binary"
	"fmt"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"
)

// header is the PFCP header (TS 29.244 §7.2.2), read before the message is
// parsed so that even a message that does not parse gets an answer with the
// right sequence number and SEID. go-pfcp's header parser accepts a length
// field that disagrees with the datagram, which TS 29.244 §7.6.2 asks us to
// answer with Cause 68; hence this small hand-written reader.
type header struct {
	version uint8
	typ     uint8
	hasSEID bool
	seid    uint64
	seq     uint32
	// lengthOK is false when the length field disagrees with the datagram.
	lengthOK bool
}

// errShortHeader: the datagram cannot hold a PFCP header; it is dropped.
var errShortHeader = fmt.Errorf("datagram shorter than a PFCP header")

func readHeader(b []byte) (header, error) {
	if len(b) < 8 {
		return header{}, errShortHeader
	}
	h := header{version: b[0] >> 5, typ: b[1], hasSEID: b[0]&0x01 != 0}
	length := int(binary.BigEndian.Uint16(b[2:4]))
	off := 4
	if h.hasSEID {
		if len(b) < 16 {
			return header{}, errShortHeader
		}
		h.seid = binary.BigEndian.Uint64(b[4:12])
		off = 12
	}
	h.seq = uint32(b[off])<<16 | uint32(b[off+1])<<8 | uint32(b[off+2])
	// With the FO flag another message may follow in the same datagram.
	followOn := b[0]&0x04 != 0
	h.lengthOK = length+4 == len(b) || (followOn && length+4 < len(b))
	return h, nil
}

// isRequest reports whether t is a request this server answers.
func isRequest(t uint8) bool {
	switch t {
	case message.MsgTypeHeartbeatRequest, message.MsgTypeAssociationSetupRequest,
		message.MsgTypeAssociationUpdateRequest, message.MsgTypeAssociationReleaseRequest,
		message.MsgTypeSessionEstablishmentRequest, message.MsgTypeSessionModificationRequest,
		message.MsgTypeSessionDeletionRequest:
		return true
	}
	return false
}

// isSessionMessage reports whether t is a session-related request (TS
// 29.244 §7.2.2.1: these carry a SEID and need an association).
func isSessionMessage(t uint8) bool {
	switch t {
	case message.MsgTypeSessionEstablishmentRequest, message.MsgTypeSessionModificationRequest, message.MsgTypeSessionDeletionRequest:
		return true
	}
	return false
}

// offendingIE walks the IEs of a payload that go-pfcp failed to parse and
// returns the type of the first IE whose length runs past its container,
// descending into grouped IEs. ok is false when every length is consistent.
func offendingIE(payload []byte) (t uint16, ok bool) {
	for len(payload) > 0 {
		if len(payload) < 4 {
			return 0, true
		}
		typ := binary.BigEndian.Uint16(payload[0:2])
		n := int(binary.BigEndian.Uint16(payload[2:4]))
		if 4+n > len(payload) {
			return typ, true
		}
		value := payload[4 : 4+n]
		if (&ie.IE{Type: typ}).IsGrouped() {
			if inner, bad := offendingIE(value); bad {
				if inner == 0 {
					inner = typ
				}
				return inner, true
			}
		}
		payload = payload[4+n:]
	}
	return 0, false
}
