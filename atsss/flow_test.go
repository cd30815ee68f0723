package atsss_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// prefixCmp compares netip.Prefix values, whose fields are unexported.
var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func pfx(s string) atsss.AddrMatch { return atsss.AddrMatch{Prefix: netip.MustParsePrefix(s)} }

var assigned = atsss.AddrMatch{Assigned: true}

func ports(r ...uint16) []atsss.PortRange {
	var out []atsss.PortRange
	for i := 0; i < len(r); i += 2 {
		out = append(out, atsss.PortRange{First: r[i], Last: r[i+1]})
	}
	return out
}

var flowValid = []struct {
	name, in string
	want     atsss.FlowFilter
	str      string // String(); "" means in
}{
	{name: "ip-any-assigned", in: "permit out ip from any to assigned",
		want: atsss.FlowFilter{UE: assigned}},
	{name: "tcp", in: "permit out 6 from any to assigned",
		want: atsss.FlowFilter{Proto: 6, UE: assigned}},
	{name: "any-both", in: "permit out 17 from any to any",
		want: atsss.FlowFilter{Proto: 17}},
	{name: "proto-0-is-ip", in: "permit out 0 from any to any",
		want: atsss.FlowFilter{}, str: "permit out ip from any to any"},
	{name: "proto-255-leading-zero", in: "permit out 0255 from any to assigned",
		want: atsss.FlowFilter{Proto: 255, UE: assigned}, str: "permit out 255 from any to assigned"},
	{name: "ipv4-host-port", in: "permit out 17 from 198.51.100.7 53 to assigned",
		want: atsss.FlowFilter{Proto: 17, Remote: pfx("198.51.100.7/32"), RemotePorts: ports(53, 53), UE: assigned}},
	{name: "ipv4-host-slash32", in: "permit out ip from 198.51.100.7/32 to 10.45.0.2/32",
		want: atsss.FlowFilter{Remote: pfx("198.51.100.7/32"), UE: pfx("10.45.0.2/32")},
		str:  "permit out ip from 198.51.100.7 to 10.45.0.2"},
	{name: "ipv4-prefix-port-list", in: "permit out 6 from 203.0.113.0/24 80,443,8000-8080 to assigned 1024-65535",
		want: atsss.FlowFilter{Proto: 6, Remote: pfx("203.0.113.0/24"), RemotePorts: ports(80, 80, 443, 443, 8000, 8080),
			UE: assigned, UEPorts: ports(1024, 65535)}},
	{name: "ipv4-host-bits-masked", in: "permit out ip from 192.0.2.10/24 to assigned",
		want: atsss.FlowFilter{Remote: pfx("192.0.2.0/24"), UE: assigned}, str: "permit out ip from 192.0.2.0/24 to assigned"},
	{name: "ipv4-zero-prefix", in: "permit out ip from 0.0.0.0/0 to assigned",
		want: atsss.FlowFilter{Remote: pfx("0.0.0.0/0"), UE: assigned}},
	{name: "ipv6-prefix-to-host", in: "permit out 6 from 2001:db8::/32 443 to 2001:db8:45::2",
		want: atsss.FlowFilter{Proto: 6, Remote: pfx("2001:db8::/32"), RemotePorts: ports(443, 443), UE: pfx("2001:db8:45::2/128")}},
	{name: "ipv6-uncanonical", in: "permit out 58 from 2001:DB8:0:0::1 to assigned",
		want: atsss.FlowFilter{Proto: 58, Remote: pfx("2001:db8::1/128"), UE: assigned}, str: "permit out 58 from 2001:db8::1 to assigned"},
	{name: "ipv6-ue-prefix-ports", in: "permit out 17 from any 5060 to 2001:db8:45::/64 5060,5062",
		want: atsss.FlowFilter{Proto: 17, RemotePorts: ports(5060, 5060), UE: pfx("2001:db8:45::/64"), UEPorts: ports(5060, 5060, 5062, 5062)}},
	{name: "port-edges", in: "permit out 6 from any 0,65535,80-80 to assigned",
		want: atsss.FlowFilter{Proto: 6, RemotePorts: ports(0, 0, 65535, 65535, 80, 80), UE: assigned},
		str:  "permit out 6 from any 0,65535,80 to assigned"},
	{name: "whitespace", in: " permit\tout  6 from any   to\tassigned \n",
		want: atsss.FlowFilter{Proto: 6, UE: assigned}, str: "permit out 6 from any to assigned"},
}

