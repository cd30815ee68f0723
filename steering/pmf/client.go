package pmf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// ClientConfig configures the UE side of PMFP.
type ClientConfig struct {
	// Server is the UPF's PMF address and port per access, indexed by
	// AccessType (from the measurement assistance information, TS 24.193
	// §6.1.5). An invalid entry leaves that access unused.
	Server [2]netip.AddrPort
	// Local is the UE's address per access (its link-specific or MA PDU
	// address on that access); the zero value lets the kernel choose.
	Local [2]netip.AddrPort
	// Drop, if set, is asked about every message the Client receives
	// (received true) or is about to send; true drops it, as if lost on
	// the access. A dropped outgoing message still counts as sent for PLR.
	// It is called with the Client's lock held and must not call it.
	Drop func(access atsss.AccessType, received bool, m Message) bool

	EchoTimeout        time.Duration // default 2s
	RetransmitInterval time.Duration // default 1s
	MaxRetransmits     int           // default 3
	RTTGain            float64       // default 0.125
	Tick               time.Duration // default 50ms
	Clock              Clock         // default: the system clock
}

// Client is the UE side of PMFP for the lab UE: it answers the UPF's
// echoes, PLR counts and duplication requests, and sends echoes, PLR
// counts, access reports and UE assistance on request. It does not decide
// anything by itself. NewClient binds its sockets; Run serves until its
// context ends or Close; the request methods need Run to be running. The
// methods are safe for concurrent use.
type Client struct {
	cfg   ClientConfig
	tm    timing
	conns [2]*net.UDPConn

	mu        sync.Mutex // guards the fields below
	links     [2]*link
	waiters   map[waitKey]chan completion
	suspended bool
	stats     Stats
	wbuf      []byte

	quit      chan struct{}
	closeOnce sync.Once
	life      sync.Mutex // guards running and closed
	running   bool
	closed    bool
	done      chan struct{}
}

type waitKey struct {
	access atsss.AccessType
	seq    uint16
}

// NewClient binds one UDP socket per configured access, connected to the
// UPF's port for that access.
func NewClient(cfg ClientConfig) (*Client, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.EchoTimeout, DefaultEchoTimeout)
	def(&cfg.RetransmitInterval, DefaultRetransmitInterval)
	def(&cfg.Tick, DefaultTick)
	if cfg.MaxRetransmits <= 0 {
		cfg.MaxRetransmits = DefaultMaxRetransmits
	}
	if cfg.RTTGain <= 0 || cfg.RTTGain > 1 {
		cfg.RTTGain = DefaultRTTGain
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	c := &Client{
		cfg:     cfg,
		tm:      timing{echoTimeout: cfg.EchoTimeout, retransmit: cfg.RetransmitInterval, maxRetransmits: cfg.MaxRetransmits, gain: cfg.RTTGain},
		waiters: map[waitKey]chan completion{},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, a := range atsss.Accesses {
		srv := cfg.Server[a]
		if !srv.Addr().IsValid() {
			continue
		}
		srv = netip.AddrPortFrom(srv.Addr().Unmap(), srv.Port())
		network := "udp6"
		if srv.Addr().Is4() {
			network = "udp4"
		}
		var laddr *net.UDPAddr
		if l := cfg.Local[a]; l.Addr().IsValid() || l.Port() != 0 {
			laddr = net.UDPAddrFromAddrPort(l)
		}
		conn, err := net.DialUDP(network, laddr, net.UDPAddrFromAddrPort(srv))
		if err != nil {
			c.closeConns()
			return nil, fmt.Errorf("pmf client %v to %v: %w", a, srv, err)
		}
		c.conns[a] = conn
		c.links[a] = newLink()
	}
	if c.conns[0] == nil && c.conns[1] == nil {
		return nil, errors.New("pmf client: no access has a server address")
	}
	return c, nil
}

// LocalAddr returns the Client's address on access a (invalid if unused).
func (c *Client) LocalAddr(a atsss.AccessType) netip.AddrPort {
	if !a.Valid() || c.conns[a] == nil {
		return netip.AddrPort{}
	}
	return c.conns[a].LocalAddr().(*net.UDPAddr).AddrPort()
}

// Run serves until ctx ends or Close is called, then closes the sockets
// and waits for its goroutines.
func (c *Client) Run(ctx context.Context) error {
	c.life.Lock()
	switch {
	case c.closed:
		c.life.Unlock()
		return ErrClosed
	case c.running:
		c.life.Unlock()
		return errors.New("pmf client: Run called twice")
	}
	c.running = true
	c.life.Unlock()
	defer close(c.done)
	stop := context.AfterFunc(ctx, c.shutdown)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, a := range atsss.Accesses {
		if conn := c.conns[a]; conn != nil {
			wg.Go(func() {
				if err := c.read(a, conn); err != nil {
					errc <- err
					c.shutdown()
				}
			})
		}
	}
	wg.Go(c.tickLoop)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Close stops the Client and waits until Run has returned. It is
// idempotent.
func (c *Client) Close() error {
	c.life.Lock()
	c.closed = true
	running := c.running
	c.life.Unlock()
	c.shutdown()
	if running {
		<-c.done
	}
	return nil
}

func (c *Client) shutdown() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.closeConns()
	})
}

