package mptcpproxy

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	accepted        *prometheus.CounterVec // by transport: mptcp, tcp (fallback)
	refused         *prometheus.CounterVec // by RFC 8803 error
	bytes           *prometheus.CounterVec // by direction, counted when a connection ends
	dialSeconds     prometheus.Histogram
	admissionAddrs  prometheus.Gauge
	idleClosed      prometheus.Counter
	foreignSubflows prometheus.Counter
	active          prometheus.GaugeFunc // set by New: it reads the registry
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "atsss", Subsystem: "mptcpproxy", Name: name, Help: help}
	}
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts(opts("connections_accepted_total",
			"Connections admitted and relayed, by the UE side's transport (mptcp, or tcp after fallback).")), []string{"transport"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("connections_refused_total",
			"Connections refused, by RFC 8803 error, or incomplete: no whole Convert message before EOF, reset or the handshake timeout.")), []string{"error"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts(opts("relayed_bytes_total",
			"Bytes relayed, by direction, counted when a connection ends.")), []string{"direction"}),
		dialSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "atsss", Subsystem: "mptcpproxy", Name: "n6_dial_seconds",
			Help:    "Time to connect to the server on N6.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		admissionAddrs: prometheus.NewGauge(prometheus.GaugeOpts(opts("admission_addresses",
			"UE addresses in the admission table."))),
		idleClosed: prometheus.NewCounter(prometheus.CounterOpts(opts("idle_closed_total",
			"Connections closed for moving no byte for idle_timeout."))),
		foreignSubflows: prometheus.NewCounter(prometheus.CounterOpts(opts("foreign_subflow_closed_total",
			"Connections closed because a subflow joined from an address of another session."))),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.accepted, m.refused, m.bytes, m.dialSeconds, m.admissionAddrs, m.idleClosed, m.foreignSubflows} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