var flowInvalid = []struct {
	name, in string
	want     string // a part of the error: the bad token, or what was expected
}{
	{name: "empty", in: "", want: `ends where "permit" is expected`},
	{name: "deny", in: "deny out ip from any to assigned", want: `token 1 "deny"`},
	{name: "upper-case", in: "Permit out ip from any to assigned", want: `"Permit"`},
	{name: "in", in: "permit in ip from any to assigned", want: `token 2 "in"`},
	{name: "proto-name", in: "permit out tcp from any to assigned", want: `token 3 "tcp"`},
	{name: "proto-256", in: "permit out 256 from any to assigned", want: `token 3 "256": protocol number out of range`},
	{name: "proto-negative", in: "permit out -1 from any to assigned", want: `token 3 "-1"`},
	{name: "no-from", in: "permit out 6 to assigned", want: `token 4 "to": want "from"`},
	{name: "assigned-as-source", in: "permit out 6 from assigned to any", want: `token 5 "assigned"`},
	{name: "invert", in: "permit out 6 from !192.0.2.1 to assigned", want: `token 5 "!192.0.2.1": the invert modifier`},
	{name: "bad-ipv4", in: "permit out 6 from 192.0.2.300 to assigned", want: `token 5 "192.0.2.300"`},
	{name: "bad-bits", in: "permit out 6 from 192.0.2.0/33 to assigned", want: `token 5 "192.0.2.0/33"`},
	{name: "zone", in: "permit out 6 from fe80::1%eth0 to assigned", want: `token 5 "fe80::1%eth0": an address with a zone`},
	{name: "mapped", in: "permit out 6 from ::ffff:192.0.2.1 to assigned", want: `token 5 "::ffff:192.0.2.1": an IPv4-mapped`},
	{name: "hostname", in: "permit out 6 from example.com to assigned", want: `token 5 "example.com"`},
	{name: "port-list-with-space", in: "permit out 6 from any 80, 443 to assigned", want: `token 6 "80,": source ports`},
	{name: "port-range-reversed", in: "permit out 6 from any 90-80 to assigned", want: `token 6 "90-80": source ports: range "90-80" ends before it starts`},
	{name: "port-too-big", in: "permit out 6 from any 65536 to assigned", want: `token 6 "65536": source ports: port 65536 out of range`},
	{name: "port-sign", in: "permit out 6 from any +80 to assigned", want: `token 6 "+80"`},
	{name: "port-open-range", in: "permit out 6 from any 80- to assigned", want: `token 6 "80-"`},
	{name: "two-source-port-tokens", in: "permit out 6 from any 80 443 to assigned", want: `token 7 "443": want "to"`},
	{name: "option", in: "permit out 6 from any to assigned established", want: `token 8 "established": destination ports`},
	{name: "option-after-ports", in: "permit out 6 from any to assigned 80 setup", want: `token 9 "setup": nothing may follow`},
	{name: "truncated-after-from", in: "permit out 6 from", want: `ends where source address is expected`},
	{name: "truncated-after-to", in: "permit out 6 from any to", want: `ends where destination address is expected`},
	{name: "mixed-ip-versions", in: "permit out ip from 192.0.2.1 to 2001:db8::1", want: `different IP versions`},
	{name: "trailing-comma", in: "permit out 6 from any to assigned 80,", want: `token 8 "80,"`},
}

func TestParseFlowDescription(t *testing.T) {
	for _, tc := range flowValid {
		t.Run("valid/"+tc.name, func(t *testing.T) {
			got, err := atsss.ParseFlowDescription(tc.in)
			if err != nil {
				t.Fatalf("ParseFlowDescription(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, prefixCmp); diff != "" {
				t.Errorf("ParseFlowDescription(%q) (-want +got):\n%s", tc.in, diff)
			}
			want := tc.str
			if want == "" {
				want = tc.in
			}
			if s := got.String(); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
		})
	}
	for _, tc := range flowInvalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			got, err := atsss.ParseFlowDescription(tc.in)
			if err == nil {
				t.Fatalf("ParseFlowDescription(%q) = %v, want an error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseFlowDescription(%q) = %v\nwant it to say %s", tc.in, err, tc.want)
			}
			t.Log(err)
		})
	}
}

