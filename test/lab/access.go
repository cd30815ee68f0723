package lab

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
)

// Rate shapes one access in Mbit/s (10^6 bit/s) per direction; 0 leaves a
// direction unshaped. Up is ue→upf, shaped on the ue's end of the link;
// Down is upf→ue, shaped on upf's end.
type Rate struct {
	UpMbit, DownMbit float64
}

func (r Rate) validate() error {
	for _, v := range []float64{r.UpMbit, r.DownMbit} {
		// tbf's rate is bytes/s in 64 bits; 10^6 Mbit/s is far beyond veth.
		if math.IsNaN(v) || v < 0 || v > 1e6 || (v > 0 && v < 0.01) {
			return fmt.Errorf("rate %v Mbit/s: want 0 (unshaped) or 0.01 to 10^6", v)
		}
	}
	return nil
}

// Shaping with tbf (token bucket). The numbers, for 100–1000 Mbit/s on veth:
//
//   - burst (bucket size) is the larger of 128 KiB and 2 ms at the rate.
//     veth does TSO/GSO, so TCP hands tbf skbs of up to 64 KiB; a bucket
//     smaller than an skb would make tbf segment every one of them. Time in
//     the bucket covers late timers: tbf sends again from an hrtimer, and on
//     a loaded 2-vCPU machine that can fire a millisecond late, which a
//     1 ms bucket at 1000 Mbit/s (125 kB) cannot make up for. A larger
//     bucket only lets a burst through at line rate after an idle moment;
//     the long-term rate is the rate.
//   - limit (queue) is 10 ms at the rate plus the burst, like tc's
//     "latency 10ms". On veth the path's own RTT is tens of µs, so 10 ms
//     of queue is far above the bandwidth-delay product and TCP keeps the
//     link full, while a standing queue adds at most 10 ms of delay.
//
// tbf counts whole frames (Ethernet, IP and TCP headers), so TCP goodput
// tops out at 1448/1514 = 95.6 % of the rate with 1500-byte MTU and TCP
// timestamps. BenchmarkShapedThroughput measures it: 95.4–95.8 % at 100,
// 300 and 1000 Mbit/s up and down on an idle machine; a loaded one loses
// more (80–93 % seen with load average 7 on 2 vCPUs).
const (
	tbfMinBurst = 128 << 10 // bytes
	tbfBurstSec = 0.002
	tbfQueueSec = 0.010
)

// tbfHandle is the handle of the lab's tbf root qdisc.
var tbfHandle = netlink.MakeHandle(1, 0)

// tbf returns the qdisc that shapes link to mbit.
func tbf(link netlink.Link, mbit float64) *netlink.Tbf {
	rate := uint64(mbit * 1e6 / 8) // bytes/s
	burst := max(uint64(tbfMinBurst), uint64(float64(rate)*tbfBurstSec))
	limit := uint64(float64(rate)*tbfQueueSec) + burst
	return &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: link.Attrs().Index,
			Handle:    tbfHandle,
			Parent:    netlink.HANDLE_ROOT,
		},
		Rate:  rate,
		Limit: uint32(min(limit, math.MaxUint32)),
		// The kernel takes the bucket as the time to send it at the rate,
		// in scheduler ticks.
		Buffer: netlink.Xmittime(rate, uint32(min(burst, math.MaxUint32))),
	}
}

