package mptcpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// An operator policy's rate cap (atsss.RateCap) limits each matched
// connection's bit rate, each direction on its own, in the relay: a capped
// direction is copied through user space (splice cannot be paced) and,
// after each read, waits until a token bucket of the cap lets the bytes
// through. The cap counts the TCP payload relayed, not the packets' headers.
//
// An uncapped direction keeps the fast path it has (splice, or a plain
// copy): it pays nothing per read. When a cap comes while it runs, set
// interrupts it with a read deadline in the past, which ends the splice or
// the read in progress without losing a byte (Go's splice empties its pipe
// into the destination before it reads again), and the direction goes on
// paced; when the cap is removed it goes back to its fast path.

const (
	// capBurstTime is how much of its rate a capped direction may send at
	// once: the bucket's depth, and so the largest read. 20 ms keeps the
	// rate even at the scale of a round trip, and bounds how long a read
	// waits, so a new cap takes effect within about that.
	capBurstTime = 20 * time.Millisecond
	// minCapBurst keeps reads of slow caps from being tiny: 4 KiB is a few
	// segments.
	minCapBurst = 4 << 10
)

// aLongTimeAgo is a read deadline that has passed: it interrupts a read.
var aLongTimeAgo = time.Unix(1, 0)

// dirCap is the rate cap of one direction of one connection. Policy
// evaluation sets it; the direction's pipe reads it. Safe for concurrent
// use.
type dirCap struct {
	mu  sync.Mutex // guards the fields below
	bps uint64     // the cap in bit/s; 0: none
	// lim is made with the first cap and kept, set to each new one.
	lim *rate.Limiter
	// changed is closed (and replaced) when the cap changes, to wake a
	// pipe that waits on the old one.
	changed chan struct{}
	// fast: the pipe runs a fast path reading from src, which a new cap
	// must interrupt.
	fast bool
	src  *net.TCPConn
}

// capRate returns the limiter's rate (bytes per second) and burst for a
// cap of bps bit/s and a relay buffer of bufSize bytes: capBurstTime of the
// rate, at least minCapBurst, at most a buffer.
func capRate(bps uint64, bufSize int) (rate.Limit, int) {
	bytes := float64(bps) / 8
	burst := min(max(int(bytes*capBurstTime.Seconds()), minCapBurst), bufSize)
	return rate.Limit(bytes), max(burst, 1)
}

// set makes the cap bps bit/s (0: none); it takes effect at once, for the
// read in progress too.
func (d *dirCap) set(bps uint64, bufSize int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bps == d.bps {
		return
	}
	d.bps = bps
	if bps > 0 {
		r, burst := capRate(bps, bufSize)
		if d.lim == nil {
			d.lim = rate.NewLimiter(r, burst)
		} else {
			d.lim.SetLimit(r)
			d.lim.SetBurst(burst)
		}
		if d.fast {
			d.src.SetReadDeadline(aLongTimeAgo)
		}
	}
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// capBPS returns the cap in bit/s; 0: none.
func (d *dirCap) capBPS() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bps
}

// enterFast reports whether the pipe may run a fast path from src: there
// is no cap. If so, a cap that comes interrupts src's reads.
func (d *dirCap) enterFast(src *net.TCPConn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bps != 0 {
		return false
	}
	d.fast, d.src = true, src
	return true
}

// leaveFast is told how a fast path ended and reports whether it was
// interrupted for a cap, in which case the pipe goes on.
func (d *dirCap) leaveFast(err error) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fast = false
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	// The relay sets no deadline of its own: this one is set's.
	d.src.SetReadDeadline(time.Time{})
	return true
}

// readSize returns how much a paced read may take: the bucket's depth,
// or false when there is no cap any more.
func (d *dirCap) readSize() (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bps == 0 {
		return 0, false
	}
	return d.lim.Burst(), true
}

// wait blocks until the cap lets n more bytes through, or until the cap is
// removed. A cap that changes while it waits re-decides the wait under the
// new cap. t is the caller's timer, reused across waits.
func (d *dirCap) wait(n int, t *time.Timer) {
	for n > 0 {
		d.mu.Lock()
		if d.bps == 0 {
			d.mu.Unlock()
			return
		}
		if d.changed == nil {
			d.changed = make(chan struct{})
		}
		lim, changed := d.lim, d.changed
		d.mu.Unlock()
		// A burst at a time: the cap may have gone down since the read.
		k := min(n, lim.Burst())
		r := lim.ReserveN(time.Now(), k)
		if delay := r.Delay(); delay > 0 {
			t.Reset(delay)
			select {
			case <-t.C:
			case <-changed:
				t.Stop()
				r.Cancel()
				continue
			}
		}
		n -= k
	}
}

// pipe copies src to dst until src's EOF: through the fast path of m
// while the direction is not capped, paced while it is.
func (p *Proxy) pipe(dst, src *net.TCPConn, m RelayMethod, d *dirCap) (int64, error) {
	var total int64
	for {
		if d.enterFast(src) {
			n, err := p.fastCopy(dst, src, m)
			total += n
			if !d.leaveFast(err) {
				return total, err
			}
			continue
		}
		n, done, err := p.pacedCopy(dst, src, d)
		total += n
		if done {
			return total, err
		}
	}
}

// fastCopy copies src to dst until src's EOF. With RelaySplice the kernel
// moves the bytes (net.TCPConn.ReadFrom splices from a TCP or MPTCP
// socket); with RelayCopy they go through a pooled user-space buffer, which
// measured faster when src is MPTCP (see Config.Relay).
func (p *Proxy) fastCopy(dst, src *net.TCPConn, m RelayMethod) (int64, error) {
	if m == RelaySplice {
		return dst.ReadFrom(src)
	}
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	// The wrappers hide ReadFrom and WriteTo, which would splice.
	return io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
}

// pacedCopy copies src to dst under d's cap until src's EOF or an error
// (done), or until the cap is removed (not done: the fast path resumes).
func (p *Proxy) pacedCopy(dst, src *net.TCPConn, d *dirCap) (n int64, done bool, err error) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		size, capped := d.readSize()
		if !capped {
			return n, false, nil
		}
		k, rerr := src.Read(buf[:min(size, len(buf))])
		if k > 0 {
			d.wait(k, t)
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, true, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return n, true, nil
		case rerr != nil:
			return n, true, rerr
		}
	}
}

type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }
