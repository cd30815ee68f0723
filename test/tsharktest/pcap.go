package tsharktest

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
)

// WriteUDP writes each message as one UDP datagram (no checksum, RFC 768)
// in IPv4 from src to dst, port to port, one a second, in a classic pcap
// file of raw IP packets (LINKTYPE_RAW), for tshark to dissect offline
// with the dissector of that port. Written by hand: the pcap format is
// four fixed headers, and no pcap writer library is among the modules.
func WriteUDP(t testing.TB, path string, src, dst netip.Addr, port uint16, msgs [][]byte) {
	t.Helper()
	le, be := binary.LittleEndian, binary.BigEndian
	// Global header: magic, version 2.4, UTC, accuracy, snaplen, link type.
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 101)
	s, d := src.As4(), dst.As4()
	for n, msg := range msgs {
		udp := be.AppendUint16(nil, port)
		udp = be.AppendUint16(udp, port)
		udp = be.AppendUint16(udp, uint16(8+len(msg)))
		udp = be.AppendUint16(udp, 0)
		udp = append(udp, msg...)
		ip := []byte{0x45, 0}                         // version 4, 5-word header, DSCP 0
		ip = be.AppendUint16(ip, uint16(20+len(udp))) // total length
		ip = append(ip, 0, 0, 0x40, 0, 64, 17, 0, 0)  // ID, DF, TTL, UDP, checksum
		ip = append(append(ip, s[:]...), d[:]...)
		be.PutUint16(ip[10:], ipChecksum(ip))
		packet := append(ip, udp...)
		b = le.AppendUint32(b, uint32(n+1))
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(packet)))
		b = le.AppendUint32(b, uint32(len(packet)))
		b = append(b, packet...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
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