// Shape sets the shaping of access a, replacing what was there; the zero
// Rate removes it. It is idempotent.
func (l *Lab) Shape(a atsss.AccessType, r Rate) error {
	if !a.Valid() {
		return fmt.Errorf("shape: %v is not an access", a)
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("shape %v: %w", a, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, side := range []struct {
		role int
		mbit float64
	}{{roleUE, r.UpMbit}, {roleUPF, r.DownMbit}} {
		h, err := l.handle(side.role)
		if err != nil {
			return fmt.Errorf("shape %v: %w", a, err)
		}
		link, err := h.LinkByName(Access[a].Link)
		if err != nil {
			return fmt.Errorf("shape %v: %s: %w", a, roleNames[side.role], err)
		}
		if err := setTbf(h, link, side.mbit); err != nil {
			return fmt.Errorf("shape %v: %s: %w", a, roleNames[side.role], err)
		}
	}
	return nil
}

// setTbf installs or replaces the lab's tbf on link, or removes it if mbit
// is 0.
func setTbf(h *netlink.Handle, link netlink.Link, mbit float64) error {
	if mbit > 0 {
		if err := h.QdiscReplace(tbf(link, mbit)); err != nil {
			return fmt.Errorf("tbf %v Mbit/s: %w", mbit, err)
		}
		return nil
	}
	qdiscs, err := h.QdiscList(link)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qdiscs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == tbfHandle {
			if err := h.QdiscDel(q); err != nil {
				return fmt.Errorf("remove tbf: %w", err)
			}
		}
	}
	return nil
}

// AddUEAddr adds addr/24 to the UE's link of access a, for a link-specific
// address from the N4 pool. The ue's rules already route the subnet over
// the access. It is idempotent.
func (l *Lab) AddUEAddr(a atsss.AccessType, addr netip.Addr) error {
	if !a.Valid() {
		return fmt.Errorf("add UE address: %v is not an access", a)
	}
	if !Access[a].Subnet.Contains(addr) {
		return fmt.Errorf("add UE address %v: not in %v access subnet %v", addr, a, Access[a].Subnet)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.handle(roleUE)
	if err != nil {
		return fmt.Errorf("add UE address %v: %w", addr, err)
	}
	return addAddr(h, Access[a].Link, netip.PrefixFrom(addr, Access[a].Subnet.Bits()))
}

// CutMethod is how an access is cut.
type CutMethod uint8

const (
	// LinkDown sets both ends of the access's veth down: the kernels on
	// both sides see the link go, and drop its routes.
	LinkDown CutMethod = 1 << iota
	// SilentDrop drops every packet on the access's link in both ue and
	// upf, at the netdev ingress and egress hooks (nftables), with no link
	// event: the link stays up and only the traffic stops, like a radio
	// that fades. Dropped packets are not counted by the link.
	SilentDrop
)

func (m CutMethod) String() string {
	switch m {
	case LinkDown:
		return "link-down"
	case SilentDrop:
		return "silent-drop"
	case LinkDown | SilentDrop:
		return "link-down|silent-drop"
	case 0:
		return "none"
	}
	return fmt.Sprintf("cut(%d)", uint8(m))
}

// Cut cuts access a with method how. Cutting an access already cut the
// same way does nothing; two methods can be in force at once. Restore
// undoes both.
func (l *Lab) Cut(a atsss.AccessType, how CutMethod) error {
	if !a.Valid() {
		return fmt.Errorf("cut: %v is not an access", a)
	}
	if how != LinkDown && how != SilentDrop {
		return fmt.Errorf("cut %v: unknown method %v", a, how)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("cut %v: %w", a, ErrClosed)
	}
	if l.cut[a]&how != 0 {
		return nil
	}
	var err error
	switch how {
	case LinkDown:
		err = l.setAccessUp(a, false)
	case SilentDrop:
		err = l.setDrop(a, true)
	}
	if err != nil {
		return fmt.Errorf("cut %v %v: %w", a, how, err)
	}
	l.cut[a] |= how
	return nil
}

// Restore undoes the cuts in force on access a; with none, it does
// nothing.
func (l *Lab) Restore(a atsss.AccessType) error {
	if !a.Valid() {
		return fmt.Errorf("restore: %v is not an access", a)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("restore %v: %w", a, ErrClosed)
	}
	if l.cut[a]&LinkDown != 0 {
		if err := l.setAccessUp(a, true); err != nil {
			return fmt.Errorf("restore %v: %w", a, err)
		}
		l.cut[a] &^= LinkDown
	}
	if l.cut[a]&SilentDrop != 0 {
		if err := l.setDrop(a, false); err != nil {
			return fmt.Errorf("restore %v: %w", a, err)
		}
		l.cut[a] &^= SilentDrop
	}
	return nil
}

// setAccessUp sets both ends of access a up or down; l.mu must be held.
// Setting a link down makes the kernel drop the routes through it, so on
// the way up the ue's gateway routes are put back.
func (l *Lab) setAccessUp(a atsss.AccessType, up bool) error {
	// Both ends are always changed, so a failure half-way is retried whole.
	for _, role := range []int{roleUE, roleUPF} {
		if err := setUp(l.h[role], Access[a].Link, up); err != nil {
			return fmt.Errorf("%s: %w", roleNames[role], err)
		}
	}
	if up {
		return ueRoutes(l.h[roleUE], a)
	}
	return nil
}

// dropTable names the nftables table that silently drops access a's
// traffic; it is made in both ue and upf.
func dropTable(a atsss.AccessType) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyNetdev, Name: "atsss_lab_drop_" + Access[a].Link}
}