func mustFlow(t testing.TB, s string) atsss.FlowFilter {
	t.Helper()
	f, err := atsss.ParseFlowDescription(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMatchUplink(t *testing.T) {
	const tcp, udp = 6, 17
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name   string
		filter string
		proto  uint8
		ue     string
		uePort uint16
		remote string
		want   bool
	}{
		{"any/tcp", "permit out ip from any to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:443", true},
		{"any/udp-v6", "permit out ip from any to assigned", udp, "2001:db8:45::2", 40000, "[2001:db8::53]:53", true},
		{"proto/match", "permit out 6 from any to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:443", true},
		{"proto/mismatch", "permit out 6 from any to assigned", udp, "10.45.0.2", 40000, "203.0.113.5:443", false},
		{"remote/in-prefix", "permit out 6 from 203.0.113.0/24 443 to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:443", true},
		{"remote/mapped", "permit out 6 from 203.0.113.0/24 443 to assigned", tcp, "::ffff:10.45.0.2", 40000, "[::ffff:203.0.113.5]:443", true},
		{"remote/out-of-prefix", "permit out 6 from 203.0.113.0/24 443 to assigned", tcp, "10.45.0.2", 40000, "198.51.100.5:443", false},
		{"remote/other-port", "permit out 6 from 203.0.113.0/24 443 to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:80", false},
		{"remote/port-in-range", "permit out 6 from any 80,8000-8080 to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:8042", true},
		{"remote/port-between-ranges", "permit out 6 from any 80,8000-8080 to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:443", false},
		{"remote/v6-prefix-v4-packet", "permit out ip from 2001:db8::/32 to assigned", tcp, "10.45.0.2", 40000, "203.0.113.5:443", false},
		{"remote/v6-prefix-v6-packet", "permit out ip from 2001:db8::/32 to assigned", tcp, "2001:db8:45::2", 40000, "[2001:db8::1]:443", true},
		{"remote/v4-zero-prefix-v6-packet", "permit out ip from 0.0.0.0/0 to assigned", tcp, "2001:db8:45::2", 40000, "[2001:db8::1]:443", false},
		{"ue/address", "permit out 17 from any 53 to 10.45.0.2 5000-6000", udp, "10.45.0.2", 5500, "198.51.100.53:53", true},
		{"ue/other-address", "permit out 17 from any 53 to 10.45.0.2 5000-6000", udp, "10.45.0.3", 5500, "198.51.100.53:53", false},
		{"ue/other-port", "permit out 17 from any 53 to 10.45.0.2 5000-6000", udp, "10.45.0.2", 7000, "198.51.100.53:53", false},
		// The rule is written for the downlink ("from" the server "to" the
		// UE); the uplink packet goes the other way (TS 29.244 §5.2.1A.2A).
		{"direction/uplink", "permit out 6 from 203.0.113.5 443 to 10.45.0.2 40000", tcp, "10.45.0.2", 40000, "203.0.113.5:443", true},
		{"direction/not-as-written", "permit out 6 from 203.0.113.5 443 to 10.45.0.2 40000", tcp, "203.0.113.5", 443, "10.45.0.2:40000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFlow(t, tc.filter)
			if got := f.MatchUplink(tc.proto, netip.MustParseAddr(tc.ue), tc.uePort, ap(tc.remote)); got != tc.want {
				t.Errorf("%q.MatchUplink(%d, %s:%d -> %s) = %v, want %v", tc.filter, tc.proto, tc.ue, tc.uePort, tc.remote, got, tc.want)
			}
		})
	}
}

// conn is one connection a test asks an UplinkPolicy about.
type conn struct {
	proto     uint8
	ue        netip.Addr
	uePort    uint16
	portKnown bool
	remote    string
	want      bool
}

func tcpTo(ue netip.Addr, remote string, want bool) conn {
	return conn{proto: 6, ue: ue, remote: remote, want: want}
}

func udpTo(ue netip.Addr, remote string, want bool) conn {
	return conn{proto: 17, ue: ue, remote: remote, want: want}
}

