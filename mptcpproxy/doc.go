// Package mptcpproxy is the UPF's MPTCP proxy: an RFC 8803 transport
// converter on Linux kernel MPTCP (TS 29.244 §5.20.2, Annex E; TS 23.501
// §5.32.6.2.1). A UE opens an MPTCP connection from its link-specific
// addresses to the proxy address and port that N4 allocated, names the
// real server in a Convert Connect TLV carried in the SYN (TCP Fast Open),
// and the proxy relays the connection as plain TCP to the data network
// (N6). The connection survives the loss of either access because its
// subflows do.
//
// The proxy is no open relay: a connection is admitted only from an address
// of an installed MA PDU session (link-specific or MA PDU address), only to
// a destination that session's uplink PDRs allow, and only while every
// subflow of the connection comes from that same session. The admission
// table is built from the session store's change feed and read without
// locks.
//
// Operator policies (Config.Policies, atsss.Policies) act per connection:
// the first policy that matches it replaces its session MAR's downlink
// steering for it and may cap its rate each way, and a change of the
// policies or of the session reaches live connections at once (policy.go,
// ratecap.go). The proxy reports each session's accesses to the API
// (AccessStates).
//
// mptcpproxy reads sessions from atsss and never imports a control-plane
// package (pfcp, api): cmd/atsssd wires it to the store.
package mptcpproxy
