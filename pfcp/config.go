package pfcp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Config is the N4 server's configuration. The zero value of each optional
// field takes the default shown next to it (see WithDefaults).
type Config struct {
	// NodeID is this UPF's Node ID: an IPv4 or IPv6 address or an FQDN.
	NodeID string `yaml:"node_id"`
	// Listen holds the UDP addresses to serve N4 on, IPv4 and/or IPv6.
	Listen []netip.AddrPort `yaml:"listen"`
	// AllowedPeers are the prefixes SMFs may send from; others are dropped
	// and counted. Required: N4 accepts only configured peers.
	AllowedPeers []netip.Prefix `yaml:"allowed_peers"`

	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"` // default 10s
	// T1 and N1 are the retransmission timer and count of requests this
	// UPF sends (TS 29.244 §7.2.2.4.2 leaves the values to configuration).
	T1 time.Duration `yaml:"t1"` // default 3s
	N1 int           `yaml:"n1"` // default 3
	// AssociationLossGrace is how long the sessions of a peer that stopped
	// answering heartbeats are kept before they are deleted.
	AssociationLossGrace time.Duration `yaml:"association_loss_grace"` // default 60s

	// MaxSessions bounds the installed sessions; beyond it establishment
	// is answered with Cause 75.
	MaxSessions int `yaml:"max_sessions"` // default 100000
	// PeerRate is the sustained session requests per second one peer may
	// send, with bursts of PeerBurst; beyond it Cause 74.
	PeerRate  float64 `yaml:"peer_rate"`  // default 50000
	PeerBurst int     `yaml:"peer_burst"` // default 5000
	// Workers handle session messages; Queue is the requests that may wait
	// for a worker, beyond which requests get Cause 74 at once.
	Workers int `yaml:"workers"` // default 128
	Queue   int `yaml:"queue"`   // default 8192
	// ResponseCache is how many responses are kept to answer retransmitted
	// requests (TS 29.244 §6.4); they are kept for N1×T1 at most.
	ResponseCache int `yaml:"response_cache"` // default 65536

	// N3 is the UPF's GTP-U address toward the accesses. When set, the UPF
	// advertises FTUP and allocates F-TEIDs on this address for PDRs that
	// ask for it (CHOOSE), as TS 29.244 §5.5.1 (Rel-17) expects of a 5GC UPF;
	// F-TEIDs that the SMF allocated are accepted either way.
	N3 N3Config `yaml:"n3"`

	ATSSS ATSSSConfig `yaml:"atsss"`
}

// N3Config is the UPF's N3 address, IPv4 and/or IPv6.
type N3Config struct {
	Address4 netip.Addr `yaml:"address4"`
	Address6 netip.Addr `yaml:"address6"`
}

// Enabled reports whether an N3 address is configured.
func (c N3Config) Enabled() bool { return c.Address4.IsValid() || c.Address6.IsValid() }

// ATSSSConfig says what the UPF allocates for Provide ATSSS Control Information.
type ATSSSConfig struct {
	MPTCP MPTCPConfig `yaml:"mptcp"`
	PMF   PMFConfig   `yaml:"pmf"`
	// ATSSSLL enables the ATSSS-LL feature bit and ATSSS-LL Parameters.
	ATSSSLL bool `yaml:"atsss_ll"`
	// RedundantMPTCP advertises REDSM and accepts Redundant MPTCP MARs,
	// which the proxy serves without duplicating anything: this kernel's
	// only MPTCP scheduler sends each byte once (README, Steering). Off by
	// default: an SMF that asks for Redundant expects duplicates.
	RedundantMPTCP bool `yaml:"redundant_mptcp"`
	// RTTWP advertises RTT measurement without PMF, for DRTTI sessions.
	// Not read from the file: atsssd sets it when the proxy steers, which
	// is what measures the subflows' RTTs.
	RTTWP bool `yaml:"-"`
}

// MPTCPConfig is the MPTCP proxy's address and the link-specific address pools.
type MPTCPConfig struct {
	Address4 netip.Addr `yaml:"address4"`
	Address6 netip.Addr `yaml:"address6"`
	Port     uint16     `yaml:"port"`
	// LinkSpecificPools holds the pools of link-specific multipath
	// addresses per access: a v4 and/or a v6 prefix each.
	LinkSpecificPools AccessPools `yaml:"link_specific_pools"`
}

// AccessPools holds address prefixes per access.
type AccessPools struct {
	ThreeGPP []netip.Prefix `yaml:"3gpp"`
	Non3GPP  []netip.Prefix `yaml:"non3gpp"`
}

// For returns the prefixes of access a.
func (p AccessPools) For(a atsss.AccessType) []netip.Prefix {
	if a == atsss.Access3GPP {
		return p.ThreeGPP
	}
	return p.Non3GPP
}

// Enabled reports whether an MPTCP proxy is configured.
func (c MPTCPConfig) Enabled() bool {
	return (c.Address4.IsValid() || c.Address6.IsValid()) && c.Port != 0
}

