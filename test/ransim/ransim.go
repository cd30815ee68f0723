// Package ransim plays, for tests, a UE together with the access nodes of
// its two accesses, a gNB (3GPP) and an N3IWF (non-3GPP), collapsed into
// one process: it builds the UE's IP packets itself, encapsulates them in
// GTP-U G-PDUs toward the UPF's N3 over the access it is told to use (the
// UE steers its own uplink), and decapsulates the downlink G-PDUs that
// arrive at either node, counting them per access.
//
// Create it with New inside the namespace that plays the access side (its
// sockets live there). It is test support: tests and benchmarks only.
package ransim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

// Config is one MA PDU session as the UE and its access nodes see it.
type Config struct {
	// AN is the local GTP-U address of the gNB and of the N3IWF, indexed
	// by atsss.AccessType: the FARs' outer header peers.
	AN [2]netip.AddrPort
	// UPF is the UPF's N3 address per access (the uplink F-TEID's address).
	UPF [2]netip.AddrPort
	// ULTEID is the UPF's uplink TEID per access; DLTEID the access node's,
	// which downlink G-PDUs must carry.
	ULTEID, DLTEID [2]uint32
	// QFI goes in the uplink PDU Session Container; 0 sends none.
	QFI uint8
	// Buffer is the downlink channel's size; default 65536.
	Buffer int
}

// Packet is a downlink packet the UE received.
type Packet struct {
	Access atsss.AccessType
	QFI    int    // from the PDU Session Container; -1 without one
	IP     []byte // the inner IP packet
}

// Stats count what the access nodes received.
type Stats struct {
	Downlink                       [2]uint64 // good G-PDUs per access
	WrongTEID, Malformed, Overflow uint64
	EchoResponses                  uint64
}

// RAN is the running simulator. Its methods are safe for concurrent use.
type RAN struct {
	cfg                        Config
	conns                      [2]*net.UDPConn
	c                          chan Packet
	down                       [2]atomic.Uint64
	wrong, malformed, overflow atomic.Uint64
	echo                       atomic.Uint64
}

// New opens the access nodes' sockets in the calling thread's namespace.
func New(cfg Config) (*RAN, error) {
	if cfg.Buffer == 0 {
		cfg.Buffer = 1 << 16
	}
	r := &RAN{cfg: cfg, c: make(chan Packet, cfg.Buffer)}
	for a := range cfg.AN {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.AN[a]))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("ransim %v: %w", atsss.AccessType(a), err)
		}
		_ = c.SetReadBuffer(8 << 20)
		r.conns[a] = c
	}
	return r, nil
}

// Close closes the sockets; Run then returns.
func (r *RAN) Close() error {
	var errs []error
	for _, c := range r.conns {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// C delivers the downlink packets, in arrival order per access. When it is
// full, packets are counted in Stats.Overflow and dropped.
func (r *RAN) C() <-chan Packet { return r.c }

// Run reads both accesses until ctx ends or Close.
func (r *RAN) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	done := make(chan struct{})
	for a := range r.conns {
		go func() {
			defer func() { done <- struct{}{} }()
			r.read(atsss.AccessType(a))
		}()
	}
	<-done
	<-done
}

func (r *RAN) read(a atsss.AccessType) {
	buf := make([]byte, 65536)
	for {
		n, _, err := r.conns[a].ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		h, inner, err := gtpu.Parse(buf[:n])
		if err == nil && h.Type == gtpu.TypeEchoResponse {
			r.echo.Add(1)
			continue
		}
		if err != nil || h.Type != gtpu.TypeGPDU {
			r.malformed.Add(1)
			continue
		}
		if h.TEID != r.cfg.DLTEID[a] {
			r.wrong.Add(1)
			continue
		}
		r.down[a].Add(1)
		p := Packet{Access: a, QFI: -1, IP: append([]byte(nil), inner...)}
		if h.HasSession {
			p.QFI = int(h.Session.QFI)
		}
		select {
		case r.c <- p:
		default:
			r.overflow.Add(1)
		}
	}
}

// Stats returns the counters.
func (r *RAN) Stats() Stats {
	return Stats{
		Downlink:  [2]uint64{r.down[0].Load(), r.down[1].Load()},
		WrongTEID: r.wrong.Load(), Malformed: r.malformed.Load(), Overflow: r.overflow.Load(),
		EchoResponses: r.echo.Load(),
	}
}

// Send sends the IP packet ip over access a in a G-PDU with the UPF's
// uplink TEID of that access.
func (r *RAN) Send(a atsss.AccessType, ip []byte) error {
	return r.SendTEID(a, r.cfg.ULTEID[a], ip)
}

// SendTEID is Send with any TEID, for tests of unknown tunnels.
func (r *RAN) SendTEID(a atsss.AccessType, teid uint32, ip []byte) error {
	qfi := -1
	if r.cfg.QFI != 0 {
		qfi = int(r.cfg.QFI)
	}
	msg := gtpu.AppendGPDU(nil, teid, gtpu.PDUTypeUplink, qfi, ip)
	_, err := r.conns[a].WriteToUDPAddrPort(msg, r.cfg.UPF[a])
	return err
}

// SendRaw sends msg as it is over access a to the UPF.
func (r *RAN) SendRaw(a atsss.AccessType, msg []byte) error {
	_, err := r.conns[a].WriteToUDPAddrPort(msg, r.cfg.UPF[a])
	return err
}

// UDP4 returns an IPv4 (RFC 791) packet carrying a UDP (RFC 768) datagram
// from src to dst, both checksums set, TTL 64, DF.
func UDP4(src, dst netip.AddrPort, payload []byte) []byte {
	be := binary.BigEndian
	n := 28 + len(payload)
	b := make([]byte, n)
	b[0], b[8], b[9] = 0x45, 64, 17
	be.PutUint16(b[2:], uint16(n))
	be.PutUint16(b[6:], 0x4000)
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	be.PutUint16(b[10:], ^fold(sum(b[:20])))
	u := b[20:]
	be.PutUint16(u[0:], src.Port())
	be.PutUint16(u[2:], dst.Port())
	be.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	// Pseudo-header: source, destination, zero, protocol, UDP length.
	ps := sum(b[12:20]) + 17 + uint32(8+len(payload))
	c := ^fold(ps + sum(u))
	if c == 0 {
		c = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	be.PutUint16(u[6:], c)
	return b
}

// ParseUDP4 returns the addresses and payload of an IPv4 UDP packet.
func ParseUDP4(b []byte) (src, dst netip.AddrPort, payload []byte, ok bool) {
	if len(b) < 28 || b[0] != 0x45 || b[9] != 17 {
		return src, dst, nil, false
	}
	be := binary.BigEndian
	total := int(be.Uint16(b[2:]))
	if total > len(b) || total < 28 {
		return src, dst, nil, false
	}
	src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), be.Uint16(b[20:]))
	dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), be.Uint16(b[22:]))
	return src, dst, b[28:total], true
}

func sum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
