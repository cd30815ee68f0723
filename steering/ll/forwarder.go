package ll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/steering/ll/gtpu"
)

// Buffer layout: a downlink packet is read from the TUN at offset
// headroom, so the GTP-U header (16 octets at most) is written in front of
// it in place.
const (
	headroom  = 16
	maxPacket = 65535
)

// watchBuffer is the change feed's buffer; the follower drains it in
// batches.
const watchBuffer = 4096

// Forwarder is the ATSSS-LL data path: see the package comment. Create it
// with New, run it with Run; Stats and SessionStats are safe for
// concurrent use at any time.
type Forwarder struct {
	cfg   Config
	store *atsss.Store
	log   *slog.Logger
	conn  *net.UDPConn
	tun   *os.File
	tab   atomic.Pointer[table]
	drops [numDrops]atomic.Uint64
	echo  atomic.Uint64
	ready chan struct{} // closed once the first snapshot is in the table
	rev   atomic.Uint64 // the store revision the table reflects
	pgen  atomic.Uint64 // the policy generation the table reflects
	now   func() time.Time
}

// New opens the GTP-U socket and creates the TUN device, with its routes,
// in the network namespace of the calling thread, and returns a Forwarder
// that does nothing until Run. If New fails, nothing it made is left.
func New(cfg Config, store *atsss.Store, log *slog.Logger) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("atsss-ll config: %w", err)
	}
	cfg = cfg.WithDefaults()
	if store == nil {
		return nil, errors.New("atsss-ll: no session store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{cfg: cfg, store: store, log: log.With("component", "atsss-ll"), ready: make(chan struct{}), now: time.Now}
	f.tab.Store(buildTable(nil))
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.N3))
	if err != nil {
		return nil, fmt.Errorf("atsss-ll: listen on N3: %w", err)
	}
	// A burst from N6 or N3 waits in the socket rather than being dropped.
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	tun, err := openTUN(cfg.TUN, cfg.MTU, cfg.Routes)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("atsss-ll: %w", err)
	}
	f.conn, f.tun = conn, tun
	return f, nil
}

// N3Addr returns the local address of the GTP-U socket.
func (f *Forwarder) N3Addr() netip.AddrPort {
	return f.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Ready is closed once the sessions of the store's snapshot are installed.
func (f *Forwarder) Ready() <-chan struct{} { return f.ready }

// Rev returns the store revision the installed sessions reflect: after a
// store write at revision r, the data path applies it once Rev() >= r.
func (f *Forwarder) Rev() uint64 { return f.rev.Load() }

// PolicyGeneration returns the generation of Config.Policies (see
// atsss.Policies.Current) that the installed sessions are steered by: a
// policy set at generation g steers the next packet once
// PolicyGeneration() >= g. Always 0 without Config.Policies.
func (f *Forwarder) PolicyGeneration() uint64 { return f.pgen.Load() }

// Run follows the store and forwards until ctx ends or a socket fails. It
// closes the socket and the TUN device (which removes it and its routes)
// when it returns; a Forwarder runs once.
func (f *Forwarder) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	stop := context.AfterFunc(ctx, func() {
		f.conn.Close()
		f.tun.Close()
	})
	defer stop()
	g.Go(func() error { return f.follow(ctx) })
	g.Go(func() error { return f.uplinkLoop(ctx) })
	g.Go(func() error { return f.downlinkLoop(ctx) })
	err := g.Wait()
	f.conn.Close()
	f.tun.Close()
	return err
}

// follow keeps the table in step with the store's change feed and with
// the operator policies (Config.Policies): a policy change recompiles every
// session's view and publishes them at once, so the next packet of each
// session is steered by the new set. It owns views and the sessStates' mars
// maps.
func (f *Forwarder) follow(ctx context.Context) error {
	sessions := map[atsss.SEID]*atsss.Session{}
	states := map[atsss.SEID]*sessState{}
	views := map[atsss.SEID]*view{}
	var pol *policies
	var wake <-chan struct{} // nil without policies: never ready
	if f.cfg.Policies != nil {
		// Subscribed before reading, so that no change is missed.
		c, unsubscribe := f.cfg.Policies.Subscribe()
		defer unsubscribe()
		wake = c
		pol = &policies{log: f.log}
		pol.update(f.cfg.Policies.Current())
	}
	put := func(s *atsss.Session) {
		st := states[s.LocalSEID]
		if st == nil {
			st = newSessState()
			states[s.LocalSEID] = st
		}
		sessions[s.LocalSEID] = s
		views[s.LocalSEID] = compile(s, st, pol)
	}
	del := func(id atsss.SEID) {
		delete(sessions, id)
		delete(states, id)
		delete(views, id)
	}
	var rev uint64 // of the newest change applied
	apply := func(ch atsss.Change) {
		if ch.Kind == atsss.ChangeDelete {
			del(ch.SEID)
		} else {
			put(ch.Session)
		}
		rev = ch.Rev
	}
	for {
		w, err := f.store.Watch(ctx, watchBuffer)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch sessions: %w", err)
		}
		seen := map[atsss.SEID]bool{}
		for _, s := range w.Snapshot {
			seen[s.LocalSEID] = true
			if sessions[s.LocalSEID] != s {
				put(s)
			}
		}
		for id := range sessions {
			if !seen[id] {
				del(id)
			}
		}
		rev = w.Rev
		f.publish(views, rev, pol)
		select {
		case <-f.ready:
		default:
			close(f.ready)
		}
	feed:
		for {
			select {
			case ch, ok := <-w.C:
				if !ok {
					break feed
				}
				apply(ch)
				w.TakeQueued(apply) // one view for the batch
				f.publish(views, rev, pol)
			case <-wake:
				start := time.Now()
				pol.update(f.cfg.Policies.Current())
				for id, s := range sessions {
					views[id] = compile(s, states[id], pol)
				}
				f.publish(views, rev, pol)
				f.log.Info("operator policies applied", "generation", pol.gen, "policies", pol.set.Len(),
					"sessions", len(sessions), "took", time.Since(start).Round(time.Microsecond))
			}
		}
		switch err := w.Err(); {
		case errors.Is(err, atsss.ErrLagged):
			f.log.Warn("session feed lagged; resyncing from a snapshot")
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("session feed: %w", err)
		}
	}
}

