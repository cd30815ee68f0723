package pm

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"
)

// EndpointFlags are MPTCP_PM_ADDR_FLAG_* (mptcp.h): what the in-kernel path
// manager does with an endpoint.
type EndpointFlags uint32

const (
	// FlagSignal: announce the address to the peer (ADD_ADDR, RFC 8684 §3.4.1).
	FlagSignal EndpointFlags = 1 << 0
	// FlagSubflow: open a subflow from this address to the peer (MP_JOIN).
	FlagSubflow EndpointFlags = 1 << 1
	// FlagBackup: subflows on this address carry the backup bit (RFC 8684
	// §3.3.8, MP_PRIO when it changes).
	FlagBackup EndpointFlags = 1 << 2
	// FlagFullmesh: open one subflow per known peer address from this one.
	FlagFullmesh EndpointFlags = 1 << 3
	// FlagImplicit: the kernel made this endpoint itself for an address in use;
	// it cannot be added by hand.
	FlagImplicit EndpointFlags = 1 << 4
	// FlagLaminar (6.18): use this address for subflows to addresses the peer
	// announced, one per announcement.
	FlagLaminar EndpointFlags = 1 << 5
)

var endpointFlagNames = [...]string{"signal", "subflow", "backup", "fullmesh", "implicit", "laminar"}

