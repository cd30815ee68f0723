package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/mptcpproxy"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/steering/ll"
)

// config is atsssd's configuration file: one YAML document. Unknown fields
// are an error that names them.
type config struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// StorePath is the session store file (bbolt). Empty keeps sessions in
	// memory only: they do not survive a restart.
	StorePath string `yaml:"store_path"`
	// MetricsListen serves /metrics and /sessions over HTTP; empty: off.
	// The session dump shows UE addresses: keep it on loopback or behind
	// access control.
	MetricsListen netip.AddrPort `yaml:"metrics_listen"`
	// MemoryLimitMiB is the Go runtime's soft memory limit; 0: none.
	MemoryLimitMiB int64 `yaml:"memory_limit_mib"`

	PFCP pfcp.Config `yaml:"pfcp"`

	// MPTCPProxy runs the MPTCP proxy (RFC 8803 converter) on the address
	// and port that pfcp.atsss.mptcp advertises to SMFs.
	MPTCPProxy proxyConfig `yaml:"mptcp_proxy"`

	// PMFServer runs the UPF side of the PMF protocol (steering/pmf) on
	// the address and ports pfcp.atsss.pmf advertises; its RTTs and the
	// UE's access reports feed the proxy's steering.
	PMFServer pmfServerConfig `yaml:"pmf_server"`

	// ATSSSLL runs the ATSSS-LL data path (steering/ll): N3 GTP-U and an
	// N6 TUN device, for the non-MPTCP traffic of MA PDU sessions.
	ATSSSLL llConfig `yaml:"atsss_ll"`

	// API serves the gRPC API (sessions, operator policies); see apiConfig.
	API apiConfig `yaml:"api"`
}

// llConfig switches the ATSSS-LL data path on; the rest is its own.
type llConfig struct {
	Enabled   bool `yaml:"enabled"`
	ll.Config `yaml:",inline"`
}

// pmfServerConfig switches the PMF server on and tunes its measurement.
type pmfServerConfig struct {
	Enabled bool `yaml:"enabled"`
	// EchoInterval is how often the UPF measures each path's RTT; the
	// steering's Smallest Delay hold (500 ms) assumes 100 ms or less.
	EchoInterval time.Duration `yaml:"echo_interval"` // default 1s
	// RTTGain is the weight of a new RTT sample in the smoothed RTT.
	RTTGain float64 `yaml:"rtt_gain"` // default 0.125, as TCP's
	// PLRInterval is how often the UPF reads and restarts its downlink
	// packet loss count on each path, for MAR PLR thresholds. A reading
	// needs 20 or more echoes in its window (5 % steps; see
	// pmf.DefaultPLRMinMessages), so with a 1 s echo_interval one comes
	// every 20 s; for finer steps make plr_interval/echo_interval larger.
	// On by default: without it a PLR threshold never acts, and it costs
	// two small messages per window and path.
	PLRInterval time.Duration `yaml:"plr_interval"` // default 10s
}

// proxyConfig switches the MPTCP proxy on; the rest is the proxy's own.
type proxyConfig struct {
	Enabled           bool `yaml:"enabled"`
	mptcpproxy.Config `yaml:",inline"`
}

func loadConfig(path string) (config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config{}, fmt.Errorf("config: %w", err)
	}
	c := config{LogLevel: "info"}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		var doc yaml.Node
		if yaml.Unmarshal(b, &doc) == nil {
			if field := badField(&doc, reflect.TypeOf(c), ""); field != nil {
				err = field
			}
		}
		return config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c.PFCP = c.PFCP.WithDefaults()
	if c.MPTCPProxy.Enabled {
		m := c.PFCP.ATSSS.MPTCP
		for _, a := range []netip.Addr{m.Address4, m.Address6} {
			if a.IsValid() {
				c.MPTCPProxy.Listen = append(c.MPTCPProxy.Listen, netip.AddrPortFrom(a, m.Port))
			}
		}
		c.MPTCPProxy.Config = c.MPTCPProxy.WithDefaults()
	}
	// The steering proxy measures its subflows' RTTs: DRTTI sessions can
	// use them (RTTWP).
	c.PFCP.ATSSS.RTTWP = c.MPTCPProxy.Enabled && c.MPTCPProxy.Steering
	if err := c.validate(); err != nil {
		return config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// badField finds the value that failed to decode and names its field.
// yaml.v3 reports a failed UnmarshalText (a bad address, say) without the
// field or the line, so on an error loadConfig walks the document against
// the config's type and decodes leaf by leaf.
func badField(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return badField(n.Content[0], t, path)
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for _, f := range reflect.VisibleFields(t) {
				if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
					if err := badField(n.Content[i+1], f.Type, strings.TrimPrefix(path+"."+key, ".")); err != nil {
						return err
					}
				}
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			if err := badField(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.ScalarNode:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return fmt.Errorf("%s (line %d): %q: %w", path, n.Line, n.Value, err)
		}
	}
	return nil
}

func (c config) validate() error {
	var errs []error
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log_level: %w", err))
	}
	if c.MemoryLimitMiB < 0 {
		errs = append(errs, fmt.Errorf("memory_limit_mib: must not be negative, got %d", c.MemoryLimitMiB))
	}
	if err := c.PFCP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("pfcp.%w", err))
	}
	if p := c.PMFServer; p.Enabled {
		switch {
		case !c.PFCP.ATSSS.PMF.Enabled():
			errs = append(errs, errors.New("pmf_server.enabled: needs pfcp.atsss.pmf address and port_base, where it listens"))
		case (!c.MPTCPProxy.Enabled || !c.MPTCPProxy.Steering) && !c.ATSSSLL.Enabled:
			errs = append(errs, errors.New("pmf_server.enabled: needs mptcp_proxy.steering or atsss_ll.enabled, which its measurements feed"))
		case p.EchoInterval < 0:
			errs = append(errs, fmt.Errorf("pmf_server.echo_interval: must not be negative, got %v", p.EchoInterval))
		case p.RTTGain < 0 || p.RTTGain > 1:
			errs = append(errs, fmt.Errorf("pmf_server.rtt_gain: want 0 to 1, got %v", p.RTTGain))
		case p.PLRInterval < 0:
			errs = append(errs, fmt.Errorf("pmf_server.plr_interval: must not be negative, got %v", p.PLRInterval))
		}
	}
	if c.ATSSSLL.Enabled {
		switch err := c.ATSSSLL.Validate(); {
		case !c.PFCP.ATSSS.ATSSSLL:
			errs = append(errs, errors.New("atsss_ll.enabled: needs pfcp.atsss.atsss_ll, which offers ATSSS-LL to SMFs"))
		case err != nil:
			errs = append(errs, fmt.Errorf("atsss_ll.%w", err))
		}
	}
	if c.PFCP.ATSSS.RedundantMPTCP && (!c.MPTCPProxy.Enabled || !c.MPTCPProxy.Steering) {
		errs = append(errs, errors.New("pfcp.atsss.redundant_mptcp: needs mptcp_proxy.steering, which serves Redundant MARs"))
	}
	if c.MPTCPProxy.Enabled {
		if !c.PFCP.ATSSS.MPTCP.Enabled() {
			errs = append(errs, errors.New("mptcp_proxy.enabled: needs pfcp.atsss.mptcp address and port, where the proxy listens"))
		} else if err := c.MPTCPProxy.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("mptcp_proxy.%w", err))
		}
	}
	if err := c.API.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}
