package pfcp

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

// reportTypeSESR is the SESR bit (octet 5 bit 6) of Report Type
// (TS 29.244 §8.2.21); go-pfcp's NewReportType stops at bit 4.
const reportTypeSESR = 0x20

// ErrNoReportRule: the session has no SRR asking for this report, so
// TS 29.244 §5.20.4.2 says nothing is sent.
var ErrNoReportRule = errors.New("no session reporting rule asks for access availability")

// ReportAccessAvailability tells the SMF that an access of a session became
// available or unavailable: a Session Report Request with Report Type SESR
// and one Session Report per SRR that asked for it (TS 29.244 §5.20.4.2,
// §7.5.8.6). It waits for the SMF's response, retransmitting on T1/N1.
// Safe for concurrent use; data planes call it when they see an access go.
func (s *Server) ReportAccessAvailability(ctx context.Context, seid atsss.SEID, access atsss.AccessType, available bool) error {
	sess, ok := s.store.Get(seid)
	if !ok {
		return fmt.Errorf("report for session %v: %w", seid, atsss.ErrUnknownSession)
	}
	var reports []*ie.IE
	for _, srr := range sess.SRRs {
		if srr.ReportAvailability {
			reports = append(reports, ie.NewSessionReport(ie.NewSRRID(srr.ID),
				ie.NewAccessAvailabilityReport(atsssie.NewAccessAvailabilityInformation(access, available))))
		}
	}
	if len(reports) == 0 {
		return fmt.Errorf("report for session %v: %w", seid, ErrNoReportRule)
	}
	ies := append([]*ie.IE{ie.New(ie.ReportType, []byte{reportTypeSESR})}, reports...)
	req := message.NewSessionReportRequest(0, 0, uint64(sess.RemoteSEID), 0, 0, ies...)
	to, ok := s.peers.addr(sess.PeerNodeID)
	if !ok {
		to = netip.AddrPortFrom(sess.PeerAddr, Port)
	}
	resp, err := s.request(ctx, to, req)
	if err != nil {
		return fmt.Errorf("report for session %v: %w", seid, err)
	}
	r, ok := resp.(*message.SessionReportResponse)
	if !ok || r.Cause == nil {
		return fmt.Errorf("report for session %v: response without cause", seid)
	}
	if c, err := safely(r.Cause, (*ie.IE).Cause); err != nil || Cause(c) != CauseAccepted {
		return fmt.Errorf("report for session %v: SMF answered cause %v", seid, Cause(c))
	}
	s.log.Info("reported access availability", "seid", seid, "access", access, "available", available)
	return nil
}
