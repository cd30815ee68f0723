// Package gtpu encodes and decodes the GTP-U messages an N3 user plane
// needs (TS 29.281): G-PDUs, with or without the PDU Session Container
// extension header that carries the QoS flow (TS 38.415 §5.5.2), Echo
// Request and Echo Response, and it recognises End Marker and Error
// Indication.
//
// It is written by hand because the Go GTP-U library (wmnsk/go-gtp) is not
// available to this module, and the subset needed here is small: a fixed
// 8-octet header, the optional sequence number / N-PDU number / extension
// octets, and a chain of extension headers of which only one type is
// understood.
//
// Parse never panics and never allocates: malformed input yields one of the
// sentinel errors below, so a data plane can count drops by reason. The
// package does no I/O and imports only the standard library.
package gtpu
