// Package pfcptest plays the SMF side of N4 for tests, demos and load: it
// describes an MA PDU session the way an SMF sets one up (SessionSpec),
// builds the PFCP messages an SMF sends for it (Establishment, UpdateMAR,
// AccessAvailability, Deletion, and the node messages), and exchanges them
// with a UPF over UDP (Client), answering the UPF's Heartbeat and Session
// Report Requests. Load runs many establishments at once and measures them;
// FakeUPF is a UPF that accepts everything, for tests of SMF-side code.
//
// It is a PFCP peer of its own, not a user of the N4 server: it imports the
// atsss model, the shared IE codec pfcp/atsssie and go-pfcp, and never
// package pfcp, so that the server's tests can use it without an import
// cycle and a mistake in the server's translation is not mirrored here.
//
// go-pfcp logs to the standard logger unless told otherwise; programs and
// tests that use this package call DisableLogging of package
// github.com/wmnsk/go-pfcp once.
package pfcptest
