package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/test/continuity"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/pace"
	"github.com/openatsss/atsss/test/timeline"
	"github.com/openatsss/atsss/test/traffic"
	"github.com/openatsss/atsss/test/uesim"
)

// A paced scenario shows a mode that acts on rates or on many connections,
// which one bulk transfer cannot show: UE connections through the proxy
// send checked streams each way at rates the scenario sets (pace), through
// phases that each change one thing: open connections, cut or restore an
// access, send in bulk. Every phase is marked on the timeline, and the
// summary gives each phase's split between the accesses.

// pacedPlan is what a paced scenario does.
type pacedPlan struct {
	first    atsss.AccessType // each connection's first subflow
	up, down float64          // Mbit/s per connection at the start
	phases   []phase
}

// phase is one step of a paced scenario. At its start it is marked on the
// timeline and enter runs (it must not block for long: the live line waits
// for it); it lasts length. The summary measures it from settle after its
// start to its end, past what the change left in flight. atSettle, if set,
// runs at that time, as briefly as enter.
type phase struct {
	mark           string
	length, settle time.Duration
	enter          func(ctx context.Context, p *pacedRun) error
	atSettle       func(ctx context.Context, p *pacedRun) error
}

// Seeds of the checked streams: every connection sends the same ones.
const (
	seedUp   = 1
	seedDown = 2
)

// pacedRun is a paced scenario running. The scenario's goroutine owns it;
// the fields under mu are shared with the connections' goroutines.
type pacedRun struct {
	l        *running
	say      func(string) // prints lines between the live lines
	first    atsss.AccessType
	up, down pace.Rate // each connection's, each way
	// sending ends the senders; hard, later, breaks off what is stuck.
	sending, hard context.Context
	dnGot, ueGot  counter // checked bytes received: app up, app down
	clients       sync.WaitGroup
	servers       sync.WaitGroup

	mu      sync.Mutex // guards the fields below
	conns   []*flowConn
	results []flowResult // one per connection end (UE, DN)
	dialErr []error
}

// flowConn is a UE connection and what it carried over each access so far.
type flowConn struct {
	c *uesim.Conn
	// The scenario's goroutine alone reads the subflows and keeps these:
	// the subflow counters summed per access (prev) and made monotonic
	// across subflows closed and opened again (total).
	prev, total [2]uint64
	live        [2]uint64 // total at the last live line
	phases      []flowPhase
}

// flowPhase is a connection's total when a phase's measured part began.
type flowPhase struct{ base [2]uint64 }

// flowResult is one end's view of one connection.
type flowResult struct {
	ue         bool
	sent, got  int64
	err        error
	unfinished bool
}

// counter counts the bytes written to it; safe for concurrent use.
type counter struct{ n atomic.Uint64 }

func (c *counter) Write(b []byte) (int, error) { c.n.Add(uint64(len(b))); return len(b), nil }

func (c *counter) read() (uint64, error) { return c.n.Load(), nil }

// dial opens n connections, gap apart, each sending at the run's rates;
// it returns at once.
func (p *pacedRun) dial(ctx context.Context, n int, gap time.Duration) {
	p.clients.Go(func() {
		for i := range n {
			if i > 0 {
				select {
				case <-p.sending.Done():
					return
				case <-time.After(gap):
				}
			}
			c, err := p.dialOne(ctx)
			if err != nil {
				p.mu.Lock()
				p.dialErr = append(p.dialErr, fmt.Errorf("connection %d: %w", i+1, err))
				p.mu.Unlock()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, &flowConn{c: c})
			p.mu.Unlock()
			p.clients.Go(func() { p.record(p.client(c)) })
		}
	})
}

