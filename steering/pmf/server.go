package pmf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// ErrClosed is returned by a Server or Client that was closed.
var ErrClosed = errors.New("pmf: closed")

// Server is the UPF's PMF: it listens on one UDP port per access (and QoS
// flow), learns each UE's PMF address from its first uplink message,
// answers the UE's requests, measures RTT and downlink PLR, takes access
// reports and UE assistance, and reports all of it as Events.
//
// Listen binds the ports; Run serves until its context ends or Close is
// called. The methods are safe for concurrent use. All protocol state sits
// in one core guarded by mu: PMF traffic is a few messages per second per
// UE, so one lock is simpler than an owner goroutine and fast enough.
type Server struct {
	cfg       Config
	listeners []Listener
	conns     []*net.UDPConn
	log       *slog.Logger
	events    chan Event

	mu           sync.Mutex // guards the fields below
	core         *core
	wbuf         []byte
	eventsClosed bool

	quit      chan struct{}
	closeOnce sync.Once

	life    sync.Mutex // guards running and closed
	running bool
	closed  bool
	done    chan struct{} // closed when Run returns
}

// Listen validates cfg and binds its listeners.
func Listen(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pmf config: %w", err)
	}
	cfg = cfg.WithDefaults()
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "pmf"),
		events: make(chan Event, cfg.EventBuffer),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for _, l := range cfg.Listen {
		c, err := listenUDP(l.Addr)
		if err != nil {
			s.closeConns()
			return nil, fmt.Errorf("pmf listen %v (%v, qfi %d): %w", l.Addr, l.Access, l.QFI, err)
		}
		s.conns = append(s.conns, c)
		l.Addr = c.LocalAddr().(*net.UDPAddr).AddrPort()
		l.Addr = netip.AddrPortFrom(l.Addr.Addr().Unmap(), l.Addr.Port())
		s.listeners = append(s.listeners, l)
	}
	s.core = newCore(cfg, s.listeners)
	return s, nil
}

func listenUDP(a netip.AddrPort) (*net.UDPConn, error) {
	network := "udp6"
	if a.Addr().Unmap().Is4() {
		network = "udp4"
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return net.ListenUDP(network, net.UDPAddrFromAddrPort(a))
}

// Listeners returns the listeners with the ports actually bound.
func (s *Server) Listeners() []Listener { return append([]Listener(nil), s.listeners...) }

// Events returns the channel of events. It is closed when the Server has
// stopped. Events that find it full are dropped (Stats.EventsDropped).
func (s *Server) Events() <-chan Event { return s.events }

// Run serves until ctx ends or Close is called; then it closes the
// sockets, waits for its goroutines and closes Events. It returns nil
// then, or the socket error that stopped it.
func (s *Server) Run(ctx context.Context) error {
	s.life.Lock()
	switch {
	case s.closed:
		s.life.Unlock()
		return ErrClosed
	case s.running:
		s.life.Unlock()
		return errors.New("pmf: Run called twice")
	}
	s.running = true
	s.life.Unlock()
	defer close(s.done)
	stop := context.AfterFunc(ctx, s.shutdown)
	defer stop()

	var wg sync.WaitGroup
	errc := make(chan error, len(s.conns))
	for i, c := range s.conns {
		wg.Go(func() {
			if err := s.read(i, c); err != nil {
				errc <- err
				s.shutdown()
			}
		})
	}
	wg.Go(s.tickLoop)
	s.log.Info("PMF serving", "listeners", len(s.listeners))
	wg.Wait()
	s.closeEvents()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Close stops the Server and waits until Run has returned. It is
// idempotent.
func (s *Server) Close() error {
	s.life.Lock()
	s.closed = true
	running := s.running
	s.life.Unlock()
	s.shutdown()
	if running {
		<-s.done
	} else {
		s.closeEvents()
	}
	return nil
}

func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.closeConns()
	})
}

func (s *Server) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *Server) closeEvents() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.eventsClosed {
		s.eventsClosed = true
		close(s.events)
	}
}

func (s *Server) stopped() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// read serves the listener li until its socket is closed.
func (s *Server) read(li int, c *net.UDPConn) error {
	buf := make([]byte, 2048) // PMFP messages are tiny; more is an error to count
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.stopped() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("pmf read %v: %w", s.listeners[li].Addr, err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		m, perr := Parse(buf[:n])
		s.mu.Lock()
		if perr != nil {
			s.core.stats.Malformed++
		} else {
			s.core.receive(s.cfg.Clock.Now(), li, from, m)
		}
		s.flushLocked()
		s.mu.Unlock()
	}
}

