package pfcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// handleSession runs the session procedures of TS 29.244 §6.3 on a worker.
// Each follows the same steps: decode the whole request into a new or
// cloned session, allocate, validate, commit durably, then answer. Until
// the commit nothing is visible; if any step fails, what was allocated is
// freed and the stored session is untouched.
func (s *Server) handleSession(ctx context.Context, req *request) {
	if !s.parse(req, req.raw) {
		return
	}
	switch m := req.msg.(type) {
	case *message.SessionEstablishmentRequest:
		s.establish(ctx, req, m)
	case *message.SessionModificationRequest:
		s.modify(ctx, req, m)
	case *message.SessionDeletionRequest:
		s.delete(ctx, req)
	}
}

func (s *Server) establish(ctx context.Context, req *request, m *message.SessionEstablishmentRequest) {
	if m.CPFSEID != nil {
		if f, err := safely(m.CPFSEID, (*ie.IE).FSEID); err == nil {
			req.respSEID = f.SEID // the response goes to the CP SEID (TS 29.244 §7.2.2.4.2)
		}
	}
	est, err := decodeEstablishment(m)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	sess := est.session
	// The association is the one of the sending IP, whatever Node ID the
	// request names, so a peer's purge finds every session it made.
	sess.PeerNodeID, _ = s.peers.byAddr(req.from)
	if n := s.sessions.Add(1); n > int64(s.cfg.MaxSessions) {
		s.sessions.Add(-1)
		s.reply(req, nil, reject(CauseNoResources, "%d sessions installed, the maximum", s.cfg.MaxSessions))
		return
	}
	created, err := s.install(ctx, sess, m.CreatePDR)
	if err != nil {
		s.sessions.Add(-1)
		s.reply(req, nil, asRejection(err))
		return
	}
	s.log.Debug("session established", "seid", sess.LocalSEID, "peer", req.from, "ue_ip", sess.MAPDUAddrs())
	resp := message.NewSessionEstablishmentResponse(0, 0, req.respSEID, 0, 0, present(append(created,
		s.nodeID, ie.NewCause(uint8(CauseAccepted)), s.fseid(req, sess.LocalSEID),
		s.controlParameters(m.ProvideATSSSControlInformation != nil, sess.ATSSS.Params))...)...)
	s.reply(req, resp, nil)
}

// install gives a new session its SEID and what it holds of the UPF
// (ATSSS parameters, chosen F-TEIDs), validates and commits it. It returns
// the Created PDR IEs; on failure nothing stays allocated.
func (s *Server) install(ctx context.Context, sess *atsss.Session, createPDRs []*ie.IE) ([]*ie.IE, error) {
	if err := s.supported(sess); err != nil {
		return nil, err
	}
	sess.LocalSEID = s.newSEID()
	params, err := s.alloc.allocate(sess.ATSSS.Requested, atsss.ATSSSParams{})
	if err != nil {
		return nil, err
	}
	sess.ATSSS.Params = params
	created, err := s.chooseFTEIDs(sess, chooseRequests(sess, createPDRs))
	if err == nil {
		err = s.commit(ctx, sess)
	}
	if err != nil {
		s.alloc.release(resourcesOf(sess))
		return nil, err
	}
	return created, nil
}

func (s *Server) modify(ctx context.Context, req *request, m *message.SessionModificationRequest) {
	old, err := s.ownSession(req)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	mod, err := decodeModification(old, m)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	sess := mod.session
	if err := s.supported(sess); err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	if mod.atsss != nil {
		params, err := s.alloc.allocate(*mod.atsss, old.ATSSS.Params)
		if err != nil {
			s.reply(req, nil, asRejection(err))
			return
		}
		sess.ATSSS = atsss.ATSSSControl{Requested: *mod.atsss, Params: params}
	}
	created, err := s.chooseFTEIDs(sess, chooseRequests(sess, m.CreatePDR, m.UpdatePDR))
	if err == nil {
		err = s.commit(ctx, sess)
	}
	if err != nil {
		s.alloc.release(diff(sess, old))
		s.reply(req, nil, asRejection(err))
		return
	}
	s.alloc.release(diff(old, sess))
	resp := message.NewSessionModificationResponse(0, 0, req.respSEID, 0, 0, present(append(created,
		ie.NewCause(uint8(CauseAccepted)), s.controlParameters(mod.atsss != nil, sess.ATSSS.Params))...)...)
	s.reply(req, resp, nil)
}

func (s *Server) delete(ctx context.Context, req *request) {
	old, err := s.ownSession(req)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	if err := s.store.Delete(ctx, old.LocalSEID); err != nil {
		s.reply(req, nil, reject(CauseSystemFailure, "delete session %v: %v", old.LocalSEID, err))
		return
	}
	s.alloc.release(resourcesOf(old))
	s.sessions.Add(-1)
	s.reply(req, message.NewSessionDeletionResponse(0, 0, req.respSEID, 0, 0, ie.NewCause(uint8(CauseAccepted))), nil)
}

// ownSession finds the session a modification or deletion names. A
// session of another peer is as unknown as a missing one (Cause 65), so
// one SMF cannot touch another's sessions.
func (s *Server) ownSession(req *request) (*atsss.Session, error) {
	sess, ok := s.store.Get(atsss.SEID(req.hdr.seid))
	if !ok {
		return nil, reject(CauseSessionNotFound, "no session %v", atsss.SEID(req.hdr.seid))
	}
	if nodeID, _ := s.peers.byAddr(req.from); nodeID != sess.PeerNodeID {
		return nil, reject(CauseSessionNotFound, "session %v belongs to another peer", sess.LocalSEID)
	}
	req.respSEID = uint64(sess.RemoteSEID)
	return sess, nil
}

