package pmf

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// Listener is one UDP port of the UPF's PMF: the destination port of a
// message tells the access and QoS flow it belongs to (TS 29.244 §5.20.3.1,
// §8.2.159: one port per access, and per QoS flow with PQPM).
type Listener struct {
	Addr   netip.AddrPort   `yaml:"addr"` // port 0 picks a free port
	Access atsss.AccessType `yaml:"access"`
	QFI    uint8            `yaml:"qfi"` // 0: the default QoS flow
}

// LookupFunc maps the source address of a UE's PMF message, received on l,
// to the session it belongs to. It is called with the Server's lock held, once
// per new UE address: it must not call the Server.
type LookupFunc func(l Listener, ue netip.AddrPort) (atsss.SEID, bool)

// Clock reads the time. Tests inject one; the default is the system clock.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Defaults of Config. The standard leaves the timers to implementations.
// One echo a second per access keeps PMF traffic small with many UEs; a lab
// that must follow an RTT change within a second or two sets EchoInterval to
// 100ms and RTTGain to 0.25.
//
// A downlink PLR reading counts the measured messages the UPF sent in its
// window (its own echoes, its answers to the UE's echoes, its TDS/TDR) and
// those the UE received, so its resolution is 100/n percent for n messages:
// about PLRInterval/EchoInterval when the UE does not echo itself. With
// the defaults that is 10, so DefaultPLRMinMessages stretches each window
// to 20 s for 5 % steps. A MAR PLR threshold of p % (TS 29.244 §8.2.196)
// needs n well above 100/p: the steering package's hysteresis takes a
// reading as crossed above p and as back only at p minus max(0.5, p/5)
// points, so with n = 20 a threshold of 5 % crosses on 2 losses and clears
// only on none. EchoInterval 50ms with PLRInterval 3s gives n = 60 (1.7 %
// steps), what the lab's threshold test uses.
const (
	DefaultEchoInterval       = time.Second
	DefaultPLRInterval        = 10 * time.Second
	DefaultPLRMinMessages     = 20
	DefaultEchoTimeout        = 2 * time.Second
	DefaultRetransmitInterval = time.Second
	DefaultMaxRetransmits     = 3
	DefaultRTTGain            = 0.125 // RFC 6298 §2.3 alpha
	DefaultTick               = 50 * time.Millisecond
	DefaultEventBuffer        = 4096
)

// Config is the Server's configuration. The zero value of each optional
// field takes the default next to it.
type Config struct {
	// Listen holds the PMF address and port per access and QoS flow.
	// Required. An access may have an IPv4 and an IPv6 listener.
	Listen []Listener `yaml:"listen"`
	// Lookup maps UEs to sessions. Required.
	Lookup LookupFunc `yaml:"-"`

	// EchoInterval is how often the UPF sends an ECHO REQUEST on each
	// learned path; negative: never on its own (Probe still works).
	EchoInterval time.Duration `yaml:"echo_interval"` // default 1s
	// PLRInterval is how often the UPF reads and restarts its downlink PLR
	// count on each learned path, emitting a KindPLR event per reading;
	// negative: never on its own (StartPLR and ReportPLR still work). The
	// count starts when the UE's address on the path is learned.
	PLRInterval time.Duration `yaml:"plr_interval"` // default 10s
	// PLRMinMessages is the fewest measured messages a periodic reading's
	// window holds: when PLRInterval ends with fewer, the window runs on
	// to the next interval rather than report a coarse PLR, or a 0/0 one
	// as no loss. It bounds the resolution to 100/PLRMinMessages percent.
	PLRMinMessages int `yaml:"plr_min_messages"` // default 20
	// EchoTimeout is how long an echo may go unanswered before it is lost.
	EchoTimeout time.Duration `yaml:"echo_timeout"` // default 2s
	// RetransmitInterval and MaxRetransmits govern requests other than
	// echoes (PLR count/report, TDS, TDR).
	RetransmitInterval time.Duration `yaml:"retransmit_interval"` // default 1s
	MaxRetransmits     int           `yaml:"max_retransmits"`     // default 3
	// RTTGain is the EWMA gain of the smoothed RTT, in (0, 1].
	RTTGain float64 `yaml:"rtt_gain"` // default 0.125
	// Tick is the timer resolution of the periodic work.
	Tick time.Duration `yaml:"tick"` // default 50ms
	// EventBuffer is the capacity of the Events channel; events that do
	// not fit are dropped and counted, never waited for.
	EventBuffer int `yaml:"event_buffer"` // default 4096

	Clock  Clock        `yaml:"-"` // default: the system clock
	Logger *slog.Logger `yaml:"-"` // default: discard
}

