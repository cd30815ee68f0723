// Package pfcp is the N4 side of the UPF-side ATSSS function: a PFCP server
// (TS 29.244) that answers an SMF's node procedures (heartbeat, association
// setup, update and release, recovery) and session procedures
// (establishment, modification, deletion, reports), and installs MA PDU
// sessions with their Multi-Access Rules into an atsss.Store.
//
// Wire types stop here: go-pfcp messages and IEs are translated into atsss
// values (rules.go, session.go) and never leave the package. One place maps
// errors to Cause values (cause.go). A request is decoded and validated
// whole, committed durably, and only then answered; nothing is half-applied.
//
// pfcp imports atsss, pfcp/atsssie and go-pfcp, never a data plane.
package pfcp
