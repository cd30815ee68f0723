package mptcpproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Config is the proxy's configuration. The zero value of each optional
// field takes the default shown next to it (see WithDefaults).
type Config struct {
	// Listen holds the proxy addresses and port, one listener each. atsssd
	// fills it from the MPTCP proxy address and port that N4 advertises, so
	// the two cannot disagree.
	Listen []netip.AddrPort `yaml:"-"`

	// HandshakeTimeout bounds the wait for the UE's Convert message.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"` // default 10s
	// DialTimeout bounds the connection to the server on N6; when it runs
	// out the UE gets Destination Unreachable (RFC 8803 §4.2.6).
	DialTimeout time.Duration `yaml:"dial_timeout"` // default 5s
	// IdleTimeout closes a connection that moved no byte for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"` // default 10m

	// MaxConnections bounds the relayed connections of the whole proxy and
	// MaxConnectionsPerUE those of one session; beyond them the UE gets
	// Resource Exceeded.
	MaxConnections      int `yaml:"max_connections"`        // default 65536
	MaxConnectionsPerUE int `yaml:"max_connections_per_ue"` // default 1024

	// RefusePlainTCP refuses UEs whose SYN carried no MPTCP option (the
	// connection fell back to TCP, RFC 8684 §3.7). By default they are
	// served as plain TCP: the UE keeps its connection, without multipath.
	RefusePlainTCP bool `yaml:"refuse_plain_tcp"`

	// N6Source4 and N6Source6 are the source addresses of connections to
	// the data network (an N6-routable address of the UPF, TS 29.244
	// Annex E.3). Unset, the kernel chooses by route.
	N6Source4 netip.Addr `yaml:"n6_source4"`
	N6Source6 netip.Addr `yaml:"n6_source6"`

	// DeniedDestinations are never connected to, whatever the PDRs allow.
	// Loopback, unspecified, link-local, multicast and the proxy's own
	// addresses are always denied.
	DeniedDestinations []netip.Prefix `yaml:"denied_destinations"`

	// Relay says how bytes are moved in each direction: "copy" through a
	// user-space buffer or "splice" in the kernel. The defaults are what
	// measured fastest on Linux 6.18 (see README, Performance): the kernel
	// has no MPTCP splice_read, so splicing out of MPTCP (uplink) costs an
	// extra copy, while splicing into MPTCP (downlink) wins.
	Relay RelayConfig `yaml:"relay"`

	// MaxSubflows is the MPTCP subflow limit atsssd sets in its network
	// namespace at start (net.mptcp limits; at least the two accesses).
	MaxSubflows uint32 `yaml:"max_subflows"` // default 2
	// KeepKernelSettings leaves the namespace's MPTCP limits and TCP Fast
	// Open sysctl as they are, for deployments that manage them
	// elsewhere. By default atsssd applies what the proxy needs: see
	// applyKernelSettings.
	KeepKernelSettings bool `yaml:"keep_kernel_settings"`

	// Steering applies each session's MPTCP Multi-Access Rule to its
	// connections' subflows (steer.go): atsssd runs the userspace path
	// manager in its namespace and sets the MPTCP backup flag per subflow.
	// Off by default while the steering work (issue 4) is in progress.
	Steering bool `yaml:"steering"`
	// AccessLinks names, per access, the network interfaces in atsssd's
	// namespace that carry it (e.g. the N3 interface toward the gNBs and
	// the one toward the N3IWF). When all of an access's links are down,
	// steering treats the access as unavailable for every session at
	// once (links.go). Used with Steering.
	AccessLinks AccessLinks `yaml:"access_links"`

	// Policies are the operator's steering policies, which the control
	// plane keeps; nil: none. A policy that matches a connection replaces
	// its session MAR's downlink steering for it (with Steering) and caps
	// its rate, and a change reaches live connections at once (policy.go).
	Policies *atsss.Policies `yaml:"-"`
}

// AccessLinks are interface names per access.
type AccessLinks struct {
	ThreeGPP []string `yaml:"3gpp"`
	Non3GPP  []string `yaml:"non3gpp"`
}

