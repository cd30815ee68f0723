// Package linkemu is a user-space link emulator for the lab: a transparent
// layer-2 forwarder between two network interfaces that delays every frame
// (fixed delay plus uniform jitter) and drops frames at random, per
// direction. The lab's machines have no tc netem, so this is how an access
// gets a real RTT and a real loss rate.
//
// A Link reads frames from each interface through an AF_PACKET socket and
// writes them, after their delay, to the other one; it runs in this process,
// in goroutines, in whatever network namespace the sockets were opened in.
// The lab puts it in a middle namespace between the UE's and the UPF's end
// of an access (see test/lab).
//
// The package is test support: it imports only the standard library and
// golang.org/x/sys, and nothing but tests, benchmarks and the lab may
// import it.
package linkemu
