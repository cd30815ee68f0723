package linkemu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile is what a Link does to the frames it forwards, the same in both
// directions. The zero Profile forwards at once and loses nothing.
type Profile struct {
	// Delay is the one-way delay added to every frame: an access's RTT
	// is twice its Delay plus the kernels' own few microseconds.
	Delay time.Duration
	// Jitter spreads each frame's delay uniformly over
	// [Delay-Jitter, Delay+Jitter]. Frames never overtake each other: a
	// frame whose sampled departure is earlier than the one before it
	// leaves right after it (see departure). It must not exceed Delay, so
	// that the mean delay stays Delay.
	Jitter time.Duration
	// Loss is the probability (0 to 1) that a frame is dropped, drawn
	// independently for every frame (Bernoulli loss). A GSO frame — a TCP
	// burst of up to 64 KiB that the sender's kernel has not yet cut into
	// segments — is one frame here, so TCP bulk traffic loses bursts;
	// datagrams up to the MTU are lost one by one.
	Loss float64
	// Seed seeds the pseudo-random numbers of loss and jitter, so a run
	// can be repeated: each direction draws from its own PCG stream.
	Seed uint64
}

// MaxDelay bounds Delay: longer delays would only hold more memory.
const MaxDelay = 10 * time.Second

// Validate reports a Profile that a Link cannot carry out.
func (p Profile) Validate() error {
	if p.Delay < 0 || p.Delay > MaxDelay {
		return fmt.Errorf("delay %v: want 0 to %v", p.Delay, MaxDelay)
	}
	if p.Jitter < 0 || p.Jitter > p.Delay {
		return fmt.Errorf("jitter %v: want 0 to the delay (%v)", p.Jitter, p.Delay)
	}
	if math.IsNaN(p.Loss) || p.Loss < 0 || p.Loss > 1 {
		return fmt.Errorf("loss %v: want 0 to 1", p.Loss)
	}
	return nil
}

// IsZero reports whether p is the zero Profile.
func (p Profile) IsZero() bool { return p == Profile{} }

func (p Profile) String() string {
	return fmt.Sprintf("delay %v jitter %v loss %g%% seed %d", p.Delay, p.Jitter, p.Loss*100, p.Seed)
}

// newRand returns the pseudo-random source of one direction (0 or 1).
func (p Profile) newRand(dir int) *rand.Rand {
	return rand.New(rand.NewPCG(p.Seed, uint64(dir)))
}

// lose draws whether a frame is lost.
func (p Profile) lose(r *rand.Rand) bool {
	return p.Loss > 0 && r.Float64() < p.Loss
}

// departure returns when a frame that arrived at arrival leaves, given when
// the frame before it in the same direction leaves (prev). Times are
// offsets on one monotonic clock.
//
// Frames keep their order, unlike netem's jitter, which reorders: TCP and
// MPTCP take reordering for loss (three duplicate ACKs), and real radio and
// Wi-Fi links deliver in order (RLC AM, 802.11 block ack reorder buffers),
// so an in-order delay line is the more faithful model. The price is that
// with jitter, a frame that drew a short delay waits behind a longer one,
// so the mean delay of back-to-back frames is a little above Delay.
func (p Profile) departure(arrival, prev time.Duration, r *rand.Rand) time.Duration {
	d := p.Delay
	if p.Jitter > 0 {
		d += time.Duration(r.Int64N(2*int64(p.Jitter)+1)) - p.Jitter
	}
	return max(arrival+d, prev)
}
