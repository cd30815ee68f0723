package mptcpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/convert"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// protoTCP is the IP protocol number the PDR filters are matched with.
const protoTCP = 6

// refusal is why a connection is not relayed: the RFC 8803 Error code the
// UE gets, and a reason for the log and the metrics.
type refusal struct {
	code   convert.ErrorCode
	reason string
	value  []byte // the Error TLV's value, where the code has one
	// infoOnly: no refusal but a message with an Info TLV and no Connect,
	// answered with the Supported TCP Extensions TLV (RFC 8803 §5.2.2).
	infoOnly bool
	// incomplete: the UE sent no whole message before EOF, a reset or the
	// handshake timeout. It is counted apart from malformed messages: it
	// says more about the accesses than about the UE's converter client.
	incomplete bool
}

// label names the refusal in the metrics.
func (r *refusal) label() string {
	if r.incomplete {
		return "incomplete"
	}
	return r.code.String()
}

func (r *refusal) Error() string { return fmt.Sprintf("%v: %s", r.code, r.reason) }

func refuse(code convert.ErrorCode, format string, args ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, args...)}
}

// serve handles one accepted connection: read the Convert message, admit,
// dial N6, answer, relay. It never panics on what the UE sends, and one
// UE's failure touches no other connection.
func (p *Proxy) serve(ctx context.Context, client *net.TCPConn) {
	defer func() {
		// A bug met here costs this connection, not atsssd and every other
		// UE's: logged with its stack, as net/http does for a handler.
		if v := recover(); v != nil {
			p.log.Error("connection handler panicked", "panic", v, "stack", string(debug.Stack()))
			client.SetLinger(0)
			client.Close()
		}
	}()
	src := addrPortOf(client.RemoteAddr())
	log := p.log.With("ue_ip", src.Addr().String(), "ue_port", src.Port())
	c, r := p.admit(client, src)
	if r != nil && r.infoOnly {
		log.Debug("answered an Info TLV")
		p.answer(client, supportedExtensions())
		return
	}
	if r != nil {
		p.metrics.refused.WithLabelValues(r.label()).Inc()
		log.Info("connection refused", "error", r.label(), "reason", r.reason)
		p.sendError(client, r)
		return
	}
	defer p.conns.remove(c)
	if p.steer != nil && c.mptcp {
		p.steer.add(c, time.Now())
		defer p.steer.remove(c)
	}
	log = log.With("seid", uint64(c.ue.seid), "dst", c.dst.String(), "mptcp", c.mptcp)

	server, r := p.dial(ctx, c.dst)
	if r != nil {
		p.metrics.refused.WithLabelValues(r.label()).Inc()
		log.Info("server unreachable", "error", r.label(), "reason", r.reason)
		p.sendError(client, r)
		c.shut(r.reason)
		return
	}
	if !c.setServer(server) {
		log.Info("connection closed before the server answered", "reason", c.closeReason())
		return
	}
	replyMsg := convert.ExtendedTCPHeaderMessage(serverOptions(server))
	if c.info {
		replyMsg.SetSupportedTCPExtensions(supportedOptionKinds)
	}
	reply, err := convert.AppendMessage(nil, replyMsg)
	if err == nil {
		_, err = client.Write(reply)
	}
	if err != nil {
		log.Info("write convert reply", "err", err)
		c.shut("reply failed")
		return
	}
	p.metrics.accepted.WithLabelValues(transportLabel(c.mptcp)).Inc()
	log.Debug("relaying")
	up, down, err := p.relay(c, client, server)
	p.metrics.bytes.WithLabelValues("uplink").Add(float64(up))
	p.metrics.bytes.WithLabelValues("downlink").Add(float64(down))
	c.shut("done")
	log.Debug("connection ended", "uplink_bytes", up, "downlink_bytes", down,
		"duration", time.Since(c.started).Round(time.Millisecond), "reason", c.closeReason(), "err", err)
}

