package pfcp

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"
	"golang.org/x/sync/errgroup"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// Server is the N4 side of the UPF: it answers an SMF's node and session
// procedures (TS 29.244 §6, §7) and keeps the installed sessions in an
// atsss.Store. Create it with New and start it with Run.
//
// Concurrency: one reader goroutine per socket answers node messages
// inline (cheap, so heartbeats are answered even under a session flood) and
// hands session messages to a fixed set of workers, sharded by SEID so that
// one session's requests are handled in order. Shared state is the store
// (safe for concurrent use), the allocator, peers and the response cache,
// each with its own lock.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *atsss.Store
	alloc    *allocator
	recovery time.Time
	metrics  *metrics

	features *ie.IE // UP Function Features, built once
	nodeID   *ie.IE

	conns    []*net.UDPConn // set once in Run
	peers    *peerTable
	cache    *responseCache
	txs      *transactions
	workers  []chan *request
	shardKey maphash.Seed
	// sessions counts installed sessions plus establishments in flight, so
	// MaxSessions holds while requests race.
	sessions atomic.Int64
	seidBase uint64 // see newSEID
	seidNext atomic.Uint32
	ready    chan struct{} // closed when Run has its sockets
}

// Options are the Server's collaborators; zero values get defaults.
type Options struct {
	Logger *slog.Logger
	// Registry receives the server's metrics; nil: not registered.
	Registry prometheus.Registerer
	// RecoveryTime is this UPF's Recovery Time Stamp: when its session state
	// began. A UPF that restarts with its state restored keeps it, so SMFs
	// keep their sessions (TS 29.244 §19A). Zero: now.
	RecoveryTime time.Time
}

// New returns a Server for cfg that installs sessions into store.
func New(cfg Config, store *atsss.Store, opts Options) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pfcp config: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	useLockFreeGroupedTable()
	if opts.RecoveryTime.IsZero() {
		opts.RecoveryTime = time.Now()
	}
	s := &Server{
		cfg:      cfg,
		log:      opts.Logger.With("component", "pfcp"),
		store:    store,
		alloc:    newAllocator(cfg.ATSSS),
		recovery: opts.RecoveryTime,
		features: atsssie.NewUPFunctionFeatures(advertisedFeatures(cfg)...),
		nodeID:   ie.NewNodeIDHeuristic(cfg.NodeID),
		peers:    newPeerTable(),
		cache:    newResponseCache(cfg.ResponseCache, time.Duration(cfg.N1)*cfg.T1),
		txs:      newTransactions(),
		shardKey: maphash.MakeSeed(),
		seidBase: uint64(time.Now().Unix()) << 32,
		ready:    make(chan struct{}),
	}
	s.metrics = newMetrics(opts.Registry, s)
	return s, nil
}

// advertisedFeatures are the UP Function Features this UPF really has
// (TS 29.244 Table 8.2.25-1): FTUP with an N3 address, MPTCP when a proxy
// is configured, and ATSSS-LL, Redundant steering (REDSM, with MPTCP) and
// RTTWP when the configuration says so. MPQUIC is never advertised; MARs
// asking for what is not are refused.
func advertisedFeatures(c Config) []atsssie.UPFeature {
	var f []atsssie.UPFeature
	if c.N3.Enabled() {
		f = append(f, atsssie.FeatureFTUP)
	}
	if c.ATSSS.MPTCP.Enabled() {
		f = append(f, atsssie.FeatureMPTCP)
	}
	if c.ATSSS.ATSSSLL {
		f = append(f, atsssie.FeatureATSSSLL)
	}
	if c.ATSSS.MPTCP.Enabled() && c.ATSSS.RedundantMPTCP {
		f = append(f, atsssie.FeatureREDSM)
	}
	if c.ATSSS.RTTWP {
		f = append(f, atsssie.FeatureRTTWP)
	}
	return f
}

// Ready is closed once Run listens on every configured address.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the addresses Run listens on (valid after Ready).
func (s *Server) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(s.conns))
	for i, c := range s.conns {
		out[i] = c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	return out
}

