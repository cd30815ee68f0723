// Package continuity runs the lab's session-continuity scenario: one UE
// connection through the MPTCP proxy, carried over both accesses, moves a
// position-checked byte stream each way while one access is cut and
// restored, and everything is sampled on a 100 ms timeline. The end-to-end
// test asserts on its Report; the lab demo prints and plots it.
package continuity

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/timeline"
	"github.com/openatsss/atsss/test/traffic"
	"github.com/openatsss/atsss/test/uesim"
)

// Interval is the timeline's resolution: the outage is measured in it.
const Interval = 100 * time.Millisecond

// Series of the Report's timeline, in this order.
const (
	Series3GPP = iota
	SeriesNon3GPP
	SeriesUp   // application bytes arriving at the DN server
	SeriesDown // application bytes arriving at the UE
)

// Scenario says what to move and what to cut.
type Scenario struct {
	Size uint64 // bytes each way
	// Cut is the access to cut, How the way to cut it, For how long.
	Cut atsss.AccessType
	How lab.CutMethod
	For time.Duration
	// OpenOverCut opens the connection (its first subflow) over the access
	// that will be cut; otherwise over the other one.
	OpenOverCut bool
	// CutAt is the share of all bytes (both directions) that has arrived
	// when the cut starts, in (0, 1); 0.5 is halfway.
	CutAt float64
	// Sequential moves the upload first, then the download; otherwise
	// both directions run at once.
	Sequential bool
	// ZeroRTT sends the Convert message in the SYN (TCP Fast Open), as a
	// UE does for 0-RTT; otherwise after the handshake. On Linux 6.18 an
	// MPTCP connection opened with data in the SYN loses downlink data at
	// the UE's MPTCP window now and then, and recovers it only by
	// MPTCP-level retransmission (see README, Limitations), which turns a
	// bulk transfer into a crawl: the bulk scenario dials without it.
	ZeroRTT bool
	// DNPort is the port of the data network server the scenario starts;
	// the session's PDRs must allow it.
	DNPort uint16
	// Progress, if not nil, is called after every sample with the
	// timeline's status line (timeline.Sampler.Line).
	Progress func(line string)
}

// Report is what happened.
type Report struct {
	Timeline timeline.Timeline
	// UE and DN are each end's view of the transfer.
	UE, DN            traffic.Result
	CutAt, RestoredAt time.Time
	Scenario          Scenario
}

// Intact reports whether every byte arrived, each way, as sent.
func (r Report) Intact() error {
	s := r.Scenario.Size
	if r.UE.Err != nil || r.DN.Err != nil {
		return fmt.Errorf("transfer failed: UE: %v; DN: %v", r.UE.Err, r.DN.Err)
	}
	if r.UE.Sent != s || r.DN.Received != s || r.DN.Sent != s || r.UE.Received != s {
		return fmt.Errorf("transfer not byte-exact: UE sent %d, DN received %d; DN sent %d, UE received %d (want %d each)",
			r.UE.Sent, r.DN.Received, r.DN.Sent, r.UE.Received, s)
	}
	return nil
}

// Outage is the application's first stall after the cut, per direction:
// what the cut cost the connection, to the timeline's resolution.
func (r Report) Outage() (up, down time.Duration) {
	return r.Timeline.StallAfter(SeriesUp, r.CutAt), r.Timeline.StallAfter(SeriesDown, r.CutAt)
}

// CutAccessAfterRestore is the bytes the cut access carried from its
// restoration to the end: its subflow back in use.
func (r Report) CutAccessAfterRestore() uint64 {
	return r.Timeline.BytesBetween(int(r.Scenario.Cut), r.RestoredAt, r.Timeline.End())
}

// AccessBytes is the bytes (both directions, headers included) each access
// carried during the scenario.
func (r Report) AccessBytes() [2]uint64 {
	var b [2]uint64
	for _, a := range atsss.Accesses {
		b[a] = r.Timeline.BytesBetween(int(a), time.Time{}, r.Timeline.End())
	}
	return b
}