// PMFConfig is where the UPF's PMF listens: an IPv4 and/or IPv6 address
// and, per access, one UDP port (TS 29.244 §5.20.3.1, §8.2.159). The ports
// are shared by every session: the PMF tells UEs apart by the UE's source
// address, which it learns from the first uplink message (TS 23.501
// §5.32.5.1A), and accesses by port. So PMF never limits how many sessions
// fit. The default QoS flow uses PortBase (3GPP) and PortBase+1
// (non-3GPP); with per-QoS-flow measurement, QFI q uses PortBase+2q and
// PortBase+2q+1, so the PMF needs the 128 ports from PortBase.
type PMFConfig struct {
	Address4 netip.Addr `yaml:"address4"`
	Address6 netip.Addr `yaml:"address6"`
	PortBase uint16     `yaml:"port_base"`
}

// params returns the PMF Parameters of QoS flow qfi (0: the default).
func (c PMFConfig) params(qfi uint8) atsss.PMFParams {
	base := c.PortBase + 2*uint16(qfi)
	return atsss.PMFParams{QFI: qfi, Addr: atsss.AddrPair{IPv4: c.Address4, IPv6: c.Address6}, Ports: [2]uint16{base, base + 1}}
}

// Enabled reports whether a PMF address is configured.
func (c PMFConfig) Enabled() bool { return c.Address4.IsValid() || c.Address6.IsValid() }

// WithDefaults returns c with defaults in place of zero values.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HeartbeatInterval, 10*time.Second)
	def(&c.T1, 3*time.Second)
	def(&c.AssociationLossGrace, time.Minute)
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.N1, 3)
	defInt(&c.MaxSessions, 100000)
	defInt(&c.PeerBurst, 5000)
	defInt(&c.Workers, 128)
	defInt(&c.Queue, 8192)
	defInt(&c.ResponseCache, 65536)
	if c.PeerRate == 0 {
		c.PeerRate = 50000
	}
	return c
}

// Validate checks c (after WithDefaults) and names the first bad field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if c.NodeID == "" {
		bad("node_id", "required")
	}
	if len(c.Listen) == 0 {
		bad("listen", "at least one address required")
	}
	for i, l := range c.Listen {
		if !l.IsValid() {
			bad(fmt.Sprintf("listen[%d]", i), "invalid address")
		}
	}
	if len(c.AllowedPeers) == 0 {
		bad("allowed_peers", "at least one prefix required: N4 accepts only configured peers")
	}
	for name, v := range map[string]int{"n1": c.N1, "max_sessions": c.MaxSessions, "peer_burst": c.PeerBurst, "workers": c.Workers, "queue": c.Queue, "response_cache": c.ResponseCache} {
		if v < 0 {
			bad(name, "must not be negative, got %d", v)
		}
	}
	if c.PeerRate < 0 {
		bad("peer_rate", "must not be negative, got %v", c.PeerRate)
	}
	if c.N3.Address4.IsValid() && !c.N3.Address4.Is4() {
		bad("n3.address4", "%v is not IPv4", c.N3.Address4)
	}
	if c.N3.Address6.IsValid() && !c.N3.Address6.Is6() {
		bad("n3.address6", "%v is not IPv6", c.N3.Address6)
	}
	m := c.ATSSS.MPTCP
	if m.Enabled() {
		for _, a := range atsss.Accesses {
			field := "atsss.mptcp.link_specific_pools." + a.String()
			pools := m.LinkSpecificPools.For(a)
			if len(pools) == 0 {
				bad(field, "required when the MPTCP proxy is configured")
			}
			families := map[bool]bool{}
			for _, p := range pools {
				if !p.IsValid() {
					bad(field, "invalid prefix")
				}
				if families[p.Addr().Is4()] {
					bad(field, "one IPv4 and one IPv6 prefix at most, got %v", pools)
				}
				families[p.Addr().Is4()] = true
			}
		}
	} else if m.Address4.IsValid() || m.Address6.IsValid() || m.Port != 0 {
		bad("atsss.mptcp", "needs an address and a port")
	}
	if m.Address4.IsValid() && !m.Address4.Is4() {
		bad("atsss.mptcp.address4", "%v is not IPv4", m.Address4)
	}
	if m.Address6.IsValid() && !m.Address6.Is6() {
		bad("atsss.mptcp.address6", "%v is not IPv6", m.Address6)
	}
	p := c.ATSSS.PMF
	if p.Enabled() && (p.PortBase == 0 || int(p.PortBase)+127 > 65535) {
		bad("atsss.pmf.port_base", "need 1 ≤ port_base ≤ 65408 (128 ports from it), got %d", p.PortBase)
	}
	if p.Address4.IsValid() && !p.Address4.Is4() {
		bad("atsss.pmf.address4", "%v is not IPv4", p.Address4)
	}
	if p.Address6.IsValid() && !p.Address6.Is6() {
		bad("atsss.pmf.address6", "%v is not IPv6", p.Address6)
	}
	return errors.Join(errs...)
}
