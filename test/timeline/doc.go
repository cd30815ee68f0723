// Package timeline turns cumulative byte counters (per access, per
// application direction) into a throughput timeline: a Sampler reads the
// counters every interval, and the Timeline it yields answers the questions
// the lab demo and the end-to-end tests ask of a handover — how long did a
// series stall after the non-3GPP access was cut, did the access carry bytes
// again after it was restored — and draws them as a plot (SVG, PNG) or a CSV
// table.
//
// It owns no sockets and no namespaces: callers pass a Read function per
// counter (an interface's statistics, an application's byte count), so the
// package stays testable without privileges. It imports only the standard
// library and gonum.org/v1/plot; it must not import the atsss data planes or
// control plane, whose behaviour it is meant to observe from outside.
package timeline
