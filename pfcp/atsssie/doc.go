// Package atsssie encodes and decodes the ATSSS information elements of PFCP
// (TS 29.244) that github.com/wmnsk/go-pfcp v0.0.24 lacks or gets wrong, typed
// on the atsss domain model: the MAR IEs (Steering Functionality, Steering
// Mode, Priority, Thresholds, Steering Mode Indicator), the ATSSS control
// exchange (Provide ATSSS Control Information, ATSSS Control Parameters),
// Access Availability Information, Failed Rule ID and UP Function Features;
// and the session's APN/DNN, which go-pfcp decodes without any check, and
// S-NSSAI, whose reserved "no SD" value go-pfcp leaves to the caller.
//
// Where go-pfcp builds an IE byte-correctly, the New functions call it; the
// Parse functions always decode the payload here, with length checks, so that
// no input panics and every failure is an *IEError naming the offending IE.
//
// Clause numbers are those of TS 29.244 V17 (Rel-17); values added in Rel-18
// (Redundant steering mode, Primary and Secondary priority, the MPQUIC
// steering functionalities) are marked where they are used.
//
// All functions are pure and safe for concurrent use. The package imports the
// atsss model and go-pfcp's ie package only: no message handling, no sockets,
// no logging; the N4 server (package pfcp) and the SMF simulator build on it.
package atsssie