// admit reads the UE's Convert message and decides whether to relay. On
// success the connection is registered and counts against the limits.
func (p *Proxy) admit(client *net.TCPConn, src netip.AddrPort) (*conn, *refusal) {
	client.SetReadDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	msg, err := convert.ReadMessage(client)
	if err != nil {
		var de *convert.DecodeError
		if errors.As(err, &de) {
			return nil, &refusal{code: de.Code, reason: err.Error(), value: de.Value}
		}
		// EOF, reset or timeout before a whole message: nobody to answer.
		return nil, &refusal{code: convert.ErrMalformedMessage, reason: fmt.Sprintf("read convert message: %v", err), incomplete: true}
	}
	client.SetReadDeadline(time.Time{})
	if err := msg.Check(convert.FromClient); err != nil {
		var de *convert.DecodeError
		if errors.As(err, &de) {
			return nil, &refusal{code: de.Code, reason: err.Error(), value: de.Value}
		}
		return nil, refuse(convert.ErrMalformedMessage, "%v", err)
	}
	connect, ok := msg.Connect()
	if !ok { // Info alone: the UE asks what we support, then closes
		return nil, &refusal{infoOnly: true, reason: "Info TLV without Connect"}
	}
	if kind, ok := unsupportedOption(connect.Options); ok {
		return nil, &refusal{code: convert.ErrUnsupportedTCPOption, reason: fmt.Sprintf("Connect asks for TCP option kind %d", kind), value: []byte{kind}}
	}
	dst := connect.Addr
	mptcp, _ := client.MultipathTCP()
	if !mptcp && p.cfg.RefusePlainTCP {
		return nil, refuse(convert.ErrNotAuthorized, "plain TCP (no MPTCP in the SYN) is refused by configuration")
	}
	u, ok := p.table.lookup(src.Addr())
	if !ok {
		return nil, refuse(convert.ErrNotAuthorized, "source %v belongs to no installed session", src.Addr())
	}
	if p.isDenied(dst.Addr()) {
		return nil, refuse(convert.ErrNotAuthorized, "destination %v is denied by the proxy", dst.Addr())
	}
	if !u.policy.Allows(protoTCP, src.Addr(), dst) {
		return nil, refuse(convert.ErrNotAuthorized, "destination %v is not allowed by the session's uplink PDRs", dst)
	}
	if mptcp {
		// Subflows that join later are checked by the scan (scanConns).
		a, err := foreignSubflow(client, u)
		if err != nil {
			return nil, refuse(convert.ErrNetworkFailure, "read subflows: %v", err)
		}
		if a.IsValid() {
			return nil, refuse(convert.ErrNotAuthorized, "subflow from %v, which is not an address of the session of %v", a, src.Addr())
		}
	}
	c := &conn{ue: u, cur: u, src: src, dst: dst, mptcp: mptcp, info: msg.Info(), client: client, started: time.Now(),
		// The uplink PDR that allowed it is not known (UplinkPolicy says
		// yes or no), and could not carry an Application ID: the proxy
		// does not detect applications (see UplinkPolicy).
		flow:    atsss.FlowInfo{Proto: protoTCP, UE: src, Remote: dst},
		carried: p.carried.get(u.seid)}
	if !p.conns.add(c, p.cfg.MaxConnections, p.cfg.MaxConnectionsPerUE) {
		return nil, refuse(convert.ErrResourceExceeded, "connection limit reached (%d in all, %d per UE)", p.cfg.MaxConnections, p.cfg.MaxConnectionsPerUE)
	}
	p.admitPolicy(c)
	return c, nil
}

// foreignSubflow returns the source address of a subflow of client that
// is not an address of u's session, if there is one. A UE must not join a
// subflow from an address it was not given, such as another UE's
// link-specific address. A connection that fell back to TCP has no
// subflows to check: its one source was admitted.
func foreignSubflow(client *net.TCPConn, u *ue) (netip.Addr, error) {
	rc, err := client.SyscallConn()
	if err != nil {
		return netip.Addr{}, err
	}
	subs, err := pm.ReadSubflows(rc)
	if errors.Is(err, pm.ErrNotMPTCP) {
		return netip.Addr{}, nil
	}
	if err != nil {
		return netip.Addr{}, err
	}
	return foreignIn(subs, u), nil
}

