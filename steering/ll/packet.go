package ll

import (
	"encoding/binary"
	"net/netip"
)

// ipInfo is what the data path reads from an inner IP packet.
type ipInfo struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	ports        bool // the transport header with ports is there
	len          int  // the IP packet's own length (total length)
}

// IP protocols whose first four octets are the source and destination port.
const (
	protoTCP     = 6
	protoUDP     = 17
	protoSCTP    = 132
	protoUDPLite = 136
)

func hasPorts(proto uint8) bool {
	return proto == protoTCP || proto == protoUDP || proto == protoSCTP || proto == protoUDPLite
}

// parseIP reads the IPv4 (RFC 791) or IPv6 (RFC 8200) header of b. It
// checks that the header and the length it states fit in b; octets after
// that length are not part of the packet. IPv6 extension headers are not
// walked: the ports of a packet that has them are unknown.
func parseIP(b []byte) (ipInfo, bool) {
	var p ipInfo
	if len(b) < 1 {
		return p, false
	}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, false
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || total > len(b) {
			return p, false
		}
		p.len = total
		p.proto = b[9]
		p.src = netip.AddrFrom4([4]byte(b[12:16]))
		p.dst = netip.AddrFrom4([4]byte(b[16:20]))
		if binary.BigEndian.Uint16(b[6:8])&0x1fff == 0 { // first fragment or whole
			l4 = b[ihl:total]
		}
	case 6:
		if len(b) < 40 {
			return p, false
		}
		total := 40 + int(binary.BigEndian.Uint16(b[4:6]))
		if total > len(b) {
			return p, false
		}
		p.len = total
		p.proto = b[6]
		p.src = netip.AddrFrom16([16]byte(b[8:24]))
		p.dst = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:total]
	default:
		return p, false
	}
	if hasPorts(p.proto) && len(l4) >= 4 {
		p.sport = binary.BigEndian.Uint16(l4[0:2])
		p.dport = binary.BigEndian.Uint16(l4[2:4])
		p.ports = true
	}
	return p, true
}
