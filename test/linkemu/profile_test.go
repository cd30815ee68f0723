package linkemu

import (
	"math"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Profile
		ok   bool
	}{
		{"zero", Profile{}, true},
		{"3gpp", Profile{Delay: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01, Seed: 3}, true},
		{"jitter equals delay", Profile{Delay: time.Millisecond, Jitter: time.Millisecond}, true},
		{"all lost", Profile{Loss: 1}, true},
		{"max delay", Profile{Delay: MaxDelay}, true},
		{"negative delay", Profile{Delay: -1}, false},
		{"delay too long", Profile{Delay: MaxDelay + 1}, false},
		{"negative jitter", Profile{Delay: time.Millisecond, Jitter: -1}, false},
		{"jitter above delay", Profile{Delay: time.Millisecond, Jitter: time.Millisecond + 1}, false},
		{"negative loss", Profile{Loss: -0.1}, false},
		{"loss above 1", Profile{Loss: 1.01}, false},
		{"loss NaN", Profile{Loss: math.NaN()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%v) = %v, want ok %t", tc.p, err, tc.ok)
			}
		})
	}
}

// TestDeparture checks the delay line's schedule: frames keep their order,
// none leaves before arrival+Delay-Jitter, and frames far enough apart not
// to wait for each other are delayed by Delay on average.
func TestDeparture(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Profile
		spacing time.Duration
	}{
		{"fixed", Profile{Delay: 10 * time.Millisecond}, 10 * time.Microsecond},
		{"jitter sparse", Profile{Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Seed: 1}, 5 * time.Millisecond},
		{"jitter dense", Profile{Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Seed: 2}, 10 * time.Microsecond},
		{"jitter as large as delay", Profile{Delay: time.Millisecond, Jitter: time.Millisecond, Seed: 3}, time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 100000
			r := tc.p.newRand(0)
			var prev, sum time.Duration
			for i := range n {
				arrival := time.Duration(i) * tc.spacing
				dep := tc.p.departure(arrival, prev, r)
				if dep < prev {
					t.Fatalf("frame %d leaves at %v, before the one ahead of it (%v)", i, dep, prev)
				}
				if lo := arrival + tc.p.Delay - tc.p.Jitter; dep < lo {
					t.Fatalf("frame %d leaves at %v, before %v", i, dep, lo)
				}
				if hi := max(arrival+tc.p.Delay+tc.p.Jitter, prev); dep > hi {
					t.Fatalf("frame %d leaves at %v, after %v", i, dep, hi)
				}
				sum += dep - arrival
				prev = dep
			}
			mean := sum / n
			if tc.spacing > 2*tc.p.Jitter {
				// No frame waits for another: the mean is Delay, to the
				// sampling error of a uniform distribution (σ = J/√3/√n).
				if d := mean - tc.p.Delay; d < -tc.p.Delay/100 || d > tc.p.Delay/100 {
					t.Errorf("mean delay %v, want %v ± 1 %%", mean, tc.p.Delay)
				}
			} else if mean < tc.p.Delay {
				t.Errorf("mean delay %v of back-to-back frames, below %v", mean, tc.p.Delay)
			}
		})
	}
}

func TestLose(t *testing.T) {
	for _, loss := range []float64{0, 0.001, 0.1, 0.5, 1} {
		p := Profile{Loss: loss, Seed: 99}
		r := p.newRand(1)
		const n = 100000
		lost := 0
		for range n {
			if p.lose(r) {
				lost++
			}
		}
		got := float64(lost) / n
		// 5 σ of a binomial proportion, and exact at 0 and 1.
		tol := 5 * math.Sqrt(loss*(1-loss)/n)
		if got < loss-tol || got > loss+tol {
			t.Errorf("loss %g: lost %g, want within %g", loss, got, tol)
		}
	}
	// The same seed gives the same losses: a run can be repeated.
	p := Profile{Loss: 0.3, Seed: 5}
	a, b := p.newRand(0), p.newRand(0)
	for i := range 1000 {
		if p.lose(a) != p.lose(b) {
			t.Fatalf("draw %d differs with the same seed", i)
		}
	}
}

// FuzzDeparture checks the schedule's invariants for any valid profile
// and arrival pattern.
func FuzzDeparture(f *testing.F) {
	f.Add(int64(20e6), int64(0), uint64(0), int64(1000), int64(0))
	f.Add(int64(10e6), int64(2e6), uint64(7), int64(10), int64(5e6))
	f.Add(int64(1e6), int64(1e6), uint64(1), int64(1), int64(0))
	f.Add(int64(0), int64(0), uint64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, delay, jitter int64, seed uint64, spacing, start int64) {
		p := Profile{Delay: time.Duration(delay), Jitter: time.Duration(jitter), Seed: seed}
		if p.Validate() != nil || spacing < 0 || spacing > int64(time.Second) || start < 0 || start > int64(time.Hour) {
			return
		}
		r := p.newRand(0)
		prev := time.Duration(start)
		for i := range 100 {
			arrival := time.Duration(start + int64(i)*spacing)
			dep := p.departure(arrival, prev, r)
			if dep < prev || dep < arrival+p.Delay-p.Jitter || dep > max(arrival+p.Delay+p.Jitter, prev) {
				t.Fatalf("%v: frame %d arrived %v, prev %v, leaves %v", p, i, arrival, prev, dep)
			}
			prev = dep
		}
	})
}
