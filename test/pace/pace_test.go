package pace

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestSendPaced runs Send in a synctest bubble, where time is exact: at a
// set rate it writes what the rate allows, to within a tick.
func TestSendPaced(t *testing.T) {
	tests := []struct {
		name string
		mbit float64
		for_ time.Duration
	}{
		{"5 Mbit/s for 2 s", 5, 2 * time.Second},
		{"0.1 Mbit/s for 10 s", 0.1, 10 * time.Second},
		{"200 Mbit/s for 1 s", 200, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r Rate
				r.Set(tt.mbit)
				ctx, cancel := context.WithTimeout(t.Context(), tt.for_)
				defer cancel()
				var out bytes.Buffer
				n, err := Send(ctx, &out, zeros{}, &r)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Send: %v, want the deadline", err)
				}
				want := tt.mbit * 1e6 / 8 * tt.for_.Seconds()
				perTick := tt.mbit * 1e6 / 8 * Tick.Seconds()
				if got := float64(n); got < want-perTick || got > want+perTick || int64(out.Len()) != n {
					t.Errorf("sent %d bytes (buffer %d), want %.0f ± %.0f", n, out.Len(), want, perTick)
				}
			})
		})
	}
}

// TestSendRateChange changes the rate while Send runs: bulk in between
// sends everything at once, and a sender held up does not catch up.
func TestSendRateChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Rate
		r.Set(8) // 1 MB/s
		w := &gate{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int64)
		go func() {
			n, _ := Send(ctx, w, zeros{}, &r)
			done <- n
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := w.n; got < 1_000_000-5_000 || got > 1_000_000 {
			t.Errorf("after 1 s at 8 Mbit/s: %d bytes", got)
		}
		// Held up for 10 s: afterwards at most four ticks' worth at once.
		w.hold()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		before := w.n
		w.release()
		time.Sleep(Tick)
		synctest.Wait()
		// The write held up, the catch-up cap, the tick after: 10 s would
		// be 10 MB.
		if burst := w.n - before; burst > 3*5_000+50_000 {
			t.Errorf("after being held up 10 s, Send caught up with %d bytes", burst)
		}
		cancel()
		<-done
	})
}

func TestSendBulkAndEnd(t *testing.T) {
	var out bytes.Buffer
	var r Rate // Bulk
	n, err := Send(t.Context(), &out, strings.NewReader(strings.Repeat("x", 100_000)), &r)
	if err != nil || n != 100_000 || out.Len() != 100_000 {
		t.Errorf("Send of 100 kB at Bulk: %d, %v (buffer %d)", n, err, out.Len())
	}
	if _, err := Send(t.Context(), failing{}, zeros{}, &r); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Send to a failing writer: %v", err)
	}
}

func TestRateSet(t *testing.T) {
	var r Rate
	for _, tt := range []struct{ set, want float64 }{{5, 5}, {Bulk, 0}, {-1, 0}, {0.25, 0.25}} {
		r.Set(tt.set)
		if got := r.Mbit(); got != tt.want {
			t.Errorf("Set(%v): Mbit %v, want %v", tt.set, got, tt.want)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// gate is a writer that blocks while held; n is read only when its
// writer is durably blocked or idle (synctest.Wait).
type gate struct {
	mu      sync.Mutex    // guards blocked
	blocked chan struct{} // nil: open
	n       int
}

func (g *gate) hold() {
	g.mu.Lock()
	g.blocked = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.blocked)
	g.blocked = nil
	g.mu.Unlock()
}

func (g *gate) Write(b []byte) (int, error) {
	g.mu.Lock()
	ch := g.blocked
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
	g.n += len(b)
	return len(b), nil
}