// of returns the links of access a.
func (l AccessLinks) of(a atsss.AccessType) []string {
	if a == atsss.Access3GPP {
		return l.ThreeGPP
	}
	return l.Non3GPP
}

// RelayConfig chooses the copy method per direction.
type RelayConfig struct {
	Uplink     RelayMethod `yaml:"uplink"`      // default copy
	Downlink   RelayMethod `yaml:"downlink"`    // default splice
	BufferSize int         `yaml:"buffer_size"` // user copy buffer; default 256 KiB
}

// RelayMethod is how one direction is relayed.
type RelayMethod string

// Relay methods.
const (
	RelayCopy   RelayMethod = "copy"
	RelaySplice RelayMethod = "splice"
)

// WithDefaults returns c with every unset optional field at its default.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.DialTimeout, 5*time.Second)
	def(&c.IdleTimeout, 10*time.Minute)
	if c.MaxConnections == 0 {
		c.MaxConnections = 65536
	}
	if c.MaxConnectionsPerUE == 0 {
		c.MaxConnectionsPerUE = 1024
	}
	if c.Relay.Uplink == "" {
		c.Relay.Uplink = RelayCopy
	}
	if c.Relay.Downlink == "" {
		c.Relay.Downlink = RelaySplice
	}
	if c.Relay.BufferSize == 0 {
		c.Relay.BufferSize = 256 << 10
	}
	if c.MaxSubflows == 0 {
		c.MaxSubflows = 2
	}
	return c
}

// Validate reports the first field that is wrong, by its YAML name.
func (c Config) Validate() error {
	if len(c.Listen) == 0 {
		return errors.New("listen: no proxy address (pfcp.atsss.mptcp address and port)")
	}
	for _, a := range c.Listen {
		if !a.IsValid() || a.Port() == 0 {
			return fmt.Errorf("listen: %v is not an address and port", a)
		}
	}
	for name, d := range map[string]time.Duration{"handshake_timeout": c.HandshakeTimeout, "dial_timeout": c.DialTimeout, "idle_timeout": c.IdleTimeout} {
		if d < 0 {
			return fmt.Errorf("%s: %v is negative", name, d)
		}
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("max_connections: %d is negative", c.MaxConnections)
	}
	if c.MaxConnectionsPerUE < 0 {
		return fmt.Errorf("max_connections_per_ue: %d is negative", c.MaxConnectionsPerUE)
	}
	if c.N6Source4.IsValid() && !c.N6Source4.Is4() {
		return fmt.Errorf("n6_source4: %v is not an IPv4 address", c.N6Source4)
	}
	if c.N6Source6.IsValid() && !c.N6Source6.Is6() {
		return fmt.Errorf("n6_source6: %v is not an IPv6 address", c.N6Source6)
	}
	for _, m := range [...]struct {
		name string
		m    RelayMethod
	}{{"relay.uplink", c.Relay.Uplink}, {"relay.downlink", c.Relay.Downlink}} {
		if m.m != "" && m.m != RelayCopy && m.m != RelaySplice {
			return fmt.Errorf("%s: %q, want %q or %q", m.name, m.m, RelayCopy, RelaySplice)
		}
	}
	if c.Relay.BufferSize < 0 || c.Relay.BufferSize > 16<<20 {
		return fmt.Errorf("relay.buffer_size: %d, want 1 to 16 MiB", c.Relay.BufferSize)
	}
	if c.MaxSubflows > 8 {
		return fmt.Errorf("max_subflows: %d, the kernel allows at most 8", c.MaxSubflows)
	}
	seen := map[string]string{}
	for _, a := range atsss.Accesses {
		field := "access_links." + a.String()
		for _, name := range c.AccessLinks.of(a) {
			if name == "" || len(name) >= 16 || strings.ContainsAny(name, "/ ") {
				return fmt.Errorf("%s: %q is not an interface name", field, name)
			}
			if other, dup := seen[name]; dup {
				return fmt.Errorf("%s: %q is also in %s", field, name, other)
			}
			seen[name] = field
		}
		if len(c.AccessLinks.of(a)) > 0 && !c.Steering {
			return fmt.Errorf("%s: set, but steering is off", field)
		}
	}
	return nil
}