// dialOne opens a connection through the proxy (Convert after the
// handshake: README, Limitations) and waits for its second subflow.
func (p *pacedRun) dialOne(ctx context.Context) (*uesim.Conn, error) {
	d := p.l.ue.Dialer(p.first)
	d.AfterHandshake = true
	c, err := d.Dial(ctx, netip.AddrPortFrom(lab.DNAddr, dnPort))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := uesim.WaitSubflows(wctx, c.TCPConn, 2); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (p *pacedRun) record(r flowResult) {
	p.mu.Lock()
	p.results = append(p.results, r)
	p.mu.Unlock()
}

// client is the UE's end of a connection: it sends seedUp's stream at
// p.up until the run stops sending, then half-closes, and checks seedDown's
// stream until the DN server half-closes.
func (p *pacedRun) client(c *uesim.Conn) flowResult {
	defer c.Close()
	return p.exchange(c, c.TCPConn, &p.up, seedUp, seedDown, &p.ueGot, true)
}

// accept serves the DN end of every connection until ln is closed.
func (p *pacedRun) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.servers.Go(func() {
			defer c.Close()
			tc, ok := c.(*net.TCPConn)
			if !ok {
				p.record(flowResult{err: fmt.Errorf("DN: a %T, not TCP", c)})
				return
			}
			p.record(p.exchange(c, tc, &p.down, seedDown, seedUp, &p.dnGot, false))
		})
	}
}

// exchange sends sendSeed's stream at rate over c until the run stops
// sending, half-closes, and checks recvSeed's stream until the peer's
// half-close, counting it in got.
func (p *pacedRun) exchange(c net.Conn, tc *net.TCPConn, rate *pace.Rate, sendSeed, recvSeed uint64, got *counter, ue bool) flowResult {
	stuck := context.AfterFunc(p.hard, func() { c.SetDeadline(time.Now()) })
	defer stuck()
	received := make(chan flowResult, 1)
	go func() {
		n, err := io.Copy(io.MultiWriter(traffic.NewVerifier(recvSeed), got), c)
		received <- flowResult{got: n, err: err}
	}()
	r := flowResult{ue: ue}
	var err error
	r.sent, err = pace.Send(p.sending, c, &traffic.Pattern{Seed: sendSeed}, rate)
	if errors.Is(err, context.Canceled) {
		err = tc.CloseWrite()
	}
	rr := <-received
	r.got = rr.got
	if err != nil || rr.err != nil {
		r.err = errors.Join(sendErr(err), recvErr(rr.err))
		r.unfinished = p.hard.Err() != nil
	}
	return r
}

func sendErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("send: %w", err)
}

func recvErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("receive: %w", err)
}

// sample reads each connection's subflow counters and returns the
// connections whose bytes since since went mostly over each access.
func (p *pacedRun) sample(since func(fc *flowConn) *[2]uint64) (by [2]int) {
	p.mu.Lock()
	conns := p.conns
	p.mu.Unlock()
	for _, fc := range conns {
		fc.read(p.l.ue.LinkSpecific)
		base := since(fc)
		d := [2]uint64{fc.total[0] - base[0], fc.total[1] - base[1]}
		*base = fc.total
		switch {
		case d[0] == 0 && d[1] == 0:
		case d[0] >= d[1]:
			by[0]++
		default:
			by[1]++
		}
	}
	return by
}

// read adds the bytes each access's subflows carried since the last read
// to total.
func (fc *flowConn) read(addr [2]netip.Addr) {
	rc, err := fc.c.SyscallConn()
	if err != nil {
		return
	}
	subs, err := pm.ReadSubflows(rc)
	if err != nil {
		return // closed: it carries nothing more
	}
	var now [2]uint64
	for _, s := range subs {
		for _, a := range atsss.Accesses {
			if s.Local.Addr() == addr[a] {
				now[a] += s.BytesSent + s.BytesReceived
			}
		}
	}
	for _, a := range atsss.Accesses {
		if now[a] >= fc.prev[a] {
			fc.total[a] += now[a] - fc.prev[a]
		} else { // a subflow went, or came back from zero
			fc.total[a] += now[a]
		}
		fc.prev[a] = now[a]
	}
}

// phaseStat is what the accesses carried in a phase's measured part.
type phaseStat struct {
	mark     string
	from, to time.Time
	settle   time.Duration
	bytes    [2]uint64
	conns    [2]int // connections carried mostly by each access
}

// within sets s's bytes to what the intervals wholly inside [s.from, s.to]
// carried, and narrows s.from and s.to to those intervals: an interval
// that straddles a phase's start or end holds bytes of the phase before or
// after.
func (s *phaseStat) within(tl timeline.Timeline) {
	var first, last time.Time
	for i, end := range tl.Ends {
		begin := tl.Start
		if i > 0 {
			begin = tl.Start.Add(tl.Ends[i-1])
		}
		if begin.Before(s.from) || tl.Start.Add(end).After(s.to) {
			continue
		}
		if first.IsZero() {
			first = begin
		}
		last = tl.Start.Add(end)
		for _, a := range atsss.Accesses {
			s.bytes[a] += tl.Series[a].Bytes[i]
		}
	}
	s.from, s.to = first, last
}

