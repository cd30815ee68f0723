package linkemu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes. A frame is read into a big buffer, which can hold a GSO
// frame (veth's gso_max_size is 64 KiB, headers included; BIG TCP is off
// unless configured) with its virtio_net_hdr; one that fits a small buffer
// is copied there, so that a delay line full of 1500-byte frames holds
// 2 KiB per frame, not 68 KiB. A longer frame is counted in Errors.
const (
	bigBuf   = 68 << 10
	smallBuf = 2 << 10
)

// Bounds of one direction's delay line, in frames and in bytes of
// buffers. A frame that finds it full is dropped and counted as Overflow.
// 16384 frames carry 10 ms at 20 Gbit/s of 1500-byte frames; 128 MiB of
// 68 KiB buffers, 20 ms at 25 Gbit/s of GSO frames: both far above what
// the lab's 2 vCPUs forward (BenchmarkEmuThroughput in test/lab).
const (
	maxQueuedFrames = 16384
	maxQueuedBytes  = 128 << 20
)

var (
	bigPool   = sync.Pool{New: func() any { b := make([]byte, bigBuf); return &b }}
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
)

func putBuf(b *[]byte) {
	if cap(*b) == bigBuf {
		bigPool.Put(b)
	} else {
		smallPool.Put(b)
	}
}

// frame is a frame in a delay line: virtio_net_hdr and Ethernet frame in
// (*buf)[:n], to leave at dep (an offset from Link.t0).
type frame struct {
	buf *[]byte
	n   int
	dep time.Duration
}

// Stats counts what one direction of a Link did.
type Stats struct {
	// Frames and Bytes were forwarded (Bytes from the Ethernet header on;
	// a GSO frame counts once, with all its bytes).
	Frames, Bytes uint64
	// Lost frames were dropped by the profile's Loss.
	Lost uint64
	// Overflow frames were dropped because the delay line was full.
	Overflow uint64
	// KernelDrops were dropped by the kernel before the Link read them:
	// the socket's receive buffer was full.
	KernelDrops uint64
	// Errors counts failed reads and writes; the frame is gone. A write to
	// a middle link whose far end is down (a cut) mostly succeeds: the
	// kernel drops the frame itself, and it counts in Frames.
	Errors uint64
}

// counters are a direction's Stats as the goroutines update them.
type counters struct {
	frames, bytes, lost, overflow, errors atomic.Uint64
	queued                                atomic.Int64 // bytes of buffers in the delay line
}

// Link forwards frames between two interfaces, A and B, through a delay
// line per direction. Direction 0 is A→B, direction 1 is B→A. Each
// direction has a reader goroutine, which timestamps and drops frames,
// and a writer goroutine, which sends each frame when its time comes; a
// bounded channel between them is the delay line.
//
// Its methods are safe for concurrent use.
type Link struct {
	sock   [2]*packetSocket // A, B
	timers [2]*timer        // per direction, owned by its writer
	// t0 and m0 are the same instant on Go's monotonic clock and on
	// CLOCK_MONOTONIC, the timerfds' clock.
	t0      time.Time
	m0      int64
	profile atomic.Pointer[Profile]
	c       [2]counters
	wg      sync.WaitGroup

	// closing is set before the sockets and timers close: a closed
	// os.File's raw reads and writes fail with internal/poll's
	// ErrFileClosing, which os.ErrClosed does not match.
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex // guards the field below
	kernelDrops [2]uint64
}

// Open starts forwarding between the interfaces named a and b of the
// calling thread's network namespace, with profile p, until Close. It
// raises GOMAXPROCS by 4 while the Link is open (see procsPerLink). The
// interfaces must exist and be up; they carry no addresses of their own
// (the Link is not an endpoint and sends nothing of its own).
func Open(a, b string, p Profile) (*Link, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("link emulator %s-%s: %w", a, b, err)
	}
	l := &Link{}
	l.profile.Store(&p)
	var err error
	for i, name := range []string{a, b} {
		if l.sock[i], err = openPacket(name); err != nil {
			return nil, errors.Join(fmt.Errorf("link emulator %s-%s: %w", a, b, err), l.closeAll())
		}
		if l.timers[i], err = newTimer(); err != nil {
			return nil, errors.Join(fmt.Errorf("link emulator %s-%s: %w", a, b, err), l.closeAll())
		}
	}
	l.t0 = time.Now()
	if l.m0, err = monotonic(); err != nil {
		return nil, errors.Join(fmt.Errorf("link emulator %s-%s: %w", a, b, err), l.closeAll())
	}
	addProcs() // see procsPerLink
	for dir := range 2 {
		q := make(chan frame, maxQueuedFrames)
		l.wg.Add(2)
		go l.read(dir, q)
		go l.write(dir, q)
	}
	return l, nil
}

