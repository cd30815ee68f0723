package pfcptest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
)

// Dialer holds the options of a Client. The zero value is ready to use.
type Dialer struct {
	// T1 is how long a request waits for its response before it is sent
	// again, unchanged (TS 29.244 §6.4); 0 means 3 s.
	T1 time.Duration
	// N1 is how many times an unanswered request is sent again; 0 means 3,
	// a negative value none. A request thus gives up after (N1+1)·T1.
	N1 int
	// Recovery is the Recovery Time Stamp the client sends: when the SMF
	// last started. A UPF that sees it change takes the SMF for restarted
	// and may drop its sessions. Zero means the time of Dial.
	Recovery time.Time
	// Logger receives what the client does not return: Session Reports,
	// stray messages. nil discards it.
	Logger *slog.Logger
}

// Client is an SMF's end of N4: one UDP socket to one UPF. It matches
// responses to requests by sequence number, so any number of requests may
// be in flight, resends unanswered ones, answers the UPF's Heartbeat and
// Session Report Requests, and records the reports.
//
// Its methods are safe for concurrent use. Run must be running for any
// request to get its response.
type Client struct {
	conn     packetConn
	local    netip.AddrPort
	remote   netip.AddrPort
	nodeID   string
	addr     netip.Addr // of the CP F-SEID
	t1       time.Duration
	n1       int
	recovery time.Time
	log      *slog.Logger

	seq       atomic.Uint32
	closed    chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex // guards the fields below
	pending map[uint32]chan []byte
	// upSEIDs maps the CP SEID of each session established and not
	// deleted to its UP SEID, and cpSEIDs back.
	upSEIDs, cpSEIDs map[atsss.SEID]atsss.SEID
	reports          []Report
	reported         chan struct{} // closed, and replaced, when a report arrives
	answered         answeredRing
}

// packetConn is a Client's socket: a *net.UDPConn, or an in-memory one in
// tests whose timers run under testing/synctest.
type packetConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	Close() error
}

// ErrNoResponse is returned for a request that was not answered after all
// its transmissions.
var ErrNoResponse = errors.New("no response")

// Dial calls Dialer.Dial with the zero Dialer.
func Dial(ctx context.Context, local, remote netip.AddrPort, nodeID string) (*Client, error) {
	var d Dialer
	return d.Dial(ctx, local, remote, nodeID)
}

// Dial binds a UDP socket to local and returns a Client that talks from it
// to the UPF at remote as the SMF with Node ID nodeID, an IP address or an
// FQDN. The zero local binds an ephemeral port of remote's address family.
// When local's address is unspecified, the client takes the source address
// the kernel would use toward remote as its own, for its F-SEIDs and, when
// nodeID is empty, as its Node ID.
func (d *Dialer) Dial(ctx context.Context, local, remote netip.AddrPort, nodeID string) (*Client, error) {
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if !local.Addr().IsValid() {
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if remote.Addr().Is6() {
			local = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	if local.Addr().Is4() != remote.Addr().Is4() {
		return nil, fmt.Errorf("local address %v and UPF address %v are of different IP versions", local, remote)
	}
	network := "udp4"
	if local.Addr().Is6() {
		network = "udp6"
	}
	addr := local.Addr()
	if addr.IsUnspecified() {
		// Connecting a UDP socket picks the route and sends nothing.
		probe, err := new(net.Dialer).DialContext(ctx, network, remote.String())
		if err != nil {
			return nil, fmt.Errorf("find a source address toward %v: %w", remote, err)
		}
		addr = probe.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		probe.Close()
	}
	pc, err := new(net.ListenConfig).ListenPacket(ctx, network, local.String())
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	if nodeID == "" {
		nodeID = addr.String()
	}
	c := d.newClient(conn, remote, nodeID, addr)
	c.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return c, nil
}

func (d *Dialer) newClient(conn packetConn, remote netip.AddrPort, nodeID string, addr netip.Addr) *Client {
	c := &Client{
		conn:     conn,
		remote:   remote,
		nodeID:   nodeID,
		addr:     addr,
		t1:       cmp.Or(d.T1, 3*time.Second),
		n1:       d.N1,
		recovery: d.Recovery,
		log:      d.Logger,
		closed:   make(chan struct{}),
		pending:  make(map[uint32]chan []byte),
		upSEIDs:  make(map[atsss.SEID]atsss.SEID),
		cpSEIDs:  make(map[atsss.SEID]atsss.SEID),
		reported: make(chan struct{}),
	}
	switch {
	case c.n1 == 0:
		c.n1 = 3
	case c.n1 < 0:
		c.n1 = 0
	}
	if c.recovery.IsZero() {
		c.recovery = time.Now()
	}
	// A random start keeps a restarted client from reusing the sequence
	// numbers of its last run, which a UPF may still hold answers for.
	c.seq.Store(rand.Uint32())
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// NodeID returns the client's Node ID.
func (c *Client) NodeID() string { return c.nodeID }

// LocalAddr returns the address the client's socket is bound to.
func (c *Client) LocalAddr() netip.AddrPort { return c.local }

// Recovery returns the client's Recovery Time Stamp.
func (c *Client) Recovery() time.Time { return c.recovery }

// Associate sends an Association Setup Request (TS 29.244 §6.2.6).
func (c *Client) Associate(ctx context.Context) (*Response, error) {
	return c.Do(ctx, AssociationSetup(c.nodeID, c.recovery, 0))
}

// Release sends an Association Release Request.
func (c *Client) Release(ctx context.Context) (*Response, error) {
	return c.Do(ctx, AssociationRelease(c.nodeID, 0))
}

// Heartbeat sends a Heartbeat Request.
func (c *Client) Heartbeat(ctx context.Context) (*Response, error) {
	return c.Do(ctx, HeartbeatRequest(c.recovery, 0))
}

// Establish sends the establishment of spec, with the client's Node ID and
// address where spec has none.
func (c *Client) Establish(ctx context.Context, spec SessionSpec) (*Response, error) {
	return c.Do(ctx, Establishment(c.own(spec), 0))
}

// own fills in the SMF's identity where spec leaves it out.
func (c *Client) own(spec SessionSpec) SessionSpec {
	spec.NodeID = cmp.Or(spec.NodeID, c.nodeID)
	if !spec.CPAddr.IsValid() {
		spec.CPAddr = c.addr
	}
	return spec
}

// Do sends req under a sequence number of the client's, which it sets in
// req, and returns the response. An unanswered request is sent again every
// T1, N1 times, before Do gives up with ErrNoResponse. A rejection is a
// Response with its Cause, not an error: Do fails only when no usable
// response arrives, when ctx ends, or when the client is closed.
//
// The client learns from the responses to establishments and deletions
// which sessions exist, to answer Session Reports for them (UPSEID).
func (c *Client) Do(ctx context.Context, req message.Message) (*Response, error) {
	seq := c.nextSeq()
	req.SetSequenceNumber(seq)
	b := make([]byte, req.MarshalLen())
	if err := req.MarshalTo(b); err != nil {
		return nil, fmt.Errorf("encode %s: %w", req.MessageTypeName(), err)
	}
	start := time.Now()
	raw, err := c.exchange(ctx, b, seq, req.MessageType()+1)
	latency := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.MessageTypeName(), err)
	}
	m, err := message.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", req.MessageTypeName(), ErrMalformedResponse, err)
	}
	r, err := parseResponse(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.MessageTypeName(), err)
	}
	r.Latency = latency
	if r.Cause.Accepted() {
		switch req := req.(type) {
		case *message.SessionEstablishmentRequest:
			if req.CPFSEID != nil {
				if f, err := req.CPFSEID.FSEID(); err == nil {
					c.addSession(atsss.SEID(f.SEID), r.UPSEID)
				}
			}
		case *message.SessionDeletionRequest:
			c.removeSession(atsss.SEID(req.SEID()))
		}
	}
	return r, nil
}

