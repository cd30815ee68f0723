package mptcpproxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

func TestCapRate(t *testing.T) {
	const buf = 256 << 10
	tests := []struct {
		name      string
		bps       uint64
		bufSize   int
		wantRate  rate.Limit
		wantBurst int
	}{
		{"10 Mbit/s: 20 ms of it", 10e6, buf, 1.25e6, 25_000},
		{"64 kbit/s: the floor", 64e3, buf, 8e3, minCapBurst},
		{"1 Gbit/s: one buffer", 1e9, buf, 1.25e8, buf},
		{"a buffer under the floor", 64e3, 1024, 8e3, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, burst := capRate(tt.bps, tt.bufSize)
			if r != tt.wantRate || burst != tt.wantBurst {
				t.Errorf("capRate(%d, %d) = %v, %d; want %v, %d", tt.bps, tt.bufSize, r, burst, tt.wantRate, tt.wantBurst)
			}
		})
	}
}

// TestCapWait: under a cap of 8 Mbit/s (1 MB/s, bursts of 20 kB), 1 MB
// waits 980 ms of (fake) time: the bucket starts full.
func TestCapWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d dirCap
		d.set(8e6, 256<<10)
		tm := time.NewTimer(time.Hour)
		start := time.Now()
		for range 50 {
			size, ok := d.readSize()
			if !ok || size != 20_000 {
				t.Fatalf("readSize: %d, %v; want 20000", size, ok)
			}
			d.wait(size, tm)
		}
		if got := time.Since(start); got < 979*time.Millisecond || got > 981*time.Millisecond {
			t.Errorf("1 MB under 8 Mbit/s took %v, want 980 ms", got)
		}
	})
}

// TestCapChangeWhileWaiting: a wait under a slow cap ends as soon as the
// cap is removed, or re-decides under a faster one.
func TestCapChangeWhileWaiting(t *testing.T) {
	for _, tt := range []struct {
		name string
		to   uint64
		max  time.Duration // of the wait after the change
	}{
		{"removed", 0, 0},
		{"raised to 8 Mbit/s", 8e6, 5 * time.Millisecond}, // 4096 B at 1 MB/s
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var d dirCap
				d.set(80e3, 256<<10) // 10 kB/s, bursts of 4 KiB
				tm := time.NewTimer(time.Hour)
				d.wait(minCapBurst, tm) // the full bucket
				done := make(chan time.Time)
				go func() {
					d.wait(minCapBurst, tm) // 410 ms under the first cap
					done <- time.Now()
				}()
				time.Sleep(10 * time.Millisecond)
				changed := time.Now()
				d.set(tt.to, 256<<10)
				if took := (<-done).Sub(changed); took > tt.max {
					t.Errorf("the wait ended %v after the change, want ≤ %v", took, tt.max)
				}
			})
		})
	}
}

// TestPipeCapOnTheFly relays 8 MiB from one loopback TCP connection to
// another with the splice and the copy paths, sets a cap while the data
// flows and removes it again: every byte arrives in order, and the pipe
// leaves its fast path for the cap and returns to it.
func TestPipeCapOnTheFly(t *testing.T) {
	for _, m := range []RelayMethod{RelaySplice, RelayCopy} {
		t.Run(string(m), func(t *testing.T) {
			p := testProxy(t, Config{})
			p.bufs.New = func() any { b := make([]byte, p.cfg.Relay.BufferSize); return &b }
			in, src := tcpPair(t)  // in writes, the pipe reads src
			dst, out := tcpPair(t) // the pipe writes dst, out reads
			var d dirCap
			const size = 8 << 20
			data := make([]byte, size)
			rand.NewChaCha8([32]byte{1}).Read(data)

			piped := make(chan error, 1)
			go func() {
				n, err := p.pipe(dst, src, m, &d)
				if err == nil && n != size {
					err = io.ErrShortWrite
				}
				dst.CloseWrite()
				piped <- err
			}()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(out)
				got <- b
			}()
			fast := func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.fast
			}
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("never %s", what)
					}
				}
			}
			write := func(b []byte) {
				t.Helper()
				if _, err := in.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			write(data[:1<<20])
			waitFor("on the fast path", fast)
			d.set(800e6, p.cfg.Relay.BufferSize) // 100 MB/s: paced, not slow
			waitFor("off the fast path under a cap", func() bool { return !fast() })
			write(data[1<<20 : 4<<20])
			d.set(0, p.cfg.Relay.BufferSize)
			write(data[4<<20 : 5<<20])
			waitFor("back on the fast path", fast)
			write(data[5<<20:])
			in.CloseWrite()
			if err := <-piped; err != nil {
				t.Fatalf("pipe: %v", err)
			}
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("relayed %d bytes, not the %d written (or not in order)", len(b), size)
			}
		})
	}
}
