package ll

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

// Config is the Forwarder's configuration. The zero value plus Routes is a
// usable configuration: Default fills in the rest.
type Config struct {
	// N3 is the UDP address of the GTP-U socket; default 0.0.0.0:2152, all
	// of the UPF's N3 addresses.
	N3 netip.AddrPort `yaml:"n3"`
	// TUN names the N6-side TUN device the Forwarder creates (and that
	// goes away with it); default "atsss-ll0".
	TUN string `yaml:"tun"`
	// MTU of the TUN device: the largest inner packet. Default 1400, which
	// leaves room for the 36 octets of outer IPv4, UDP and GTP-U with a PDU
	// Session Container on a 1500-octet N3 link, and then some.
	MTU int `yaml:"mtu"`
	// Routes are the UE address pools routed into the TUN device, in the
	// namespace where New runs.
	Routes []netip.Prefix `yaml:"routes"`

	// Policies are the operator's steering policies, which the control
	// plane keeps; nil: none. A policy that matches a downlink packet
	// replaces its ATSSS-LL MAR's downlink steering for it (policy.go);
	// a change steers the next packet. Rate caps are not applied here.
	Policies *atsss.Policies `yaml:"-"`
}

// Defaults of Config.
const (
	DefaultTUN = "atsss-ll0"
	DefaultMTU = 1400
)

// WithDefaults returns c with empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if !c.N3.IsValid() {
		c.N3 = netip.AddrPortFrom(netip.IPv4Unspecified(), gtpu.Port)
	}
	if c.TUN == "" {
		c.TUN = DefaultTUN
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	return c
}

// Validate reports the first field of c (after defaults) that is wrong.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.N3.Port() == 0:
		return errors.New("n3: port 0")
	case len(c.TUN) > 15:
		return fmt.Errorf("tun: %q is longer than an interface name (15)", c.TUN)
	case c.MTU < 576 || c.MTU > maxPacket-headroom:
		return fmt.Errorf("mtu: %d, want 576..%d", c.MTU, maxPacket-headroom)
	}
	for i, p := range c.Routes {
		if !p.IsValid() {
			return fmt.Errorf("routes[%d]: invalid prefix", i)
		}
	}
	return nil
}
