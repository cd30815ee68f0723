// Package atsss is the domain model of the ATSSS steering function: the
// multi-access (MA) PDU session that an SMF installs over N4, its rules (PDR,
// FAR, QER, URR, MAR, SRR) as plain Go values, their validation against the
// rules of TS 29.244, and the session store with its change feed.
//
// The control plane (pfcp, api) translates wire types into these values; the
// data planes (mptcpproxy, steering/ll, steering/pmf) read them from the store.
// This package imports the standard library only: no wire types, no sockets,
// no clock, no logging. atsss/deps_test.go keeps it that way. The persistent
// store backend lives in atsss/boltstore behind the Backend interface.
package atsss
