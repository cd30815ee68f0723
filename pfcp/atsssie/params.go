package atsssie

import (
	"encoding/binary"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// NewATSSSControlParameters builds the ATSSS Control Parameters IE of a
// Session Establishment or Modification Response (TS 29.244 §7.5.3.7):
// MPTCP Parameters when p.MPTCP is set, ATSSS-LL Parameters when p.ATSSSLL,
// and one PMF Parameters per entry of p.PMF, in order, with a QFI IE when
// the entry's QFI is not 0. The grouped IEs, ATSSS-LL Information, MPTCP
// Address Information and Link-Specific Multipath IP Address come from
// go-pfcp, which encodes them correctly; PMF Address Information does not.
func NewATSSSControlParameters(p atsss.ATSSSParams) *ie.IE {
	var kids []*ie.IE
	if m := p.MPTCP; m != nil {
		ls3, lsn := m.LinkSpecific[atsss.Access3GPP], m.LinkSpecific[atsss.AccessNon3GPP]
		kids = append(kids, ie.NewMPTCPParameters(
			ie.NewMPTCPAddressInformation(m.ProxyType, m.ProxyPort, ip4(m.ProxyIPv4), ip6(m.ProxyIPv6)),
			ie.NewUELinkSpecificIPAddress(ip4(ls3.IPv4), ip6(ls3.IPv6), ip4(lsn.IPv4), ip6(lsn.IPv6)),
		))
	}
	if p.ATSSSLL {
		kids = append(kids, ie.NewATSSSLLParameters(ie.NewATSSSLLInformation(1))) // LLI, §8.2.160
	}
	for _, pmf := range p.PMF {
		grand := []*ie.IE{NewPMFAddressInformation(pmf.Addr, pmf.Ports)}
		if pmf.QFI != 0 {
			grand = append(grand, ie.NewQFI(pmf.QFI&qfiMask))
		}
		kids = append(kids, ie.NewGroupedIE(ie.PMFParameters, grand...))
	}
	return ie.NewATSSSControlParameters(kids...)
}

// ParseATSSSControlParameters decodes an ATSSS Control Parameters IE.
// Children it does not know, such as the Rel-18 MPQUIC Parameters, are
// ignored; of a repeated MPTCP or ATSSS-LL Parameters only the first counts.
func ParseATSSSControlParameters(i *ie.IE) (atsss.ATSSSParams, error) {
	var p atsss.ATSSSParams
	kids, err := children(i, ie.ATSSSControlParameters)
	if err != nil {
		return p, err
	}
	if c := first(kids, ie.MPTCPParameters); c != nil {
		if p.MPTCP, err = parseMPTCPParameters(c); err != nil {
			return atsss.ATSSSParams{}, within(ie.ATSSSControlParameters, err)
		}
	}
	if c := first(kids, ie.ATSSSLLParameters); c != nil {
		if p.ATSSSLL, err = parseATSSSLLParameters(c); err != nil {
			return atsss.ATSSSParams{}, within(ie.ATSSSControlParameters, err)
		}
	}
	for _, c := range kids {
		if c.Type != ie.PMFParameters {
			continue
		}
		pmf, err := parsePMFParameters(c)
		if err != nil {
			return atsss.ATSSSParams{}, within(ie.ATSSSControlParameters, err)
		}
		p.PMF = append(p.PMF, pmf)
	}
	return p, nil
}

// Flags of octet 5 of MPTCP Address Information (TS 29.244 §8.2.157; the
// text calls V6 "bit 1", the figure puts it in bit 2, as go-pfcp does) and
// of Link-Specific Multipath IP Address (§8.2.158).
const (
	mptcpV4   = 1 << 0
	mptcpV6   = 1 << 1
	linkV4    = 1 << 0
	linkV6    = 1 << 1
	linkNonV4 = 1 << 2
	linkNonV6 = 1 << 3
)

// parseMPTCPParameters decodes MPTCP Parameters: MPTCP Address Information
// and Link-Specific Multipath IP Address, both mandatory.
func parseMPTCPParameters(i *ie.IE) (*atsss.MPTCPParams, error) {
	kids, err := children(i, ie.MPTCPParameters)
	if err != nil {
		return nil, err
	}
	m := new(atsss.MPTCPParams)
	if err := parseMPTCPAddressInformation(kids, m); err != nil {
		return nil, within(ie.MPTCPParameters, err)
	}
	if err := parseLinkSpecificAddress(kids, m); err != nil {
		return nil, within(ie.MPTCPParameters, err)
	}
	return m, nil
}

// parseMPTCPAddressInformation decodes MPTCP Address Information
// (TS 29.244 §8.2.157): flags, proxy type, proxy port, IPv4, IPv6.
func parseMPTCPAddressInformation(kids []*ie.IE, m *atsss.MPTCPParams) error {
	r, err := open(first(kids, ie.MPTCPAddressInformation), ie.MPTCPAddressInformation)
	if err != nil {
		return err
	}
	flags := r.u8("flags")
	m.ProxyType = r.u8("proxy type")
	m.ProxyPort = r.u16("proxy port")
	proxy := r.pair(flags, mptcpV4, mptcpV6, "proxy IPv4 address", "proxy IPv6 address")
	m.ProxyIPv4, m.ProxyIPv6 = proxy.IPv4, proxy.IPv6
	return r.err
}

// parseLinkSpecificAddress decodes Link-Specific Multipath IP Address, "UE
// Link-Specific IP Address" in Rel-16 and 17 (TS 29.244 §8.2.158): flags,
// then the 3GPP and the non-3GPP addresses.
func parseLinkSpecificAddress(kids []*ie.IE, m *atsss.MPTCPParams) error {
	r, err := open(first(kids, ie.UELinkSpecificIPAddress), ie.UELinkSpecificIPAddress)
	if err != nil {
		return err
	}
	flags := r.u8("flags")
	m.LinkSpecific[atsss.Access3GPP] = r.pair(flags, linkV4, linkV6, "3GPP IPv4 address", "3GPP IPv6 address")
	m.LinkSpecific[atsss.AccessNon3GPP] = r.pair(flags, linkNonV4, linkNonV6, "non-3GPP IPv4 address", "non-3GPP IPv6 address")
	return r.err
}

// parseATSSSLLParameters decodes ATSSS-LL Parameters: its mandatory
// ATSSS-LL Information carries the LLI flag (TS 29.244 §8.2.160).
func parseATSSSLLParameters(i *ie.IE) (bool, error) {
	kids, err := children(i, ie.ATSSSLLParameters)
	if err != nil {
		return false, err
	}
	lli, err := parseFlag(first(kids, ie.ATSSSLLInformation), ie.ATSSSLLInformation)
	if err != nil {
		return false, within(ie.ATSSSLLParameters, err)
	}
	return lli, nil
}

// parsePMFParameters decodes PMF Parameters: PMF Address Information,
// mandatory, and QFI, absent for the default ports.
func parsePMFParameters(i *ie.IE) (atsss.PMFParams, error) {
	kids, err := children(i, ie.PMFParameters)
	if err != nil {
		return atsss.PMFParams{}, err
	}
	var p atsss.PMFParams
	if p.Addr, p.Ports, err = ParsePMFAddressInformation(first(kids, ie.PMFAddressInformation)); err != nil {
		return atsss.PMFParams{}, within(ie.PMFParameters, err)
	}
	if q := first(kids, ie.QFI); q != nil {
		qfi, err := octet5(q, ie.QFI, "QFI value")
		if err != nil {
			return atsss.PMFParams{}, within(ie.PMFParameters, err)
		}
		p.QFI = qfi & qfiMask
	}
	return p, nil
}

// Flags of octet 5 of PMF Address Information (TS 29.244 §8.2.159).
const (
	pmfV4  = 1 << 0
	pmfV6  = 1 << 1
	pmfMAC = 1 << 2
)

// NewPMFAddressInformation builds a PMF Address Information IE for an IP PDU
// session (TS 29.244 §8.2.159): flags, the IPv4 and IPv6 addresses of addr
// that are valid, then the UDP ports for 3GPP and non-3GPP access, indexed by
// atsss.AccessType, which accompany an address. addr should hold at least
// one address: without one the ports are left out too.
//
// go-pfcp's NewPMFAddressInformation always appends the two 6-byte MAC
// fields, with the MAC flag clear, so a spec-correct peer reads 12 stray
// octets; this builder writes no MAC field.
func NewPMFAddressInformation(addr atsss.AddrPair, ports [2]uint16) *ie.IE {
	v4, v6 := ip4(addr.IPv4), ip6(addr.IPv6)
	b := []byte{0}
	if v4 != nil {
		b[0] |= pmfV4
		b = append(b, v4...)
	}
	if v6 != nil {
		b[0] |= pmfV6
		b = append(b, v6...)
	}
	if b[0] != 0 {
		b = binary.BigEndian.AppendUint16(b, ports[atsss.Access3GPP])
		b = binary.BigEndian.AppendUint16(b, ports[atsss.AccessNon3GPP])
	}
	return ie.New(ie.PMFAddressInformation, b)
}

// ParsePMFAddressInformation decodes a PMF Address Information IE. The ports
// are read when V4 or V6 is set; the two MAC addresses of an Ethernet PDU
// session, present only when MAC is set, are checked for length and skipped.
// go-pfcp's parser instead requires the MAC fields whatever the flag says,
// and so rejects every spec-correct IP-only IE.
func ParsePMFAddressInformation(i *ie.IE) (atsss.AddrPair, [2]uint16, error) {
	r, err := open(i, ie.PMFAddressInformation)
	if err != nil {
		return atsss.AddrPair{}, [2]uint16{}, err
	}
	flags := r.u8("flags")
	addr := r.pair(flags, pmfV4, pmfV6, "IPv4 address", "IPv6 address")
	var ports [2]uint16
	if flags&(pmfV4|pmfV6) != 0 {
		ports[atsss.Access3GPP] = r.u16("3GPP port")
		ports[atsss.AccessNon3GPP] = r.u16("non-3GPP port")
	}
	if flags&pmfMAC != 0 {
		r.take(12, "MAC addresses")
	}
	if r.err != nil {
		return atsss.AddrPair{}, [2]uint16{}, r.err
	}
	return addr, ports, nil
}
