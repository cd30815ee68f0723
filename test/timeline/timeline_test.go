package timeline

import (
	"math"
	"testing"
	"time"
)

const iv = 100 * time.Millisecond

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// grid returns a Timeline of one series whose samples came exactly on time.
func grid(b ...uint64) Timeline {
	t := Timeline{Interval: iv, Start: t0, Series: []Series{{Name: "s", Bytes: b}}}
	for i := range b {
		t.Ends = append(t.Ends, time.Duration(i+1)*iv)
	}
	return t
}

// at returns the time x intervals after t0.
func at(x float64) time.Time { return t0.Add(time.Duration(x * float64(iv))) }

func TestLongestStall(t *testing.T) {
	tests := []struct {
		name   string
		bytes  []uint64
		series int
		want   time.Duration
	}{
		{"empty", nil, 0, 0},
		{"no bytes at all", []uint64{0, 0, 0}, 0, 0},
		{"no stall", []uint64{5, 5, 5}, 0, 0},
		{"one byte", []uint64{0, 7, 0}, 0, 0},
		{"leading and trailing zeros are not stalls", []uint64{0, 0, 5, 5, 0, 0}, 0, 0},
		{"one gap", []uint64{5, 0, 0, 5}, 0, 2 * iv},
		{"longest of several", []uint64{5, 0, 5, 0, 0, 0, 5, 0, 0, 5, 0, 0, 0, 0}, 0, 3 * iv},
		{"gap of one interval", []uint64{0, 1, 0, 1}, 0, iv},
		{"unknown series", []uint64{5, 0, 5}, 1, 0},
		{"negative series", []uint64{5, 0, 5}, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grid(tt.bytes...).LongestStall(tt.series); got != tt.want {
				t.Errorf("LongestStall(%v) = %v, want %v", tt.bytes, got, tt.want)
			}
		})
	}
}

func TestLongestBelow(t *testing.T) {
	const mbit = 12500 // bytes in one interval at 1 Mbit/s
	tests := []struct {
		name  string
		bytes []uint64
		below float64
		want  time.Duration
	}{
		{"trickle, exactly at, and zero are slow", []uint64{10 * mbit, 1000, mbit, 0, 10 * mbit, 2 * mbit, 10 * mbit}, 1, 3 * iv},
		{"nothing slow", []uint64{10 * mbit, 10 * mbit}, 1, 0},
		{"zero threshold is LongestStall", []uint64{5, 0, 0, 5, 1, 5}, 0, 2 * iv},
		{"trailing zeros are not slow", []uint64{10 * mbit, 0, 0}, 1, 0},
		{"no bytes", []uint64{0, 0}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grid(tt.bytes...).LongestBelow(0, tt.below); got != tt.want {
				t.Errorf("LongestBelow(%v, %v) = %v, want %v", tt.bytes, tt.below, got, tt.want)
			}
		})
	}
}

func TestStallAfter(t *testing.T) {
	tests := []struct {
		name  string
		bytes []uint64
		at    time.Time
		want  time.Duration
	}{
		{"cut mid-interval, bytes before the cut in its interval", []uint64{5, 5, 5, 5, 0, 0, 0, 5, 5}, at(3.5), 3 * iv},
		{"an earlier stall is not after the mark", []uint64{5, 0, 5, 5, 0, 0, 5}, at(2.5), 2 * iv},
		{"mark inside a stall counts from the mark's interval", []uint64{5, 0, 0, 0, 0, 5}, at(2.5), 3 * iv},
		{"never carries bytes again", []uint64{5, 5, 0, 0, 0}, at(1.5), 0},
		{"no stall after the mark", []uint64{5, 0, 5, 5, 5}, at(2.5), 0},
		{"mark before the first byte skips the leading zeros", []uint64{0, 0, 5, 0, 5}, at(0), iv},
		{"mark before Start", []uint64{5, 0, 5}, t0.Add(-time.Hour), iv},
		{"mark at a sample's instant belongs to the next interval", []uint64{5, 5, 0, 5}, at(2), iv},
		{"mark at the previous sample's instant", []uint64{5, 5, 0, 5}, at(1), iv},
		{"mark after the end", []uint64{5, 0, 5}, at(10), 0},
		{"no bytes", []uint64{0, 0, 0}, at(0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grid(tt.bytes...).StallAfter(0, tt.at); got != tt.want {
				t.Errorf("StallAfter(%v, %v) = %v, want %v", tt.bytes, tt.at.Sub(t0), got, tt.want)
			}
		})
	}
	if got := grid(5, 0, 5).StallAfter(3, at(0)); got != 0 {
		t.Errorf("StallAfter of an unknown series = %v, want 0", got)
	}
}

