// Package ll is the ATSSS-LL data path of the UPF (TS 23.501 §5.32.6.3,
// TS 29.244 §5.20.1): it carries an MA PDU session's traffic that is not
// converted by the MPTCP proxy between the N3 GTP-U tunnels of its two
// accesses (gNB, N3IWF) and N6, steering the downlink per packet by the
// session's ATSSS-LL Multi-Access Rule.
//
// A Forwarder owns one UDP socket on the UPF's N3 address (port 2152) and
// one TUN device on the N6 side, to which the UE address pools are routed.
//
//   - Uplink: a G-PDU whose TEID is the local F-TEID of one of a session's
//     uplink PDRs is decapsulated, checked (the inner source must be an
//     address of that session, and the session's uplink PDRs must forward
//     it toward the core: atsss.UplinkPolicy) and written to the TUN. The
//     UE steers its own uplink (its ATSSS rules); the access a packet came
//     over is told by the outer source address, the gNB's or the N3IWF's.
//   - Downlink: a packet read from the TUN finds its session by destination
//     address, then the session's downlink PDR by precedence and SDF
//     filter. If that PDR's MAR is ATSSS-LL, steering.Decide picks the
//     access(es) and a smooth weighted round robin spreads packets by the
//     decision's shares; the packet leaves in a G-PDU with that access's
//     FAR outer header (TEID, peer) and a PDU Session Container with the
//     PDR's QFI. A PDR with a plain FAR (no MAR) is forwarded on that FAR.
//     A PDR whose MAR is MPTCP (or MPQUIC) is not ours: the proxy
//     terminates that traffic, so such packets are dropped and counted.
//   - Operator policies (Config.Policies, atsss.Policy): a policy that
//     matches a downlink packet, as atsss.PolicySet.ForFlow decides,
//     steers it by its downlink steering instead of the MAR's, with a
//     steering state of its own per session and MAR; the rest keeps the
//     MAR. Session keys (DNN, S-NSSAI, UE prefix) and Application IDs (of
//     the matched PDR) are resolved when a session or the policy set
//     changes, flow filters per packet and only where one can apply
//     (policy.go). A change steers the next packet. A policy the MAR
//     cannot take (atsss.Policy.SteerMAR, steering.NewRule) leaves the
//     MAR's steering and is logged once. Policies' rate caps are not
//     applied here: only the proxy paces its connections.
//   - PMF (TS 23.501 §5.32.5): the PMF messages of a session travel in its
//     tunnels. Uplink ones to the session's PMF ports (PMF Parameters) pass
//     whatever the SDF filters say and reach the local PMF server through
//     the TUN; downlink ones from a PMF port leave on the access that port
//     measures, never steered by a MAR, even on an access reported
//     unavailable. What the PMF measures and is told comes back through
//     PathEvent (RTT, loss, the UE's availability reports) into the
//     steering state of the session's ATSSS-LL MARs.
//
// Sessions come from the atsss.Store's change feed, policies from
// atsss.Policies; the hot paths read an immutable table through an atomic
// pointer. Steering state (hysteresis memory, round-robin position) is
// owned by the one downlink goroutine.
//
// The GTP-U codec is in the subpackage gtpu. This package may import atsss,
// steering, gtpu, x/sys and netlink; never the control plane (pfcp, api) or
// other data planes.
package ll