func (s phaseStat) share(a atsss.AccessType) float64 {
	sum := s.bytes[0] + s.bytes[1]
	if sum == 0 {
		return 0
	}
	return float64(s.bytes[a]) / float64(sum)
}

func (s phaseStat) mbps(a atsss.AccessType) float64 {
	d := s.to.Sub(s.from).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(s.bytes[a]) * 8 / 1e6 / d
}

// playPaced runs plan: it starts the DN server and the sampler, plays the
// phases with a live line, stops the senders, checks every stream, prints
// the summary and writes the plot.
func (l *running) playPaced(ctx context.Context, out io.Writer, plan pacedPlan, plot, title string) error {
	sending, stopSending := context.WithCancel(ctx)
	defer stopSending()
	hard, breakOff := context.WithCancel(ctx)
	defer breakOff()
	live := liveLine(out)
	p := &pacedRun{l: l, first: plan.first, sending: sending, hard: hard}
	p.say = func(s string) { live(""); fmt.Fprint(out, s) }
	p.up.Set(plan.up)
	p.down.Set(plan.down)
	ln, err := l.rig.ListenDN(dnPort)
	if err != nil {
		return err
	}
	defer ln.Close()
	go p.accept(ln)

	sampler := timeline.NewSampler(continuity.Interval,
		continuity.AccessSource(l.rig.Lab, atsss.Access3GPP), continuity.AccessSource(l.rig.Lab, atsss.AccessNon3GPP),
		timeline.Source{Name: "app up", Read: p.dnGot.read},
		timeline.Source{Name: "app down", Read: p.ueGot.read})
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	samplerDone := make(chan error, 1)
	go func() { samplerDone <- sampler.Run(sctx) }()
	time.Sleep(2 * continuity.Interval) // the baseline first: a mark before it has no row

	stats := make([]phaseStat, len(plan.phases))
	phaseBase := func(fc *flowConn) *[2]uint64 { return &fc.live }
	var played error
	for i, ph := range plan.phases {
		start := time.Now()
		sampler.Mark(ph.mark)
		stats[i] = phaseStat{mark: ph.mark, from: start.Add(ph.settle), settle: ph.settle}
		if err := ph.enter(ctx, p); err != nil {
			played = fmt.Errorf("%s: %w", ph.mark, err)
			break
		}
		var settled bool
		var settleErr error
		if err := every(ctx, continuity.Interval, ph.length, func(now time.Time) {
			if !settled && now.After(stats[i].from) {
				// Counted from here: what the phase's change left in flight
				// is behind.
				settled = true
				p.sample(func(fc *flowConn) *[2]uint64 { return &phaseOf(fc, i).base })
				if ph.atSettle != nil {
					settleErr = ph.atSettle(ctx, p)
				}
			}
			tl := sampler.Timeline()
			b3, bn := tl.BytesBetween(continuity.Series3GPP, start, now), tl.BytesBetween(continuity.SeriesNon3GPP, start, now)
			line := sampler.Line()
			if b3+bn > 0 {
				line += fmt.Sprintf("  3gpp %5.1f %% of the phase", 100*float64(b3)/float64(b3+bn))
			}
			if by := p.sample(phaseBase); by[0]+by[1] > 1 {
				line += fmt.Sprintf("  connections on 3gpp/non3gpp %2d/%2d", by[0], by[1])
			}
			live(line)
		}); err != nil {
			played = err
			break
		}
		if settleErr != nil {
			played = fmt.Errorf("%s: %w", ph.mark, settleErr)
			break
		}
		stats[i].to = time.Now()
		stats[i].conns = p.sample(func(fc *flowConn) *[2]uint64 { return &phaseOf(fc, i).base })
	}
	live("")

	// Stop: the senders half-close, each end reads the other's to its end.
	stopSending()
	done := make(chan struct{})
	go func() { p.clients.Wait(); ln.Close(); p.servers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		breakOff()
		<-done
	}
	stopSampler()
	if err := <-samplerDone; err != nil && played == nil {
		played = err
	}
	tl := sampler.Timeline()
	for i := range stats {
		if stats[i].to.IsZero() {
			stats = stats[:i]
			break
		}
		stats[i].within(tl)
	}
	intact := p.intact(len(plan.phases) == len(stats))
	summarizePaced(out, p, tl, stats, intact)
	if tl.Len() > 0 {
		if err := os.MkdirAll(filepath.Dir(plot), 0o755); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		names, err := tl.WriteFiles(plot, title)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		fmt.Fprintf(out, "plot:         %v\n", names)
	}
	if played != nil {
		return played
	}
	return intact
}

