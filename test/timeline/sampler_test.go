package timeline

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// phase is a constant rate from a time on, until the next phase.
type phase struct {
	from time.Duration
	mbps float64
}

// counter returns a Read that reports the bytes a flow at the rates of
// phases has carried since start, exactly: under synctest the clock is
// fake and moves only when every goroutine waits, so the samples see
// round numbers.
func counter(start time.Time, phases ...phase) func() (uint64, error) {
	return func() (uint64, error) {
		now := time.Since(start)
		var bits float64
		for i, p := range phases {
			if now <= p.from {
				break
			}
			end := now
			if i+1 < len(phases) {
				end = min(end, phases[i+1].from)
			}
			bits += p.mbps * 1e6 * (end - p.from).Seconds()
		}
		return uint64(math.Round(bits / 8)), nil
	}
}

// handover is the lab demo's story on synthetic counters, 10 s at 100 ms:
// the non-3GPP access is cut at 5 s and restored at 7 s; the application
// stalls 300 ms after the cut until MPTCP has moved its data to 3GPP.
func handover(start time.Time) []Source {
	ms := time.Millisecond
	return []Source{
		{"3GPP", counter(start, phase{0, 30}, phase{5000 * ms, 0}, phase{5300 * ms, 90}, phase{7000 * ms, 30})},
		{"non-3GPP", counter(start, phase{0, 60}, phase{5000 * ms, 0}, phase{7000 * ms, 60})},
		{"app up", counter(start, phase{0, 4}, phase{5000 * ms, 0}, phase{5300 * ms, 4})},
		{"app down", counter(start, phase{0, 86}, phase{5000 * ms, 0}, phase{5300 * ms, 86})},
	}
}

// runHandover runs a Sampler over handover's counters under synctest, marks
// the cut and the restore, and returns the Timeline and the last Line.
func runHandover(t *testing.T) (Timeline, string) {
	t.Helper()
	var tl Timeline
	var line string
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := NewSampler(100*time.Millisecond, handover(start)...)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(5 * time.Second)
		s.Mark("non-3GPP cut")
		time.Sleep(2 * time.Second)
		s.Mark("restored")
		time.Sleep(3*time.Second + 50*time.Millisecond) // past the 100th sample
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		tl, line = s.Timeline(), s.Line()
	})
	return tl, line
}

func TestSamplerHandover(t *testing.T) {
	tl, line := runHandover(t)
	if tl.Len() != 100 {
		t.Fatalf("Len() = %d, want 100", tl.Len())
	}
	cut, ok := tl.MarkTime("non-3GPP cut")
	if !ok {
		t.Fatal("no cut mark")
	}
	restored, _ := tl.MarkTime("restored")
	g3, n3, down := tl.Index("3GPP"), tl.Index("non-3GPP"), tl.Index("app down")

	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"LongestStall(non-3GPP)", tl.LongestStall(n3), 2 * time.Second},
		{"StallAfter(non-3GPP, cut)", tl.StallAfter(n3, cut), 2 * time.Second},
		{"LongestStall(3GPP)", tl.LongestStall(g3), 300 * time.Millisecond},
		{"StallAfter(app down, cut)", tl.StallAfter(down, cut), 300 * time.Millisecond},
		{"StallAfter(app down, restored)", tl.StallAfter(down, restored), 0},
		{"End()-Start", tl.End().Sub(tl.Start), 10 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := tl.BytesBetween(n3, cut, restored); got != 0 {
		t.Errorf("non-3GPP carried %d bytes while cut, want 0", got)
	}
	if got, want := tl.BytesBetween(n3, restored, tl.End()), uint64(60e6/8*3); got != want {
		t.Errorf("non-3GPP carried %d bytes after restore, want %d", got, want)
	}
	for i, want := range map[int]float64{0: 30, 49: 30, 50: 0, 52: 0, 53: 90, 69: 90, 70: 30, 99: 30} {
		if got := tl.Mbps(g3, i); math.Abs(got-want) > 1e-6 {
			t.Errorf("Mbps(3GPP, %d) = %v, want %v", i, got, want)
		}
	}
	want := "t=10.0s  3GPP    30.0 Mbit/s  non-3GPP    60.0 Mbit/s  app up     4.0 Mbit/s  app down    86.0 Mbit/s"
	if line != want {
		t.Errorf("Line() =\n%q, want\n%q", line, want)
	}
}

// TestSamplerSlip has one Read take 2.3 intervals: the ticker drops the
// ticks it missed, and the late sample's bytes are spread over the
// intervals it covered, so the rate stays the flow's true rate.
func TestSamplerSlip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		read := counter(start, phase{0, 80})
		var calls atomic.Int32
		s := NewSampler(100*time.Millisecond, Source{"flow", func() (uint64, error) {
			if calls.Add(1) == 4 { // the sample due at 300 ms
				time.Sleep(230 * time.Millisecond)
			}
			return read()
		}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(time.Second + 50*time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		tl := s.Timeline()
		ms := time.Millisecond
		wantEnds := []time.Duration{100 * ms, 200 * ms, 310 * ms, 420 * ms, 530 * ms, 600 * ms, 700 * ms, 800 * ms, 900 * ms, 1000 * ms}
		if !slices.Equal(tl.Ends, wantEnds) {
			t.Errorf("Ends = %v, want %v", tl.Ends, wantEnds)
		}
		for i := range tl.Len() {
			if got := tl.Mbps(0, i); math.Abs(got-80) > 1e-6 {
				t.Errorf("Mbps(%d) = %v, want 80", i, got)
			}
		}
		if got := tl.LongestStall(0); got != 0 {
			t.Errorf("LongestStall = %v, want 0", got)
		}
	})
}

