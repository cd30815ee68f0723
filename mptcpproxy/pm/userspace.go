package pm

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// Commands of the userspace path manager. They act on one connection, named
// by its token (Event.Token, Info.Token), and work only when that
// connection is managed from user space: the namespace's sysctl
// net.mptcp.pm_type is 1 (or net.mptcp.path_manager is "userspace") when
// the connection is created. On a connection of the in-kernel path manager,
// and for an unknown token, the kernel fails with EINVAL.
//
// Addresses are compared with the subflow's own family: pass addresses the
// way events report them (v4-mapped for a dual-stack socket).

// Announce sends ADD_ADDR (RFC 8684 §3.4.1) for a local address to the
// peer of connection token, under address id (1..255). A zero port
// announces the address without a port. Re-announcing the same address
// and id succeeds; the same id with another address fails with EINVAL.
func (c *Client) Announce(token uint32, id uint8, addr netip.AddrPort) error {
	if !addr.Addr().IsValid() {
		return fmt.Errorf("mptcp_pm %s: %w", cmdAnnounce, errNoAddr)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrToken, token)
	encodeAddr(ae, attrAddr, pmAddr{
		id: id, hasID: true, addr: addr.Addr(), port: addr.Port(), flags: FlagSignal,
	})
	return c.doAck(cmdAnnounce, ae)
}

// Remove sends RM_ADDR (RFC 8684 §3.4.2) for local address id on connection
// token and closes the subflows that use it. id 0 names the address of the
// initial subflow.
func (c *Client) Remove(token uint32, id uint8) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrToken, token)
	ae.Uint8(attrLocID, id)
	return c.doAck(cmdRemove, ae)
}

// SubflowRequest describes a subflow to open with CreateSubflow.
type SubflowRequest struct {
	Token uint32
	// LocalID is the local address id to use in MP_JOIN; 0 lets the kernel
	// pick one.
	LocalID uint8
	Local   netip.Addr
	// IfIndex binds the subflow to an interface; 0 for any.
	IfIndex int32
	// Backup sets the backup bit in the MP_JOIN (RFC 8684 §3.2).
	Backup bool
	Remote netip.AddrPort
}

// CreateSubflow opens a subflow (MP_JOIN, RFC 8684 §3.2) on connection
// r.Token from r.Local to r.Remote. It returns once the SYN is sent; the
// outcome comes as EventSubEstablished or EventSubClosed. The peer must
// accept joins on r.Remote (a Linux client has no listener for them, so
// toward a UE this fails).
func (c *Client) CreateSubflow(r SubflowRequest) error {
	if !r.Local.IsValid() || !r.Remote.Addr().IsValid() || r.Remote.Port() == 0 {
		return fmt.Errorf("mptcp_pm %s: local address, remote address and remote port must be set", cmdSubflowCreate)
	}
	var flags EndpointFlags
	if r.Backup {
		flags = FlagBackup
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrToken, r.Token)
	encodeAddr(ae, attrAddr, pmAddr{
		id: r.LocalID, hasID: r.LocalID != 0, addr: r.Local, flags: flags, ifIndex: r.IfIndex,
	})
	encodeAddr(ae, attrAddrRemote, pmAddr{addr: r.Remote.Addr(), port: r.Remote.Port()})
	return c.doAck(cmdSubflowCreate, ae)
}

// DestroySubflow closes the subflow of connection token between local and
// remote (both ports required), sending a RST on it. No such subflow fails
// with ESRCH, as do IPv4 addresses for a subflow of an AF_INET6 socket.
func (c *Client) DestroySubflow(token uint32, local, remote netip.AddrPort) error {
	if err := checkPair(local, remote); err != nil {
		return fmt.Errorf("mptcp_pm %s: %w", cmdSubflowDestroy, err)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrToken, token)
	encodeAddr(ae, attrAddr, pmAddr{addr: local.Addr(), port: local.Port()})
	encodeAddr(ae, attrAddrRemote, pmAddr{addr: remote.Addr(), port: remote.Port()})
	return c.doAck(cmdSubflowDestroy, ae)
}

// SetBackup sets or clears the backup bit of the subflow of connection
// token between local and remote, sending MP_PRIO to the peer (RFC 8684
// §3.3.8); the peer reports EventSubPriority, this side reports nothing.
// Idempotent. No such subflow fails with EINVAL ("subflow not found").
func (c *Client) SetBackup(token uint32, local, remote netip.AddrPort, backup bool) error {
	if err := checkPair(local, remote); err != nil {
		return fmt.Errorf("mptcp_pm %s: %w", cmdSetFlags, err)
	}
	var flags EndpointFlags
	if backup {
		flags = FlagBackup
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrToken, token)
	encodeAddr(ae, attrAddr, pmAddr{addr: local.Addr(), port: local.Port(), flags: flags})
	encodeAddr(ae, attrAddrRemote, pmAddr{addr: remote.Addr(), port: remote.Port()})
	return c.doAck(cmdSetFlags, ae)
}

// checkPair requires both ends of a subflow with their ports.
func checkPair(local, remote netip.AddrPort) error {
	if !local.Addr().IsValid() || !remote.Addr().IsValid() || local.Port() == 0 || remote.Port() == 0 {
		return fmt.Errorf("subflow %v -> %v: both addresses and ports must be set", local, remote)
	}
	return nil
}
