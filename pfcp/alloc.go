package pfcp

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sync"

	"github.com/openatsss/atsss/atsss"
)

// errPoolExhausted is answered with Cause 75 (no resources available).
var errPoolExhausted = errors.New("pool exhausted")

// allocator hands out what a session holds of the UPF: link-specific
// multipath addresses per access (TS 29.244 §5.20.2.2) and the TEIDs of
// F-TEIDs the UPF chose (§5.5.3). The MPTCP proxy address and port, and
// the PMF address and ports, are the same for every session (see
// PMFConfig). It is safe for concurrent use.
type allocator struct {
	proxy        MPTCPConfig
	proxyEnabled bool
	pmf          PMFConfig

	mu           sync.Mutex // guards the pools below
	linkSpecific [2][]*addrPool
	teids        teidPool
}

func newAllocator(c ATSSSConfig) *allocator {
	a := &allocator{proxy: c.MPTCP, proxyEnabled: c.MPTCP.Enabled(), pmf: c.PMF}
	for _, acc := range atsss.Accesses {
		for _, p := range c.MPTCP.LinkSpecificPools.For(acc) {
			a.linkSpecific[acc] = append(a.linkSpecific[acc], newAddrPool(p))
		}
	}
	return a
}

// allocate returns the parameters for req, keeping whatever old already
// holds that req still asks for, so a repeated Provide ATSSS Control
// Information does not move a UE's addresses. It never releases old's
// resources: the caller does that with release(diff(old, new)) once the
// session is committed, or release(diff(new, old)) if it is not.
func (a *allocator) allocate(req atsss.ATSSSRequest, old atsss.ATSSSParams) (atsss.ATSSSParams, error) {
	var p atsss.ATSSSParams
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []resource
	undo := func() {
		for _, r := range got {
			a.free(r)
		}
	}
	take := func(r resource, err error) error {
		if err == nil {
			got = append(got, r)
		}
		return err
	}
	if req.MPTCP && a.proxyEnabled {
		if old.MPTCP != nil {
			p.MPTCP = old.MPTCP
		} else {
			m := &atsss.MPTCPParams{ProxyType: 1, ProxyIPv4: a.proxy.Address4, ProxyIPv6: a.proxy.Address6, ProxyPort: a.proxy.Port}
			for _, acc := range atsss.Accesses {
				for _, pool := range a.linkSpecific[acc] {
					addr, err := pool.take()
					if err := take(resource{addr: addr}, err); err != nil {
						undo()
						return p, fmt.Errorf("link-specific address for %v access: %w", acc, err)
					}
					if addr.Is4() {
						m.LinkSpecific[acc].IPv4 = addr
					} else {
						m.LinkSpecific[acc].IPv6 = addr
					}
				}
			}
			p.MPTCP = m
		}
	}
	p.ATSSSLL = req.ATSSSLL
	if req.PMF && a.pmf.Enabled() {
		// One default pair of ports, then one pair per QFI with PQPM
		// (TS 29.244 §5.20.3.1).
		p.PMF = append(p.PMF, a.pmf.params(0))
		if req.PQPM {
			for _, qfi := range req.QFIs {
				p.PMF = append(p.PMF, a.pmf.params(qfi))
			}
		}
	}
	return p, nil
}

// takeTEID allocates a TEID for an F-TEID the UPF chooses.
func (a *allocator) takeTEID() (uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.teids.take()
}

// reserve marks the resources sess holds as taken: used when sessions are
// restored from the store at start.
func (a *allocator) reserve(sess *atsss.Session) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range resourcesOf(sess) {
		if !a.mark(r) {
			return fmt.Errorf("restored session holds %v, outside the configured pools or held twice", r)
		}
	}
	return nil
}

// release frees resources.
func (a *allocator) release(rs []resource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rs {
		a.free(r)
	}
}

// resource is one allocated link-specific address or TEID.
type resource struct {
	addr netip.Addr
	teid uint32
}