// setDrop installs or removes the silent drop of access a in ue and upf;
// l.mu must be held.
func (l *Lab) setDrop(a atsss.AccessType, drop bool) error {
	for _, ns := range []*NS{l.UE, l.UPF} {
		if err := setDropIn(ns, a, drop); err != nil {
			return err
		}
	}
	return nil
}

func setDropIn(ns *NS, a atsss.AccessType, drop bool) error {
	fd, err := netns.GetFromPath(ns.Path())
	if err != nil {
		return fmt.Errorf("open %s: %w", ns.Name, err)
	}
	defer fd.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(fd)))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", ns.Name, err)
	}
	t := dropTable(a)
	if !drop {
		c.DelTable(t)
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("nftables in %s: delete table %s: %w", ns.Name, t.Name, err)
		}
		return nil
	}
	// A netdev table with two base chains bound to the link, whose policy
	// is drop and which have no rules: every frame in or out of the link
	// is dropped. Egress drops happen before the qdisc and the driver, so
	// the sender's kernel sees no error and no link counter moves.
	c.AddTable(t)
	policy := nftables.ChainPolicyDrop
	for _, hook := range []struct {
		name string
		num  *nftables.ChainHook
	}{{"in", nftables.ChainHookIngress}, {"out", nftables.ChainHookEgress}} {
		c.AddChain(&nftables.Chain{
			Name:     hook.name,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  hook.num,
			Priority: nftables.ChainPriorityFilter,
			Policy:   &policy,
			Device:   Access[a].Link,
		})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables in %s: add table %s: %w", ns.Name, t.Name, err)
	}
	return nil
}

// Counters are a link's interface statistics.
type Counters struct {
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
}

// AccessCounters returns the statistics of upf's end of access a: Rx is
// what came from the UE (uplink), Tx what went to it (downlink). Packets a
// SilentDrop discards are not counted. On an emulated access, Rx counts
// what the emulator let through and Tx what upf sent before the emulator's
// loss; frames still in the emulator's delay line when a SilentDrop starts
// are counted as they reach upf's end, whose ingress hook then drops them.
// One netlink request; cheap enough to poll every 100 ms.
func (l *Lab) AccessCounters(a atsss.AccessType) (Counters, error) {
	if !a.Valid() {
		return Counters{}, fmt.Errorf("access counters: %v is not an access", a)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.handle(roleUPF)
	if err != nil {
		return Counters{}, fmt.Errorf("access counters %v: %w", a, err)
	}
	link, err := h.LinkByName(Access[a].Link)
	if err != nil {
		return Counters{}, fmt.Errorf("access counters %v: %w", a, err)
	}
	s := link.Attrs().Statistics
	if s == nil {
		return Counters{}, fmt.Errorf("access counters %v: link has no statistics", a)
	}
	return Counters{RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxPackets: s.RxPackets, TxPackets: s.TxPackets}, nil
}

// setUp sets the named link up or down.
func setUp(h *netlink.Handle, name string, up bool) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("link %s up=%t: %w", name, up, err)
	}
	return nil
}

// addAddr adds p to the named link; an address already there is kept.
func addAddr(h *netlink.Handle, name string, p netip.Prefix) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.AddrReplace(link, &netlink.Addr{IPNet: prefixNet(p)}); err != nil {
		return fmt.Errorf("address %v on %s: %w", p, name, err)
	}
	return nil
}

// ueRoutes puts the ue's gateway routes of access a in place: the default
// route of the access's table and, for 3GPP, of the main table.
func ueRoutes(h *netlink.Handle, a atsss.AccessType) error {
	link, err := h.LinkByName(Access[a].Link)
	if err != nil {
		return fmt.Errorf("ue: link %s: %w", Access[a].Link, err)
	}
	gw := net.IP(Access[a].UPFAddr.AsSlice())
	tables := []int{Access[a].Table}
	if a == atsss.Access3GPP {
		tables = append(tables, unix.RT_TABLE_MAIN)
	}
	for _, t := range tables {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw, Table: t}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("ue: default via %v dev %s table %d: %w", gw, Access[a].Link, t, err)
		}
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