// publish replaces the table. It copies every view's index: fine for the
// thousands of sessions of a lab or a small UPF; a sharded table (as in
// mptcpproxy/admission.go) is the next step for 100k sessions.
func (f *Forwarder) publish(views map[atsss.SEID]*view, rev uint64, pol *policies) {
	f.tab.Store(buildTable(views))
	f.rev.Store(rev)
	if pol != nil {
		f.pgen.Store(pol.gen)
	}
}

// uplinkLoop reads N3 until the socket is closed.
func (f *Forwarder) uplinkLoop(ctx context.Context) error {
	buf := make([]byte, maxPacket)
	out := make([]byte, 0, 64)
	for {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read N3: %w", err)
		}
		switch inner, reply := f.uplink(buf[:n], from, out[:0]); {
		case reply != nil:
			if _, err := f.conn.WriteToUDPAddrPort(reply, from); err != nil {
				f.drops[dropSend].Add(1)
			}
		case inner != nil:
			if _, err := f.tun.Write(inner); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				f.drops[dropTUN].Add(1)
			}
		}
	}
}

// uplink handles one message from N3: it returns the inner packet to write
// to N6, or a reply to send back (Echo Response), or neither (dropped and
// counted, or nothing to do). out is where a reply is built.
func (f *Forwarder) uplink(msg []byte, from netip.AddrPort, out []byte) (inner, reply []byte) {
	h, payload, err := gtpu.Parse(msg)
	if err != nil {
		f.drops[dropMalformed].Add(1)
		return nil, nil
	}
	switch h.Type {
	case gtpu.TypeGPDU:
	case gtpu.TypeEchoRequest:
		// TS 29.281 §7.2.1: answer every Echo Request, whatever its TEID.
		f.echo.Add(1)
		return nil, gtpu.AppendEchoResponse(out, h)
	default:
		// End Marker, Error Indication, Echo Response (we send no
		// requests), and the rest: nothing to forward.
		f.drops[dropNotGPDU].Add(1)
		return nil, nil
	}
	v := f.tab.Load().byTEID[h.TEID]
	if v == nil {
		// TS 29.281 §7.3.1 asks for an Error Indication here; not sent yet.
		f.drops[dropUnknownTEID].Add(1)
		return nil, nil
	}
	p, ok := parseIP(payload)
	if !ok {
		f.drops[dropBadInner].Add(1)
		return nil, nil
	}
	if !slices.Contains(v.owned, p.src) {
		f.drops[dropSpoofed].Add(1)
		return nil, nil
	}
	var allowed bool
	if _, ok := v.pmfTo(&p); ok {
		// PMF messages to the UPF's PMF ports travel in the session's
		// tunnels (TS 23.501 §5.32.5.2) whatever its SDF filters allow.
		allowed = true
	} else if p.ports {
		allowed = v.policy.AllowsPort(p.proto, netip.AddrPortFrom(p.src, p.sport), netip.AddrPortFrom(p.dst, p.dport))
	} else {
		allowed = v.policy.Allows(p.proto, p.src, netip.AddrPortFrom(p.dst, 0))
	}
	if !allowed {
		f.drops[dropNoRule].Add(1)
		return nil, nil
	}
	if a, ok := v.accessOf(from.Addr().Unmap()); ok {
		v.st.ul[a].add(p.len)
	} else {
		v.st.ulOther.add(p.len)
	}
	return payload[:p.len], nil
}

