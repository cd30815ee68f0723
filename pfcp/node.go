package pfcp

import (
	"context"
	"net/netip"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
)

// handleNode answers the node procedures of TS 29.244 §6.2 on the reader
// goroutine.
func (s *Server) handleNode(ctx context.Context, req *request) {
	switch m := req.msg.(type) {
	case *message.HeartbeatRequest:
		s.heartbeatRequest(ctx, req, m)
	case *message.AssociationSetupRequest:
		s.associationSetup(ctx, req, m)
	case *message.AssociationUpdateRequest:
		s.associationUpdate(req, m)
	case *message.AssociationReleaseRequest:
		s.associationRelease(ctx, req, m)
	}
}

// heartbeatRequest answers with this UPF's Recovery Time Stamp (§6.2.2).
// A Heartbeat Request never gets the missing-IE treatment (§7.6.1).
func (s *Server) heartbeatRequest(ctx context.Context, req *request, m *message.HeartbeatRequest) {
	s.reply(req, message.NewHeartbeatResponse(0, ie.NewRecoveryTimeStamp(s.recovery)), nil)
	if m.RecoveryTimeStamp == nil {
		return
	}
	if ts, err := safely(m.RecoveryTimeStamp, (*ie.IE).RecoveryTimeStamp); err == nil {
		s.peerHeard(ctx, req.from.Addr(), ts)
	}
}

// peerHeard handles a Recovery Time Stamp seen from an associated peer: a
// changed stamp means the CP function restarted and lost its sessions, so
// this UPF deletes them too (TS 29.244 §6.2.6.2.2, §19A).
func (s *Server) peerHeard(ctx context.Context, from netip.Addr, ts time.Time) {
	if nodeID, restarted := s.peers.heard(from, ts); restarted {
		// A failed purge is logged there; the next stamp tries again.
		_ = s.purgePeer(ctx, nodeID, "peer restarted (new recovery time stamp)")
	}
}

// mandatoryMsgIE decodes a mandatory IE of a message; absent is Cause 66.
func mandatoryMsgIE[T any](i *ie.IE, t uint16, where string, get func(*ie.IE) (T, error)) (T, error) {
	if i == nil {
		var zero T
		return zero, missingIE(t, where)
	}
	return mandatory([]*ie.IE{i}, t, where, get)
}

func (s *Server) associationSetup(ctx context.Context, req *request, m *message.AssociationSetupRequest) {
	const where = "association setup request"
	nodeID, err := mandatoryMsgIE(m.NodeID, ie.NodeID, where, (*ie.IE).NodeID)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	ts, err := mandatoryMsgIE(m.RecoveryTimeStamp, ie.RecoveryTimeStamp, where, (*ie.IE).RecoveryTimeStamp)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	// Requests to the peer go where its association came from: port 8805
	// for an SMF that sends from its listening socket (TS 29.244 §4.2.1),
	// and the right port for one that does not.
	if s.peers.setup(nodeID, req.from, ts) {
		if err := s.purgePeer(ctx, nodeID, "peer restarted (new recovery time stamp in association setup)"); err != nil {
			s.reply(req, nil, asRejection(err))
			return
		}
	}
	s.log.Info("association set up", "peer", req.from, "node_id", nodeID, "peer_recovery", ts)
	s.reply(req, message.NewAssociationSetupResponse(0,
		s.nodeID, ie.NewCause(uint8(CauseAccepted)), ie.NewRecoveryTimeStamp(s.recovery), s.features), nil)
}

func (s *Server) associationUpdate(req *request, m *message.AssociationUpdateRequest) {
	nodeID, err := mandatoryMsgIE(m.NodeID, ie.NodeID, "association update request", (*ie.IE).NodeID)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	if got, ok := s.peers.byAddr(req.from); !ok || got != nodeID {
		s.reply(req, nil, reject(CauseNoEstablishedAssociation, "no association with node %q", nodeID))
		return
	}
	s.reply(req, message.NewAssociationUpdateResponse(0, s.nodeID, ie.NewCause(uint8(CauseAccepted)), s.features), nil)
}

// associationRelease deletes the peer's sessions, then the association
// (TS 29.244 §6.2.8).
func (s *Server) associationRelease(ctx context.Context, req *request, m *message.AssociationReleaseRequest) {
	nodeID, err := mandatoryMsgIE(m.NodeID, ie.NodeID, "association release request", (*ie.IE).NodeID)
	if err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	if got, ok := s.peers.byAddr(req.from); !ok || got != nodeID {
		s.reply(req, nil, reject(CauseNoEstablishedAssociation, "no association with node %q", nodeID))
		return
	}
	if err := s.purgePeer(ctx, nodeID, "association released"); err != nil {
		s.reply(req, nil, asRejection(err))
		return
	}
	s.peers.release(nodeID)
	s.reply(req, message.NewAssociationReleaseResponse(0, s.nodeID, ie.NewCause(uint8(CauseAccepted))), nil)
}

// purgePeer deletes every session of a peer, durably, and frees their
// resources.
func (s *Server) purgePeer(ctx context.Context, nodeID, why string) error {
	deleted, err := s.store.DeleteFunc(ctx, func(sess *atsss.Session) bool { return sess.PeerNodeID == nodeID })
	if err != nil {
		s.log.Error("purge sessions", "node_id", nodeID, "err", err)
		return err
	}
	if len(deleted) == 0 {
		return nil
	}
	for _, d := range deleted {
		s.alloc.release(resourcesOf(d))
	}
	s.sessions.Add(-int64(len(deleted)))
	s.log.Warn("deleted the sessions of a peer", "node_id", nodeID, "sessions", len(deleted), "reason", why)
	return nil
}

// heartbeats sends a Heartbeat Request to every associated peer each
// HeartbeatInterval (TS 29.244 §6.2.2). A peer that answers none of N1
// tries is lost; its sessions are deleted once it has stayed lost for
// AssociationLossGrace, unless it comes back.
func (s *Server) heartbeats(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for _, p := range s.peers.snapshot() {
			if !p.lostAt.IsZero() {
				if time.Since(p.lostAt) > s.cfg.AssociationLossGrace {
					s.log.Warn("releasing the association of a lost peer", "node_id", p.nodeID, "lost_since", p.lostAt)
					if s.purgePeer(ctx, p.nodeID, "peer lost") == nil {
						s.peers.release(p.nodeID)
					}
					continue
				}
			}
			go s.heartbeat(ctx, p)
		}
	}
}

func (s *Server) heartbeat(ctx context.Context, p peer) {
	resp, err := s.request(ctx, p.addr, message.NewHeartbeatRequest(0, ie.NewRecoveryTimeStamp(s.recovery), nil))
	if err != nil {
		if ctx.Err() == nil && s.peers.lost(p.nodeID, time.Now()) {
			s.metrics.peersLost.Inc()
			s.log.Warn("peer stopped answering heartbeats", "node_id", p.nodeID, "peer", p.addr, "err", err)
		}
		return
	}
	if hb, ok := resp.(*message.HeartbeatResponse); ok && hb.RecoveryTimeStamp != nil {
		if ts, err := safely(hb.RecoveryTimeStamp, (*ie.IE).RecoveryTimeStamp); err == nil {
			s.peerHeard(ctx, p.addr.Addr(), ts)
		}
	}
}