// String returns the set flags as the ip-mptcp(8) names joined by commas,
// unknown bits in hexadecimal, "none" for zero.
func (f EndpointFlags) String() string {
	if f == 0 {
		return "none"
	}
	var b strings.Builder
	for i, name := range endpointFlagNames {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	if rest := f &^ (1<<len(endpointFlagNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%#x", uint32(rest))
	}
	return b.String()
}

// Endpoint is a local address that the in-kernel path manager uses for
// every MPTCP connection of the namespace (ip mptcp endpoint).
type Endpoint struct {
	// ID identifies the endpoint in the namespace (1..255). Zero in
	// AddEndpoint lets the kernel choose the lowest free one.
	ID uint8
	// Addr is the local address, IPv4 or IPv6.
	Addr netip.Addr
	// Port, when set, makes a Signal endpoint announce this port and the
	// kernel listen on it for joins; zero for the connection's own port.
	Port uint16
	// IfIndex binds subflows from this address to an interface; 0 for any.
	IfIndex int32
	Flags   EndpointFlags
}

// Limits are the in-kernel path manager's per-connection limits of the
// namespace (ip mptcp limits). The kernel rejects values above 8 with EINVAL.
type Limits struct {
	// Subflows is the number of additional subflows a connection may have
	// (not counting the initial one).
	Subflows uint32
	// AddAddrAccepted is the number of ADD_ADDR announcements from the peer
	// that a connection acts on.
	AddAddrAccepted uint32
}

// Limits returns the namespace's in-kernel path manager limits.
func (c *Client) Limits() (Limits, error) {
	msgs, err := c.do(cmdGetLimits, netlink.Request, nil)
	if err != nil {
		return Limits{}, err
	}
	if len(msgs) != 1 {
		return Limits{}, fmt.Errorf("mptcp_pm %s: %d replies, want 1", cmdGetLimits, len(msgs))
	}
	var l Limits
	ad, err := netlink.NewAttributeDecoder(msgs[0].Data)
	if err != nil {
		return Limits{}, fmt.Errorf("mptcp_pm %s: %w", cmdGetLimits, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case attrRcvAddAddrs:
			l.AddAddrAccepted = ad.Uint32()
		case attrSubflows:
			l.Subflows = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Limits{}, fmt.Errorf("mptcp_pm %s: %w", cmdGetLimits, err)
	}
	return l, nil
}

// SetLimits replaces both limits of the namespace. It is idempotent.
// Existing connections see the new limits at their next path manager
// decision.
func (c *Client) SetLimits(l Limits) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrRcvAddAddrs, l.AddAddrAccepted)
	ae.Uint32(attrSubflows, l.Subflows)
	return c.doAck(cmdSetLimits, ae)
}

// AddEndpoint adds an endpoint to the namespace; the kernel applies it to
// established connections at once. An address that is already an endpoint
// fails with EEXIST, an id in use with EBUSY. Endpoints reports the id the
// kernel chose when e.ID is 0.
func (c *Client) AddEndpoint(e Endpoint) error {
	if !e.Addr.IsValid() {
		return fmt.Errorf("mptcp_pm %s: %w", cmdAddAddr, errNoAddr)
	}
	ae := netlink.NewAttributeEncoder()
	encodeAddr(ae, attrAddr, pmAddr{
		id: e.ID, hasID: e.ID != 0, addr: e.Addr, port: e.Port,
		flags: e.Flags, ifIndex: e.IfIndex,
	})
	return c.doAck(cmdAddAddr, ae)
}

// DeleteEndpoint removes the endpoint id, closing the subflows that use it
// and withdrawing its announcements (RM_ADDR). An unknown id fails with
// EINVAL (the kernel does not say ENOENT).
func (c *Client) DeleteEndpoint(id uint8) error {
	if id == 0 {
		// ID 0 is not an endpoint but each connection's initial address;
		// deleting it takes an address and means something else.
		return fmt.Errorf("mptcp_pm %s: endpoint id 0: %w", cmdDelAddr, errors.ErrUnsupported)
	}
	ae := netlink.NewAttributeEncoder()
	encodeAddr(ae, attrAddr, pmAddr{id: id, hasID: true})
	return c.doAck(cmdDelAddr, ae)
}

// FlushEndpoints removes every endpoint of the namespace and resets the
// endpoint counters. It is idempotent.
func (c *Client) FlushEndpoints() error {
	return c.doAck(cmdFlushAddrs, nil)
}

// Endpoints returns the namespace's endpoints in ID order.
func (c *Client) Endpoints() ([]Endpoint, error) {
	msgs, err := c.do(cmdGetAddr, netlink.Request|netlink.Dump, nil)
	if err != nil {
		return nil, err
	}
	eps := make([]Endpoint, 0, len(msgs))
	for _, m := range msgs {
		e, err := decodeEndpoint(m.Data)
		if err != nil {
			return nil, fmt.Errorf("mptcp_pm %s: %w", cmdGetAddr, err)
		}
		eps = append(eps, e)
	}
	return eps, nil
}

// decodeEndpoint reads one GET_ADDR reply: a single nested address.
func decodeEndpoint(b []byte) (Endpoint, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Endpoint{}, err
	}
	var (
		a     pmAddr
		found bool
	)
	for ad.Next() {
		if ad.Type() != attrAddr {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			a, err = decodeAddr(nad)
			return err
		})
		found = true
	}
	if err := ad.Err(); err != nil {
		return Endpoint{}, err
	}
	if !found {
		return Endpoint{}, errors.New("reply without an address")
	}
	return Endpoint{ID: a.id, Addr: a.addr, Port: a.port, IfIndex: a.ifIndex, Flags: a.flags}, nil
}

// SetEndpointFlags sets the Backup and Fullmesh flags of endpoint id to
// their values in flags (the only two the kernel lets change; other bits
// are ignored). A change of Backup sends MP_PRIO on every subflow of every
// connection that uses the endpoint (RFC 8684 §3.3.8). Idempotent. An
// unknown id fails with EINVAL; Fullmesh on a Signal endpoint fails with
// EINVAL.
func (c *Client) SetEndpointFlags(id uint8, flags EndpointFlags) error {
	if id == 0 {
		return fmt.Errorf("mptcp_pm %s: endpoint id 0: %w", cmdSetFlags, errors.ErrUnsupported)
	}
	ae := netlink.NewAttributeEncoder()
	// No family: the kernel then looks the endpoint up by id.
	encodeAddr(ae, attrAddr, pmAddr{id: id, hasID: true, flags: flags & (FlagBackup | FlagFullmesh)})
	return c.doAck(cmdSetFlags, ae)
}