// phaseOf returns fc's counters for phase i.
func phaseOf(fc *flowConn, i int) *flowPhase {
	for len(fc.phases) <= i {
		fc.phases = append(fc.phases, flowPhase{})
	}
	return &fc.phases[i]
}

// every calls fn every interval for d, or until ctx ends.
func every(ctx context.Context, interval, d time.Duration, fn func(now time.Time)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.After(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			return nil
		case now := <-tick.C:
			fn(now)
		}
	}
}

// intact reports whether every connection was opened and every byte sent
// arrived, each way, as sent.
func (p *pacedRun) intact(complete bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	errs = append(errs, p.dialErr...)
	var sent, got [2]int64 // [0] up, [1] down
	var ends [2]int        // UE ends, DN ends
	for _, r := range p.results {
		dir := 1
		if r.ue {
			dir = 0
			ends[0]++
		} else {
			ends[1]++
		}
		sent[dir] += r.sent
		got[1-dir] += r.got
		if r.err != nil {
			end := "DN"
			if r.ue {
				end = "UE"
			}
			if r.unfinished {
				errs = append(errs, fmt.Errorf("%s end did not finish in 15 s: %w", end, r.err))
			} else {
				errs = append(errs, fmt.Errorf("%s end: %w", end, r.err))
			}
		}
	}
	if ends[0] != len(p.conns) || ends[1] != len(p.conns) {
		errs = append(errs, fmt.Errorf("%d connections, %d UE ends and %d DN ends finished", len(p.conns), ends[0], ends[1]))
	}
	for d, name := range []string{"up", "down"} {
		if sent[d] != got[d] {
			errs = append(errs, fmt.Errorf("%s: %d bytes sent, %d arrived", name, sent[d], got[d]))
		}
	}
	if !complete {
		errs = append(errs, errors.New("the scenario stopped early"))
	}
	return errors.Join(errs...)
}

// summarizePaced prints the summary of a paced scenario: integrity, bytes
// per access, each phase's split, the application's throughput.
func summarizePaced(out io.Writer, p *pacedRun, tl timeline.Timeline, stats []phaseStat, intact error) {
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	up, down := p.dnGot.n.Load(), p.ueGot.n.Load()
	fmt.Fprintln(out, "\nsummary")
	if intact == nil {
		fmt.Fprintf(out, "integrity:    OK — %d connection%s, %s up and %s down arrived byte-exact, 0 bytes lost\n", n, plural(n), mb(up), mb(down))
	} else {
		fmt.Fprintf(out, "integrity:    FAILED — %s\n", strings.ReplaceAll(intact.Error(), "\n", "; "))
	}
	var total [2]uint64
	for _, a := range atsss.Accesses {
		total[a] = tl.BytesBetween(int(a), time.Time{}, tl.End())
	}
	fmt.Fprintf(out, "per access:   3GPP %s, non-3GPP %s (both directions, on the wire)\n", mb(total[0]), mb(total[1]))
	fmt.Fprintln(out, "phases:       each from its settle time (+) to its end; bytes both ways on the wire")
	if n > 1 {
		fmt.Fprintln(out, "              connections: how many carried most of their bytes over 3GPP / over non-3GPP")
	}
	for _, s := range stats {
		fmt.Fprintf(out, "  %-42s 3GPP %6.1f Mbit/s %5.1f %%  non-3GPP %6.1f Mbit/s %5.1f %%", fmt.Sprintf("%s (+%.1fs, %.1fs)", s.mark, s.settle.Seconds(), s.to.Sub(s.from).Seconds()),
			s.mbps(0), 100*s.share(0), s.mbps(1), 100*s.share(1))
		if n > 1 {
			fmt.Fprintf(out, "  connections %d / %d", s.conns[0], s.conns[1])
		}
		fmt.Fprintln(out)
	}
	throughput(out, tl)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