// nextSeq returns a sequence number: 24 bits (TS 29.244 §7.2.2.2), unique
// among the requests in flight unless 2^24 of them are.
func (c *Client) nextSeq() uint32 { return c.seq.Add(1) & 0xffffff }

// exchange sends the encoded request b, whose sequence number is seq, until
// a message of type want (or Version Not Supported) with that sequence
// number arrives, and returns it.
func (c *Client) exchange(ctx context.Context, b []byte, seq uint32, want uint8) ([]byte, error) {
	ch := make(chan []byte, 1)
	c.mu.Lock()
	c.pending[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
	}()
	t := time.NewTimer(c.t1)
	defer t.Stop()
	for sent := 1; ; sent++ {
		if _, err := c.conn.WriteToUDPAddrPort(b, c.remote); err != nil {
			return nil, err
		}
		select {
		case resp := <-ch:
			if typ := resp[1]; typ != want && typ != message.MsgTypeVersionNotSupportedResponse {
				return nil, fmt.Errorf("%w: message type %d answers sequence number %d", ErrMalformedResponse, typ, seq)
			}
			return resp, nil
		case <-t.C:
			if sent > c.n1 {
				return nil, fmt.Errorf("%w within %v (T1 %v, N1 %d)", ErrNoResponse, time.Duration(sent)*c.t1, c.t1, c.n1)
			}
			t.Reset(c.t1)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, net.ErrClosed
		}
	}
}

// Run reads the client's socket until ctx ends or Close is called: it hands
// each response to the request waiting for it and answers the UPF's
// Heartbeat and Session Report Requests. It returns nil once stopped, else
// the read error, and closes the client either way. Call it once.
func (c *Client) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	buf := make([]byte, 64<<10) // the largest UDP payload
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-c.closed:
				return nil
			default:
				return fmt.Errorf("read: %w", err)
			}
		}
		c.receive(buf[:n], from)
	}
}

// Close closes the socket: Run returns and requests in flight fail.
func (c *Client) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.conn.Close()
	})
	return err
}

// receive handles one datagram from the socket; b is reused after it returns.
func (c *Client) receive(b []byte, from netip.AddrPort) {
	h, ok := parseHeader(b)
	if !ok {
		c.log.Warn("dropped a datagram that is not PFCP", "peer", from, "len", len(b))
		return
	}
	if h.typ == message.MsgTypeHeartbeatRequest || h.typ == message.MsgTypeSessionReportRequest {
		c.answer(b, h, from)
		return
	}
	c.mu.Lock()
	ch, ok := c.pending[h.seq]
	if ok {
		// The first answer wins; a duplicate, as a retransmitted request
		// may draw, finds no request.
		delete(c.pending, h.seq)
		ch <- bytes.Clone(b)
	}
	c.mu.Unlock()
	if !ok {
		c.log.Debug("dropped a message that answers no request in flight", "peer", from, "type", h.typ, "seq", h.seq)
	}
}

func (c *Client) addSession(cp, up atsss.SEID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upSEIDs[cp] = up
	c.cpSEIDs[up] = cp
}

func (c *Client) removeSession(up atsss.SEID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.cpSEIDs[up]; ok {
		delete(c.upSEIDs, cp)
		delete(c.cpSEIDs, up)
	}
}

// UPSEID returns the UP SEID of the session with CP SEID cp, if the client
// established it and has not deleted it.
func (c *Client) UPSEID(cp atsss.SEID) (atsss.SEID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up, ok := c.upSEIDs[cp]
	return up, ok
}
