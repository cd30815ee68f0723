package ll

import (
	"fmt"

	"github.com/openatsss/atsss/atsss"
)

// Drop is why a packet was not forwarded.
type Drop uint8

const (
	dropMalformed   Drop = iota // not a GTP-U message (gtpu.Parse failed)
	dropNotGPDU                 // a GTP-U message other than G-PDU and Echo Request
	dropUnknownTEID             // G-PDU for no installed uplink PDR
	dropBadInner                // the inner or N6 packet is not IPv4/IPv6
	dropSpoofed                 // uplink inner source is not the session's
	dropNoSession               // downlink to no session's address
	dropNoRule                  // no PDR matches, or its FAR does not forward
	dropNotLL                   // downlink of an MPTCP/MPQUIC MAR: the proxy's
	dropNoAccess                // the MAR's decision: no access available
	dropSend                    // sending on N3 failed
	dropTUN                     // writing to the TUN failed
	numDrops
)

var dropNames = [numDrops]string{"malformed", "not_gpdu", "unknown_teid", "bad_inner", "spoofed", "no_session", "no_rule", "not_atsss_ll", "no_access", "send_error", "tun_error"}

func (d Drop) String() string {
	if d < numDrops {
		return dropNames[d]
	}
	return fmt.Sprintf("drop(%d)", uint8(d))
}

// Counters count packets and the octets of their IP packets (the inner
// packet, without GTP-U, UDP and outer IP).
type Counters struct {
	Packets, Bytes uint64
}

// SessionStats are one session's counters, per access (indexed by
// atsss.AccessType), and what the data path applies of its state.
type SessionStats struct {
	Uplink, Downlink [2]Counters
	// UplinkOther counts uplink from an N3 peer that is none of the
	// session's FAR peers: accepted, access unknown.
	UplinkOther Counters
	// Unavailable is the N4 Access Availability the data path applies.
	Unavailable [2]bool
}

// Stats are the Forwarder's global counters.
type Stats struct {
	// Drops by reason, named as Drop's String.
	Drops         map[string]uint64
	EchoResponses uint64
	Sessions      int
}

// Stats returns the global counters. It is safe for concurrent use.
func (f *Forwarder) Stats() Stats {
	s := Stats{Drops: map[string]uint64{}, EchoResponses: f.echo.Load()}
	for d := range numDrops {
		s.Drops[d.String()] = f.drops[d].Load()
	}
	s.Sessions = len(f.tab.Load().bySEID)
	return s
}

// SessionStats returns the counters of an installed session. They live as
// long as the session: a modification keeps them, a deletion ends them. It
// is safe for concurrent use.
func (f *Forwarder) SessionStats(id atsss.SEID) (SessionStats, bool) {
	v := f.tab.Load().bySEID[id]
	if v == nil {
		return SessionStats{}, false
	}
	var s SessionStats
	for _, a := range atsss.Accesses {
		s.Uplink[a] = load(&v.st.ul[a])
		s.Downlink[a] = load(&v.st.dl[a])
	}
	s.UplinkOther = load(&v.st.ulOther)
	s.Unavailable = v.unavailable
	return s, true
}

func load(c *counter) Counters {
	return Counters{Packets: c.packets.Load(), Bytes: c.bytes.Load()}
}
