package ll

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// openTUN creates a TUN device (IFF_TUN, no packet information header) in
// the calling thread's network namespace, sets its MTU, brings it up and
// routes prefixes into it. The device is not persistent: it goes, with its
// routes, when the returned file is closed. Reads go through the
// runtime's poller, so Close ends them.
func openTUN(name string, mtu int, routes []netip.Prefix) (_ *os.File, err error) {
	// The descriptor is made non-blocking and handed to the runtime's
	// poller only after TUNSETIFF: tun's poll registers with the device's
	// wait queue only once the file is attached to a device, so an epoll
	// registration made before would never be woken (every read would
	// wait forever).
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			err = fmt.Errorf("TUNSETIFF %q: %w", name, err)
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %q: %w", name, err)
	}
	file := os.NewFile(uintptr(fd), "/dev/net/tun")
	defer func() {
		if err != nil {
			file.Close()
		}
	}()
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(ifr.Name())
	if err != nil {
		return nil, fmt.Errorf("tun %s: %w", ifr.Name(), err)
	}
	if err := h.LinkSetMTU(link, mtu); err != nil {
		return nil, fmt.Errorf("tun %s: mtu %d: %w", ifr.Name(), mtu, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("tun %s: up: %w", ifr.Name(), err)
	}
	for _, p := range routes {
		r := &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       &net.IPNet{IP: net.IP(p.Masked().Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
			Scope:     netlink.SCOPE_LINK,
		}
		if err := h.RouteReplace(r); err != nil {
			return nil, fmt.Errorf("tun %s: route %v: %w", ifr.Name(), p, err)
		}
	}
	return file, nil
}
