package pm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// pmAddr is the nested MPTCP_PM_ADDR_ATTR_* set that endpoint and
// userspace PM commands exchange with the kernel.
type pmAddr struct {
	id      uint8
	hasID   bool // the kernel treats a present id 0 differently from none
	addr    netip.Addr
	port    uint16
	flags   EndpointFlags
	ifIndex int32
}

// errNoAddr rejects a command that needs an address and got none.
var errNoAddr = errors.New("address is not set")

// encodeAddr writes a as the nested attribute typ.
//
// An IPv4 address goes out as AF_INET; an IPv6 one, v4-mapped included, as
// AF_INET6. Keeping a v4-mapped address in AF_INET6 is what lets a command
// name a subflow of a dual-stack socket: the kernel compares families first
// (a Go listener on ":port" is AF_INET6 and its IPv4 subflows carry
// v4-mapped addresses).
func encodeAddr(ae *netlink.AttributeEncoder, typ uint16, a pmAddr) {
	ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
		switch {
		case a.addr.Is4():
			nae.Uint16(addrAttrFamily, afInet)
			b := a.addr.As4()
			nae.Bytes(addrAttrAddr4, b[:])
		case a.addr.Is6():
			nae.Uint16(addrAttrFamily, afInet6)
			b := a.addr.As16()
			nae.Bytes(addrAttrAddr6, b[:])
		}
		if a.hasID {
			nae.Uint8(addrAttrID, a.id)
		}
		if a.port != 0 {
			nae.Uint16(addrAttrPort, a.port)
		}
		if a.flags != 0 {
			nae.Uint32(addrAttrFlags, uint32(a.flags))
		}
		if a.ifIndex != 0 {
			nae.Int32(addrAttrIfIndex, a.ifIndex)
		}
		return nil
	})
}

// decodeAddr reads a nested MPTCP_PM_ADDR_ATTR_* set. Attributes it does not
// know are skipped, so that a newer kernel's additions do not break it.
func decodeAddr(nad *netlink.AttributeDecoder) (pmAddr, error) {
	var a pmAddr
	var family uint16
	for nad.Next() {
		switch nad.Type() {
		case addrAttrFamily:
			family = nad.Uint16()
		case addrAttrID:
			a.id, a.hasID = nad.Uint8(), true
		case addrAttrAddr4:
			b := nad.Bytes()
			if len(b) != 4 {
				return a, fmt.Errorf("address attribute addr4: length %d", len(b))
			}
			a.addr = netip.AddrFrom4([4]byte(b))
		case addrAttrAddr6:
			b := nad.Bytes()
			if len(b) != 16 {
				return a, fmt.Errorf("address attribute addr6: length %d", len(b))
			}
			a.addr = netip.AddrFrom16([16]byte(b))
		case addrAttrPort:
			a.port = nad.Uint16()
		case addrAttrFlags:
			a.flags = EndpointFlags(nad.Uint32())
		case addrAttrIfIndex:
			a.ifIndex = nad.Int32()
		}
	}
	if err := nad.Err(); err != nil {
		return a, err
	}
	// The kernel sends only the address of the family it names; an address
	// of the other family would be a kernel bug, not something to guess at.
	switch {
	case family == afInet && a.addr.IsValid() && !a.addr.Is4(),
		family == afInet6 && a.addr.IsValid() && !a.addr.Is6():
		return a, fmt.Errorf("address %s does not match family %d", a.addr, family)
	}
	return a, nil
}

// be16 decodes a big-endian port (event attributes are nla_put_be16).
func be16(b []byte) (uint16, bool) {
	if len(b) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b), true
}
