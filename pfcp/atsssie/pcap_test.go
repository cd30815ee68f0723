package atsssie

import (
	"encoding/binary"
	"os"
	"testing"
)

// writePCAP writes PFCP messages as one UDP datagram per frame, from
// 192.0.2.1 to 192.0.2.2, port 8805 to 8805, in a classic pcap file of
// Ethernet frames (LINKTYPE_ETHERNET).
func writePCAP(t *testing.T, path string, msgs [][]byte) {
	t.Helper()
	le := binary.LittleEndian
	// Global header: magic, version 2.4, UTC, accuracy, snaplen, link type.
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 1)
	for n, msg := range msgs {
		f := frame(msg)
		b = le.AppendUint32(b, uint32(n+1)) // one message a second
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(f)))
		b = le.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// frame wraps a PFCP message in UDP (RFC 768, no checksum), IPv4 (RFC 791)
// and Ethernet II headers.
func frame(msg []byte) []byte {
	be := binary.BigEndian
	udp := be.AppendUint16(nil, 8805)
	udp = be.AppendUint16(udp, 8805)
	udp = be.AppendUint16(udp, uint16(8+len(msg)))
	udp = be.AppendUint16(udp, 0)
	udp = append(udp, msg...)

	ip := []byte{0x45, 0}                         // version 4, 5-word header, DSCP 0
	ip = be.AppendUint16(ip, uint16(20+len(udp))) // total length
	ip = append(ip, 0, 0, 0x40, 0, 64, 17, 0, 0)  // ID, DF, TTL, UDP, checksum
	ip = append(ip, 192, 0, 2, 1, 192, 0, 2, 2)   // source, destination
	be.PutUint16(ip[10:], ipChecksum(ip))

	eth := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00} // dst, src, IPv4
	return append(append(eth, ip...), udp...)
}

// ipChecksum is the IPv4 header checksum: the ones' complement of the ones'
// complement sum of the header's 16-bit words.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