func tcpFromPort(ue netip.Addr, port uint16, remote string, want bool) conn {
	return conn{proto: 6, ue: ue, uePort: port, portKnown: true, remote: remote, want: want}
}

const (
	pdrULExtra = 10 // a third uplink PDR that policy tests add
	farExtra   = 10
	qerClosed  = 10
)

// ulFilters sets the SDF filters of both uplink PDRs of validSession.
func ulFilters(filters ...atsss.SDFFilter) func(*atsss.Session) {
	return func(s *atsss.Session) {
		for _, id := range []uint16{pdrUL3GPP, pdrULNon3GPP} {
			s.PDR(id).PDI.SDFFilters = filters
		}
	}
}

func fd(s string) atsss.SDFFilter { return atsss.SDFFilter{FlowDescription: s} }

// extraULPDR adds an uplink PDR with the given precedence and filters that
// uses a new FAR with the given action toward the core.
func extraULPDR(prec uint32, action atsss.ApplyAction, filters ...atsss.SDFFilter) func(*atsss.Session) {
	return func(s *atsss.Session) {
		far := atsss.FAR{ID: farExtra, ApplyAction: action}
		if action&atsss.ActionForw != 0 {
			far.Forwarding = &atsss.Forwarding{DestinationInterface: atsss.InterfaceCore}
		}
		s.FARs = append(s.FARs, far)
		s.PDRs = append(s.PDRs, atsss.PDR{
			ID: pdrULExtra, Precedence: prec,
			PDI: atsss.PDI{
				SourceInterface: atsss.InterfaceAccess,
				FTEID:           &atsss.FTEID{TEID: 0x300, IPv4: upfN3},
				SDFFilters:      filters,
			},
			FARID: set32(farExtra),
		})
	}
}