// Run restores state from the store, listens and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.restore()
	for _, addr := range s.cfg.Listen {
		network := "udp4"
		if addr.Addr().Is6() && !addr.Addr().Is4In6() {
			network = "udp6" // Go sets IPV6_V6ONLY for "udp6"
		}
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
		if err != nil {
			s.closeConns()
			return fmt.Errorf("listen N4 on %v: %w", addr, err)
		}
		s.conns = append(s.conns, c)
	}
	s.log.Info("serving N4", "addrs", s.Addrs(), "node_id", s.cfg.NodeID, "recovery", s.recovery)
	close(s.ready)

	g, ctx := errgroup.WithContext(ctx)
	stop := context.AfterFunc(ctx, s.closeConns)
	defer stop()
	s.workers = make([]chan *request, s.cfg.Workers)
	perWorker := max(1, s.cfg.Queue/s.cfg.Workers)
	for i := range s.workers {
		ch := make(chan *request, perWorker)
		s.workers[i] = ch
		g.Go(func() error { s.work(ctx, ch); return nil })
	}
	for _, c := range s.conns {
		g.Go(func() error { return s.read(ctx, c) })
	}
	g.Go(func() error { return s.heartbeats(ctx) })
	return g.Wait()
}

func (s *Server) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
}

// restore rebuilds allocations and associations from the sessions that
// survived a restart.
func (s *Server) restore() {
	sessions := s.store.Sessions()
	for _, sess := range sessions {
		if err := s.alloc.reserve(sess); err != nil {
			// The pools changed under a stored session: keep the session,
			// which the SMF believes installed, and say so.
			s.log.Warn("restored session holds resources outside the pools", "seid", sess.LocalSEID, "err", err)
		}
		s.peers.restore(sess.PeerNodeID, netip.AddrPortFrom(sess.PeerAddr, Port))
	}
	s.sessions.Store(int64(len(sessions)))
	if len(sessions) > 0 {
		s.log.Info("restored sessions", "sessions", len(sessions), "peers", s.peers.len())
	}
}

// Port is the PFCP UDP port (TS 29.244 §4.2.1).
const Port = 8805

// request is one received message on its way to a handler.
type request struct {
	conn *net.UDPConn
	from netip.AddrPort
	hdr  header
	raw  []byte // the datagram, until a worker parses it
	msg  message.Message
	at   time.Time
	// respSEID is the SEID for the response header: the peer's SEID of the
	// session, once known (TS 29.244 §7.2.2.4.2); 0 otherwise.
	respSEID uint64
}

func (s *Server) read(ctx context.Context, c *net.UDPConn) error {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.log.Warn("N4 read", "err", err)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !s.allowed(from.Addr()) {
			s.metrics.dropped.WithLabelValues("peer_not_allowed").Inc()
			continue
		}
		// The payload is kept by the parsed message, so each datagram gets
		// its own copy; the read buffer is reused.
		b := append([]byte(nil), buf[:n]...)
		s.guard(&request{from: from, conn: c}, func() { s.handleDatagram(ctx, c, from, b) })
	}
}

func (s *Server) allowed(a netip.Addr) bool {
	for _, p := range s.cfg.AllowedPeers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// handleDatagram validates one datagram and answers it or hands it on.
// It runs on the reader goroutine and must stay cheap.
func (s *Server) handleDatagram(ctx context.Context, c *net.UDPConn, from netip.AddrPort, b []byte) {
	hdr, err := readHeader(b)
	if err != nil {
		s.metrics.dropped.WithLabelValues("malformed_header").Inc()
		return
	}
	if hdr.version != 1 {
		// TS 29.244 §7.6.1: answer with Version Not Supported Response.
		s.send(c, from, message.NewVersionNotSupportedResponse(hdr.seq))
		return
	}
	if !isRequest(hdr.typ) {
		s.handleResponse(from, hdr, b)
		return
	}
	key := cacheKey{peer: from, seq: hdr.seq, typ: hdr.typ}
	if resp, pending, found := s.cache.lookup(key); found {
		// TS 29.244 §6.4: a retransmitted request is answered with the
		// response already sent, and not executed again.
		s.metrics.duplicates.Inc()
		if !pending {
			s.write(c, from, resp)
		}
		return
	}
	req := &request{conn: c, from: from, hdr: hdr, at: time.Now()}
	if !hdr.lengthOK {
		s.reply(req, nil, &Rejection{Cause: CauseInvalidLength, Err: errors.New("header length disagrees with datagram")})
		return
	}
	if !isSessionMessage(hdr.typ) {
		if s.parse(req, b) {
			s.cache.begin(key)
			s.handleNode(ctx, req)
		}
		return
	}
	if _, ok := s.peers.byAddr(from); !ok {
		s.reply(req, nil, reject(CauseNoEstablishedAssociation, "no PFCP association with %v", from))
		return
	}
	if !s.peers.allow(from, s.cfg.PeerRate, s.cfg.PeerBurst) {
		s.reply(req, nil, reject(CauseCongestion, "peer %v over its request rate", from))
		return
	}
	// Session messages are parsed on the workers: parsing is most of the
	// work of a request, and the reader must stay free for heartbeats.
	req.raw = b
	s.cache.begin(key)
	select {
	case s.workers[s.shard(hdr)] <- req:
	default:
		s.cache.forget(key)
		s.reply(req, nil, reject(CauseCongestion, "request queue full"))
	}
}

// parse parses the request's datagram into req.msg, or answers it with the
// Cause of what is wrong.
func (s *Server) parse(req *request, b []byte) bool {
	msg, err := parseMessage(b)
	if err != nil {
		s.reply(req, nil, malformed(req.hdr, b, err))
		return false
	}
	req.msg = msg
	s.metrics.received(req.hdr.typ)
	return true
}

// parseMessage is go-pfcp's message.Parse, made safe for network input
// like its accessors (see safely).
func parseMessage(b []byte) (m message.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: %v", errGoPFCPPanic, r)
		}
	}()
	return message.Parse(b)
}

