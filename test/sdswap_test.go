package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/traffic"
)

// watchStall logs the state of the kernels and the emulators once when a
// direction of a transfer of size bytes each way made no progress for
// stall before it was complete: the UE's and upf's TCP and MPTCP sockets
// with their memory (ss -tanMmi), their counters (nstat) and each
// emulator's counters. It runs until ctx ends; wait for it before the
// test ends, as it logs to t.
func watchStall(ctx context.Context, t *testing.T, r *rig.Rig, up, down *traffic.Counter, size uint64, stall time.Duration) {
	var last [2]uint64
	lastMove := [2]time.Time{time.Now(), time.Now()}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var now [2]uint64
		now[0], _ = up.Read()
		now[1], _ = down.Read()
		for i, name := range []string{"uplink", "downlink"} {
			if now[i] != last[i] || now[i] >= size {
				last[i], lastMove[i] = now[i], time.Now()
				continue
			}
			if d := time.Since(lastMove[i]); d >= stall {
				t.Logf("%s stalled for %v (up %d, down %d of %d):\n%s", name, d.Round(time.Millisecond), now[0], now[1], size, kernelState(ctx, r))
				return
			}
		}
	}
}

// kernelState describes the subflows, counters and emulators of r's lab.
func kernelState(ctx context.Context, r *rig.Rig) string {
	var b strings.Builder
	for _, ns := range []struct {
		name string
		cmd  func(string, ...string) ([]byte, error)
	}{
		{"ue", func(n string, a ...string) ([]byte, error) { return r.Lab.UE.Command(ctx, n, a...).CombinedOutput() }},
		{"upf", func(n string, a ...string) ([]byte, error) { return r.Lab.UPF.Command(ctx, n, a...).CombinedOutput() }},
	} {
		for _, args := range [][]string{
			{"ss", "-tanMmi"},
			{"nstat", "-asz", "MPTcpExt*", "Tcp*", "Ip*"},
			{"ip", "mptcp", "endpoint", "show"},
			{"ip", "route", "show", "table", "all"},
		} {
			out, err := ns.cmd(args[0], args[1:]...)
			fmt.Fprintf(&b, "--- %s: %s (%v)\n%s", ns.name, strings.Join(args, " "), err, out)
		}
	}
	for _, a := range atsss.Accesses {
		st, err := r.Lab.EmulationStats(a)
		fmt.Fprintf(&b, "--- %v emulator (uplink, downlink): %+v %v\n", a, st, err)
	}
	return b.String()
}

// pathTrace records, every interval until ctx ends, the PMF RTT of each
// access as steering sees it and the emulators' counters, one line per
// sample, and sends the lines to out when ctx ends (for a failing test's
// log).
func pathTrace(ctx context.Context, r *rig.Rig, interval time.Duration, out chan<- []string) {
	var lines []string
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			out <- lines
			return
		case <-tick.C:
		}
		line := fmt.Sprintf("%6.1fs", time.Since(start).Seconds())
		if ps, err := r.Daemon.Paths(ctx); err == nil && len(ps) == 1 {
			for _, p := range ps[0].Paths {
				line += fmt.Sprintf(" %s %5.1fms", p.Access, float64(p.PMFRTTMicros)/1000)
			}
		}
		for _, a := range atsss.Accesses {
			if st, err := r.Lab.EmulationStats(a); err == nil {
				line += fmt.Sprintf(" | %v up %d/%dMB kd%d ov%d er%d down %d/%dMB kd%d ov%d er%d", a,
					st[0].Frames, st[0].Bytes>>20, st[0].KernelDrops, st[0].Overflow, st[0].Errors,
					st[1].Frames, st[1].Bytes>>20, st[1].KernelDrops, st[1].Overflow, st[1].Errors)
			}
		}
		lines = append(lines, line)
	}
}