// downlinkLoop reads the TUN until it is closed. It is the only goroutine
// that touches marState.
func (f *Forwarder) downlinkLoop(ctx context.Context) error {
	buf := make([]byte, headroom+f.cfg.MTU+256)
	for {
		n, err := f.tun.Read(buf[headroom:])
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read TUN: %w", err)
		}
		msg, to, ok := f.downlink(buf, n, f.now())
		if !ok {
			continue
		}
		if _, err := f.conn.WriteToUDPAddrPort(msg, to); err != nil {
			f.drops[dropSend].Add(1)
		}
	}
}

// downlink steers the packet at buf[headroom:headroom+n]: it writes the
// G-PDU header in front of it and returns the message and its destination,
// or ok false when the packet is dropped (and counted).
func (f *Forwarder) downlink(buf []byte, n int, now time.Time) (msg []byte, to netip.AddrPort, ok bool) {
	pkt := buf[headroom : headroom+n]
	p, ok := parseIP(pkt)
	if !ok {
		f.drops[dropBadInner].Add(1)
		return nil, to, false
	}
	pkt = pkt[:p.len]
	v := f.tab.Load().byUE[p.dst]
	if v == nil {
		f.drops[dropNoSession].Add(1)
		return nil, to, false
	}
	r := v.match(&p)
	var t tunnel
	var a atsss.AccessType
	port, isPMF := v.pmfFrom(&p)
	switch {
	case isPMF:
		// The UPF's PMF message measures, or reports on, the access its
		// source port names: it goes there whatever the MAR says, also
		// when that access is reported unavailable.
		t, a = v.pmfTunnel(r, port), port.access
	case r == nil:
		f.drops[dropNoRule].Add(1)
		return nil, to, false
	case r.act == actOther:
		f.drops[dropNotLL].Add(1)
		return nil, to, false
	case r.act == actDirect:
		t, a = r.direct, r.access
	case r.act == actSteer:
		m := r.mar
		if len(r.flows) > 0 {
			m = v.steerPlan(r, &p)
		}
		var ok bool
		if a, ok = steer(m, v.unavailable, &v.st.pmf, now); !ok {
			f.drops[dropNoAccess].Add(1)
			return nil, to, false
		}
		t = m.legs[a]
	}
	if !t.ok {
		f.drops[dropNoRule].Add(1)
		return nil, to, false
	}
	h := gtpu.Header{Type: gtpu.TypeGPDU, TEID: t.teid}
	if t.qfi >= 0 {
		h.HasSession = true
		h.Session = gtpu.SessionContainer{PDUType: gtpu.PDUTypeDownlink, QFI: uint8(t.qfi)}
	}
	start := headroom - h.Len()
	h.Put(buf[start:headroom], len(pkt))
	v.st.dl[a].add(len(pkt))
	return buf[start : headroom+len(pkt)], t.peer, true
}

// steer picks the access for the next downlink packet of an ATSSS-LL MAR:
// steering.Decide with the MAR's state, then, when the decision splits,
// smooth weighted round robin over its shares.
//
// Per packet, not per flow: TS 23.501 §5.32.8 gives Load-Balancing as a
// percentage of the traffic, and ATSSS-LL has no user-plane protocol to
// keep a flow's order anyway. A round robin meets the weights exactly
// over every 100 packets, whatever the number of flows (hashing flows
// cannot split one flow, nor a few flows, 70/30); the cost is reordering
// within a flow when the accesses' delays differ, which UDP applications
// must bear over ATSSS-LL anyway.
func steer(m *marPlan, unavailable [2]bool, pmf *sessPMF, now time.Time) (atsss.AccessType, bool) {
	ms := m.ms
	if !ms.init || ms.n4 != unavailable {
		ms.st.Direction = steering.Downlink
		for _, a := range atsss.Accesses {
			if (!ms.init && unavailable[a]) || (ms.init && ms.n4[a] != unavailable[a]) {
				ms.st.Paths[a].Report(steering.SourceN4, !unavailable[a])
			}
		}
		ms.n4, ms.init = unavailable, true
	}
	pmf.apply(ms)
	d := steering.Decide(&m.rule, &ms.st, now)
	if d != ms.dec {
		ms.dec, ms.cur = d, [2]int{}
	}
	s0, s1 := int(d.Share[atsss.Access3GPP]), int(d.Share[atsss.AccessNon3GPP])
	switch {
	case s0 == 0 && s1 == 0:
		return 0, false
	case s1 == 0:
		return atsss.Access3GPP, true
	case s0 == 0:
		return atsss.AccessNon3GPP, true
	}
	// Smooth weighted round robin (nginx): add each weight, take the
	// largest, subtract the total from it.
	ms.cur[0] += s0
	ms.cur[1] += s1
	pick := atsss.Access3GPP
	if ms.cur[1] > ms.cur[0] {
		pick = atsss.AccessNon3GPP
	}
	ms.cur[pick] -= s0 + s1
	return pick, true
}
