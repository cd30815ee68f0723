package timeline

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Timeline is a throughput record: the bytes each series carried in each
// interval, when each interval's sample was taken, and the events marked
// along the way. Sampler.Timeline returns one; tests may also build one
// literally. Its methods only read it, so a Timeline value may be shared
// between goroutines as long as nobody writes its slices.
//
// Interval i runs from Start+Ends[i-1] (Start for i = 0) to Start+Ends[i].
// Nominally every interval is Interval long; when the sampler fell behind
// (a slow Read, a busy machine) the bytes of a late sample are spread over
// the intervals it covered, so the indices stay on the Interval grid — stall
// lengths count them — while Ends keeps the times actually measured — the
// rates use them.
type Timeline struct {
	Interval time.Duration
	Start    time.Time       // when the baseline sample was taken
	Ends     []time.Duration // Ends[i]: when interval i's sample was taken, from Start
	Series   []Series
	Marks    []Mark
}

// Series is one counter's bytes per interval; len(Bytes) == len(Ends).
type Series struct {
	Name  string
	Bytes []uint64
}

// Mark is an event on the timeline, such as "non-3GPP cut" or "restored".
type Mark struct {
	Label string
	At    time.Time
}

// Len returns the number of intervals.
func (t Timeline) Len() int { return len(t.Ends) }

// End returns when the last interval ended (Start if there is none).
func (t Timeline) End() time.Time {
	if len(t.Ends) == 0 {
		return t.Start
	}
	return t.Start.Add(t.Ends[len(t.Ends)-1])
}

// Index returns the index of the series named name, or -1.
func (t Timeline) Index(name string) int {
	for i, s := range t.Series {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// MarkTime returns the time of the first mark labelled label.
func (t Timeline) MarkTime(label string) (time.Time, bool) {
	for _, m := range t.Marks {
		if m.Label == label {
			return m.At, true
		}
	}
	return time.Time{}, false
}

// bytes returns series i's bytes, or nil if there is no such series.
func (t Timeline) bytes(series int) []uint64 {
	if series < 0 || series >= len(t.Series) {
		return nil
	}
	b := t.Series[series].Bytes
	return b[:min(len(b), len(t.Ends))]
}

// elapsed returns how long interval i actually lasted: the measured time
// between its sample and the previous one, or Interval where the times do
// not say (two samples at one instant).
func (t Timeline) elapsed(i int) time.Duration {
	if i < 0 || i >= len(t.Ends) {
		return t.Interval
	}
	var prev time.Duration
	if i > 0 {
		prev = t.Ends[i-1]
	}
	if d := t.Ends[i] - prev; d > 0 {
		return d
	}
	return t.Interval
}

// Mbps returns series' rate in interval i in Mbit/s (10⁶ bit/s), over the
// interval's measured length; 0 for an index out of range.
func (t Timeline) Mbps(series, i int) float64 {
	b := t.bytes(series)
	if i < 0 || i >= len(b) {
		return 0
	}
	d := t.elapsed(i)
	if d <= 0 {
		return 0
	}
	return float64(b[i]) * 8 / d.Seconds() / 1e6
}

// span returns the first and last intervals in which series carried bytes.
func span(b []uint64) (first, last int, ok bool) {
	first = -1
	for i, v := range b {
		if v != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last, first >= 0
}

// LongestStall returns the longest run of consecutive intervals in which
// series carried no bytes, as a multiple of Interval. Intervals before the
// series' first byte and after its last are not stalls: the transfer had
// not begun or was over. 0 for an unknown series.
func (t Timeline) LongestStall(series int) time.Duration {
	return t.LongestBelow(series, 0)
}

// LongestBelow is LongestStall for a slow spell: the longest run of
// intervals in which series ran at no more than mbit Mbit/s. A connection
// that trickles a few packets a second is not stalled by LongestStall's
// count, but is for the user.
func (t Timeline) LongestBelow(series int, mbit float64) time.Duration {
	b := t.bytes(series)
	first, last, ok := span(b)
	if !ok {
		return 0
	}
	longest, run := 0, 0
	for i := first; i <= last; i++ {
		if b[i] != 0 && (mbit == 0 || t.Mbps(series, i) > mbit) {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return time.Duration(longest) * t.Interval
}

// StallAfter returns the first stall of series (a run of intervals without
// bytes, as in LongestStall) in the interval holding at or later, counted
// from that interval: the outage a mark such as "non-3GPP cut" caused. It is
// 0 if the series never stalled after at, and also if it never carried bytes
// again — check that with BytesBetween(series, at, t.End()).
func (t Timeline) StallAfter(series int, at time.Time) time.Duration {
	b := t.bytes(series)
	first, last, ok := span(b)
	if !ok {
		return 0
	}
	for i := max(t.slot(at), first); i < last; i++ {
		if b[i] != 0 {
			continue
		}
		j := i
		for b[j] == 0 { // stops at last at the latest: b[last] != 0
			j++
		}
		return time.Duration(j-i) * t.Interval
	}
	return 0
}

// slot returns the interval holding time at: the first whose sample was
// taken after at. A mark taken at the very instant of a sample belongs to
// the next interval, since the bytes that sample counted came before it.
func (t Timeline) slot(at time.Time) int {
	off := at.Sub(t.Start)
	return sort.Search(len(t.Ends), func(i int) bool { return t.Ends[i] > off })
}

// BytesBetween returns the bytes series carried in the intervals that
// overlap [from, to), for instance whether the non-3GPP access carried any
// after it was restored: BytesBetween(i, restored, t.End()). Intervals are
// the resolution: an interval partly inside counts whole.
func (t Timeline) BytesBetween(series int, from, to time.Time) uint64 {
	b := t.bytes(series)
	hi := to.Sub(t.Start)
	var sum uint64
	for i := t.slot(from); i < len(b); i++ {
		var begin time.Duration
		if i > 0 {
			begin = t.Ends[i-1]
		}
		if begin >= hi {
			break
		}
		sum += b[i] // it ends after from: slot said so
	}
	return sum
}

// line formats the last interval's rates as Sampler.Line documents.
func (t Timeline) line() string {
	var sb strings.Builder
	n := len(t.Ends)
	var at time.Duration
	if n > 0 {
		at = t.Ends[n-1]
	}
	fmt.Fprintf(&sb, "t=%.1fs", at.Seconds())
	for i, s := range t.Series {
		// Fixed width so that a line redrawn in place does not jitter.
		fmt.Fprintf(&sb, "  %s %7.1f Mbit/s", s.Name, t.Mbps(i, n-1))
	}
	return sb.String()
}
