package pmf

import (
	"errors"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// ErrUnknownPath: no UE message has arrived on the path yet, so the UPF
// does not know where to send (TS 23.501 §5.32.5.1A).
var ErrUnknownPath = errors.New("no PMF message from the UE on this path yet")

// core is the UPF side of PMFP without sockets or clock: the Server feeds
// it received messages, ticks and commands with the time, and writes out
// what it queues in out. The Server's mutex guards it.
type core struct {
	listen []Listener // resolved addresses
	cfg    Config     // with defaults
	tm     timing

	sessions map[atsss.SEID]*ueSession
	byAddr   map[addrKey]*path // the UE's PMF address per listener

	out    []outbound
	events []Event
	stats  Stats
}

type addrKey struct {
	listener int
	ue       netip.AddrPort
}

type pathKey struct {
	qfi    uint8
	access atsss.AccessType
}

// ueSession is what the PMF knows of one session.
type ueSession struct {
	paths map[pathKey]*path
	// unavailable holds the accesses the UE reported unavailable.
	unavailable [2]bool
}

// path is one UE's PMFP exchange on one access and QoS flow.
type path struct {
	id       PathID
	listener int            // the listener the UE last used
	ue       netip.AddrPort // learned from the UE's messages
	link     *link
	nextEcho time.Time
	nextPLR  time.Time
}

// outbound is a message to send from listener to a UE.
type outbound struct {
	listener int
	to       netip.AddrPort
	m        Message
}

// Stats counts what an end did. Malformed and unexpected messages are
// counted here and never logged one by one.
type Stats struct {
	Received   uint64 // messages accepted
	Sent       uint64 // messages written
	Malformed  uint64 // datagrams that did not parse
	Unexpected uint64 // messages this end does not take (direction, unknown sequence number)
	UnknownUE  uint64 // Server: no session for the source address
	Dropped    uint64 // Client: dropped by ClientConfig.Drop, either way
	SendErrors uint64
	// EventsDropped: Server events the consumer did not take in time.
	EventsDropped uint64
	// PLRUncertain: PLR readings dropped, not reported, because a PLR
	// request was sent again after measured messages, so the window's
	// edge is not known (see link).
	PLRUncertain uint64
}

func newCore(cfg Config, listen []Listener) *core {
	return &core{
		listen:   listen,
		cfg:      cfg,
		tm:       cfg.timing(),
		sessions: map[atsss.SEID]*ueSession{},
		byAddr:   map[addrKey]*path{},
	}
}

func (c *core) emit(e Event) { c.events = append(c.events, e) }

func (c *core) send(p *path, m Message) {
	c.out = append(c.out, outbound{listener: p.listener, to: p.ue, m: m})
}

// receive handles message m that arrived at now on listener li from ue.
func (c *core) receive(now time.Time, li int, ue netip.AddrPort, m Message) {
	if specs[m.Type].dir == upfToUE {
		c.stats.Unexpected++
		return
	}
	p := c.byAddr[addrKey{li, ue}]
	if p == nil {
		seid, ok := c.cfg.Lookup(c.listen[li], ue)
		if !ok {
			c.stats.UnknownUE++
			return
		}
		p = c.learn(now, li, seid, ue)
	}
	c.stats.Received++
	o := p.link.receive(now, m, c.tm)
	if o.unexpected {
		c.stats.Unexpected++
	}
	if o.hasReply {
		c.send(p, o.reply)
	}
	if o.hasRequest {
		c.onRequest(now, p, o.request)
	}
	if o.hasDone {
		c.onDone(now, p, o.done)
	}
}

// learn records ue as the UE's PMF address of its path on listener li.
func (c *core) learn(now time.Time, li int, seid atsss.SEID, ue netip.AddrPort) *path {
	l := c.listen[li]
	s := c.sessions[seid]
	if s == nil {
		s = &ueSession{paths: map[pathKey]*path{}}
		c.sessions[seid] = s
	}
	k := pathKey{l.QFI, l.Access}
	p := s.paths[k]
	if p == nil {
		p = &path{id: PathID{SEID: seid, QFI: l.QFI, Access: l.Access}, link: newLink(), nextEcho: now, nextPLR: now}
		s.paths[k] = p
	} else {
		// A new source port (NAT rebinding, UE restart): answer there.
		delete(c.byAddr, addrKey{p.listener, p.ue})
	}
	p.listener, p.ue = li, ue
	c.byAddr[addrKey{li, ue}] = p
	c.emit(Event{Kind: KindLearned, Path: p.id, Via: l.Access, UE: ue, Time: now})
	return p
}

func (c *core) onRequest(now time.Time, p *path, m Message) {
	e := Event{Path: p.id, Via: p.id.Access, UE: p.ue, Time: now}
	switch m.Type {
	case TypeAccessReport:
		c.sessions[p.id.SEID].unavailable[m.Access] = !m.Available
		e.Kind, e.Path.Access, e.Available = KindAvailability, m.Access, m.Available
	case TypeUAD:
		e.Kind, e.Split = KindUEAssistance, m.Split
	case TypeUAT:
		e.Kind = KindUEAssistanceEnd
	default:
		return
	}
	c.emit(e)
}

func (c *core) onDone(now time.Time, p *path, d completion) {
	if d.err == nil && (d.req.Type == TypePLRCountRequest || d.req.Type == TypePLRReportRequest && d.req.Restart) {
		// A window starts when its request is answered, and no echo of
		// ours went out while it was not (link.plrAwaited): the next
		// reading is a whole interval away, however long the request took.
		// Timed from the request, a window after a retransmission lost
		// that much of its messages (a third at 3 s windows and 1 s
		// retransmissions), and a loss threshold decided on the coarser
		// reading flapped.
		p.nextPLR = now.Add(c.cfg.PLRInterval)
	}
	e := Event{Path: p.id, Via: p.id.Access, UE: p.ue, Time: now}
	switch {
	case d.err != nil && d.req.Type == TypeEchoRequest:
		e.Kind, e.Lost = KindEchoLost, p.link.lostRun
	case d.err != nil:
		e.Kind, e.Request = KindNoResponse, d.req.Type
	case d.req.Type == TypeEchoRequest:
		r := p.link.rtt
		e.Kind, e.RTT, e.RTTSample, e.Samples = KindRTT, r.srtt, d.rtt, r.n
	case d.req.Type == TypePLRReportRequest && d.uncertain:
		c.stats.PLRUncertain++
		return
	case d.req.Type == TypePLRReportRequest:
		e.Kind, e.PLRResult = KindPLR, d.plr
	case d.req.Type == TypeTDS || d.req.Type == TypeTDR:
		e.Kind, e.Suspended = KindDuplication, d.req.Type == TypeTDS
	default:
		return // PLR COUNT RESPONSE: counting runs, nothing to report
	}
	c.emit(e)
}

// request sends our request m on p.
func (c *core) request(now time.Time, p *path, m Message) error {
	m, err := p.link.request(now, m)
	if err != nil {
		return err
	}
	c.send(p, m)
	return nil
}

// tick does the periodic work due at now.
func (c *core) tick(now time.Time) {
	for _, s := range c.sessions {
		for _, p := range s.paths {
			resend, done := p.link.tick(now, c.tm)
			for _, m := range resend {
				c.send(p, m)
			}
			for _, d := range done {
				c.onDone(now, p, d)
			}
			if c.cfg.EchoInterval > 0 && !now.Before(p.nextEcho) && !p.link.plrAwaited() {
				p.nextEcho = nextDue(p.nextEcho, now, c.cfg.EchoInterval)
				_ = c.request(now, p, Message{Type: TypeEchoRequest}) // ErrBusy: the path is silent; echoes time out
			}
			if c.cfg.PLRInterval > 0 && !now.Before(p.nextPLR) {
				p.nextPLR = now.Add(c.cfg.PLRInterval)
				c.periodicPLR(now, p)
			}
		}
	}
}

// nextDue is when work due at due and done at now, every interval, is due
// next: on due's grid, so that the ticks' lateness does not add up. Timed
// from now instead, an interval equal to the tick (the lab's 50 ms echoes)
// waited for a second tick about one time in two: a third fewer echoes.
// Work that fell behind by a whole interval starts a new grid from now.
func nextDue(due, now time.Time, interval time.Duration) time.Time {
	if next := due.Add(interval); next.After(now) {
		return next
	}
	return now.Add(interval)
}

// periodicPLR starts the downlink count, or reads it and restarts it once
// its window holds PLRMinMessages measured messages.
func (c *core) periodicPLR(now time.Time, p *path) {
	switch p.link.init.state {
	case plrCounting:
		if p.link.init.sent < uint32(c.cfg.PLRMinMessages) {
			return // too few to tell: the window runs on
		}
		if !c.awaiting(p, TypePLRCountRequest) && !c.awaiting(p, TypePLRReportRequest) {
			_ = c.request(now, p, Message{Type: TypePLRReportRequest, Restart: true})
		}
	case plrIdle:
		_ = c.request(now, p, Message{Type: TypePLRCountRequest})
	}
}

// awaiting reports whether a request of type t is outstanding on p.
func (c *core) awaiting(p *path, t MessageType) bool {
	for _, q := range p.link.pending {
		if q.m.Type == t {
			return true
		}
	}
	return false
}

func (c *core) path(id PathID) (*path, error) {
	s := c.sessions[id.SEID]
	if s == nil {
		return nil, ErrUnknownPath
	}
	p := s.paths[pathKey{id.QFI, id.Access}]
	if p == nil {
		return nil, ErrUnknownPath
	}
	return p, nil
}

// forget drops every path of seid.
func (c *core) forget(seid atsss.SEID) {
	s := c.sessions[seid]
	if s == nil {
		return
	}
	for _, p := range s.paths {
		delete(c.byAddr, addrKey{p.listener, p.ue})
	}
	delete(c.sessions, seid)
}

// PathState is a snapshot of one path.
type PathState struct {
	Path PathID
	UE   netip.AddrPort
	// RTT is the smoothed RTT of the UPF's echoes, RTTSample the latest,
	// Samples how many were answered and Lost how many were not.
	RTT, RTTSample time.Duration
	Samples, Lost  uint64
	// PLR is the latest downlink measurement, valid if HasPLR.
	PLR    PLRResult
	HasPLR bool
	// Counting: a downlink PLR count runs.
	Counting bool
	// Available is false while the UE reports the access unavailable.
	Available bool
}

func (c *core) state(p *path) PathState {
	l := p.link
	return PathState{
		Path: p.id, UE: p.ue,
		RTT: l.rtt.srtt, RTTSample: l.rtt.last, Samples: l.rtt.n, Lost: l.lost,
		PLR: l.lastPLR, HasPLR: l.hasPLR, Counting: l.init.state == plrCounting,
		Available: !c.sessions[p.id.SEID].unavailable[p.id.Access],
	}
}
