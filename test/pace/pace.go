package pace

import (
	"context"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// Bulk is the Rate that sends as fast as the writer takes the bytes.
const Bulk = 0

// Tick is how often Send writes at a set rate: 5 Mbit/s is 3.1 kB a tick,
// two or three segments. Coarser ticks send bursts that a subflow whose
// congestion window restarted (after idling, or after losses lowered its
// slow-start threshold) can only send over several round trips, and the
// proxy's saturation measure takes that for a full access; finer ones cost
// wakeups (20 connections each way at 5 ms: 8000 a second).
const Tick = 5 * time.Millisecond

// catchUp is how far a paced Send may fall behind and catch up: a late
// tick (a busy machine) costs no rate, while a sender held up longer (a
// write blocked while an access was cut) sends at most this much at once,
// so its rate stays what was set instead of bursting.
const catchUp = 50 * time.Millisecond

// chunk is the largest single write.
const chunk = 32 << 10

// Rate is a sending rate that may change while Send runs. It is safe for
// concurrent use; the zero Rate is Bulk.
type Rate struct {
	bits atomic.Uint64 // bit/s; 0: Bulk
}

// Set makes the rate mbit Mbit/s (10^6 bit/s); Bulk, a negative value or
// NaN sends as fast as the writer takes it.
func (r *Rate) Set(mbit float64) {
	if math.IsNaN(mbit) || mbit <= 0 {
		r.bits.Store(0)
		return
	}
	r.bits.Store(uint64(min(mbit*1e6, math.MaxInt64)))
}

// Mbit returns the rate in Mbit/s; Bulk is 0.
func (r *Rate) Mbit() float64 { return float64(r.bits.Load()) / 1e6 }

// Send copies src to w at r until ctx ends, src ends or a write fails, and
// returns the bytes written and what ended it: ctx's error, nil for the
// end of src, or the read or write error. At a set rate it writes every
// Tick what the rate allows since the last write; at Bulk it writes 32 KiB
// chunks back to back. A write in progress is not interrupted by ctx:
// close w for that.
func Send(ctx context.Context, w io.Writer, src io.Reader, r *Rate) (int64, error) {
	buf := make([]byte, chunk)
	tick := time.NewTicker(Tick)
	defer tick.Stop()
	var n int64
	var credit float64 // bytes the rate allows and not yet sent
	last := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		want := len(buf)
		if bps := float64(r.bits.Load()) / 8; bps > 0 {
			select {
			case <-ctx.Done():
				return n, ctx.Err()
			case <-tick.C:
			}
			now := time.Now()
			credit = min(credit+bps*now.Sub(last).Seconds(), bps*catchUp.Seconds())
			last = now
			want = int(credit)
			credit -= float64(want)
		} else {
			last, credit = time.Now(), 0
		}
		for want > 0 {
			k, rerr := io.ReadFull(src, buf[:min(want, len(buf))])
			m, err := w.Write(buf[:k])
			n += int64(m)
			if err != nil {
				return n, err
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				return n, nil
			}
			if rerr != nil {
				return n, rerr
			}
			want -= k
		}
	}
}