func (r resource) String() string {
	if r.teid != 0 {
		return fmt.Sprintf("TEID %#x", r.teid)
	}
	return r.addr.String()
}

// resourcesOf lists what sess holds of the allocator.
func resourcesOf(sess *atsss.Session) []resource {
	var out []resource
	for _, t := range chosenTEIDs(sess) {
		out = append(out, resource{teid: t})
	}
	if p := sess.ATSSS.Params; p.MPTCP != nil {
		for _, acc := range atsss.Accesses {
			for _, a := range p.MPTCP.LinkSpecific[acc].Addrs() {
				out = append(out, resource{addr: a})
			}
		}
	}
	return out
}

// diff returns the resources a holds and b does not.
func diff(a, b *atsss.Session) []resource {
	keep := resourcesOf(b)
	return slices.DeleteFunc(resourcesOf(a), func(r resource) bool { return slices.Contains(keep, r) })
}

// mark and free find the pool a resource belongs to; callers hold mu.
func (a *allocator) mark(r resource) bool {
	if r.teid != 0 {
		return a.teids.mark(r.teid)
	}
	for _, pools := range a.linkSpecific {
		for _, pool := range pools {
			if pool.prefix.Contains(r.addr) {
				return pool.mark(r.addr)
			}
		}
	}
	return false
}

func (a *allocator) free(r resource) {
	if r.teid != 0 {
		a.teids.free(r.teid)
		return
	}
	for _, pools := range a.linkSpecific {
		for _, pool := range pools {
			if pool.prefix.Contains(r.addr) {
				pool.free(r.addr)
			}
		}
	}
}

// addrPool hands out the host addresses of one prefix. It never hands out
// an IPv4 prefix's network and broadcast addresses (for prefixes shorter
// than /31) nor an IPv6 prefix's first address, the Subnet-Router anycast
// address (RFC 4291 §2.6.1).
type addrPool struct {
	prefix netip.Prefix
	first  netip.Addr
	size   uint64 // number of addresses handed out at most
	next   uint64 // offset from first where the next search starts
	used   map[netip.Addr]struct{}
}

// maxPoolSize caps the addresses a pool considers, so an IPv6 /64 pool
// stays a pool of 2^32 addresses and the offset arithmetic stays in uint64.
const maxPoolSize = 1 << 32

func newAddrPool(p netip.Prefix) *addrPool {
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	size := uint64(maxPoolSize)
	if hostBits < 32 {
		size = 1 << hostBits
	}
	first := p.Addr()
	switch {
	case first.Is4() && hostBits >= 2:
		first, size = first.Next(), size-2
	case first.Is6() && hostBits >= 1:
		first, size = first.Next(), size-1
	}
	return &addrPool{prefix: p, first: first, size: size, used: make(map[netip.Addr]struct{})}
}

func (p *addrPool) take() (netip.Addr, error) {
	if uint64(len(p.used)) >= p.size {
		return netip.Addr{}, fmt.Errorf("%v: %w", p.prefix, errPoolExhausted)
	}
	for {
		a := addOffset(p.first, p.next)
		p.next = (p.next + 1) % p.size
		if _, busy := p.used[a]; !busy {
			p.used[a] = struct{}{}
			return a, nil
		}
	}
}

func (p *addrPool) mark(a netip.Addr) bool {
	if _, busy := p.used[a]; busy || !p.prefix.Contains(a) {
		return false
	}
	p.used[a] = struct{}{}
	return true
}

func (p *addrPool) free(a netip.Addr) { delete(p.used, a) }

func addOffset(a netip.Addr, off uint64) netip.Addr {
	n := new(big.Int).SetBytes(a.AsSlice())
	n.Add(n, new(big.Int).SetUint64(off))
	b := n.FillBytes(make([]byte, a.BitLen()/8))
	out, _ := netip.AddrFromSlice(b)
	return out
}