func (c *Client) closeConns() {
	for _, conn := range c.conns {
		if conn != nil {
			conn.Close()
		}
	}
}

func (c *Client) read(a atsss.AccessType, conn *net.UDPConn) error {
	buf := make([]byte, 2048)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			select {
			case <-c.quit:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// A connected UDP socket reports an ICMP port unreachable on
			// the next read: the UPF is not up yet, not our failure.
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return fmt.Errorf("pmf client read %v: %w", a, err)
		}
		m, perr := Parse(buf[:n])
		c.mu.Lock()
		c.receiveLocked(a, m, perr)
		c.mu.Unlock()
	}
}

func (c *Client) receiveLocked(a atsss.AccessType, m Message, perr error) {
	switch {
	case perr != nil:
		c.stats.Malformed++
		return
	case c.cfg.Drop != nil && c.cfg.Drop(a, true, m):
		c.stats.Dropped++
		return
	case specs[m.Type].dir == ueToUPF:
		c.stats.Unexpected++
		return
	}
	c.stats.Received++
	o := c.links[a].receive(c.cfg.Clock.Now(), m, c.tm)
	if o.unexpected {
		c.stats.Unexpected++
	}
	if o.hasReply {
		c.writeLocked(a, o.reply)
	}
	if o.hasRequest {
		switch o.request.Type {
		case TypeTDS:
			c.suspended = true
		case TypeTDR:
			c.suspended = false
		}
	}
	if o.hasDone {
		c.completeLocked(a, o.done)
	}
}

func (c *Client) completeLocked(a atsss.AccessType, d completion) {
	k := waitKey{a, d.req.Seq}
	if ch, ok := c.waiters[k]; ok {
		delete(c.waiters, k)
		ch <- d // buffered 1, one completion per request
	}
}

func (c *Client) writeLocked(a atsss.AccessType, m Message) {
	if c.cfg.Drop != nil && c.cfg.Drop(a, false, m) {
		c.stats.Dropped++
		return
	}
	b, err := m.Append(c.wbuf[:0])
	if err != nil {
		c.stats.SendErrors++ // our own messages always validate
		return
	}
	c.wbuf = b
	if _, err := c.conns[a].Write(b); err != nil {
		c.stats.SendErrors++
		return
	}
	c.stats.Sent++
}

func (c *Client) tickLoop() {
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			c.mu.Lock()
			now := c.cfg.Clock.Now()
			for _, a := range atsss.Accesses {
				if l := c.links[a]; l != nil {
					resend, done := l.tick(now, c.tm)
					for _, m := range resend {
						c.writeLocked(a, m)
					}
					for _, d := range done {
						c.completeLocked(a, d)
					}
				}
			}
			c.mu.Unlock()
		}
	}
}