// Run plays the scenario for ue, an established session of r whose
// connections may use both accesses.
func Run(ctx context.Context, r *rig.Rig, ue *rig.UE, s Scenario) (Report, error) {
	rep := Report{Scenario: s}
	if s.Size == 0 || s.CutAt <= 0 || s.CutAt >= 1 || s.For <= 0 {
		return rep, errors.New("continuity: Size, For and CutAt in (0, 1) must be set")
	}
	var dnUp, dnDown, ueUp, ueDown traffic.Counter
	ln, err := r.ListenDN(s.DNPort)
	if err != nil {
		return rep, err
	}
	defer ln.Close()
	served := traffic.Serve(ln, &dnUp, &dnDown)

	first := 1 - s.Cut
	if s.OpenOverCut {
		first = s.Cut
	}
	d := ue.Dialer(first)
	d.AfterHandshake = !s.ZeroRTT
	c, err := d.Dial(ctx, netip.AddrPortFrom(lab.DNAddr, s.DNPort))
	if err != nil {
		return rep, err
	}
	defer c.Close()
	if err := uesim.WaitSubflows(ctx, c.TCPConn, 2); err != nil {
		return rep, err
	}

	sampler := timeline.NewSampler(Interval,
		AccessSource(r.Lab, atsss.Access3GPP), AccessSource(r.Lab, atsss.AccessNon3GPP),
		timeline.Source{Name: "app up", Read: dnUp.Read},
		timeline.Source{Name: "app down", Read: ueDown.Read})
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	samplerDone := make(chan error, 1)
	go func() { samplerDone <- sampler.Run(sctx) }()

	moved := make(chan traffic.Result, 1)
	go func() {
		// The UE keeps its write side open: it must be able to rejoin the
		// restored access even if its upload is done by then.
		req := traffic.Request{Up: s.Size, Down: s.Size, Seed: 1, Sequential: s.Sequential, KeepWriteOpen: true}
		moved <- traffic.Run(ctx, c, req, &ueUp, &ueDown)
	}()

	cutAfter := uint64(s.CutAt * float64(2*s.Size))
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	cut, restored := false, false
	for done := false; !done; {
		// traffic.Run ends on ctx too: it closes the connection.
		select {
		case rep.UE = <-moved:
			done = true
		case now := <-tick.C:
			if s.Progress != nil {
				s.Progress(sampler.Line())
			}
			up, _ := dnUp.Read()
			down, _ := ueDown.Read()
			switch {
			case !cut && up+down >= cutAfter:
				if err := cutAccess(ue, r, s); err != nil {
					c.Close()
					return rep, errors.Join(err, (<-moved).Err)
				}
				cut, rep.CutAt = true, now
				sampler.Mark(s.Cut.String() + " cut")
			case cut && !restored && now.Sub(rep.CutAt) >= s.For:
				if err := restore(ctx, r, ue, c.TCPConn, s); err != nil {
					c.Close()
					return rep, errors.Join(err, (<-moved).Err)
				}
				restored, rep.RestoredAt = true, time.Now()
				sampler.Mark("restored")
			}
		}
	}
	if cut && !restored {
		// The transfer ended during the cut: the access still comes back.
		if err := restore(ctx, r, ue, c.TCPConn, s); err != nil {
			return rep, err
		}
		rep.RestoredAt = time.Now()
	}
	stopSampler()
	<-samplerDone
	rep.Timeline = sampler.Timeline()
	c.Close()
	select {
	case rep.DN = <-served:
	case <-time.After(30 * time.Second):
		return rep, errors.New("continuity: the DN server did not finish")
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if !cut {
		return rep, fmt.Errorf("continuity: the transfer ended before %.0f %% of it arrived", 100*s.CutAt)
	}
	return rep, nil
}

// cutAccess cuts the access. A link-down cut is one the UE notices: its
// connection manager drops its endpoint on the link (rig.UE.LinkDown).
func cutAccess(ue *rig.UE, r *rig.Rig, s Scenario) error {
	if s.How == lab.LinkDown {
		return ue.LinkDown(s.Cut)
	}
	return r.Lab.Cut(s.Cut, s.How)
}

// restore brings the cut access back. After a link-down cut the UE's
// connection manager sees the link return and has the path manager open a
// subflow from it again (rejoin), as a real UE does, and restore waits
// until c has a subflow from it; after a silent drop the kernel finds the
// path again by itself.
func restore(ctx context.Context, r *rig.Rig, ue *rig.UE, c *net.TCPConn, s Scenario) error {
	if s.How != lab.LinkDown {
		return r.Lab.Restore(s.Cut)
	}
	if err := ue.LinkUp(s.Cut); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := uesim.WaitSubflowFrom(ctx, c, ue.LinkSpecific[s.Cut]); err != nil {
		return fmt.Errorf("continuity: no subflow over the restored %v access: %w", s.Cut, err)
	}
	return nil
}

// AccessSource reads the bytes both ways on upf's end of access a.
func AccessSource(l *lab.Lab, a atsss.AccessType) timeline.Source {
	return timeline.Source{Name: a.String(), Read: func() (uint64, error) {
		c, err := l.AccessCounters(a)
		return c.RxBytes + c.TxBytes, err
	}}
}