func (s *Server) tickLoop() {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.mu.Lock()
			s.core.tick(s.cfg.Clock.Now())
			s.flushLocked()
			s.mu.Unlock()
		}
	}
}

// flushLocked writes the queued messages and hands out the queued events.
func (s *Server) flushLocked() {
	c := s.core
	for _, o := range c.out {
		b, err := o.m.Append(s.wbuf[:0])
		if err != nil {
			// Our own messages always validate; this is a bug, not input.
			s.log.Error("PMF encode", "err", err)
			continue
		}
		s.wbuf = b
		if _, err := s.conns[o.listener].WriteToUDPAddrPort(b, o.to); err != nil {
			c.stats.SendErrors++
			continue
		}
		c.stats.Sent++
	}
	clear(c.out)
	c.out = c.out[:0]
	for _, e := range c.events {
		switch e.Kind {
		case KindLearned:
			// Debug: a UE that changes source port relearns on every
			// datagram, and input is counted, not logged one by one.
			s.log.Debug("PMF UE address learned", "seid", e.Path.SEID, "access", e.Path.Access, "qfi", e.Path.QFI, "peer", e.UE)
		case KindPLR:
			// One per path and PLR interval: what a loss threshold
			// decision was taken on.
			s.log.Debug("PMF downlink PLR", "seid", e.Path.SEID, "access", e.Path.Access, "qfi", e.Path.QFI,
				"sent", e.Sent, "received", e.Received, "plr_percent", e.PLR)
		}
		if s.eventsClosed {
			continue
		}
		select {
		case s.events <- e:
		default:
			c.stats.EventsDropped++
		}
	}
	clear(c.events)
	c.events = c.events[:0]
}

// command runs f on the core at the current time and sends what it queued.
func (s *Server) command(f func(now time.Time) error) error {
	if s.stopped() {
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := f(s.cfg.Clock.Now())
	s.flushLocked()
	return err
}

// Probe sends one ECHO REQUEST on path id now; the answer comes as a
// KindRTT event, or KindEchoLost.
func (s *Server) Probe(id PathID) error {
	return s.pathRequest(id, Message{Type: TypeEchoRequest})
}

// StartPLR starts (or restarts) a downlink PLR count on path id: the UE
// counts the measured messages it receives from now on.
func (s *Server) StartPLR(id PathID) error {
	return s.pathRequest(id, Message{Type: TypePLRCountRequest})
}

// ReportPLR asks the UE for its count on path id; the result comes as a
// KindPLR event. With restart, counting goes on in a new window. A reading
// whose window edge is uncertain (a PLR request was sent again after
// measured messages) comes as no event, counted in Stats.PLRUncertain.
func (s *Server) ReportPLR(id PathID, restart bool) error {
	return s.pathRequest(id, Message{Type: TypePLRReportRequest, Restart: restart})
}

// SetDuplication asks the UE to suspend (TDS) or resume (TDR) traffic
// duplication of Redundant steering, sent on path id (TS 24.193 §5.4.10,
// §5.4.11). The UE's ACK comes as a KindDuplication event.
func (s *Server) SetDuplication(id PathID, suspend bool) error {
	t := TypeTDR
	if suspend {
		t = TypeTDS
	}
	return s.pathRequest(id, Message{Type: t})
}

func (s *Server) pathRequest(id PathID, m Message) error {
	err := s.command(func(now time.Time) error {
		p, err := s.core.path(id)
		if err != nil {
			return err
		}
		return s.core.request(now, p, m)
	})
	if err != nil {
		return fmt.Errorf("pmf %v on %v: %w", m.Type, id, err)
	}
	return nil
}

// Path returns a snapshot of path id, if a UE message arrived on it.
func (s *Server) Path(id PathID) (PathState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.core.path(id)
	if err != nil {
		return PathState{}, false
	}
	return s.core.state(p), true
}

// Forget drops the PMF state of session seid, for when the session is
// deleted or its addresses change. Unknown seid: nothing happens.
func (s *Server) Forget(seid atsss.SEID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.core.forget(seid)
}

// Stats returns the Server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.stats
}
