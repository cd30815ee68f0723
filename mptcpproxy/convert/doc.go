// Package convert is the wire codec of the 0-RTT TCP Convert Protocol
// (RFC 8803), the protocol the MPTCP proxy speaks as a Transport Converter
// and the lab UE speaks as a Client (TS 29.244 Annex E).
//
// It owns the bytes only: the fixed header (§5.1), the TLVs (§5.2), the
// Error codes (§5.2.8), and the rules that say which messages are valid.
// Parse and ReadMessage decode one message; AppendMessage encodes one;
// Message.Check applies the rules that depend on who sent it. A decoding
// failure is a *DecodeError that names the Error code, and the Error value,
// the receiver answers with.
//
// It owns no I/O policy: no deadlines, no sockets, no decision about which
// UE may connect where, and no choice of which TCP options to honour. Those
// belong to package mptcpproxy and to the test UE.
//
// It imports the standard library only, and no package of this project, so
// that both ends of a Convert connection can use it.
//
// What this implementation chose where RFC 8803 leaves room:
//   - A TLV type this package does not know, including the private-use range
//     192-255, makes the message Unsupported Message (§5.2.8): no private
//     TLV is defined here.
//   - A TLV type that appears twice makes the message Malformed Message; the
//     RFC defines no meaning for a second Connect or Error TLV.
//   - Unassigned fields are ignored on receipt, as §5.2 asks, and written as
//     zero. AppendMessage writes TLVs in ascending type order (the order of
//     Tessares' libconvert). So a decoded message re-encodes byte for byte
//     unless its TLVs were out of that order or its unassigned bits were set;
//     then it re-encodes to that canonical form, of the same length.
package convert
