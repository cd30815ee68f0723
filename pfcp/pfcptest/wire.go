package pfcptest

import (
	"encoding/binary"
	"fmt"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
)

// This file reads and writes PFCP on the wire where going through go-pfcp
// costs too much for a load run: go-pfcp builds a message as a tree of IEs,
// hundreds of allocations for an MA PDU session, and parses a response the
// same way.

// header is what the client reads of a PFCP header (TS 29.244 §7.2.2)
// to route a message.
type header struct {
	typ  uint8
	seid uint64 // 0 without the S flag
	seq  uint32
}

// parseHeader reads the header of b; false when b is no PFCP version 1
// message or is shorter than its header.
func parseHeader(b []byte) (header, bool) {
	if len(b) < 8 || b[0]>>5 != 1 {
		return header{}, false
	}
	h := header{typ: b[1]}
	seq := b[4:]
	if b[0]&0x01 != 0 { // S: an SEID comes first
		if len(b) < 16 {
			return header{}, false
		}
		h.seid = binary.BigEndian.Uint64(b[4:12])
		seq = b[12:]
	}
	h.seq = uint32(seq[0])<<16 | uint32(seq[1])<<8 | uint32(seq[2])
	return h, true
}

// headerLen is the length of the header of an encoded message.
func headerLen(b []byte) int {
	if b[0]&0x01 != 0 {
		return 16
	}
	return 8
}

// eachIE calls fn with the type, the offset and the value of each IE in
// msg[off:end].
func eachIE(msg []byte, off, end int, fn func(typ uint16, voff int, v []byte)) error {
	for off < end {
		if end-off < 4 {
			return fmt.Errorf("%w: IE header cut at offset %d", ErrMalformedResponse, off)
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		n := int(binary.BigEndian.Uint16(msg[off+2:]))
		voff := off + 4
		if voff+n > end {
			return fmt.Errorf("%w: IE %d at offset %d overruns its group", ErrMalformedResponse, typ, off)
		}
		fn(typ, voff, msg[voff:voff+n])
		off = voff + n
	}
	return nil
}

// template encodes the establishments of a load run. It encodes the first
// session once; per session it copies that and writes what SessionSpec.Nth
// changes: the CP F-SEID's SEID, the UE address of each PDR, the TEID of
// each F-TEID and of each Outer Header Creation, and the sequence number.
type template struct {
	msg    []byte
	fields []field
}

// field is a big-endian counter of template.msg that Nth advances.
type field struct{ off, size int }

func newTemplate(spec SessionSpec) (*template, error) {
	m := Establishment(spec, 0)
	t := &template{msg: make([]byte, m.MarshalLen())}
	if err := m.MarshalTo(t.msg); err != nil {
		return nil, err
	}
	var scan func(typ uint16, voff int, v []byte)
	scan = func(typ uint16, voff int, v []byte) {
		switch typ {
		case ie.CreatePDR, ie.PDI, ie.CreateFAR, ie.ForwardingParameters:
			// The message is our own encoding: it is well formed.
			_ = eachIE(t.msg, voff, voff+len(v), scan)
		case ie.FSEID: // flags, SEID
			t.fields = append(t.fields, field{voff + 1, 8})
		case ie.UEIPAddress: // flags, IPv4 address when V4
			if v[0]&ueipV4 != 0 {
				t.fields = append(t.fields, field{voff + 1, 4})
			}
		case ie.FTEID: // flags, TEID
			t.fields = append(t.fields, field{voff + 1, 4})
		case ie.OuterHeaderCreation: // 2 octets of description, TEID
			t.fields = append(t.fields, field{voff + 2, 4})
		}
	}
	if err := eachIE(t.msg, headerLen(t.msg), len(t.msg), scan); err != nil {
		return nil, err
	}
	return t, nil
}

// encode writes to dst, reusing its memory, the establishment of the i-th
// session with sequence number seq.
func (t *template) encode(dst []byte, i, seq uint32) []byte {
	dst = append(dst[:0], t.msg...)
	for _, f := range t.fields {
		p := dst[f.off:]
		if f.size == 8 {
			binary.BigEndian.PutUint64(p, binary.BigEndian.Uint64(p)+uint64(i))
		} else {
			binary.BigEndian.PutUint32(p, binary.BigEndian.Uint32(p)+i)
		}
	}
	// Sequence Number: 3 octets after the SEID (TS 29.244 §7.2.2.4.1).
	dst[12], dst[13], dst[14] = byte(seq>>16), byte(seq>>8), byte(seq)
	return dst
}

// scanEstablishment reads the Cause and the UP F-SEID's SEID of an encoded
// Session Establishment Response.
func scanEstablishment(b []byte) (Cause, atsss.SEID, error) {
	if b[1] == message.MsgTypeVersionNotSupportedResponse {
		return 0, 0, ErrVersionNotSupported
	}
	var cause Cause
	var up atsss.SEID
	err := eachIE(b, headerLen(b), len(b), func(typ uint16, _ int, v []byte) {
		switch {
		case typ == ie.Cause && len(v) >= 1 && cause == 0:
			cause = Cause(v[0])
		case typ == ie.FSEID && len(v) >= 9 && up == 0:
			up = atsss.SEID(binary.BigEndian.Uint64(v[1:]))
		}
	})
	if err == nil && cause == 0 {
		err = fmt.Errorf("%w: establishment response without Cause", ErrMalformedResponse)
	}
	return cause, up, err
}