// malformed says why a message whose header was fine did not parse.
func malformed(hdr header, b []byte, err error) *Rejection {
	off := 8
	if hdr.hasSEID {
		off = 16
	}
	if t, ok := offendingIE(b[off:]); ok {
		return &Rejection{Cause: CauseInvalidLength, OffendingIE: t, Err: fmt.Errorf("parse: %w", err)}
	}
	return &Rejection{Cause: CauseMandatoryIEIncorrect, Err: fmt.Errorf("parse: %w", err)}
}

// shard keeps one session's requests on one worker: by SEID for a
// modification or deletion, by sequence number for an establishment.
func (s *Server) shard(h header) int {
	v := h.seid
	if v == 0 {
		v = uint64(h.seq)
	}
	return int(maphash.Comparable(s.shardKey, v) % uint64(len(s.workers)))
}

func (s *Server) work(ctx context.Context, ch chan *request) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-ch:
			s.guard(req, func() { s.handleSession(ctx, req) })
		}
	}
}

// guard runs a handler and turns a panic into Cause 77 for that request
// alone. No input is meant to panic (the fuzz tests check that); this is
// the safety net that keeps one bad request from taking every UE down.
func (s *Server) guard(req *request, handle func()) {
	defer func() {
		if v := recover(); v != nil {
			s.metrics.panics.Inc()
			s.log.Error("handler panicked", "peer", req.from, "msg_type", req.hdr.typ, "panic", v, "stack", string(debug.Stack()))
			if isRequest(req.hdr.typ) {
				s.reply(req, nil, reject(CauseSystemFailure, "internal error"))
			}
		}
	}()
	handle()
}

// reply answers req with resp (the success response) or, when rej is not
// nil, with the rejection's response; it caches the bytes for
// retransmissions and counts the result.
func (s *Server) reply(req *request, resp message.Message, rej *Rejection) {
	if rej != nil {
		resp = rejectionResponse(req, rej, s.nodeID, s.recovery)
		if resp == nil {
			return
		}
		s.log.Debug("request rejected", "peer", req.from, "msg_type", req.hdr.typ, "seq", req.hdr.seq, "cause", rej.Cause, "err", rej.Err)
	}
	resp.SetSequenceNumber(req.hdr.seq)
	b := make([]byte, resp.MarshalLen())
	if err := resp.MarshalTo(b); err != nil {
		s.log.Error("marshal response", "msg_type", resp.MessageTypeName(), "err", err)
		return
	}
	s.cache.complete(cacheKey{peer: req.from, seq: req.hdr.seq, typ: req.hdr.typ}, b)
	s.write(req.conn, req.from, b)
	cause := CauseAccepted
	if rej != nil {
		cause = rej.Cause
	}
	s.metrics.answered(req.hdr.typ, cause, time.Since(req.at))
}

// send marshals and writes a message that needs no caching.
func (s *Server) send(c *net.UDPConn, to netip.AddrPort, m message.Message) {
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		s.log.Error("marshal", "msg_type", m.MessageTypeName(), "err", err)
		return
	}
	s.write(c, to, b)
	s.metrics.sent.WithLabelValues(messageTypeName(m.MessageType())).Inc()
}

func (s *Server) write(c *net.UDPConn, to netip.AddrPort, b []byte) {
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Warn("N4 write", "peer", to, "err", err)
	}
}

// connFor returns the socket to send a request to addr from: the first one
// of the same address family.
func (s *Server) connFor(addr netip.Addr) (*net.UDPConn, error) {
	for _, c := range s.conns {
		local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
		if local.Is4() == addr.Is4() {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no N4 socket for %v", addr)
}
