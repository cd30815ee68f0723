// Package steering decides, per Multi-Access Rule and direction, how an MA
// PDU session's traffic is spread over the 3GPP and the non-3GPP access: the
// steering modes of TS 23.501 §5.32.8 as encoded on N4 (TS 29.244 §5.20,
// §7.5.2.8, §8.2.125–127, §8.2.196–197).
//
// It is pure. [NewRule] turns an [atsss.MAR] into a [Rule] once; [Decide]
// maps (Rule, [State], now) to a [Decision]. A State holds what the data
// planes measured or were told about each access (availability and its
// source, RTT, packet loss, congestion, PMF UE assistance) and the
// hysteresis memory that keeps decisions from flapping, which Decide moves
// on in place. Time enters only through the now argument: the package reads
// no clock, starts no goroutine, does no I/O, never logs and allocates
// nothing per decision. The data planes (the MPTCP proxy; ATSSS-LL later) apply
// decisions; steering/pmf and link events feed the State.
//
// Hysteresis values and their reasons are in hysteresis.go.
//
// A Decision gives each access a share of the traffic in percent and a Role:
// carrying traffic, backup (the MPTCP backup flag, MP_PRIO: the fallback
// while the other access is up), unused, or down (tear its subflow down now
// rather than wait for MPTCP's dead-path detection). Redundant mode
// duplicates: both shares are 100 and Duplicate is set.
//
// Directions: a MAR steers downlink traffic; the UE steers its uplink by its
// ATSSS rules. The uplink Decision is what the UPF asks of the UE, which for
// MPTCP it can do with backup flags only; for ATSSS-LL it is informational.
// PLR and congestion are per direction, so the caller keeps one State per
// direction; PMF UE assistance (UEAI) applies to the downlink only.
//
// This package imports only the standard library and atsss
// (atsss/deps_test.go checks it).
package steering