// do sends request m on access a and waits for its answer.
func (c *Client) do(ctx context.Context, a atsss.AccessType, m Message) (completion, error) {
	select {
	case <-c.quit:
		return completion{}, ErrClosed
	default:
	}
	if !a.Valid() || c.links[a] == nil {
		return completion{}, fmt.Errorf("pmf client %v on %v: access not configured", m.Type, a)
	}
	ch := make(chan completion, 1)
	c.mu.Lock()
	m, err := c.links[a].request(c.cfg.Clock.Now(), m)
	if err != nil {
		c.mu.Unlock()
		return completion{}, fmt.Errorf("pmf client %v on %v: %w", m.Type, a, err)
	}
	k := waitKey{a, m.Seq}
	c.waiters[k] = ch
	c.writeLocked(a, m)
	c.mu.Unlock()
	select {
	case d := <-ch:
		if d.err != nil {
			return d, fmt.Errorf("pmf client %v on %v: %w", m.Type, a, d.err)
		}
		return d, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, k)
		c.mu.Unlock()
		return completion{}, ctx.Err()
	case <-c.quit:
		return completion{}, ErrClosed
	}
}

// Echo measures the RTT of access a with one ECHO REQUEST (UE-initiated
// RTT measurement) and returns the sample.
func (c *Client) Echo(ctx context.Context, a atsss.AccessType) (time.Duration, error) {
	d, err := c.do(ctx, a, Message{Type: TypeEchoRequest})
	return d.rtt, err
}

// StartPLR starts an uplink PLR count on access a: the UPF counts the
// measured messages it receives from the UE from now on.
func (c *Client) StartPLR(ctx context.Context, a atsss.AccessType) error {
	_, err := c.do(ctx, a, Message{Type: TypePLRCountRequest})
	return err
}

// ReportPLR reads the UPF's count on access a and returns the uplink loss
// of the window. With restart, counting goes on in a new window. A reading
// whose window edge is uncertain (the request was sent again after
// measured messages) is ErrUncertain, with no result.
func (c *Client) ReportPLR(ctx context.Context, a atsss.AccessType, restart bool) (PLRResult, error) {
	d, err := c.do(ctx, a, Message{Type: TypePLRReportRequest, Restart: restart})
	if err == nil && d.uncertain {
		return PLRResult{}, fmt.Errorf("pmf client report PLR on %v: %w", a, ErrUncertain)
	}
	return d.plr, err
}

// ReportAccess tells the UPF, over access via, that access about became
// available or unavailable (PMFP ACCESS REPORT), and waits for the ACK.
func (c *Client) ReportAccess(ctx context.Context, via, about atsss.AccessType, available bool) error {
	if !about.Valid() {
		return fmt.Errorf("pmf client access report: %v is not an access", about)
	}
	_, err := c.do(ctx, via, Message{Type: TypeAccessReport, Access: about, Available: available})
	return err
}

// SendUAD sends the UE's wished downlink split (percent per access,
// summing to 100) over access via, and waits for the ACK.
func (c *Client) SendUAD(ctx context.Context, via atsss.AccessType, split [2]uint8) error {
	if err := checkSplit(split); err != nil {
		return fmt.Errorf("pmf client UAD: %w", err)
	}
	_, err := c.do(ctx, via, Message{Type: TypeUAD, Split: split})
	return err
}

// SendUAT withdraws the UE's split over access via and waits for the ACK.
func (c *Client) SendUAT(ctx context.Context, via atsss.AccessType) error {
	_, err := c.do(ctx, via, Message{Type: TypeUAT})
	return err
}

// RTT returns the smoothed RTT of the Client's echoes on access a and how
// many were answered.
func (c *Client) RTT(a atsss.AccessType) (time.Duration, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !a.Valid() || c.links[a] == nil {
		return 0, 0
	}
	return c.links[a].rtt.srtt, c.links[a].rtt.n
}

// DuplicationSuspended reports whether the UPF's last TDS/TDR suspended
// traffic duplication.
func (c *Client) DuplicationSuspended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.suspended
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
