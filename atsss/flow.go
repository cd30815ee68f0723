package atsss

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Flow descriptions: the IPFilterRule of an SDF filter (RFC 6733 §4.3.1) as
// 3GPP profiles it for PFCP. TS 29.244 §8.2.5 encodes the Flow Description
// "as specified in clause 5.4.2 of 3GPP TS 29.212", which allows:
//
//	permit out <proto> from <src> [<ports>] to <dst> [<ports>]
//
// action "permit" and direction "out" only; proto a decimal protocol number
// or "ip" (any); src an address, possibly masked, or "any"; dst an address,
// possibly masked, or "assigned" (the UE's address); ports a decimal port or
// range, comma separated ("80,443,8000-8080"). Options and the invert
// modifier "!" of RFC 6733 have no place in that profile and are refused.
//
// Direction convention. The rule is always written for the downlink: "from"
// is the remote (data network) side and "to" is the UE, which is why
// "assigned" only makes sense after "to". For an uplink PDR the UPF applies
// the same text with source and destination, addresses and ports, swapped:
// TS 29.244 §5.2.1A.2A says that with Source Interface CORE the Flow
// Description applies as is, and with Source Interface ACCESS (uplink) the
// UP function swaps the source and destination address and port. Open5GS
// (lib/pfcp/handler.c, quoting that clause) and free5GC go-upf
// (newSdfFilter: swapSrcDst when the source interface is access) do the
// same. FlowFilter therefore names its sides Remote and UE instead of
// source and destination, and MatchUplink reads Remote as the destination
// and UE as the source of an uplink packet.

// FlowFilter is a parsed Flow Description. Its zero value is
// "permit out ip from any to any": every packet. It is a plain value; the
// slices are not modified after parsing, so it is safe for concurrent reads.
type FlowFilter struct {
	Proto       uint8     // IP protocol number; 0: any ("ip")
	Remote, UE  AddrMatch // "from" and "to" of the rule
	RemotePorts []PortRange
	UEPorts     []PortRange // nil: any port
}

// AddrMatch is one address field of a Flow Description. The zero value is
// "any".
type AddrMatch struct {
	// Prefix, when valid, is the masked prefix the address must be in; a
	// plain address is a /32 or /128.
	Prefix netip.Prefix
	// Assigned is the keyword "assigned": the address(es) of the UE.
	Assigned bool
}

// PortRange is an inclusive range of ports; a single port has First == Last.
type PortRange struct {
	First, Last uint16
}

// ParseFlowDescription parses a Flow Description under the 3GPP profile
// above. It is strict: every token must be where the profile puts it, and
// the error names the first one that is not. "assigned" is accepted after
// "to" only, "any" on both sides (RFC 6733 defines it for both), and a
// masked address keeps only its prefix bits (192.0.2.10/24 is
// 192.0.2.0/24, as RFC 6733 §4.3.1 reads it).
func ParseFlowDescription(s string) (FlowFilter, error) {
	p := flowParser{toks: strings.Fields(s)}
	f, err := p.parse()
	if err != nil {
		return FlowFilter{}, fmt.Errorf("flow description %q: %w", s, err)
	}
	return f, nil
}

type flowParser struct {
	toks []string
	i    int
}

// next returns the next token, or an error saying what was wanted.
func (p *flowParser) next(want string) (string, error) {
	if p.i >= len(p.toks) {
		return "", fmt.Errorf("ends where %s is expected", want)
	}
	t := p.toks[p.i]
	p.i++
	return t, nil
}

func (p *flowParser) keyword(want, why string) error {
	if p.i >= len(p.toks) {
		return fmt.Errorf("ends where %q is expected", want)
	}
	t := p.toks[p.i]
	p.i++
	if t != want {
		return fmt.Errorf("token %d %q: want %q%s", p.i, t, want, why)
	}
	return nil
}