func TestBytesBetween(t *testing.T) {
	b := []uint64{1, 2, 4, 8, 16}
	tests := []struct {
		name     string
		from, to time.Time
		want     uint64
	}{
		{"all", t0, at(5), 31},
		{"wider than the timeline", t0.Add(-time.Hour), t0.Add(time.Hour), 31},
		{"whole intervals", at(2), at(4), 4 + 8},
		{"inside one interval", at(2.5), at(2.6), 4},
		{"straddling two intervals", at(2.5), at(3.5), 4 + 8},
		{"from the last sample on", at(5), at(9), 0},
		{"before Start", t0.Add(-time.Second), t0, 0},
		{"empty range", at(3), at(3), 0},
		{"reversed range", at(4), at(1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grid(b...).BytesBetween(0, tt.from, tt.to); got != tt.want {
				t.Errorf("BytesBetween(%v, %v) = %d, want %d", tt.from.Sub(t0), tt.to.Sub(t0), got, tt.want)
			}
		})
	}
	if got := grid(b...).BytesBetween(1, t0, at(5)); got != 0 {
		t.Errorf("BytesBetween of an unknown series = %d, want 0", got)
	}
}

func TestMbps(t *testing.T) {
	// The second sample came 100 ms late: its interval lasted 200 ms, so
	// twice the bytes are the same rate.
	tl := Timeline{
		Interval: iv,
		Start:    t0,
		Ends:     []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond},
		Series:   []Series{{Name: "s", Bytes: []uint64{125000, 250000, 125000, 125000}}},
	}
	tests := []struct {
		series, i int
		want      float64
	}{
		{0, 0, 10},
		{0, 1, 10},
		{0, 2, 10},
		{0, 3, 10}, // no time between samples: the nominal interval
		{0, 4, 0},
		{0, -1, 0},
		{1, 0, 0},
	}
	for _, tt := range tests {
		if got := tl.Mbps(tt.series, tt.i); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Mbps(%d, %d) = %v, want %v", tt.series, tt.i, got, tt.want)
		}
	}
}

func TestLookups(t *testing.T) {
	tl := grid(1, 2)
	tl.Series = append(tl.Series, Series{Name: "other", Bytes: []uint64{0, 0}})
	tl.Marks = []Mark{{Label: "cut", At: at(1)}, {Label: "cut", At: at(2)}}
	if got := tl.Index("other"); got != 1 {
		t.Errorf(`Index("other") = %d, want 1`, got)
	}
	if got := tl.Index("none"); got != -1 {
		t.Errorf(`Index("none") = %d, want -1`, got)
	}
	if got, ok := tl.MarkTime("cut"); !ok || !got.Equal(at(1)) {
		t.Errorf(`MarkTime("cut") = %v, %v; want the first, %v`, got, ok, at(1))
	}
	if _, ok := tl.MarkTime("restored"); ok {
		t.Error(`MarkTime("restored") found a mark that is not there`)
	}
	if got := tl.End(); !got.Equal(at(2)) {
		t.Errorf("End() = %v, want %v", got, at(2))
	}
	if got := (Timeline{Start: t0}).End(); !got.Equal(t0) {
		t.Errorf("End() of an empty Timeline = %v, want Start", got)
	}
}

// FuzzStall checks the stall and byte queries against plain definitions
// written the slow way.
func FuzzStall(f *testing.F) {
	f.Add([]byte{5, 0, 0, 5}, uint8(0))
	f.Add([]byte{0, 0, 5, 5, 0, 0}, uint8(1))
	f.Add([]byte{5, 0, 5, 0, 0, 0, 5, 0}, uint8(2))
	f.Add([]byte{5, 0, 0, 0, 0, 5}, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, mark uint8) {
		b := make([]uint64, len(raw))
		var sum uint64
		for i, v := range raw {
			b[i] = uint64(v % 4) // mostly zeros and small runs
			sum += b[i]
		}
		tl := grid(b...)
		k := int(mark)

		first, last := len(b), -1
		for i, v := range b {
			if v != 0 {
				first, last = min(first, i), i
			}
		}
		inside := func(i int) bool { return first < i && i < last } // between the first and the last byte
		var longest, run, after int
		afterDone := false
		for i := range b {
			if b[i] == 0 && inside(i) {
				run++
				longest = max(longest, run)
				if i >= k && !afterDone {
					after++
				}
				continue
			}
			run = 0
			if after > 0 {
				afterDone = true
			}
		}
		if got, want := tl.LongestStall(0), time.Duration(longest)*iv; got != want {
			t.Errorf("LongestStall(%v) = %v, want %v", b, got, want)
		}
		// A mark at k+0.5 intervals lies in interval k.
		if got, want := tl.StallAfter(0, at(float64(k)+0.5)), time.Duration(after)*iv; got != want {
			t.Errorf("StallAfter(%v, %d) = %v, want %v", b, k, got, want)
		}
		if got := tl.BytesBetween(0, t0, tl.End()); got != sum {
			t.Errorf("BytesBetween(%v, all) = %d, want %d", b, got, sum)
		}
		if k < len(b) {
			if got := tl.BytesBetween(0, at(float64(k)), at(float64(k+1))); got != b[k] {
				t.Errorf("BytesBetween(%v, interval %d) = %d, want %d", b, k, got, b[k])
			}
		}
	})
}
