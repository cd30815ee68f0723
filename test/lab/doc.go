// Package lab builds atsss's two-access test lab out of three named network
// namespaces, for end-to-end tests, benchmarks and the demo:
//
//	ns ue ── veth "3gpp"  192.0.2.0/24     ── ns upf ── veth "n6" 203.0.113.128/25 ── ns dn
//	      └─ veth "n3gpp" 198.51.100.0/24 ───┘
//
// With Config.Emulate, an access is wired through a fourth namespace,
// <id>-emu<link>, where a user-space forwarder (test/linkemu) adds delay,
// jitter and loss, since this kernel has no netem (see emulate.go).
//
// The UE reaches the data network only through the MPTCP proxy that listens
// on ProxyAddr in upf: IPv4 forwarding is off there. Each access can be
// shaped (tbf), cut (link down, or a silent nftables drop) and restored at
// run time, and its traffic counted on the upf side.
//
// The namespaces are named <prefix>-<pid>-<seq>-{ue,upf,dn} under /run/netns,
// so `ip netns exec` and nsenter reach them too, and so a later process can
// tell a lab whose creator died (stale) and remove it: New does, and so do
// List and Remove for a command that tears a lab down.
//
// Everything is done with netlink (vishvananda/netlink), netns
// (vishvananda/netns) and nftables (google/nftables); the library runs no
// ip, tc or nft. The root namespace is never changed: links are created in
// upf with their peer placed straight into ue or dn.
//
// The package is test support: it may import anything in the module, and
// nothing but tests, benchmarks and demo commands may import it.
package lab
