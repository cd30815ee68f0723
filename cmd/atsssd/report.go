package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
)

// availabilityReporter tells SMFs about access availability changes the
// UPF detects (a PMF report from the UE, an access link going down or
// coming back) with Session Report Requests (SESR, TS 29.244 §5.20.4.2),
// for the sessions whose SRRs ask for them. Reports go out on their own
// goroutines: a slow SMF must not hold up the data planes' events.
type availabilityReporter struct {
	ctx   context.Context
	n4    *pfcp.Server
	store *atsss.Store
	log   *slog.Logger
}

// session reports a change of one session's access.
func (r availabilityReporter) session(seid atsss.SEID, a atsss.AccessType, available bool) {
	go r.report(seid, a, available)
}

// access reports a change of an access for every session that asks.
func (r availabilityReporter) access(a atsss.AccessType, available bool) {
	go func() {
		for _, s := range r.store.Sessions() {
			if r.ctx.Err() != nil {
				return
			}
			if asks(s) {
				r.report(s.LocalSEID, a, available)
			}
		}
	}()
}

func (r availabilityReporter) report(seid atsss.SEID, a atsss.AccessType, available bool) {
	err := r.n4.ReportAccessAvailability(r.ctx, seid, a, available)
	switch {
	case errors.Is(err, pfcp.ErrNoReportRule):
	case err != nil:
		r.log.Info("access availability report", "seid", uint64(seid), "access", a.String(), "available", available, "err", err)
	default:
		r.log.Debug("access availability reported", "seid", uint64(seid), "access", a.String(), "available", available)
	}
}

// asks reports whether one of s's SRRs asks for availability reports.
func asks(s *atsss.Session) bool {
	for _, srr := range s.SRRs {
		if srr.ReportAvailability {
			return true
		}
	}
	return false
}
