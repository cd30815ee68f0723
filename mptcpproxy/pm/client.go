package pm

import (
	"fmt"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Client sends commands to the kernel's MPTCP path manager over generic
// netlink (family mptcp_pm).
//
// A Client is bound to the network namespace it was opened in, for its whole
// life, whatever goroutine uses it later. It is safe for concurrent use: the
// netlink connection serialises each request with its reply.
type Client struct {
	c      *genetlink.Conn
	family uint16
}

// Open connects to the mptcp_pm generic netlink family of the calling
// thread's network namespace, resolving the family id at run time (it is
// dynamic).
//
// A caller that works in another namespace must call Open on a thread
// locked with runtime.LockOSThread and moved into that namespace (setns);
// the socket stays in that namespace after the thread leaves it. Commands
// that change state need CAP_NET_ADMIN in the namespace's user namespace.
// When the kernel has no MPTCP, the error wraps ENOENT.
func Open() (*Client, error) {
	c, family, err := dial()
	if err != nil {
		return nil, err
	}
	return &Client{c: c, family: family.ID}, nil
}

// dial opens a generic netlink socket in the calling thread's namespace and
// resolves the mptcp_pm family.
func dial() (*genetlink.Conn, genetlink.Family, error) {
	// A nil config (NetNS 0) makes the socket in the calling thread's
	// namespace, which is what Open documents.
	c, err := genetlink.Dial(nil)
	if err != nil {
		return nil, genetlink.Family{}, fmt.Errorf("mptcp_pm: dial generic netlink: %w", err)
	}
	f, err := c.GetFamily(familyName)
	if err != nil {
		c.Close()
		return nil, genetlink.Family{}, fmt.Errorf("mptcp_pm: resolve family: %w", err)
	}
	// Extended acks carry the kernel's reason ("address not found",
	// "invalid token") into the error text. Best effort: kernels without
	// them still report the errno.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return c, f, nil
}

// Close closes the netlink connection. Calls after the first return an
// error and do nothing else.
func (c *Client) Close() error {
	return c.c.Close()
}

// do runs one command and returns the kernel's reply messages. Commands
// that reply with nothing on success ask for an ACK so that success and
// failure both end the exchange; GET commands do not, because their reply
// ends it and an extra ACK would be left in the socket for the next call.
func (c *Client) do(cmd command, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	var data []byte
	if ae != nil {
		var err error
		if data, err = ae.Encode(); err != nil {
			return nil, fmt.Errorf("mptcp_pm %s: encode: %w", cmd, err)
		}
	}
	msgs, err := c.c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: uint8(cmd), Version: familyVer},
		Data:   data,
	}, c.family, flags)
	if err != nil {
		return nil, fmt.Errorf("mptcp_pm %s: %w", cmd, err)
	}
	return msgs, nil
}

// doAck runs a command that replies only with an ACK or an error.
func (c *Client) doAck(cmd command, ae *netlink.AttributeEncoder) error {
	_, err := c.do(cmd, netlink.Request|netlink.Acknowledge, ae)
	return err
}
