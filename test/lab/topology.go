package lab

import (
	"net/netip"

	"github.com/openatsss/atsss/atsss"
)

// The lab's fixed addressing plan. Tests, benchmarks and the demo share it;
// these are values to read, never to change.

// DefaultName is the namespace prefix when Config.Name is empty.
const DefaultName = "atsss"

// N6Link is the name of the veth between upf and dn, at both ends.
const N6Link = "n6"

var (
	// ProxyAddr is where the MPTCP proxy listens: a /32 on upf's lo.
	ProxyAddr = netip.MustParseAddr("203.0.113.1")
	// N6Subnet is the N6 link between upf and dn.
	N6Subnet = netip.MustParsePrefix("203.0.113.128/25")
	// UPFN6Addr is upf's end of N6 and dn's default gateway.
	UPFN6Addr = netip.MustParseAddr("203.0.113.129")
	// DNAddr is the data network server's address, dn's end of N6.
	DNAddr = netip.MustParseAddr("203.0.113.130")
)

// AccessLink is the addressing of one access's link between ue and upf.
type AccessLink struct {
	// Link names the veth at both ends (ue and upf).
	Link string
	// Subnet is the link's subnet; the ue routes any source address in
	// it over this link.
	Subnet netip.Prefix
	// Pool is the N4 pool the UE's link-specific addresses come from
	// (given to the SMF simulator); it leaves room for UEAddr.
	Pool netip.Prefix
	// UEAddr is the base address of the UE's end, outside Pool.
	UEAddr netip.Addr
	// UPFAddr is upf's end and the ue's gateway on this access.
	UPFAddr netip.Addr
	// Table is the ue's routing table for sources in Subnet.
	Table int
	// RulePriority is the priority of the ue's "from Subnet lookup Table"
	// rule: ahead of main (32766).
	RulePriority int
}

// Access is the addressing of both accesses, indexed by atsss.AccessType.
// The ue's main table routes by default over the 3GPP access.
var Access = [2]AccessLink{
	atsss.Access3GPP: {
		Link:         "3gpp",
		Subnet:       netip.MustParsePrefix("192.0.2.0/24"),
		Pool:         netip.MustParsePrefix("192.0.2.0/25"),
		UEAddr:       netip.MustParseAddr("192.0.2.200"),
		UPFAddr:      netip.MustParseAddr("192.0.2.254"),
		Table:        103,
		RulePriority: 1003,
	},
	atsss.AccessNon3GPP: {
		Link:         "n3gpp",
		Subnet:       netip.MustParsePrefix("198.51.100.0/24"),
		Pool:         netip.MustParsePrefix("198.51.100.0/25"),
		UEAddr:       netip.MustParseAddr("198.51.100.200"),
		UPFAddr:      netip.MustParseAddr("198.51.100.254"),
		Table:        104,
		RulePriority: 1004,
	},
}