// commit validates a session whole and makes it durable.
func (s *Server) commit(ctx context.Context, sess *atsss.Session) error {
	if err := sess.Validate(); err != nil {
		return err
	}
	if err := s.store.Put(ctx, sess); err != nil {
		return reject(CauseSystemFailure, "store session %v: %v", sess.LocalSEID, err)
	}
	return nil
}

// supported refuses MARs that ask for what this UPF did not advertise in
// its UP Function Features: the SMF may only use those (TS 29.244 §5.20.1).
func (s *Server) supported(sess *atsss.Session) error {
	for _, m := range sess.MARs {
		var missing string
		switch {
		case m.Functionality.IsMPQUIC():
			missing = "MPQUIC"
		case m.Functionality == atsss.FunctionalityMPTCP && !s.cfg.ATSSS.MPTCP.Enabled():
			missing = "MPTCP (no proxy configured)"
		case m.Functionality == atsss.FunctionalityATSSSLL && !s.cfg.ATSSS.ATSSSLL:
			missing = "ATSSS-LL"
		case m.Mode == atsss.ModeRedundant && !s.cfg.ATSSS.RedundantMPTCP:
			missing = "redundant steering (REDSM)"
		}
		if missing != "" {
			return &atsss.RuleError{Rule: atsss.RuleMAR, ID: uint32(m.ID), Field: "steering",
				Err: fmt.Errorf("%w: %s", errUnsupported, missing)}
		}
	}
	return nil
}

// newSEID returns a local SEID that no session uses: the start time of this
// run in the high 32 bits and a counter in the low ones. Within a run SEIDs
// grow, so the store appends to the end of its B+tree instead of splitting
// pages all over it (a third of the cost of a durable establishment when
// SEIDs were random); across restarts the prefix grows, so a SEID of an
// earlier run, which a late retransmission may still name, is not reused.
func (s *Server) newSEID() atsss.SEID {
	for {
		id := atsss.SEID(s.seidBase | uint64(s.seidNext.Add(1)))
		if _, taken := s.store.Get(id); !taken {
			return id
		}
	}
}

// fseid is the UP F-SEID: the local SEID and the address the peer reached.
func (s *Server) fseid(req *request, seid atsss.SEID) *ie.IE {
	local := req.conn.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Addr().Unmap()
	if local.IsUnspecified() {
		if a, err := netip.ParseAddr(s.cfg.NodeID); err == nil {
			local = a
		}
	}
	if local.Is4() {
		return ie.NewFSEID(uint64(seid), ipOf(local), nil)
	}
	return ie.NewFSEID(uint64(seid), nil, ipOf(local))
}

// present drops nil IEs, which go-pfcp's message constructors cannot take.
func present(ies ...*ie.IE) []*ie.IE {
	return slices.DeleteFunc(ies, func(i *ie.IE) bool { return i == nil })
}

// controlParameters is the ATSSS Control Parameters IE of a response, or
// nil when the request carried no Provide ATSSS Control Information.
func (s *Server) controlParameters(asked bool, p atsss.ATSSSParams) *ie.IE {
	if !asked || (p.MPTCP == nil && !p.ATSSSLL && len(p.PMF) == 0) {
		return nil
	}
	return atsssie.NewATSSSControlParameters(p)
}

// errUnsupported marks a request for something this UPF did not advertise.
var errUnsupported = errors.New("not supported by this UPF")

// rejectionResponse builds the response to req that carries rej
// (TS 29.244 §7.6: Offending IE with Causes 66–69, Failed Rule ID with 73).
func rejectionResponse(req *request, rej *Rejection, nodeID *ie.IE, recovery time.Time) message.Message {
	cause := ie.NewCause(uint8(rej.Cause))
	var extra []*ie.IE
	if rej.OffendingIE != 0 {
		extra = append(extra, ie.NewOffendingIE(rej.OffendingIE))
	}
	if rej.FailedRule != nil && rej.Cause == CauseRuleCreationFailure {
		extra = append(extra, atsssie.NewFailedRuleID(rej.FailedRule.Rule, rej.FailedRule.ID))
	}
	switch req.hdr.typ {
	case message.MsgTypeAssociationSetupRequest:
		return message.NewAssociationSetupResponse(0, append([]*ie.IE{nodeID, cause, ie.NewRecoveryTimeStamp(recovery)}, extra...)...)
	case message.MsgTypeAssociationUpdateRequest:
		return message.NewAssociationUpdateResponse(0, append([]*ie.IE{nodeID, cause}, extra...)...)
	case message.MsgTypeAssociationReleaseRequest:
		return message.NewAssociationReleaseResponse(0, nodeID, cause, extra...)
	case message.MsgTypeSessionEstablishmentRequest:
		return message.NewSessionEstablishmentResponse(0, 0, req.respSEID, 0, 0, append([]*ie.IE{nodeID, cause}, extra...)...)
	case message.MsgTypeSessionModificationRequest:
		return message.NewSessionModificationResponse(0, 0, req.respSEID, 0, 0, append([]*ie.IE{cause}, extra...)...)
	case message.MsgTypeSessionDeletionRequest:
		return message.NewSessionDeletionResponse(0, 0, req.respSEID, 0, 0, append([]*ie.IE{cause}, extra...)...)
	}
	return nil // a Heartbeat Request is never rejected
}
