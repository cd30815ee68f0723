package timeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Source is one cumulative byte counter, such as an access interface's
// received plus sent bytes or the bytes an application has received so
// far. The Timeline holds its differences.
type Source struct {
	Name string // e.g. "3GPP", "non-3GPP", "app up", "app down"
	// Read returns the counter's current value. Run calls it from its own
	// goroutine once per interval. A value lower than the previous one is
	// taken as a counter that restarted from zero.
	Read func() (uint64, error)
}

// DefaultLimit is the number of intervals a Sampler keeps unless told
// otherwise: an hour at 100 ms. Each interval costs 8 bytes per source plus
// 8 for its time, so with four sources that is 1.4 MB; the demo's two-minute
// run at 100 ms is 1200 intervals.
const DefaultLimit = 36000

// minInterval keeps a mistaken interval (a bare 1 instead of 1*time.Second)
// from turning Run into a busy loop.
const minInterval = time.Millisecond

// Sampler reads its sources every interval and builds a Timeline. Run
// samples; Mark, Timeline and Line may be called from any goroutine while it
// runs.
type Sampler struct {
	interval time.Duration
	sources  []Source

	// Limit caps the intervals kept (0: DefaultLimit). Past it, Run drops
	// the oldest quarter, and the marks before them, so memory stays
	// bounded however long Run runs. Set it before Run.
	Limit int

	// Owned by the Run goroutine.
	prev, cur []uint64
	origin    time.Time // the baseline sample: interval k ends at origin+(k+1)*interval
	dropped   int       // intervals dropped by the limit, to index the grid from origin

	mu sync.Mutex // guards the fields below
	tl Timeline   // grows in place; Timeline copies it out
}

// NewSampler returns a Sampler of sources every interval. Names should be
// distinct: the CSV header and the plot legend show them.
func NewSampler(interval time.Duration, sources ...Source) *Sampler {
	s := &Sampler{interval: interval, sources: slices.Clone(sources)}
	s.tl.Interval = interval
	for _, src := range sources {
		s.tl.Series = append(s.tl.Series, Series{Name: src.Name})
	}
	return s
}

// Run takes a baseline sample, then one every interval until ctx ends, when
// it returns nil; a Read error ends it and is returned. If a sample comes
// late, its bytes are spread evenly over the intervals it covers. The
// partial interval at the end is not sampled. Call Run once.
func (s *Sampler) Run(ctx context.Context) error {
	if s.interval < minInterval {
		return fmt.Errorf("sample every %v: the interval must be at least %v", s.interval, minInterval)
	}
	if len(s.sources) == 0 {
		return errors.New("sample: no sources")
	}
	for _, src := range s.sources {
		if src.Read == nil {
			return fmt.Errorf("source %q: no Read", src.Name)
		}
	}
	if err := s.sample(); err != nil {
		return err
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := s.sample(); err != nil {
				return err
			}
		}
	}
}

// sample reads every source and records the differences from the previous
// sample; the first call only sets the baseline. Only Run calls it.
func (s *Sampler) sample() error {
	s.cur = s.cur[:0]
	for _, src := range s.sources {
		v, err := src.Read()
		if err != nil {
			return fmt.Errorf("read %s: %w", src.Name, err)
		}
		s.cur = append(s.cur, v)
	}
	// The time the reads ended, not the tick's: the tick's time is when it
	// was due, earlier if Run fell behind, and a slow Read returns a value
	// later than it began.
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prev == nil {
		s.origin, s.tl.Start = now, now
		s.prev, s.cur = s.cur, make([]uint64, 0, len(s.sources))
		return nil
	}
	for i, v := range s.cur {
		if v >= s.prev[i] {
			s.cur[i], s.prev[i] = v-s.prev[i], v
		} else { // the counter restarted: it counted v since
			s.cur[i], s.prev[i] = v, v
		}
	}

	// The interval on the grid that ends nearest to now. Rounding lets a
	// sample a little late or early (ticker jitter) land where it belongs.
	k := int(math.Round(float64(now.Sub(s.origin))/float64(s.interval))) - 1 - s.dropped
	n := len(s.tl.Ends)
	if n > 0 && k < n {
		// Two samples in one interval: add to it.
		for i, d := range s.cur {
			s.tl.Series[i].Bytes[n-1] += d
		}
		s.tl.Ends[n-1] = max(s.tl.Ends[n-1], now.Sub(s.tl.Start))
		return nil
	}
	// The sample covers intervals n..k (one, unless Run fell behind):
	// spread its bytes and time evenly, the rounding remainder into the
	// last, so rates over the gap are its average and no byte is lost.
	m := max(k-n+1, 1)
	from := s.tl.Start
	if n > 0 {
		from = from.Add(s.tl.Ends[n-1])
	}
	span := now.Sub(from)
	for j := range m {
		end := from.Add(time.Duration(float64(span) * float64(j+1) / float64(m)))
		s.tl.Ends = append(s.tl.Ends, end.Sub(s.tl.Start))
		for i, d := range s.cur {
			share := d / uint64(m)
			if j == m-1 {
				share = d - share*uint64(m-1)
			}
			s.tl.Series[i].Bytes = append(s.tl.Series[i].Bytes, share)
		}
		s.trim()
	}
	return nil
}

// trim drops the oldest quarter of the intervals once there are more than
// the limit: dropping in bulk keeps the copying amortised. The caller holds
// s.mu.
func (s *Sampler) trim() {
	limit := s.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	n := len(s.tl.Ends)
	if n <= limit {
		return
	}
	d := max(n-limit*3/4, 1)
	base := s.tl.Ends[d-1]
	s.tl.Start = s.tl.Start.Add(base)
	s.tl.Ends = slices.Delete(s.tl.Ends, 0, d)
	for i := range s.tl.Ends {
		s.tl.Ends[i] -= base
	}
	for i := range s.tl.Series {
		s.tl.Series[i].Bytes = slices.Delete(s.tl.Series[i].Bytes, 0, d)
	}
	s.tl.Marks = slices.DeleteFunc(s.tl.Marks, func(m Mark) bool { return m.At.Before(s.tl.Start) })
	s.dropped += d
}

// Mark records an event labelled label at the current time, such as
// "non-3GPP cut" or "restored"; the plot draws it as a vertical line.
func (s *Sampler) Mark(label string) {
	s.mark(label, time.Now())
}

func (s *Sampler) mark(label string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tl.Marks = append(s.tl.Marks, Mark{Label: label, At: at})
}

// Timeline returns a copy of what was sampled so far, consistent (every
// series has every interval) and safe to keep while Run goes on.
func (s *Sampler) Timeline() Timeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tl
	t.Ends = slices.Clone(t.Ends)
	t.Marks = slices.Clone(t.Marks)
	t.Series = slices.Clone(t.Series)
	for i := range t.Series {
		t.Series[i].Bytes = slices.Clone(t.Series[i].Bytes)
	}
	return t
}

// Line returns a one-line status of the last interval for a terminal, e.g.
//
//	t=3.2s  3GPP   212.4 Mbit/s  non-3GPP     0.0 Mbit/s  app up   180.1 Mbit/s
//
// where t is the time since the baseline. Numbers have a fixed width, so
// printing "\r"+Line() redraws it in place.
func (s *Sampler) Line() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tl.line()
}
