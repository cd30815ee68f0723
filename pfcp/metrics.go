package pfcp

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wmnsk/go-pfcp/message"
)

// metrics are the N4 server's Prometheus metrics (namespace atsss,
// subsystem pfcp). No label carries a session or UE, to keep cardinality
// bounded.
type metrics struct {
	messages        *prometheus.CounterVec // received requests and responses, by type
	answers         *prometheus.CounterVec // responses sent, by request type and cause
	sent            *prometheus.CounterVec // requests and unsolicited messages sent
	retransmissions *prometheus.CounterVec
	dropped         *prometheus.CounterVec
	duplicates      prometheus.Counter
	peersLost       prometheus.Counter
	panics          prometheus.Counter
	duration        *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	const ns, sub = "atsss", "pfcp"
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_received_total", Help: "PFCP messages received and parsed, by message type."}, []string{"message_type"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "responses_total", Help: "Responses sent to requests, by request type and cause."}, []string{"message_type", "cause"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_sent_total", Help: "Requests and other messages this UPF sent, by message type."}, []string{"message_type"}),
		retransmissions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "retransmissions_total", Help: "Requests this UPF sent again after T1 without a response."}, []string{"message_type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dropped_total", Help: "Datagrams dropped without an answer, by reason."}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "duplicate_requests_total", Help: "Retransmitted requests answered from the response cache or dropped while in progress."}),
		peersLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "peers_lost_total", Help: "Peers that stopped answering heartbeats."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "handler_panics_total", Help: "Requests whose handler panicked (a bug); each was answered with Cause 77."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "request_duration_seconds", Help: "From receipt of a request to its response, durable commit included.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}, []string{"message_type"}),
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.answers, m.sent, m.retransmissions, m.dropped, m.duplicates, m.peersLost, m.panics, m.duration,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sessions",
				Help: "Installed PFCP sessions."}, func() float64 { return float64(s.store.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "associations",
				Help: "PFCP associations."}, func() float64 { return float64(s.peers.len()) }),
		)
	}
	return m
}

func (m *metrics) received(t uint8) { m.messages.WithLabelValues(messageTypeName(t)).Inc() }

func (m *metrics) answered(t uint8, c Cause, took time.Duration) {
	name := messageTypeName(t)
	m.answers.WithLabelValues(name, c.String()).Inc()
	m.duration.WithLabelValues(name).Observe(took.Seconds())
}

var messageTypeNames = map[uint8]string{
	message.MsgTypeHeartbeatRequest:            "heartbeat_request",
	message.MsgTypeHeartbeatResponse:           "heartbeat_response",
	message.MsgTypeAssociationSetupRequest:     "association_setup_request",
	message.MsgTypeAssociationUpdateRequest:    "association_update_request",
	message.MsgTypeAssociationReleaseRequest:   "association_release_request",
	message.MsgTypeSessionEstablishmentRequest: "session_establishment_request",
	message.MsgTypeSessionModificationRequest:  "session_modification_request",
	message.MsgTypeSessionDeletionRequest:      "session_deletion_request",
	message.MsgTypeSessionReportResponse:       "session_report_response",
	message.MsgTypeVersionNotSupportedResponse: "version_not_supported_response",
	message.MsgTypeSessionReportRequest:        "session_report_request",
}

func messageTypeName(t uint8) string {
	if n, ok := messageTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type_%d", t)
}