// SetProfile replaces the profile, for frames that arrive from now on;
// frames already in a delay line keep their departure time. Since frames
// keep their order, after a shorter Delay the new frames wait behind the
// old ones: the change is complete after the old Delay. A new Seed
// restarts the random streams.
func (l *Link) SetProfile(p Profile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("link emulator: %w", err)
	}
	l.profile.Store(&p)
	return nil
}

// Stats returns the counters of both directions: [0] is A→B, [1] B→A.
func (l *Link) Stats() [2]Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s [2]Stats
	for dir := range 2 {
		// The reading socket's drops; after Close the last known count.
		if n, err := l.sock[dir].drops(); err == nil {
			l.kernelDrops[dir] += n
		}
		c := &l.c[dir]
		s[dir] = Stats{
			Frames:      c.frames.Load(),
			Bytes:       c.bytes.Load(),
			Lost:        c.lost.Load(),
			Overflow:    c.overflow.Load(),
			KernelDrops: l.kernelDrops[dir],
			Errors:      c.errors.Load(),
		}
	}
	return s
}

// Close stops forwarding: frames in the delay lines are dropped. It waits
// for the goroutines to end and gives back the Ps that Open added to
// GOMAXPROCS (see procsPerLink). It is idempotent.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		l.closeErr = l.closeAll()
		l.wg.Wait()
		releaseProcs()
	})
	return l.closeErr
}

// closeAll closes the sockets, which ends the readers, and the timers,
// which ends a writer that waits.
func (l *Link) closeAll() error {
	var errs []error
	for i := range 2 {
		if l.sock[i] != nil {
			errs = append(errs, l.sock[i].close())
		}
		if l.timers[i] != nil {
			errs = append(errs, l.timers[i].close())
		}
	}
	return errors.Join(errs...)
}

// read is direction dir's reader: it owns the direction's random source
// and the departure of the last frame queued.
func (l *Link) read(dir int, q chan<- frame) {
	defer l.wg.Done()
	defer close(q)
	in, c := l.sock[dir], &l.c[dir]
	var (
		rng  *rand.Rand
		seed uint64
		prev time.Duration
	)
	for {
		bp := bigPool.Get().(*[]byte)
		n, err := in.read(*bp)
		if err != nil {
			bigPool.Put(bp)
			if l.closing.Load() {
				return
			}
			// ENETDOWN (the interface went down; the socket rebinds when it
			// comes back), EINVAL (a GSO type virtio_net_hdr cannot
			// describe): the frame is gone, the socket still works. The
			// pause keeps an unforeseen lasting error from spinning.
			c.errors.Add(1)
			time.Sleep(time.Millisecond)
			continue
		}
		if n <= vnetHdrLen || n == len(*bp) { // empty, or cut to the buffer
			bigPool.Put(bp)
			c.errors.Add(1)
			continue
		}
		arrival := time.Since(l.t0)
		p := l.profile.Load()
		if rng == nil || p.Seed != seed {
			rng, seed = p.newRand(dir), p.Seed
		}
		if p.lose(rng) {
			bigPool.Put(bp)
			c.lost.Add(1)
			continue
		}
		dep := p.departure(arrival, prev, rng)
		if n <= smallBuf {
			sp := smallPool.Get().(*[]byte)
			copy(*sp, (*bp)[:n])
			bigPool.Put(bp)
			bp = sp
		}
		size := int64(cap(*bp))
		if c.queued.Add(size) > maxQueuedBytes {
			c.queued.Add(-size)
			putBuf(bp)
			c.overflow.Add(1)
			continue
		}
		select {
		case q <- frame{buf: bp, n: n, dep: dep}:
			prev = dep
		default:
			c.queued.Add(-size)
			putBuf(bp)
			c.overflow.Add(1)
		}
	}
}

// write is direction dir's writer: it owns the direction's timer.
func (l *Link) write(dir int, q <-chan frame) {
	defer l.wg.Done()
	out, tm, c := l.sock[1-dir], l.timers[dir], &l.c[dir]
	stopped := false
	for f := range q {
		if !stopped && f.dep > time.Since(l.t0) {
			if err := tm.waitUntil(l.m0 + int64(f.dep)); err != nil && l.closing.Load() {
				stopped = true
			} else if err != nil {
				c.errors.Add(1) // sent early rather than never
			}
		}
		if !stopped {
			if err := out.write((*f.buf)[:f.n]); err != nil && l.closing.Load() {
				stopped = true
			} else if err != nil {
				c.errors.Add(1)
			} else {
				c.frames.Add(1)
				c.bytes.Add(uint64(f.n - vnetHdrLen))
			}
		}
		c.queued.Add(-int64(cap(*f.buf)))
		putBuf(f.buf)
	}
}