func TestUplinkPolicy(t *testing.T) {
	const (
		web     = "203.0.113.5:443"
		web80   = "203.0.113.5:80"
		blocked = "203.0.113.66:443"
		dns     = "198.51.100.53:53"
		web6    = "[2001:db8::80]:443"
	)
	foreign := netip.MustParseAddr("10.99.0.1")
	for _, tc := range []struct {
		name  string
		edit  func(*atsss.Session)
		conns []conn
	}{
		{name: "no-filters-allow-all", conns: []conn{
			tcpTo(ueIPv4, web, true), udpTo(ueIPv4, dns, true), tcpTo(ueIPv6, web6, true),
			tcpTo(link3GPP, web, true), tcpTo(linkN3, web, true),
			tcpTo(netip.MustParseAddr("::ffff:10.45.0.2"), "[::ffff:203.0.113.5]:443", true),
		}},
		{name: "foreign-ue", conns: []conn{tcpTo(foreign, web, false), tcpTo(netip.Addr{}, web, false)}},
		{name: "tcp-443-only", edit: ulFilters(fd("permit out 6 from 203.0.113.0/24 443 to assigned")), conns: []conn{
			tcpTo(ueIPv4, web, true), tcpTo(link3GPP, web, true), tcpTo(ueIPv4, web80, false),
			udpTo(ueIPv4, "203.0.113.5:443", false), tcpTo(ueIPv4, "198.51.100.5:443", false), tcpTo(ueIPv6, web6, false),
		}},
		{name: "filters-of-a-pdr-are-alternatives", edit: ulFilters(
			fd("permit out 17 from any 53 to assigned"), fd("permit out 6 from any 443 to assigned")), conns: []conn{
			tcpTo(ueIPv4, web, true), udpTo(ueIPv4, dns, true), tcpTo(ueIPv4, web80, false), udpTo(ueIPv4, web, false),
		}},
		{name: "drop-pdr-first", edit: extraULPDR(50, atsss.ActionDrop, fd("permit out 6 from 203.0.113.66 to assigned")), conns: []conn{
			tcpTo(ueIPv4, blocked, false), tcpTo(ueIPv4, web, true), udpTo(ueIPv4, blocked, true),
		}},
		{name: "drop-pdr-after-catch-all", edit: extraULPDR(300, atsss.ActionDrop, fd("permit out 6 from 203.0.113.66 to assigned")), conns: []conn{
			tcpTo(ueIPv4, blocked, true),
		}},
		{name: "buffering-pdr-first", edit: extraULPDR(50, atsss.ActionBuff, fd("permit out 6 from 203.0.113.66 to assigned")), conns: []conn{
			tcpTo(ueIPv4, blocked, false), tcpTo(ueIPv4, web, true),
		}},
		{name: "only-drop-pdrs", edit: then(ulFilters(fd("permit out 6 from 203.0.113.66 to assigned")),
			func(s *atsss.Session) { s.FAR(farN6).ApplyAction, s.FAR(farN6).Forwarding = atsss.ActionDrop, nil }), conns: []conn{
			tcpTo(ueIPv4, blocked, false), tcpTo(ueIPv4, web, false),
		}},
		{name: "forw-pdr-before-restrictive-pdrs", edit: then(
			ulFilters(fd("permit out 6 from 203.0.113.66 to assigned")),
			extraULPDR(50, atsss.ActionForw, fd("permit out 17 from any 53 to assigned"))), conns: []conn{
			udpTo(ueIPv4, dns, true), tcpTo(ueIPv4, blocked, true), tcpTo(ueIPv4, web, false),
		}},
		{name: "application-id-only", edit: func(s *atsss.Session) {
			for _, id := range []uint16{pdrUL3GPP, pdrULNon3GPP} {
				s.PDR(id).PDI.ApplicationID = "video"
			}
		}, conns: []conn{tcpTo(ueIPv4, web, false)}},
		{name: "catch-all-drop-first", edit: extraULPDR(50, atsss.ActionDrop), conns: []conn{
			tcpTo(ueIPv4, web, false), udpTo(ueIPv6, "[2001:db8::53]:53", false),
		}},
		// Dropping by application needs packet inspection: not enforced here.
		{name: "application-id-drop-skipped", edit: then(extraULPDR(50, atsss.ActionDrop),
			func(s *atsss.Session) { s.PDR(pdrULExtra).PDI.ApplicationID = "video" }), conns: []conn{
			tcpTo(ueIPv4, web, true),
		}},
		{name: "tos-only-filter", edit: ulFilters(atsss.SDFFilter{ToSTrafficClass: 0x2efc}), conns: []conn{tcpTo(ueIPv4, web, false)}},
		{name: "flow-label-with-description", edit: ulFilters(atsss.SDFFilter{FlowDescription: "permit out 6 from any to assigned", FlowLabel: 0x12345}),
			conns: []conn{tcpTo(ueIPv6, web6, false)}},
		{name: "spi-filter", edit: ulFilters(atsss.SDFFilter{FlowDescription: "permit out 50 from any to assigned", SPI: 0x1000}),
			conns: []conn{{proto: 50, ue: ueIPv4, remote: "203.0.113.5:0", want: false}}},
		{name: "bidirectional-filter-id", edit: ulFilters(atsss.SDFFilter{FilterID: 1}), conns: []conn{
			// Filter ID 1 is the MPTCP DL PDR's "permit out 6 from any to assigned".
			tcpTo(ueIPv4, web, true), udpTo(ueIPv4, dns, false),
		}},
		{name: "bidirectional-filter-id-unknown", edit: ulFilters(atsss.SDFFilter{FilterID: 99}), conns: []conn{tcpTo(ueIPv4, web, false)}},
		{name: "ue-ports", edit: ulFilters(fd("permit out 6 from any to assigned 40000-40100")), conns: []conn{
			tcpTo(ueIPv4, web, false), // port unknown: the filter cannot match
			tcpFromPort(ueIPv4, 40050, web, true), tcpFromPort(ueIPv4, 1000, web, false),
		}},
		{name: "explicit-ue-address", edit: ulFilters(fd("permit out 6 from any to 10.45.0.2")), conns: []conn{
			tcpTo(ueIPv4, web, true),
			tcpTo(link3GPP, web, true), // relayed from the MA PDU address
			tcpTo(linkN3, web, true),
			tcpTo(ueIPv6, web6, false), // no IPv6 address in a v4 filter
			tcpTo(link3GPP, web6, false),
		}},
		{name: "explicit-ue-prefix-v6", edit: ulFilters(fd("permit out 6 from any to 2001:db8:45::/64")), conns: []conn{
			tcpTo(ueIPv6, web6, true), tcpTo(link3GPP, web6, true), tcpTo(link3GPP, web, false), tcpTo(ueIPv4, web, false),
		}},
		{name: "uplink-gate-closed", edit: func(s *atsss.Session) {
			s.QERs = append(s.QERs, atsss.QER{ID: qerClosed, GateUL: atsss.GateClosed})
			s.PDR(pdrUL3GPP).QERIDs = append(s.PDR(pdrUL3GPP).QERIDs, qerClosed)
			s.PDR(pdrULNon3GPP).QERIDs = append(s.PDR(pdrULNon3GPP).QERIDs, qerClosed)
		}, conns: []conn{tcpTo(ueIPv4, web, false)}},
		{name: "downlink-gate-closed", edit: func(s *atsss.Session) {
			s.QERs = append(s.QERs, atsss.QER{ID: qerClosed, GateDL: atsss.GateClosed})
			s.PDR(pdrUL3GPP).QERIDs = append(s.PDR(pdrUL3GPP).QERIDs, qerClosed)
		}, conns: []conn{tcpTo(ueIPv4, web, true)}},
		{name: "far-to-access", edit: func(s *atsss.Session) {
			s.FAR(farN6).Forwarding.DestinationInterface = atsss.InterfaceAccess
		}, conns: []conn{tcpTo(ueIPv4, web, false)}},
		{name: "far-to-n6-lan", edit: func(s *atsss.Session) {
			s.FAR(farN6).Forwarding.DestinationInterface = atsss.InterfaceSGiLAN
		}, conns: []conn{tcpTo(ueIPv4, web, true)}},
		{name: "no-uplink-pdr", edit: func(s *atsss.Session) {
			s.PDRs = withoutPDRs(s.PDRs, pdrUL3GPP, pdrULNon3GPP)
		}, conns: []conn{tcpTo(ueIPv4, web, false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSession()
			if tc.edit != nil {
				tc.edit(s)
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("the test session is invalid: %v", err)
			}
			p := s.UplinkFilters()
			for _, c := range tc.conns {
				remote := netip.MustParseAddrPort(c.remote)
				if c.portKnown {
					ue := netip.AddrPortFrom(c.ue, c.uePort)
					if got := p.AllowsPort(c.proto, ue, remote); got != c.want {
						t.Errorf("AllowsPort(%d, %v, %v) = %v, want %v", c.proto, ue, remote, got, c.want)
					}
					continue
				}
				if got := p.Allows(c.proto, c.ue, remote); got != c.want {
					t.Errorf("Allows(%d, %v, %v) = %v, want %v", c.proto, c.ue, remote, got, c.want)
				}
				if got := s.AllowsUplink(c.proto, c.ue, remote); got != c.want {
					t.Errorf("AllowsUplink(%d, %v, %v) = %v, want %v", c.proto, c.ue, remote, got, c.want)
				}
			}
		})
	}
}

func withoutPDRs(pdrs []atsss.PDR, ids ...uint16) []atsss.PDR {
	var out []atsss.PDR
	for _, p := range pdrs {
		keep := true
		for _, id := range ids {
			keep = keep && p.ID != id
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func TestUplinkPolicyZero(t *testing.T) {
	var p atsss.UplinkPolicy
	if p.Allows(6, ueIPv4, netip.MustParseAddrPort("203.0.113.5:443")) {
		t.Error("the zero UplinkPolicy allows a connection")
	}
}

// TestUplinkPolicyUnvalidated: a Flow Description that Validate would
// refuse never matches, in a session that was not validated.
func TestUplinkPolicyUnvalidated(t *testing.T) {
	s := validSession()
	ulFilters(fd("permit out tcp from any to assigned"))(s)
	if s.AllowsUplink(6, ueIPv4, netip.MustParseAddrPort("203.0.113.5:443")) {
		t.Error("a filter that does not parse allows a connection")
	}
}

// TestUplinkPolicyAtssstest checks the session that the data plane tests
// use: uplink over both accesses to N6, no filters.
func TestUplinkPolicyAtssstest(t *testing.T) {
	s := atssstest.Session(7)
	p := s.UplinkFilters()
	remote4, remote6 := netip.MustParseAddrPort("198.51.100.250:443"), netip.MustParseAddrPort("[2001:db8:ffff::1]:443")
	for _, ue := range s.UEAddrs() {
		remote := remote4
		if ue.Is6() {
			remote = remote6
		}
		if !p.Allows(6, ue, remote) {
			t.Errorf("Allows(6, %v, %v) = false, want true", ue, remote)
		}
	}
	if other := atssstest.Session(8).UEAddrs()[0]; p.Allows(6, other, remote4) {
		t.Errorf("Allows(6, %v, ...) = true for another session's UE", other)
	}
}

// benchSession is validSession with five uplink PDRs of two filters each,
// the last one matching the connection Allows is asked about: the worst
// case of a realistic policy.
func benchSession(tb testing.TB) (*atsss.Session, netip.AddrPort) {
	s := validSession()
	ulFilters(fd("permit out 6 from 203.0.113.0/24 443,8443 to assigned"), fd("permit out 17 from any 53 to assigned"))(s)
	for i := range 3 {
		id := uint16(20 + i)
		s.PDRs = append(s.PDRs, atsss.PDR{
			ID: id, Precedence: 100 + uint32(i),
			PDI: atsss.PDI{SourceInterface: atsss.InterfaceAccess, SDFFilters: []atsss.SDFFilter{
				fd("permit out 6 from 2001:db8::/32 80 to assigned"),
				fd("permit out 17 from 192.0.2.0/24 5060-5070 to 10.45.0.0/16 5060"),
			}},
			FARID: set32(farN6),
		})
	}
	if err := s.Validate(); err != nil {
		tb.Fatal(err)
	}
	return s, netip.MustParseAddrPort("203.0.113.5:8443")
}

func TestUplinkPolicyAllowsAllocs(t *testing.T) {
	s, remote := benchSession(t)
	p := s.UplinkFilters()
	if !p.Allows(6, link3GPP, remote) {
		t.Fatal("the benchmark connection is not allowed")
	}
	if n := testing.AllocsPerRun(100, func() { p.Allows(6, link3GPP, remote) }); n != 0 {
		t.Errorf("Allows allocates %v times per call, want 0", n)
	}
}

func BenchmarkUplinkPolicyAllows(b *testing.B) {
	s, remote := benchSession(b)
	p := s.UplinkFilters()
	b.ReportAllocs()
	for b.Loop() {
		if !p.Allows(6, link3GPP, remote) {
			b.Fatal("not allowed")
		}
	}
}

func BenchmarkAllowsUplink(b *testing.B) {
	s, remote := benchSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if !s.AllowsUplink(6, link3GPP, remote) {
			b.Fatal("not allowed")
		}
	}
}

func BenchmarkParseFlowDescription(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := atsss.ParseFlowDescription("permit out 6 from 203.0.113.0/24 80,443,8000-8080 to assigned 1024-65535"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseFlowDescription checks that ParseFlowDescription never panics,
// that what it accepts prints (String) to a text it reads back to the same
// value, and that matching an accepted filter does not panic.
func FuzzParseFlowDescription(f *testing.F) {
	for _, tc := range flowValid {
		f.Add(tc.in)
	}
	for _, tc := range flowInvalid {
		f.Add(tc.in)
	}
	remotes := []netip.AddrPort{netip.MustParseAddrPort("203.0.113.5:443"), netip.MustParseAddrPort("[2001:db8::1]:53")}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := atsss.ParseFlowDescription(s)
		if err != nil {
			return
		}
		str := got.String()
		again, err := atsss.ParseFlowDescription(str)
		if err != nil {
			t.Fatalf("%q parses, its String() %q does not: %v", s, str, err)
		}
		if diff := cmp.Diff(got, again, prefixCmp); diff != "" {
			t.Fatalf("%q and its String() %q parse differently (-first +second):\n%s", s, str, diff)
		}
		if again.String() != str {
			t.Fatalf("String() is not stable: %q then %q", str, again.String())
		}
		for _, r := range remotes {
			got.MatchUplink(6, ueIPv4, 40000, r)
			got.MatchUplink(17, ueIPv6, 5060, r)
		}
	})
}
