package pfcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/wmnsk/go-pfcp/message"
)

// errNoResponse: a request this UPF sent got no response after N1 tries.
var errNoResponse = errors.New("no response")

// transactions matches the responses to requests this UPF sends (heartbeats,
// session reports) by sequence number. Safe for concurrent use.
type transactions struct {
	mu      sync.Mutex // guards the fields below
	nextSeq uint32
	pending map[uint32]chan message.Message
}

func newTransactions() *transactions {
	return &transactions{pending: make(map[uint32]chan message.Message)}
}

func (t *transactions) open() (uint32, chan message.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Sequence numbers are 24 bits (TS 29.244 §7.2.2.2); 0 is skipped.
	t.nextSeq = t.nextSeq%0xffffff + 1
	ch := make(chan message.Message, 1)
	t.pending[t.nextSeq] = ch
	return t.nextSeq, ch
}

func (t *transactions) close(seq uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, seq)
}

// deliver hands a response to its waiting request; false if none waits.
func (t *transactions) deliver(seq uint32, m message.Message) bool {
	t.mu.Lock()
	ch, ok := t.pending[seq]
	delete(t.pending, seq)
	t.mu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

// request sends the message built by build to the peer at to and waits for
// its response, retransmitting every T1 up to N1 times (TS 29.244
// §7.2.2.4.2). The same bytes are resent, with the same sequence number.
func (s *Server) request(ctx context.Context, to netip.AddrPort, m message.Message) (message.Message, error) {
	c, err := s.connFor(to.Addr())
	if err != nil {
		return nil, err
	}
	seq, ch := s.txs.open()
	defer s.txs.close(seq)
	m.SetSequenceNumber(seq)
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		return nil, fmt.Errorf("marshal %s: %w", m.MessageTypeName(), err)
	}
	t := time.NewTimer(s.cfg.T1)
	defer t.Stop()
	for attempt := range s.cfg.N1 {
		if attempt > 0 {
			s.metrics.retransmissions.WithLabelValues(messageTypeName(m.MessageType())).Inc()
		}
		s.write(c, to, b)
		s.metrics.sent.WithLabelValues(messageTypeName(m.MessageType())).Inc()
		t.Reset(s.cfg.T1)
		select {
		case resp := <-ch:
			return resp, nil
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%s to %v: %w after %d tries", m.MessageTypeName(), to, errNoResponse, s.cfg.N1)
}

// handleResponse passes a response datagram to the request waiting for it.
func (s *Server) handleResponse(from netip.AddrPort, hdr header, b []byte) {
	switch hdr.typ {
	case message.MsgTypeHeartbeatResponse, message.MsgTypeSessionReportResponse:
	default:
		// TS 29.244 §7.6.1: a message of unknown or unexpected type is
		// silently discarded.
		s.metrics.dropped.WithLabelValues("unexpected_message_type").Inc()
		return
	}
	m, err := message.Parse(b)
	if err != nil {
		s.metrics.dropped.WithLabelValues("malformed_response").Inc()
		s.log.Debug("malformed response", "peer", from, "err", err)
		return
	}
	s.metrics.received(hdr.typ)
	if !s.txs.deliver(hdr.seq, m) {
		s.metrics.dropped.WithLabelValues("unmatched_response").Inc()
	}
}