func (p *flowParser) parse() (FlowFilter, error) {
	var f FlowFilter
	// TS 29.212 §5.4.2: "Action shall be keyword permit", "Direction shall
	// be keyword out".
	if err := p.keyword("permit", " (TS 29.212 §5.4.2 allows no other action)"); err != nil {
		return f, err
	}
	if err := p.keyword("out", " (TS 29.212 §5.4.2 allows no other direction)"); err != nil {
		return f, err
	}
	t, err := p.next("a protocol number or \"ip\"")
	if err != nil {
		return f, err
	}
	if f.Proto, err = parseProto(t); err != nil {
		return f, fmt.Errorf("token %d %q: %w", p.i, t, err)
	}
	if err := p.keyword("from", ""); err != nil {
		return f, err
	}
	if f.Remote, f.RemotePorts, err = p.endpoint(false); err != nil {
		return f, err
	}
	if err := p.keyword("to", ""); err != nil {
		return f, err
	}
	if f.UE, f.UEPorts, err = p.endpoint(true); err != nil {
		return f, err
	}
	if p.i < len(p.toks) {
		return f, fmt.Errorf("token %d %q: nothing may follow the destination (no options in TS 29.212 §5.4.2)", p.i+1, p.toks[p.i])
	}
	r, u := f.Remote.Prefix, f.UE.Prefix
	if r.IsValid() && u.IsValid() && r.Addr().Is4() != u.Addr().Is4() {
		return f, fmt.Errorf("source %v and destination %v are of different IP versions: no packet matches", r, u)
	}
	return f, nil
}

// endpoint parses an address and its optional port list. ue: the "to"
// side, where "assigned" belongs.
func (p *flowParser) endpoint(ue bool) (AddrMatch, []PortRange, error) {
	side := "source"
	if ue {
		side = "destination"
	}
	t, err := p.next(side + " address")
	if err != nil {
		return AddrMatch{}, nil, err
	}
	a, err := parseAddrMatch(t, ue)
	if err != nil {
		return AddrMatch{}, nil, fmt.Errorf("token %d %q: %w", p.i, t, err)
	}
	// Ports are there unless the next token is "to" (after the source) or
	// there is no next token (after the destination).
	if p.i >= len(p.toks) || (!ue && p.toks[p.i] == "to") {
		return a, nil, nil
	}
	t = p.toks[p.i]
	p.i++
	ports, err := parsePorts(t)
	if err != nil {
		return AddrMatch{}, nil, fmt.Errorf("token %d %q: %s ports: %w", p.i, t, side, err)
	}
	return a, ports, nil
}

func parseProto(t string) (uint8, error) {
	if t == "ip" {
		return 0, nil
	}
	if !isDigits(t) {
		return 0, errors.New(`protocol must be a decimal number or "ip"`)
	}
	// Protocol 0 (IPv6 hop-by-hop) is never a transport: "0" reads as "ip",
	// as in Open5GS.
	v, err := strconv.ParseUint(t, 10, 8)
	if err != nil {
		return 0, errors.New("protocol number out of range 0-255")
	}
	return uint8(v), nil
}

func parseAddrMatch(t string, ue bool) (AddrMatch, error) {
	switch {
	case t == "any":
		return AddrMatch{}, nil
	case t == "assigned" && ue:
		return AddrMatch{Assigned: true}, nil
	case t == "assigned":
		return AddrMatch{}, errors.New(`"assigned" is the UE's address: it belongs after "to" (flow descriptions are written for the downlink)`)
	case strings.HasPrefix(t, "!"):
		return AddrMatch{}, errors.New(`the invert modifier "!" is not part of the TS 29.212 §5.4.2 profile`)
	}
	var pfx netip.Prefix
	if strings.Contains(t, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(t); err != nil {
			return AddrMatch{}, fmt.Errorf(`want an address, address/bits, "any" or "assigned": %w`, err)
		}
	} else {
		a, err := netip.ParseAddr(t)
		if err != nil {
			return AddrMatch{}, fmt.Errorf(`want an address, address/bits, "any" or "assigned": %w`, err)
		}
		if a.Zone() != "" {
			return AddrMatch{}, errors.New("an address with a zone names no network address")
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Addr().Is4In6() {
		// A mapped address would never match: packets carry plain IPv4.
		return AddrMatch{}, errors.New("an IPv4-mapped IPv6 address: write the IPv4 address")
	}
	return AddrMatch{Prefix: pfx.Masked()}, nil
}

// parsePorts parses {port|port-port}[,...] (RFC 6733 §4.3.1).
func parsePorts(t string) ([]PortRange, error) {
	var out []PortRange
	for elem := range strings.SplitSeq(t, ",") {
		first, last, isRange := strings.Cut(elem, "-")
		lo, err := parsePort(first)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = parsePort(last); err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, fmt.Errorf("range %q ends before it starts", elem)
			}
		}
		out = append(out, PortRange{First: lo, Last: hi})
	}
	return out, nil
}

