package lab

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/linkemu"
)

// Link emulation. An access with a non-zero Config.Emulate profile is
// wired through a fourth namespace, <id>-emu<link> (for example
// <id>-emu3gpp):
//
//	ue: 3gpp ── emu3gpp: EmuUELink ⇄ linkemu ⇄ EmuUPFLink ── upf: 3gpp
//
// Two veth pairs instead of one; the ue's and upf's ends keep their names,
// addresses, routes and tbf shaping, so Shape, Cut, Restore and
// AccessCounters work as without emulation. The forwarder runs in this
// process (test/linkemu) on packet sockets opened in the middle namespace,
// which has no addresses and IPv6 off, so it sends nothing of its own.
// A LinkDown cut sets the ue's and upf's ends down; the middle ends only
// lose their carrier, and frames the forwarder still holds for a downed
// end are dropped.

// Names of the middle namespace's links, toward the ue and toward upf.
const (
	EmuUELink  = "ue"
	EmuUPFLink = "upf"
)

// emuPrefix starts the role suffix of a middle namespace's name.
const emuPrefix = "emu"

// emuRole is the suffix of access a's middle namespace's name.
func emuRole(a atsss.AccessType) string { return emuPrefix + Access[a].Link }

// nsRoles are the suffixes of every namespace a lab may have, for List and
// Remove: a lab's middle namespaces exist only if it emulates an access.
func nsRoles() []string {
	return append(roleNames[:], emuRole(atsss.Access3GPP), emuRole(atsss.AccessNon3GPP))
}

// buildEmu makes access a's middle namespace and its two veth pairs, with
// the far ends named Access[a].Link in ue and upf, and leaves everything
// down but the middle's links. fds are the ue, upf and dn namespaces.
func (l *Lab) buildEmu(a atsss.AccessType, fds [3]netns.NsHandle) error {
	mid := l.emuNS[a]
	if err := createNamed(mid.Name); err != nil {
		return err
	}
	for _, s := range [][2]string{
		{"net.ipv6.conf.all.disable_ipv6", "1"},
		{"net.ipv6.conf.default.disable_ipv6", "1"},
	} {
		if err := mid.Sysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	fd, err := netns.GetFromPath(mid.Path())
	if err != nil {
		return fmt.Errorf("open %s: %w", mid.Name, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", mid.Name, err)
	}
	defer h.Close()
	for _, v := range []struct {
		name string
		peer int
	}{{EmuUELink, roleUE}, {EmuUPFLink, roleUPF}} {
		link := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.name},
			PeerName:      Access[a].Link,
			PeerNamespace: netlink.NsFd(fds[v.peer]),
		}
		if err := h.LinkAdd(link); err != nil {
			return fmt.Errorf("%s: add veth %s: %w", mid.Name, v.name, err)
		}
	}
	for _, n := range []string{"lo", EmuUELink, EmuUPFLink} {
		if err := setUp(h, n, true); err != nil {
			return fmt.Errorf("%s: %w", mid.Name, err)
		}
	}
	return nil
}

// startEmu starts the forwarder of access a in its middle namespace.
func (l *Lab) startEmu(a atsss.AccessType, p linkemu.Profile) error {
	var link *linkemu.Link
	err := l.emuNS[a].Do(func() error {
		var err error
		link, err = linkemu.Open(EmuUELink, EmuUPFLink, p)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", l.emuNS[a].Name, err)
	}
	l.mu.Lock()
	l.emu[a] = link
	l.mu.Unlock()
	return nil
}

// ErrNotEmulated is returned for an access that the lab was built without
// an emulator on (a zero Config.Emulate profile).
var ErrNotEmulated = errors.New("access not emulated")

// SetEmulation replaces the profile of access a's emulator, for frames
// that arrive from now on (see linkemu.Link.SetProfile). The zero Profile
// keeps the emulator in the path with no delay and no loss. The access
// must have been built with an emulator; otherwise ErrNotEmulated. It is
// idempotent.
func (l *Lab) SetEmulation(a atsss.AccessType, p linkemu.Profile) error {
	link, err := l.emulator(a)
	if err != nil {
		return fmt.Errorf("set emulation: %w", err)
	}
	if err := link.SetProfile(p); err != nil {
		return fmt.Errorf("set emulation %v: %w", a, err)
	}
	return nil
}

// EmulationStats returns the counters of access a's emulator: [0] is the
// uplink (ue→upf), [1] the downlink.
func (l *Lab) EmulationStats(a atsss.AccessType) ([2]linkemu.Stats, error) {
	link, err := l.emulator(a)
	if err != nil {
		return [2]linkemu.Stats{}, fmt.Errorf("emulation stats: %w", err)
	}
	return link.Stats(), nil
}

func (l *Lab) emulator(a atsss.AccessType) (*linkemu.Link, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("%v is not an access", a)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.emu[a] == nil {
		return nil, fmt.Errorf("%v: %w", a, ErrNotEmulated)
	}
	return l.emu[a], nil
}
