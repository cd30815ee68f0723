package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/netnstest"
)

// Config says how to build a lab. The zero value is an unshaped lab named
// with DefaultName.
type Config struct {
	// Name prefixes the namespaces' names: <Name>-<pid>-<seq>-{ue,upf,dn}.
	// Empty means DefaultName. It must not contain '/'.
	Name string
	// Rate shapes each access (indexed by atsss.AccessType); the zero Rate
	// leaves it unshaped.
	Rate [2]Rate
	// Emulate puts a link emulator with this profile on each access
	// (indexed by atsss.AccessType): delay, jitter and random loss, in a
	// middle namespace between ue and upf (see SetEmulation). The zero
	// Profile leaves the access a plain veth, without emulator; to start
	// an emulated access with no delay, build it with a profile and then
	// SetEmulation the zero one.
	Emulate [2]linkemu.Profile

	// ownerPID replaces os.Getpid() in the names; tests use it to make a
	// lab look as if its creator had died.
	ownerPID int
}

// seq numbers the labs this process makes, so that their names differ.
// It is only a name generator: nothing else is kept across labs.
var seq atomic.Uint64

// Lab is a running two-access lab. Its methods are safe for concurrent use.
type Lab struct {
	// UE, UPF and DN are the lab's namespaces.
	UE, UPF, DN *NS

	id string

	mu     sync.Mutex // guards the fields below
	closed bool
	// h are netlink handles in ue, upf and dn (index role).
	h [3]*netlink.Handle
	// cut holds the cuts in force per access.
	cut [2]CutMethod
	// emuNS are the middle namespaces of the emulated accesses (nil: not
	// emulated), set before build; emu their running emulators.
	emuNS [2]*NS
	emu   [2]*linkemu.Link
}

// Namespace roles: index into Lab.h and suffix of the namespace names.
const (
	roleUE = iota
	roleUPF
	roleDN
)

var roleNames = [3]string{"ue", "upf", "dn"}

// New builds a lab. It first removes stale labs with the same prefix (whose
// creating process is gone); if building fails, it removes what it made.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if strings.ContainsAny(cfg.Name, "/\x00") || cfg.Name == "." || cfg.Name == ".." {
		return nil, fmt.Errorf("lab name %q: not a file name", cfg.Name)
	}
	for _, a := range atsss.Accesses {
		if err := cfg.Rate[a].validate(); err != nil {
			return nil, fmt.Errorf("lab rate %v: %w", a, err)
		}
		if err := cfg.Emulate[a].Validate(); err != nil {
			return nil, fmt.Errorf("lab emulation %v: %w", a, err)
		}
	}
	if err := removeStale(cfg.Name); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	pid := cfg.ownerPID
	if pid == 0 {
		pid = os.Getpid()
	}
	l := &Lab{}
	// Take the first free seq: a name can still be taken if a dead process
	// with a reused pid left a lab that removeStale took for live.
	for {
		l.id = fmt.Sprintf("%s-%d-%d", cfg.Name, pid, seq.Add(1))
		err := createNamed(l.id + "-" + roleNames[roleUE])
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	l.UE = &NS{Name: l.id + "-" + roleNames[roleUE]}
	l.UPF = &NS{Name: l.id + "-" + roleNames[roleUPF]}
	l.DN = &NS{Name: l.id + "-" + roleNames[roleDN]}
	for _, a := range atsss.Accesses {
		if !cfg.Emulate[a].IsZero() {
			l.emuNS[a] = &NS{Name: l.id + "-" + emuRole(a)}
		}
	}
	if err := l.build(ctx, cfg); err != nil {
		return nil, errors.Join(fmt.Errorf("lab %s: %w", l.id, err), l.Close())
	}
	return l, nil
}