func parsePort(t string) (uint16, error) {
	if !isDigits(t) {
		return 0, fmt.Errorf("%q is not a decimal port", t)
	}
	v, err := strconv.ParseUint(t, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %s out of range 0-65535", t)
	}
	return uint16(v), nil
}

func isDigits(t string) bool {
	if t == "" {
		return false
	}
	for i := range len(t) {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// String returns f as a Flow Description that ParseFlowDescription reads
// back to f.
func (f FlowFilter) String() string {
	var b strings.Builder
	b.WriteString("permit out ")
	if f.Proto == 0 {
		b.WriteString("ip")
	} else {
		b.WriteString(strconv.Itoa(int(f.Proto)))
	}
	b.WriteString(" from ")
	writeEndpoint(&b, f.Remote, f.RemotePorts)
	b.WriteString(" to ")
	writeEndpoint(&b, f.UE, f.UEPorts)
	return b.String()
}

func writeEndpoint(b *strings.Builder, a AddrMatch, ports []PortRange) {
	b.WriteString(a.String())
	for i, r := range ports {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
	}
}

func (a AddrMatch) String() string {
	switch {
	case a.Prefix.IsValid() && a.Prefix.IsSingleIP():
		return a.Prefix.Addr().String()
	case a.Prefix.IsValid():
		return a.Prefix.String()
	case a.Assigned:
		return "assigned"
	}
	return "any"
}

func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// MatchUplink reports whether an uplink packet or connection of IP protocol
// proto from ue:uePort to remote matches f, read with source and
// destination swapped as TS 29.244 §5.2.1A.2A asks for uplink PDRs.
// "assigned" matches any ue: the caller vouches that ue is the UE's
// address (UplinkPolicy checks it against the session). IPv4-mapped IPv6
// addresses are compared as IPv4.
func (f FlowFilter) MatchUplink(proto uint8, ue netip.Addr, uePort uint16, remote netip.AddrPort) bool {
	return f.matchUplink(proto, ue.Unmap(), uePort, true, remote.Addr().Unmap(), remote.Port(), nil)
}

// MatchDownlink reports whether a downlink packet of IP protocol proto
// from remote to ue matches f, read as written ("from" is the remote end,
// "to" the UE, TS 29.244 §5.2.1A.2A). Without ports (portsKnown false: a
// protocol without them) a filter on ports does not match.
func (f FlowFilter) MatchDownlink(proto uint8, remote netip.AddrPort, ue netip.AddrPort, portsKnown bool) bool {
	return f.match(proto, ue.Addr().Unmap(), ue.Port(), portsKnown, remote.Addr().Unmap(), remote.Port(), portsKnown, nil)
}

// MatchDownlinkAny is MatchDownlink for a flow whose UE end is ue, or one
// of the other addresses of the same UE (its MA PDU addresses, for a flow
// to a link-specific address) with ue's port: the filter may name either.
func (f FlowFilter) MatchDownlinkAny(proto uint8, remote, ue netip.AddrPort, portsKnown bool, others []netip.Addr) bool {
	if f.MatchDownlink(proto, remote, ue, portsKnown) {
		return true
	}
	for _, a := range others {
		if a != ue.Addr() && f.MatchDownlink(proto, remote, netip.AddrPortFrom(a, ue.Port()), portsKnown) {
			return true
		}
	}
	return false
}

// matchUplink is MatchUplink with the UE port possibly unknown (then a
// filter on UE ports does not match) and with n6, the addresses the
// connection may have on N6 besides ue, for UE-side prefixes.
func (f *FlowFilter) matchUplink(proto uint8, ue netip.Addr, uePort uint16, portKnown bool, remote netip.Addr, remotePort uint16, n6 []netip.Addr) bool {
	return f.match(proto, ue, uePort, portKnown, remote, remotePort, true, n6)
}

// match is the one matcher of both directions; a filter on a port that is
// not known does not match.
func (f *FlowFilter) match(proto uint8, ue netip.Addr, uePort uint16, uePortKnown bool, remote netip.Addr, remotePort uint16, remotePortKnown bool, n6 []netip.Addr) bool {
	if f.Proto != 0 && f.Proto != proto {
		return false
	}
	if f.Remote.Assigned || (f.Remote.Prefix.IsValid() && !f.Remote.Prefix.Contains(remote)) {
		return false
	}
	if f.RemotePorts != nil && (!remotePortKnown || !portsContain(f.RemotePorts, remotePort)) {
		return false
	}
	if f.UE.Prefix.IsValid() && !f.UE.Prefix.Contains(ue) && !containsSameFamily(f.UE.Prefix, n6, remote.Is4()) {
		return false
	}
	if f.UEPorts != nil && (!uePortKnown || !portsContain(f.UEPorts, uePort)) {
		return false
	}
	return true
}

func portsContain(ranges []PortRange, port uint16) bool {
	for _, r := range ranges {
		if r.First <= port && port <= r.Last {
			return true
		}
	}
	return false
}

// containsSameFamily reports whether pfx holds one of addrs of the IP
// version given by is4.
func containsSameFamily(pfx netip.Prefix, addrs []netip.Addr, is4 bool) bool {
	for _, a := range addrs {
		if a.Is4() == is4 && pfx.Contains(a) {
			return true
		}
	}
	return false
}

// UplinkPolicy answers, for one session, whether the UPF would forward a
// UE's uplink connection toward the data network: the question the MPTCP
// proxy asks before it relays a connection. Build it with
// Session.UplinkFilters once per session change; it is immutable, safe for
// concurrent use, and Allows does not allocate. The zero value allows
// nothing.
//
// How it reads the session:
//
//   - Only uplink PDRs count (Source Interface ACCESS), tried in precedence
//     order as the UPF does (TS 29.244 §5.2.1); the first that matches
//     decides. Equal precedences keep the session's order.
//   - A PDR allows when its FAR forwards (FORW) toward the data network
//     (Destination Interface CORE or SGi-LAN/N6-LAN) and none of its QERs
//     closes the uplink gate. A PDR that drops, buffers, forwards
//     elsewhere, names a MAR (Validate refuses that for uplink) or has its
//     uplink gate closed denies what it matches.
//   - A PDR with neither SDF filters nor an Application ID matches
//     everything; one with SDF filters matches when any filter does.
//   - What the proxy cannot see at connect time cannot match: a PDR with
//     an Application ID (that needs packet inspection), an SDF filter with
//     a ToS/Traffic Class, a Security Parameter Index or a Flow Label, and
//     a filter on UE ports when the UE port is not given (Allows; see
//     AllowsPort). So such rules never allow a connection, and drop rules
//     of that kind are not enforced here.
//   - An SDF filter that carries only an SDF Filter ID (the BID flag of
//     TS 29.244 §8.2.5) uses the Flow Description of the filter with that
//     ID elsewhere in the session, which the UPF applies reversed.
//   - The PDI's F-TEID, QFIs, network instance and UE IP Address are not
//     checked: they describe the tunnel, and the proxy already knows the
//     connection belongs to this session.
//
// UE addresses: the connection's UE address must be one of the session's
// (Session.UEAddrs: MA PDU addresses and link-specific addresses), else
// Allows says no. "assigned" then matches. An explicit UE-side address
// matches the connection's UE address, or the session's MA PDU address of
// the remote's IP version: the proxy relays from that address on N6, and a
// link-specific address (TS 23.501 §5.32.6.2) is never seen by the SMF's
// filters.
type UplinkPolicy struct {
	rules []uplinkRule // in precedence order
	maPDU []netip.Addr // MA PDU session addresses
	owned []netip.Addr // every address of the UE (Session.UEAddrs)
}

type uplinkRule struct {
	forwards bool
	all      bool         // no SDF filter and no Application ID
	filters  []FlowFilter // the evaluable SDF filters, any of which matches
}

// UplinkFilters compiles the session's uplink rules into an UplinkPolicy.
// A Flow Description that does not parse (Validate refuses such a session)
// matches nothing.
func (s *Session) UplinkFilters() UplinkPolicy {
	p := UplinkPolicy{maPDU: s.MAPDUAddrs(), owned: s.UEAddrs()}
	var order []*PDR
	for i := range s.PDRs {
		if s.PDRs[i].Uplink() {
			order = append(order, &s.PDRs[i])
		}
	}
	slices.SortStableFunc(order, func(a, b *PDR) int { return cmp.Compare(a.Precedence, b.Precedence) })
	for _, pdr := range order {
		r := uplinkRule{forwards: s.forwardsToCore(pdr)}
		switch {
		case pdr.PDI.ApplicationID != "":
			// Needs packet inspection: never matches.
		case len(pdr.PDI.SDFFilters) == 0:
			r.all = true
		default:
			for _, sdf := range pdr.PDI.SDFFilters {
				if f, ok := s.EvaluableFilter(sdf); ok {
					r.filters = append(r.filters, f)
				}
			}
		}
		p.rules = append(p.rules, r)
	}
	return p
}

// EvaluableFilter returns the flow filter of sdf when a data plane can
// evaluate it whole on a packet or connection: a Flow Description, given
// or referred to by its SDF Filter ID, and nothing on ToS, SPI or flow
// label.
func (s *Session) EvaluableFilter(sdf SDFFilter) (FlowFilter, bool) {
	if sdf.ToSTrafficClass != 0 || sdf.SPI != 0 || sdf.FlowLabel != 0 {
		return FlowFilter{}, false
	}
	fd := sdf.FlowDescription
	if fd == "" && sdf.FilterID != 0 {
		fd = s.flowDescriptionByFilterID(sdf.FilterID)
	}
	if fd == "" {
		return FlowFilter{}, false
	}
	f, err := ParseFlowDescription(fd)
	return f, err == nil
}

// flowDescriptionByFilterID finds the Flow Description that a bidirectional
// SDF filter with only an SDF Filter ID refers to (TS 29.244 §8.2.5, BID).
func (s *Session) flowDescriptionByFilterID(id uint32) string {
	for i := range s.PDRs {
		for _, f := range s.PDRs[i].PDI.SDFFilters {
			if f.FilterID == id && f.FlowDescription != "" {
				return f.FlowDescription
			}
		}
	}
	return ""
}

// forwardsToCore reports whether the UPF forwards what pdr matches toward
// the data network.
func (s *Session) forwardsToCore(pdr *PDR) bool {
	if !pdr.FARID.Set {
		return false // a MAR steers downlink only
	}
	far := s.FAR(pdr.FARID.Value)
	if far == nil || far.ApplyAction&ActionForw == 0 || far.ApplyAction&(ActionDrop|ActionBuff) != 0 || far.Forwarding == nil {
		return false
	}
	if d := far.Forwarding.DestinationInterface; d != InterfaceCore && d != InterfaceSGiLAN {
		return false
	}
	// A closed UL gate discards the uplink (Gate Status, TS 29.244 §8.2.7).
	for _, id := range pdr.QERIDs {
		if q := s.QER(id); q != nil && q.GateUL == GateClosed {
			return false
		}
	}
	return true
}

// Allows reports whether the session lets the UE at address ue open a
// connection of IP protocol proto to remote. The UE's port is not known
// here: a filter on UE ports does not match (use AllowsPort when it is).
func (p UplinkPolicy) Allows(proto uint8, ue netip.Addr, remote netip.AddrPort) bool {
	return p.allows(proto, ue, 0, false, remote)
}

// AllowsPort is Allows with the UE's port known, so that filters on UE
// ports are evaluated too.
func (p UplinkPolicy) AllowsPort(proto uint8, ue, remote netip.AddrPort) bool {
	return p.allows(proto, ue.Addr(), ue.Port(), true, remote)
}

func (p UplinkPolicy) allows(proto uint8, ue netip.Addr, uePort uint16, portKnown bool, remote netip.AddrPort) bool {
	ue = ue.Unmap()
	ra := remote.Addr().Unmap()
	if !ue.IsValid() || !ra.IsValid() || !slices.Contains(p.owned, ue) {
		return false
	}
	for i := range p.rules {
		r := &p.rules[i]
		if r.all {
			return r.forwards
		}
		for j := range r.filters {
			if r.filters[j].matchUplink(proto, ue, uePort, portKnown, ra, remote.Port(), p.maPDU) {
				return r.forwards
			}
		}
	}
	return false
}

// AllowsUplink reports whether the session lets the UE at address ue open a
// connection of IP protocol proto to remote, as UplinkPolicy.Allows
// explains. It compiles the session's rules on every call: a proxy that
// asks per connection keeps s.UplinkFilters() instead.
func (s *Session) AllowsUplink(proto uint8, ue netip.Addr, remote netip.AddrPort) bool {
	return s.UplinkFilters().Allows(proto, ue, remote)
}