// foreignIn returns the UE end of a subflow among subs that is not an
// address of u's session, if there is one.
func foreignIn(subs []pm.Subflow, u *ue) netip.Addr {
	for _, s := range subs {
		if a := s.Remote.Addr(); !u.owns(a) {
			return a
		}
	}
	return netip.Addr{}
}

// dial connects to the server on N6 with plain TCP.
func (p *Proxy) dial(ctx context.Context, dst netip.AddrPort) (*net.TCPConn, *refusal) {
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	d.SetMultipathTCP(false) // N6 is plain TCP; Go's default may change
	if src := p.cfg.N6Source4; dst.Addr().Is4() && src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	} else if src := p.cfg.N6Source6; dst.Addr().Is6() && src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	start := time.Now()
	network := "tcp4"
	if dst.Addr().Is6() {
		network = "tcp6"
	}
	c, err := d.DialContext(ctx, network, dst.String())
	p.metrics.dialSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, dialRefusal(dst, err)
	}
	return c.(*net.TCPConn), nil
}

// dialRefusal maps an N6 dial error to the Error TLV of RFC 8803 §4.2.6:
// the server reset (refused) the connection, it could not be reached, or
// the converter's own network failed.
func dialRefusal(dst netip.AddrPort, err error) *refusal {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return refuse(convert.ErrConnectionReset, "server %v: %v", dst, err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return refuse(convert.ErrDestinationUnreachable, "server %v: %v", dst, err)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return refuse(convert.ErrDestinationUnreachable, "server %v: %v", dst, err)
		}
		return refuse(convert.ErrNetworkFailure, "server %v: %v", dst, err)
	}
}

// sendError answers with an Error TLV and closes the connection
// (RFC 8803 §4.2.6). A UE that already went away gets nothing.
func (p *Proxy) sendError(client *net.TCPConn, r *refusal) {
	p.answer(client, convert.ErrorMessage(r.code, r.value))
}

// answer sends m and closes the connection.
func (p *Proxy) answer(client *net.TCPConn, m convert.Message) {
	defer client.Close()
	b, err := convert.AppendMessage(nil, m)
	if err != nil {
		return
	}
	client.SetWriteDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	client.Write(b)
	// Closing with unread data would send a reset that could destroy the
	// Error TLV in flight; half-close and let the UE close.
	client.CloseWrite()
}

// supportedOptionKinds are the TCP options the converter's own TCP stack
// negotiates with servers: MSS, window scale, SACK permitted, timestamps.
var supportedOptionKinds = []byte{2, 3, 4, 8}

func supportedExtensions() convert.Message {
	var m convert.Message
	m.SetSupportedTCPExtensions(supportedOptionKinds)
	return m
}

// unsupportedOption returns the first option kind of a Connect TLV that the
// converter cannot put in its SYN to the server (RFC 8803 §5.2.4): the
// kernel sends its own SYN, with the options of supportedOptionKinds.
func unsupportedOption(opts []byte) (byte, bool) {
	for i := 0; i+1 < len(opts); {
		kind, n := opts[i], int(opts[i+1])
		if !slices.Contains(supportedOptionKinds, kind) {
			return kind, true
		}
		if n < 2 {
			return kind, true
		}
		i += n
	}
	return 0, false
}

// isDenied reports a destination the proxy never connects to.
func (p *Proxy) isDenied(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() || a.IsLinkLocalUnicast() ||
		a.IsInterfaceLocalMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, pfx := range p.denied {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// deniedPrefixes returns the configured denied prefixes and the proxy's own
// addresses, so a UE cannot make the proxy connect to itself.
func deniedPrefixes(cfg Config) []netip.Prefix {
	out := append([]netip.Prefix(nil), cfg.DeniedDestinations...)
	for _, a := range cfg.Listen {
		out = append(out, netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
	}
	return out
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func transportLabel(mptcp bool) string {
	if mptcp {
		return "mptcp"
	}
	return "tcp"
}
