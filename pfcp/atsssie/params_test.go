package atsssie

import (
	"net/netip"
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

var (
	mptcpV4Only = &atsss.MPTCPParams{
		ProxyType: 1,
		ProxyIPv4: netip.MustParseAddr("192.0.2.10"),
		ProxyPort: 7000,
		LinkSpecific: [2]atsss.AddrPair{
			atsss.Access3GPP:    {IPv4: netip.MustParseAddr("10.61.0.1")},
			atsss.AccessNon3GPP: {IPv4: netip.MustParseAddr("10.62.0.1")},
		},
	}
	mptcpDualStack = &atsss.MPTCPParams{
		ProxyType: 1,
		ProxyIPv4: netip.MustParseAddr("192.0.2.10"),
		ProxyIPv6: netip.MustParseAddr("2001:db8::a"),
		ProxyPort: 7000,
		LinkSpecific: [2]atsss.AddrPair{
			atsss.Access3GPP:    {IPv4: netip.MustParseAddr("10.61.0.1"), IPv6: netip.MustParseAddr("2001:db8:3d::1")},
			atsss.AccessNon3GPP: {IPv4: netip.MustParseAddr("10.62.0.1"), IPv6: netip.MustParseAddr("2001:db8:3e::1")},
		},
	}
	pmfDefault = atsss.PMFParams{Addr: atsss.AddrPair{IPv4: netip.MustParseAddr("192.0.2.20")}, Ports: [2]uint16{7001, 7002}}
	pmfQFI5    = atsss.PMFParams{QFI: 5, Addr: atsss.AddrPair{IPv6: netip.MustParseAddr("2001:db8::14")}, Ports: [2]uint16{7003, 7004}}
)

// Hex of the children of ATSSS Control Parameters, by the figures of
// TS 29.244 §8.2.157-160.
const (
	// MPTCP Parameters 225 (00e1) = MPTCP Address Information 228 (00e4:
	// flags V4, proxy type 1, port 7000, 192.0.2.10) + Link-Specific
	// Multipath IP Address 229 (00e5: flags V4|NV4, 10.61.0.1, 10.62.0.1).
	hexMPTCPV4 = "00e1 0019 00e4 0008 01 01 1b58 c000020a 00e5 0009 05 0a3d0001 0a3e0001"
	// The same, dual-stack: flags V4|V6 and V4|V6|NV4|NV6.
	hexMPTCPDual = "00e1 0049" +
		" 00e4 0018 03 01 1b58 c000020a 20010db8 00000000 00000000 0000000a" +
		" 00e5 0029 0f 0a3d0001 20010db8 003d0000 00000000 00000001 0a3e0001 20010db8 003e0000 00000000 00000001"
	// ATSSS-LL Parameters 226 (00e2) = ATSSS-LL Information 231 (00e7, LLI).
	hexLL = "00e2 0005 00e7 0001 01"
	// PMF Parameters 227 (00e3) = PMF Address Information 230 (00e6: flags
	// V4, 192.0.2.20, ports 7001 and 7002), no QFI.
	hexPMFDefault = "00e3 000d 00e6 0009 01 c0000214 1b59 1b5a"
	// PMF Parameters for QFI 5: flags V6, 2001:db8::14, ports 7003 and 7004,
	// then QFI 124 (007c).
	hexPMFQFI5 = "00e3 001e 00e6 0015 02 20010db8 00000000 00000000 00000014 1b5b 1b5c 007c 0001 05"
)

var paramsSuite = suite[atsss.ATSSSParams]{
	typ:   ie.ATSSSControlParameters,
	build: NewATSSSControlParameters,
	parse: ParseATSSSControlParameters,
	golden: []row[atsss.ATSSSParams]{
		{"nothing", atsss.ATSSSParams{}, "00dd 0000"},
		{"mptcp", atsss.ATSSSParams{MPTCP: mptcpV4Only}, "00dd 001d " + hexMPTCPV4},
		{"mptcp dual-stack", atsss.ATSSSParams{MPTCP: mptcpDualStack}, "00dd 004d " + hexMPTCPDual},
		{"atsss-ll", atsss.ATSSSParams{ATSSSLL: true}, "00dd 0009 " + hexLL},
		{"pmf default and qfi 5", atsss.ATSSSParams{PMF: []atsss.PMFParams{pmfDefault, pmfQFI5}}, "00dd 0033 " + hexPMFDefault + hexPMFQFI5},
		{
			"all", atsss.ATSSSParams{MPTCP: mptcpV4Only, ATSSSLL: true, PMF: []atsss.PMFParams{pmfDefault}},
			"00dd 0037 " + hexMPTCPV4 + hexLL + hexPMFDefault,
		},
	},
	decode: []row[atsss.ATSSSParams]{
		{
			"any order", atsss.ATSSSParams{MPTCP: mptcpV4Only, ATSSSLL: true, PMF: []atsss.PMFParams{pmfQFI5, pmfDefault}},
			"00dd 0059 " + hexPMFQFI5 + hexLL + hexPMFDefault + hexMPTCPV4,
		},
		{
			"mptcp children swapped", atsss.ATSSSParams{MPTCP: mptcpV4Only},
			"00dd 001d 00e1 0019 00e5 0009 05 0a3d0001 0a3e0001 00e4 0008 01 01 1b58 c000020a",
		},
		{"lli clear", atsss.ATSSSParams{}, "00dd 0009 00e2 0005 00e7 0001 00"},
		{"unknown child: mpquic parameters 331", atsss.ATSSSParams{ATSSSLL: true}, "00dd 000d 014b 0000 " + hexLL},
		{
			"qfi spare bits", atsss.ATSSSParams{PMF: []atsss.PMFParams{{QFI: 5, Addr: pmfDefault.Addr, Ports: pmfDefault.Ports}}},
			"00dd 0016 00e3 0012 00e6 0009 01 c0000214 1b59 1b5a 007c 0001 c5",
		},
		{
			// What go-pfcp writes: 12 MAC octets that the clear MAC flag says
			// are absent, read as trailing octets.
			"pmf address from go-pfcp", atsss.ATSSSParams{PMF: []atsss.PMFParams{pmfDefault}},
			"00dd 001d 00e3 0019 00e6 0015 01 c0000214 1b59 1b5a 000000000000 000000000000",
		},
	},
	bad: []badRow{
		{"child longer than parent", "00dd 0004 00e1 0010", ie.ATSSSControlParameters, ErrInvalidLength},
		{"no link-specific address", "00dd 0010 00e1 000c 00e4 0008 01 01 1b58 c000020a", ie.UELinkSpecificIPAddress, ErrMissingIE},
		{"no mptcp address information", "00dd 0011 00e1 000d 00e5 0009 05 0a3d0001 0a3e0001", ie.MPTCPAddressInformation, ErrMissingIE},
		{"short proxy port", "00dd 000b 00e1 0007 00e4 0003 01 01 1b", ie.MPTCPAddressInformation, ErrInvalidLength},
		{"v4 flag without address", "00dd 000c 00e1 0008 00e4 0004 01 01 1b58", ie.MPTCPAddressInformation, ErrInvalidLength},
		{
			"nv6 flag, short address", "00dd 0015 00e1 0011 00e4 0004 00 01 1b58 00e5 0005 08 20010db8",
			ie.UELinkSpecificIPAddress, ErrInvalidLength,
		},
		{"mptcp parameters cut short", "00dd 0009 00e1 0005 00e4 0002 01", ie.MPTCPParameters, ErrInvalidLength},
		{"atsss-ll parameters cut short", "00dd 0007 00e2 0003 00e7 00", ie.ATSSSLLParameters, ErrInvalidLength},
		{"pmf parameters cut short", "00dd 0008 00e3 0004 00e6 0009", ie.PMFParameters, ErrInvalidLength},
		{"empty atsss-ll parameters", "00dd 0004 00e2 0000", ie.ATSSSLLInformation, ErrMissingIE},
		{"empty atsss-ll information", "00dd 0008 00e2 0004 00e7 0000", ie.ATSSSLLInformation, ErrInvalidLength},
		{"pmf parameters without address", "00dd 0009 00e3 0005 007c 0001 05", ie.PMFAddressInformation, ErrMissingIE},
		{"empty qfi", "00dd 0015 00e3 0011 00e6 0009 01 c0000214 1b59 1b5a 007c 0000", ie.QFI, ErrInvalidLength},
	},
}

var pmfAddressSuite = suite[pmfAddress]{
	typ:   ie.PMFAddressInformation,
	build: func(p pmfAddress) *ie.IE { return NewPMFAddressInformation(p.Addr, p.Ports) },
	parse: func(i *ie.IE) (pmfAddress, error) {
		a, ports, err := ParsePMFAddressInformation(i)
		return pmfAddress{a, ports}, err
	},
	// TS 29.244 §8.2.159: flags V4 bit 1, V6 bit 2, MAC bit 3; IPv4, IPv6,
	// 3GPP port and non-3GPP port with V4 or V6; two MACs with MAC only.
	golden: []row[pmfAddress]{
		{"ipv4", pmfAddress{atsss.AddrPair{IPv4: netip.MustParseAddr("192.0.2.1")}, [2]uint16{7001, 7002}}, "00e6 0009 01 c0000201 1b59 1b5a"},
		{
			"ipv6", pmfAddress{atsss.AddrPair{IPv6: netip.MustParseAddr("2001:db8::1")}, [2]uint16{1, 2}},
			"00e6 0015 02 20010db8 00000000 00000000 00000001 0001 0002",
		},
		{
			"dual-stack", pmfAddress{atsss.AddrPair{IPv4: netip.MustParseAddr("192.0.2.1"), IPv6: netip.MustParseAddr("2001:db8::1")}, [2]uint16{7001, 7002}},
			"00e6 0019 03 c0000201 20010db8 00000000 00000000 00000001 1b59 1b5a",
		},
		{"no address", pmfAddress{}, "00e6 0001 00"},
	},
	decode: []row[pmfAddress]{
		{
			"ipv4 and macs", pmfAddress{atsss.AddrPair{IPv4: netip.MustParseAddr("192.0.2.1")}, [2]uint16{7001, 7002}},
			"00e6 0015 05 c0000201 1b59 1b5a 020000000001 020000000002",
		},
		{"macs only", pmfAddress{}, "00e6 000d 04 020000000001 020000000002"},
		{"spare bits", pmfAddress{atsss.AddrPair{IPv4: netip.MustParseAddr("192.0.2.1")}, [2]uint16{7001, 7002}}, "00e6 0009 f1 c0000201 1b59 1b5a"},
	},
	bad: []badRow{
		{"empty", "00e6 0000", ie.PMFAddressInformation, ErrInvalidLength},
		{"short ipv6", "00e6 0009 02 c0000201 1b59 1b5a", ie.PMFAddressInformation, ErrInvalidLength},
		{"no non-3gpp port", "00e6 0007 01 c0000201 1b59", ie.PMFAddressInformation, ErrInvalidLength},
		{"short macs", "00e6 000b 05 c0000201 1b59 1b5a 0200", ie.PMFAddressInformation, ErrInvalidLength},
	},
}

// pmfAddress is what a PMF Address Information IE carries.
type pmfAddress struct {
	Addr  atsss.AddrPair
	Ports [2]uint16
}

func TestATSSSControlParameters(t *testing.T) { paramsSuite.run(t) }
func TestPMFAddressInformation(t *testing.T)  { pmfAddressSuite.run(t) }

// TestWrongFamily checks that an address of the wrong family is left out
// rather than written in the wrong field.
func TestWrongFamily(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	got := hexOf(t, NewPMFAddressInformation(atsss.AddrPair{IPv4: v6}, [2]uint16{1, 2}))
	if want := "00e6000100"; got != want {
		t.Errorf("PMF address with an IPv6 IPv4 field: got %s, want %s", got, want)
	}
	m := &atsss.MPTCPParams{ProxyType: 1, ProxyIPv6: netip.MustParseAddr("192.0.2.1"), ProxyPort: 1}
	got = hexOf(t, NewATSSSControlParameters(atsss.ATSSSParams{MPTCP: m}))
	if want := "00dd0011" + "00e1000d" + "00e40004" + "00010001" + "00e50001" + "00"; got != want {
		t.Errorf("MPTCP parameters with an IPv4 IPv6 field: got %s, want %s", got, want)
	}
}