// NewForTest builds a lab for t, or skips t (fails it under CI=true) if
// namespaces cannot be made, and closes the lab when t ends. Setup errors
// fail t.
func NewForTest(t testing.TB, cfg Config) *Lab {
	t.Helper()
	netnstest.Require(t)
	l, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// ID is the lab's name, <prefix>-<pid>-<seq>, as List returns and Remove
// takes.
func (l *Lab) ID() string { return l.id }

// build makes the namespaces and everything in them.
func (l *Lab) build(ctx context.Context, cfg Config) error {
	for _, ns := range []*NS{l.UPF, l.DN} {
		if err := createNamed(ns.Name); err != nil {
			return err
		}
	}
	// Sysctls that must precede the links: IPv6 off (the topology is
	// IPv4-only, and router solicitations, MLD and DAD would otherwise show
	// in the counters that tests use to see which access carried what).
	// IPv4 forwarding off explicitly, as new namespaces inherit IPv4
	// settings from the root namespace (net.core.devconf_inherit_init_net
	// = 0).
	for _, ns := range l.namespaces() {
		for _, s := range [][2]string{
			{"net.ipv6.conf.all.disable_ipv6", "1"},
			{"net.ipv6.conf.default.disable_ipv6", "1"},
			{"net.ipv4.ip_forward", "0"},
		} {
			if err := ns.Sysctl(s[0], s[1]); err != nil {
				return err
			}
		}
	}
	var fds [3]netns.NsHandle
	defer func() {
		for i := range fds {
			if fds[i].IsOpen() {
				fds[i].Close()
			}
		}
	}()
	for i, ns := range l.namespaces() {
		fd, err := netns.GetFromPath(ns.Path())
		if err != nil {
			return fmt.Errorf("open %s: %w", ns.Name, err)
		}
		fds[i] = fd
		h, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink in %s: %w", ns.Name, err)
		}
		l.mu.Lock()
		l.h[i] = h
		l.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h := l.h // only build uses them until New returns
	// Each veth is made in upf with its peer created straight in the other
	// namespace, so nothing ever lives in the root namespace and the same
	// name can be used at both ends. An emulated access is two veths made
	// in its middle namespace instead.
	type veth struct {
		name string
		peer int
	}
	var veths []veth
	for _, a := range atsss.Accesses {
		if l.emuNS[a] != nil {
			if err := l.buildEmu(a, fds); err != nil {
				return err
			}
			continue
		}
		veths = append(veths, veth{Access[a].Link, roleUE})
	}
	veths = append(veths, veth{N6Link, roleDN})
	for _, v := range veths {
		link := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.name},
			PeerName:      v.name,
			PeerNamespace: netlink.NsFd(fds[v.peer]),
		}
		if err := h[roleUPF].LinkAdd(link); err != nil {
			return fmt.Errorf("add veth %s: %w", v.name, err)
		}
	}
	for i, ns := range l.namespaces() {
		names := []string{"lo"}
		switch i {
		case roleUE:
			names = append(names, Access[0].Link, Access[1].Link)
		case roleUPF:
			names = append(names, Access[0].Link, Access[1].Link, N6Link)
		case roleDN:
			names = append(names, N6Link)
		}
		for _, n := range names {
			if err := setUp(h[i], n, true); err != nil {
				return fmt.Errorf("%s: %w", ns.Name, err)
			}
		}
	}
	addrs := []struct {
		role int
		link string
		addr netip.Prefix
	}{
		{roleUE, Access[0].Link, netip.PrefixFrom(Access[0].UEAddr, Access[0].Subnet.Bits())},
		{roleUE, Access[1].Link, netip.PrefixFrom(Access[1].UEAddr, Access[1].Subnet.Bits())},
		{roleUPF, Access[0].Link, netip.PrefixFrom(Access[0].UPFAddr, Access[0].Subnet.Bits())},
		{roleUPF, Access[1].Link, netip.PrefixFrom(Access[1].UPFAddr, Access[1].Subnet.Bits())},
		{roleUPF, N6Link, netip.PrefixFrom(UPFN6Addr, N6Subnet.Bits())},
		{roleUPF, "lo", netip.PrefixFrom(ProxyAddr, 32)},
		{roleDN, N6Link, netip.PrefixFrom(DNAddr, N6Subnet.Bits())},
	}
	for _, a := range addrs {
		if err := addAddr(h[a.role], a.link, a.addr); err != nil {
			return fmt.Errorf("%s: %w", l.namespaces()[a.role].Name, err)
		}
	}
	for _, a := range atsss.Accesses {
		if err := ueRoutes(h[roleUE], a); err != nil {
			return err
		}
		// An unreachable default at the worst metric ends the lookup of the
		// access's table: while the access's link is down (its gateway route
		// gone), its source addresses get "network unreachable" instead of
		// falling through to main and leaking out over the other access.
		if err := h[roleUE].RouteReplace(&netlink.Route{
			Dst:      prefixNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
			Table:    Access[a].Table,
			Type:     unix.RTN_UNREACHABLE,
			Priority: math.MaxUint32,
		}); err != nil {
			return fmt.Errorf("ue: unreachable default in table %d: %w", Access[a].Table, err)
		}
		rule := netlink.NewRule()
		rule.Family = unix.AF_INET
		rule.Src = prefixNet(Access[a].Subnet)
		rule.Table = Access[a].Table
		rule.Priority = Access[a].RulePriority
		if err := h[roleUE].RuleAdd(rule); err != nil {
			return fmt.Errorf("ue: rule from %v lookup %d: %w", Access[a].Subnet, Access[a].Table, err)
		}
	}
	n6, err := h[roleDN].LinkByName(N6Link)
	if err != nil {
		return fmt.Errorf("dn: %w", err)
	}
	if err := h[roleDN].RouteReplace(&netlink.Route{
		LinkIndex: n6.Attrs().Index,
		Gw:        net.IP(UPFN6Addr.AsSlice()),
	}); err != nil {
		return fmt.Errorf("dn: default route: %w", err)
	}
	// The UE uses TFO as a client for RFC 8803 Connect in the SYN.
	if err := l.UE.Sysctl("net.ipv4.tcp_fastopen", "1"); err != nil {
		return err
	}
	// rp_filter off on upf's accesses: the lab's spoof tests send a 3GPP
	// source address over the non-3GPP link, and it is the proxy, not the
	// kernel, that must refuse it. The effective value is the maximum of
	// "all" and the link's, and "all" is inherited from the root namespace,
	// so both are set.
	for _, name := range []string{"all", Access[0].Link, Access[1].Link} {
		if err := l.UPF.Sysctl("net.ipv4.conf."+name+".rp_filter", "0"); err != nil {
			return err
		}
	}
	for _, a := range atsss.Accesses {
		if err := l.Shape(a, cfg.Rate[a]); err != nil {
			return err
		}
	}
	for _, a := range atsss.Accesses {
		if l.emuNS[a] != nil {
			if err := l.startEmu(a, cfg.Emulate[a]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) namespaces() [3]*NS { return [3]*NS{l.UE, l.UPF, l.DN} }

// Close kills every process in the lab's namespaces and deletes them; their
// links go with them. It is idempotent, safe to call concurrently with the
// other methods and from a signal handler's goroutine; calls after the first
// return nil. Sockets made inside the lab by this process keep its
// namespaces alive, unnamed, until they are closed.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	// The emulators first: their sockets would keep the middle
	// namespaces alive.
	for a, e := range l.emu {
		if e != nil {
			errs = append(errs, e.Close())
			l.emu[a] = nil
		}
	}
	for _, ns := range l.emuNS {
		if ns != nil {
			errs = append(errs, deleteNamed(ns.Name))
		}
	}
	for i, ns := range l.namespaces() {
		if l.h[i] != nil {
			l.h[i].Close()
			l.h[i] = nil
		}
		if ns != nil {
			errs = append(errs, deleteNamed(ns.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close lab %s: %w", l.id, err)
	}
	return nil
}

// ErrClosed is returned by a closed lab's methods.
var ErrClosed = errors.New("lab closed")

// handle returns the netlink handle of a role; l.mu must be held.
func (l *Lab) handle(role int) (*netlink.Handle, error) {
	if l.closed {
		return nil, ErrClosed
	}
	return l.h[role], nil
}

// List returns the IDs of the labs under /run/netns whose prefix is prefix,
// or of every lab if prefix is empty, sorted, whether their creator lives
// or not.
func List(prefix string) ([]string, error) {
	labs, err := list()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, l := range labs {
		if prefix == "" || l.prefix == prefix {
			ids = append(ids, l.id)
		}
	}
	return ids, nil
}

// Remove kills every process in the namespaces of the lab with this ID and
// deletes them, whether its creator lives or not. A lab that is already gone
// is not an error.
func Remove(id string) error {
	if _, _, ok := parseID(id); !ok {
		return fmt.Errorf("remove lab: %q is not a lab ID (<prefix>-<pid>-<seq>)", id)
	}
	var errs []error
	for _, r := range nsRoles() {
		errs = append(errs, deleteNamed(id+"-"+r))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove lab %s: %w", id, err)
	}
	return nil
}

// labEntry is a lab found under /run/netns.
type labEntry struct {
	id, prefix string
	pid        int
}

// list finds labs under /run/netns: names <prefix>-<pid>-<seq>-<role>,
// where role is one of nsRoles (a middle namespace alone, left by a
// half-made lab, is found too).
func list() ([]labEntry, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	seen := map[string]bool{}
	roles := nsRoles()
	var labs []labEntry
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		i := strings.LastIndexByte(name, '-')
		if i < 0 {
			continue
		}
		if !slices.Contains(roles, name[i+1:]) {
			continue
		}
		id := name[:i]
		prefix, pid, ok := parseID(id)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		labs = append(labs, labEntry{id: id, prefix: prefix, pid: pid})
	}
	return labs, nil
}

// parseID splits <prefix>-<pid>-<seq>.
func parseID(id string) (prefix string, pid int, ok bool) {
	rest, seqs, ok := cutLast(id)
	if !ok || !digits(seqs) {
		return "", 0, false
	}
	prefix, pids, ok := cutLast(rest)
	if !ok || prefix == "" || !digits(pids) {
		return "", 0, false
	}
	pid, err := strconv.Atoi(pids)
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return prefix, pid, true
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStale removes the labs with this prefix whose creating process is
// gone, and everything running in them.
func removeStale(prefix string) error {
	labs, err := list()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range labs {
		if l.prefix != prefix || alive(l.pid) {
			continue
		}
		errs = append(errs, Remove(l.id))
	}
	return errors.Join(errs...)
}

// alive reports whether a process with this pid exists. A reused pid makes
// a stale lab look alive; it is then left alone, which errs on the safe
// side.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
