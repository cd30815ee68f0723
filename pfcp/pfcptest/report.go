package pfcptest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// Report is a Session Report Request from the UPF (TS 29.244 §7.5.8) and
// the Cause the client answered it with.
type Report struct {
	// SEID is the header SEID: the CP SEID of the session.
	SEID atsss.SEID
	// Type holds the Report Type flags (§8.2.21); ReportSESR marks Session
	// Reports.
	Type     uint8
	Sessions []SessionReport
	Cause    Cause
	// Err says what was wrong with the request when Cause is a rejection
	// for it; a report for an unknown session is answered 65 without Err.
	Err error
}

// ReportSESR is the Session Report flag of Report Type.
const ReportSESR = 1 << 5

// SessionReport is one Session Report IE (TS 29.244 §7.5.8.7): what an SRR
// asked to be told.
type SessionReport struct {
	SRRID uint8
	// Availability is the Access Availability Report, if there is one.
	Availability *Availability
}

// Availability is an access that became available or unavailable.
type Availability struct {
	Access    atsss.AccessType
	Available bool
}

func (a Availability) String() string {
	if a.Available {
		return a.Access.String() + " available"
	}
	return a.Access.String() + " unavailable"
}

// Reports returns the Session Report Requests received so far, oldest first.
func (c *Client) Reports() []Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reports[:len(c.reports):len(c.reports)]
}

// WaitReports waits until the client has received at least n Session Report
// Requests, then returns all of them.
func (c *Client) WaitReports(ctx context.Context, n int) ([]Report, error) {
	for {
		c.mu.Lock()
		rs, more := c.reports, c.reported
		c.mu.Unlock()
		if len(rs) >= n {
			return rs[:len(rs):len(rs)], nil
		}
		select {
		case <-more:
		case <-ctx.Done():
			return rs[:len(rs):len(rs)], fmt.Errorf("%d of %d session reports: %w", len(rs), n, ctx.Err())
		}
	}
}

// answer answers a Heartbeat or Session Report Request from the UPF.
func (c *Client) answer(b []byte, h header, from netip.AddrPort) {
	var resp message.Message
	if h.typ == message.MsgTypeHeartbeatRequest {
		resp = HeartbeatResponse(c.recovery, h.seq)
	} else {
		resp = c.report(b, h)
	}
	out := make([]byte, resp.MarshalLen())
	if err := resp.MarshalTo(out); err != nil {
		c.log.Error("encode a response to the UPF", "type", resp.MessageTypeName(), "err", err)
		return
	}
	if _, err := c.conn.WriteToUDPAddrPort(out, from); err != nil {
		c.log.Warn("answer the UPF", "peer", from, "type", resp.MessageTypeName(), "err", err)
	}
}

// report records a Session Report Request and returns its answer. A
// retransmitted request, one whose sequence number was answered lately, is
// answered the same without being recorded again (TS 29.244 §6.4).
func (c *Client) report(b []byte, h header) message.Message {
	r := Report{SEID: atsss.SEID(h.seid), Cause: atsssie.CauseAccepted}
	var offending uint16
	m, err := message.ParseSessionReportRequest(b)
	switch {
	case err != nil:
		r.Cause, r.Err = atsssie.CauseMandatoryIEIncorrect, err
	case m.ReportType == nil:
		r.Cause, offending, r.Err = atsssie.CauseMandatoryIEMissing, ie.ReportType, errors.New("report type missing")
	default:
		r.Type, _ = m.ReportType.ReportType()
		if r.Sessions, err = parseSessionReports(m.SessionReport); err != nil {
			r.Cause, r.Err = atsssie.CauseMandatoryIEIncorrect, err
		}
	}

	c.mu.Lock()
	up, known := c.upSEIDs[r.SEID]
	if !known && r.Err == nil {
		r.Cause = atsssie.CauseSessionNotFound
	}
	if cause, dup := c.answered.find(h.seq); dup {
		r.Cause = cause
	} else {
		c.answered.add(h.seq, r.Cause)
		c.reports = append(c.reports, r)
		close(c.reported)
		c.reported = make(chan struct{})
		c.log.Info("session report", "seid", r.SEID, "cause", r.Cause, "reports", r.Sessions, "err", r.Err)
	}
	c.mu.Unlock()

	ies := []*ie.IE{ie.NewCause(uint8(r.Cause))}
	if offending != 0 {
		ies = append(ies, ie.NewOffendingIE(offending))
	}
	// The answer carries the UPF's SEID of the session; 0 when unknown
	// (TS 29.244 §7.2.2.4.2).
	return message.NewSessionReportResponse(0, 0, uint64(up), h.seq, 0, ies...)
}

func parseSessionReports(ies []*ie.IE) ([]SessionReport, error) {
	var out []SessionReport
	for _, g := range ies {
		var sr SessionReport
		srrID, err := mandatoryChild(g, ie.SRRID)
		if err != nil {
			return nil, err
		}
		if sr.SRRID, err = srrID.SRRID(); err != nil {
			return nil, fmt.Errorf("session report: SRR ID: %w", err)
		}
		for _, k := range g.ChildIEs {
			if k.Type != ie.AccessAvailabilityReport {
				continue
			}
			info, err := mandatoryChild(k, ie.AccessAvailabilityInformation)
			if err != nil {
				return nil, err
			}
			a, available, err := atsssie.ParseAccessAvailabilityInformation(info)
			if err != nil {
				return nil, fmt.Errorf("session report: %w", err)
			}
			sr.Availability = &Availability{Access: a, Available: available}
		}
		out = append(out, sr)
	}
	return out, nil
}

func mandatoryChild(g *ie.IE, t uint16) (*ie.IE, error) {
	for _, k := range g.ChildIEs {
		if k.Type == t {
			return k, nil
		}
	}
	return nil, fmt.Errorf("IE %d without IE %d", g.Type, t)
}

// answeredRing remembers the Causes of the latest Session Report Requests
// answered, by sequence number: enough to recognise a retransmission, which
// follows its original within N1·T1.
type answeredRing struct {
	seqs   [32]uint32 // sequence number + 1; 0 is an empty slot
	causes [32]Cause
	next   int
}

func (r *answeredRing) find(seq uint32) (Cause, bool) {
	for i, s := range r.seqs {
		if s == seq+1 {
			return r.causes[i], true
		}
	}
	return 0, false
}

func (r *answeredRing) add(seq uint32, c Cause) {
	r.seqs[r.next], r.causes[r.next] = seq+1, c
	r.next = (r.next + 1) % len(r.seqs)
}