// WithDefaults returns c with defaults in place of zero values.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.EchoInterval, DefaultEchoInterval)
	def(&c.PLRInterval, DefaultPLRInterval)
	def(&c.EchoTimeout, DefaultEchoTimeout)
	def(&c.RetransmitInterval, DefaultRetransmitInterval)
	def(&c.Tick, DefaultTick)
	if c.MaxRetransmits == 0 {
		c.MaxRetransmits = DefaultMaxRetransmits
	}
	if c.PLRMinMessages == 0 {
		c.PLRMinMessages = DefaultPLRMinMessages
	}
	if c.RTTGain == 0 {
		c.RTTGain = DefaultRTTGain
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field of c that is wrong, by name.
func (c Config) Validate() error {
	if len(c.Listen) == 0 {
		return errors.New("listen: at least one PMF listener is required")
	}
	seen := map[netip.AddrPort]bool{}
	for i, l := range c.Listen {
		switch {
		case !l.Addr.Addr().IsValid():
			return fmt.Errorf("listen[%d].addr: %v is not an IP address and port", i, l.Addr)
		case !l.Access.Valid():
			return fmt.Errorf("listen[%d].access: %v is not an access", i, l.Access)
		case l.QFI > 63:
			return fmt.Errorf("listen[%d].qfi: %d is over 63", i, l.QFI)
		case l.Addr.Port() != 0 && seen[l.Addr]:
			return fmt.Errorf("listen[%d].addr: %v is listed twice", i, l.Addr)
		}
		seen[l.Addr] = true
	}
	if c.Lookup == nil {
		return errors.New("lookup: a UE-to-session lookup is required")
	}
	if c.EchoTimeout < 0 || c.RetransmitInterval < 0 || c.Tick < 0 {
		return errors.New("echo_timeout, retransmit_interval, tick: must not be negative")
	}
	if c.MaxRetransmits < 0 {
		return fmt.Errorf("max_retransmits: %d is negative", c.MaxRetransmits)
	}
	if c.PLRMinMessages < 0 {
		return fmt.Errorf("plr_min_messages: %d is negative", c.PLRMinMessages)
	}
	if c.RTTGain < 0 || c.RTTGain > 1 {
		return fmt.Errorf("rtt_gain: %v is outside (0, 1]", c.RTTGain)
	}
	if c.EventBuffer < 0 {
		return fmt.Errorf("event_buffer: %d is negative", c.EventBuffer)
	}
	return nil
}

func (c Config) timing() timing {
	return timing{echoTimeout: c.EchoTimeout, retransmit: c.RetransmitInterval, maxRetransmits: c.MaxRetransmits, gain: c.RTTGain}
}

// PortListeners returns the listeners of a PMF that uses port portBase for
// the 3GPP access and portBase+1 for the non-3GPP access of the default QoS
// flow, and portBase+2q, portBase+2q+1 for QoS flow q: the rule by which
// pfcp's PMFConfig allocates PMF Parameters. One set per address.
func PortListeners(addrs []netip.Addr, portBase uint16, qfis ...uint8) []Listener {
	var out []Listener
	for _, a := range addrs {
		for _, q := range append([]uint8{0}, qfis...) {
			base := portBase + 2*uint16(q)
			out = append(out,
				Listener{Addr: netip.AddrPortFrom(a, base), Access: atsss.Access3GPP, QFI: q},
				Listener{Addr: netip.AddrPortFrom(a, base+1), Access: atsss.AccessNon3GPP, QFI: q})
		}
	}
	return out
}

// StoreLookup returns a LookupFunc over store: the UE's source address must
// belong to a session (atsss.Store.ByUEAddr: an MA PDU or link-specific
// address) whose PMF Parameters for the listener's QoS flow name the
// listener's port for its access.
func StoreLookup(store *atsss.Store) LookupFunc {
	return func(l Listener, ue netip.AddrPort) (atsss.SEID, bool) {
		sess, ok := store.ByUEAddr(ue.Addr())
		if !ok {
			return 0, false
		}
		for _, p := range sess.ATSSS.Params.PMF {
			if p.QFI == l.QFI && p.Ports[l.Access] == l.Addr.Port() {
				return sess.LocalSEID, true
			}
		}
		return 0, false
	}
}