func TestSamplerReadError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDown := errors.New("link down")
		var calls atomic.Int32
		s := NewSampler(100*time.Millisecond,
			Source{"ok", func() (uint64, error) { return 1, nil }},
			Source{"flaky", func() (uint64, error) {
				if calls.Add(1) == 3 {
					return 0, errDown
				}
				return 10, nil
			}})
		err := s.Run(t.Context())
		if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "flaky") {
			t.Errorf("Run = %v, want an error naming the source and wrapping %v", err, errDown)
		}
		if got := s.Timeline().Len(); got != 1 {
			t.Errorf("Len() = %d after the failed third read, want the 1 interval before it", got)
		}
	})
}

// TestSamplerCounterRestart: a counter that goes backwards restarted from
// zero (an interface recreated), so it counted its new value since.
func TestSamplerCounterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		values := []uint64{1000, 2000, 500, 700}
		var calls atomic.Int32
		s := NewSampler(100*time.Millisecond, Source{"c", func() (uint64, error) {
			return values[min(int(calls.Add(1))-1, len(values)-1)], nil
		}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(350 * time.Millisecond)
		cancel()
		<-done
		if got, want := s.Timeline().Series[0].Bytes, []uint64{1000, 500, 200}; !slices.Equal(got, want) {
			t.Errorf("Bytes = %v, want %v", got, want)
		}
	})
}

// TestSamplerLimit: past Limit the oldest intervals and their marks go,
// and what stays still adds up.
func TestSamplerLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := NewSampler(100*time.Millisecond, Source{"flow", counter(start, phase{0, 8})})
		s.Limit = 8
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(450 * time.Millisecond)
		s.Mark("early")
		time.Sleep(time.Second)
		s.Mark("late")
		time.Sleep(600 * time.Millisecond)
		cancel()
		<-done
		tl := s.Timeline()
		if tl.Len() > 8 || tl.Len() < 6 {
			t.Errorf("Len() = %d, want 6 to 8 (Limit 8, trimmed by a quarter)", tl.Len())
		}
		if got := tl.End().Sub(start); got != 2*time.Second {
			t.Errorf("End() = %v after start, want 2s", got)
		}
		if got := tl.Start.Add(time.Duration(tl.Len()) * 100 * time.Millisecond); !got.Equal(tl.End()) {
			t.Errorf("Start %v + %d intervals != End %v", tl.Start.Sub(start), tl.Len(), tl.End().Sub(start))
		}
		if len(tl.Marks) != 1 || tl.Marks[0].Label != "late" {
			t.Errorf("Marks = %v, want only the late one", tl.Marks)
		}
		for i := range tl.Len() {
			if got := tl.Mbps(0, i); math.Abs(got-8) > 1e-6 {
				t.Errorf("Mbps(%d) = %v, want 8", i, got)
			}
		}
	})
}

func TestSamplerConcurrentReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := NewSampler(10*time.Millisecond, handover(start)...)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		readers := make(chan struct{})
		go func() {
			defer close(readers)
			for ctx.Err() == nil {
				tl := s.Timeline()
				for _, series := range tl.Series {
					if len(series.Bytes) != tl.Len() {
						t.Errorf("series %s has %d intervals, Ends %d", series.Name, len(series.Bytes), tl.Len())
						return
					}
				}
				_ = s.Line()
				s.Mark("tick")
				time.Sleep(7 * time.Millisecond) // let the fake clock move
			}
		}()
		time.Sleep(time.Second)
		cancel()
		<-done
		<-readers
		// A copy is the caller's: changing it leaves the Sampler alone.
		tl := s.Timeline()
		tl.Series[0].Bytes[0] = 12345
		tl.Ends[0] = 0
		if again := s.Timeline(); again.Series[0].Bytes[0] == 12345 || again.Ends[0] == 0 {
			t.Error("Timeline() shares its slices with the Sampler")
		}
	})
}

func TestRunRejects(t *testing.T) {
	read := func() (uint64, error) { return 0, nil }
	tests := []struct {
		name string
		s    *Sampler
	}{
		{"zero interval", NewSampler(0, Source{"a", read})},
		{"negative interval", NewSampler(-time.Second, Source{"a", read})},
		{"interval in nanoseconds by mistake", NewSampler(100, Source{"a", read})},
		{"no sources", NewSampler(time.Second)},
		{"no Read", NewSampler(time.Second, Source{Name: "a"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Run(t.Context()); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

func TestLineBeforeSamples(t *testing.T) {
	s := NewSampler(time.Second, Source{Name: "3GPP"}, Source{Name: "non-3GPP"})
	want := "t=0.0s  3GPP     0.0 Mbit/s  non-3GPP     0.0 Mbit/s"
	if got := s.Line(); got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}
