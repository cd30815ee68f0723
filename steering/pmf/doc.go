// Package pmf is the UPF side of the ATSSS Performance Measurement Function
// protocol, PMFP (TS 24.193 §5.4 procedures, §6.2 messages; TS 23.501
// §5.32.5; TS 29.244 §5.20.3.1, §5.20.6), for MA PDU sessions of IP type,
// over UDP.
//
// The UPF's PMF listens on one UDP port per access, and per QoS flow with
// per-QoS-flow measurement; the destination port tells the access. The PMF
// address and ports are shared by every session (pfcp's PMFConfig hands
// them out in PMF Parameters), so the Server tells UEs apart by the source
// address of their messages: it learns the UE's PMF address on an access
// from the first uplink message there (TS 23.501 §5.32.5.1A), maps it to a
// session with the caller's LookupFunc (StoreLookup reads an atsss.Store),
// and answers there.
//
// The Server answers the UE's echoes and PLR counts; measures RTT with its
// own echoes (smoothed like TCP's SRTT) and downlink packet loss with PLR
// count/report exchanges, every PLRInterval over windows of at least
// PLRMinMessages measured messages (see Config for the resolution); takes
// the UE's access availability reports and UE assistance data (UAD, UAT)
// and acknowledges them; sends duplication suspend/resume (TDS, TDR); and
// reports all of it per session, QoS flow and access as Events. The steering decisions stay in package steering: this
// package measures and tells, it does not steer. With DRTTI=1 (PMF RTT not
// allowed) the caller ignores KindRTT and uses the MPTCP subflow RTT instead.
// Client is the UE side, for the lab UE.
//
// Not confirmed: TS 24.193 §6.2 could not be read from any source available
// when this was written, so the numeric message types and every field
// layout are this package's own choice, marked UNCONFIRMED in the one table
// of messages.go that holds them. Names, directions and procedures are
// confirmed there with their sources. Until the clause is checked, this PMF
// talks to this package's Client only, not to a standard UE.
//
// Not done: Ethernet PDU sessions (PMFP in Ethernet frames to per-access
// MAC addresses); answering on the QoS flow a message came on is left to
// the data plane that carries the UDP packets.
//
// This package imports atsss and the standard library; it must not import
// pfcp, api or mptcpproxy.
package pmf
