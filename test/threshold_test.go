package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/traffic"
)

// TestNetnsSteeringThresholds: a Load-Balancing 50/50 session with a Rel-17
// threshold (TS 29.244 §8.2.196) splits its connections over both accesses
// while the 3GPP access is under the threshold; when the link emulator
// takes 3GPP over it, the PMF measures it and steering moves the traffic
// to non-3GPP (all but maxOver), the connection already pinned to 3GPP
// mid-transfer and new ones alike; when 3GPP is back under, new
// connections split again. The shares are of the bytes on the two access
// links, both ways, except over the threshold, where the downlink alone is
// asserted (see downShare3GPP); how long steering took is logged, not
// asserted.
//
// Measured by the PMF through the emulator, over the shaped links: the
// RTT of its 50 ms echoes, and the downlink PLR of 3 s windows of about 60
// echoes (1.7 % steps). A shaped link under a bulk transfer queues and
// drops like any bottleneck, and the PMF measures that too: tbf's queue
// (10 ms plus a 10 ms burst each way at 100 Mbit/s) can add up to 40 ms to
// an echo's RTT, so the RTT threshold is 60 ms with 10 ms under it and
// 80 ms over; 15 % emulated loss against a 5 % threshold makes a window
// read 4 % or less (the hysteresis' way back) with a probability of about
// 0.4 %, where 10 % loss would do so one window in 20 and flap.
func TestNetnsSteeringThresholds(t *testing.T) {
	tests := []struct {
		name, thresholds string
		// under and over are the 3GPP access's emulation below and above
		// the threshold; non-3GPP keeps base.
		under, over linkemu.Profile
	}{
		{"rtt", "rtt=60ms",
			linkemu.Profile{Delay: 5 * time.Millisecond}, linkemu.Profile{Delay: 40 * time.Millisecond}},
		{"loss", "plr=5",
			linkemu.Profile{Delay: 2 * time.Millisecond, Loss: 0.005, Seed: 2}, linkemu.Profile{Delay: 2 * time.Millisecond, Loss: 0.15, Seed: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			thresholdMoves(t, tc.thresholds, tc.under, tc.over)
		})
	}
}

// maxOver is the most of the bytes the access over the threshold may carry
// (without steering it would be half). Not 0: a new connection's UE sends
// its first tens of KiB up over both subflows until the proxy's MP_PRIO
// reaches it, and one opened over the lossy access sometimes starts there
// (measured, six runs: 50-80 KiB on 3GPP for each connection opened over
// it, 1.0-1.4 % of all bytes; with 1 MiB down and 256 KiB up per
// connection 1.5-6.7 %, hence the larger transfers); an existing
// connection has data in flight on the old access when the decision moves
// (1.4-5.3 %).
const maxOver = 10

func thresholdMoves(t *testing.T, thresholds string, under, over linkemu.Profile) {
	base := linkemu.Profile{Delay: 2 * time.Millisecond, Seed: 1}
	r := newRig(t, rig.Options{
		Lab: lab.Config{
			Emulate: [2]linkemu.Profile{atsss.Access3GPP: base, atsss.AccessNon3GPP: base},
			Rate:    [2]lab.Rate{{UpMbit: 100, DownMbit: 100}, {UpMbit: 100, DownMbit: 100}},
		},
		Proxy:    map[string]any{"steering": true},
		PMF:      map[string]any{"echo_interval": "50ms", "rtt_gain": 0.25, "plr_interval": "3s"},
		LogLevel: "debug", // the backup flag changes tell when steering acted
	})
	ctx := t.Context()
	ue, err := r.Establish(ctx, rig.SessionSpec{Mode: "load-balancing", Weights: "50/50", Thresholds: thresholds})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Lab.SetEmulation(atsss.Access3GPP, under); err != nil {
		t.Fatal(err)
	}
	if _, err := ue.StartPMF(ctx); err != nil {
		t.Fatal(err)
	}
	// A PLR window and more: the first readings are of the access under
	// the threshold.
	time.Sleep(4 * time.Second)
	var dnUp traffic.Counter
	serveDN(t, r, dnPort, &dnUp, nil)

	// The splitter pins a 50/50 session's connections alternately, 3GPP
	// first (the tie-breaker): long to 3GPP, idle to non-3GPP. The idle one
	// stays open throughout, so every change of the decision is logged.
	long := dialBoth(t, ue, atsss.AccessNon3GPP)
	defer long.Close()
	idle := dialBoth(t, ue, atsss.Access3GPP)
	defer idle.Close()

	// Under the threshold, new connections split (the negative control).
	if s := newConnsShare(t, r, ue, 6, 100); s < 35 || s > 65 {
		t.Errorf("under the threshold: 3GPP carried %.1f %% of the new connections' bytes, want 50 ± 15", s)
	}
	if paths, err := r.Daemon.Paths(ctx); err == nil && len(paths) == 1 && len(paths[0].Paths) == 2 {
		t.Logf("PMF RTT after the transfers under the threshold: 3GPP %v, non-3GPP %v",
			time.Duration(paths[0].Paths[0].PMFRTTMicros)*time.Microsecond, time.Duration(paths[0].Paths[1].PMFRTTMicros)*time.Microsecond)
	}

	// The long connection moves data both ways; it is on 3GPP until the
	// threshold is crossed, then on non-3GPP. The download lasts ~12 s at
	// 3GPP's rate: the loss threshold is crossed on the first whole PLR
	// window after the change, 3-7 s later (64 MiB once ended before the
	// decision). The upload is mostly done by the change: the UE's uplink
	// may stay on the lossy access (downShare3GPP), where 160 MiB once did
	// not arrive within the transfer's two minutes.
	const size, upSize = 160 << 20, 16 << 20
	tr := startSampledTransfer(t, r, long, &dnUp, upSize, size, 41)
	tr.waitDown(t, size/16)
	c0 := linkCounters(t, r)
	tr.waitDown(t, size/8)
	if s := share3GPP(c0, linkCounters(t, r)); s < 90 {
		t.Fatalf("before the crossing, 3GPP carried %.1f %% of the long connection's bytes, want it pinned there (≥ 90 %%)", s)
	}
	if err := r.Lab.SetEmulation(atsss.Access3GPP, over); err != nil {
		t.Fatal(err)
	}
	waitReason(t, r, ue, steering.ReasonOverThreshold, "3GPP over the threshold")
	// What the UE had already given its 3GPP subflow still goes there (MPTCP
	// moves data off a subflow only on its timeouts), slowly at 15 % loss:
	// measured from a second after the decision (under -race in the full
	// suite the drain took 10.6 % of the rest from the decision on).
	c1 := linkCounters(t, r)
	time.Sleep(time.Second)
	drain := bothWays(c1, linkCounters(t, r))
	t.Logf("the second after the decision: 3GPP %.0f, non-3GPP %.0f bytes", drain[0], drain[1])
	c1 = linkCounters(t, r)
	res, _ := tr.finish()
	if res.Err != nil || res.Received != size || res.Sent != upSize {
		logEmulation(t, r)
		t.Fatalf("long connection: sent %d, received %d: %v", res.Sent, res.Received, res.Err)
	}
	c2 := linkCounters(t, r)
	moved := bothWays(c1, c2)
	t.Logf("existing connection after the crossing: 3GPP %.0f, non-3GPP %.0f bytes", moved[0], moved[1])
	if moved[0]+moved[1] < size/8 {
		t.Errorf("only %.0f bytes moved after the crossing: the transfer ended too soon to tell", moved[0]+moved[1])
	} else if s := downShare3GPP(c1, c2); s > maxOver {
		t.Errorf("over the threshold: 3GPP carried %.1f %% of the existing connection's downlink bytes, want ≤ %d %%", s, maxOver)
	}
	before := linkCounters(t, r)
	newConnsShare(t, r, ue, 6, 200)
	if s := downShare3GPP(before, linkCounters(t, r)); s > maxOver {
		t.Errorf("over the threshold: 3GPP carried %.1f %% of the new connections' downlink bytes, want ≤ %d %%", s, maxOver)
	}

	if err := r.Lab.SetEmulation(atsss.Access3GPP, under); err != nil {
		t.Fatal(err)
	}
	waitReason(t, r, ue, steering.ReasonWeights, "3GPP back under the threshold")
	if s := newConnsShare(t, r, ue, 6, 300); s < 35 || s > 65 {
		t.Errorf("back under the threshold: 3GPP carried %.1f %% of the new connections' bytes, want 50 ± 15", s)
	}
	if t.Failed() {
		logEmulation(t, r)
	}
}

// newConnsShare opens n connections of ue one after another, the first
// subflow alternately over each access, each moving 2 MiB down and
// 512 KiB up (seeds from seed), and returns the 3GPP access's share of
// the bytes on both links in percent.
func newConnsShare(t *testing.T, r *rig.Rig, ue *rig.UE, n int, seed uint64) float64 {
	t.Helper()
	before := linkCounters(t, r)
	// Per connection, the 3GPP link's bytes up/down: where a share comes
	// from when it is off.
	var each []string
	for i := range n {
		c0 := linkCounters(t, r)
		c := dialBoth(t, ue, atsss.AccessType(i%2))
		res := traffic.Run(transferCtx(t), c, traffic.Request{Up: 512 << 10, Down: 2 << 20, Seed: seed + uint64(i), KeepWriteOpen: true}, nil, nil)
		c.Close()
		if res.Err != nil {
			logEmulation(t, r)
			t.Fatalf("connection %d: %v", i, res.Err)
		}
		c1 := linkCounters(t, r)
		g := atsss.Access3GPP
		each = append(each, fmt.Sprintf("%d/%d", c1[g].RxBytes-c0[g].RxBytes, c1[g].TxBytes-c0[g].TxBytes))
	}
	after := linkCounters(t, r)
	moved := bothWays(before, after)
	s := share3GPP(before, after)
	t.Logf("%d new connections: 3GPP %.0f, non-3GPP %.0f bytes: 3GPP %.1f %% (3GPP up/down per connection: %s)",
		n, moved[0], moved[1], s, strings.Join(each, " "))
	return s
}

// downShare3GPP is the 3GPP access's share in percent of the downlink
// bytes (what the UPF sent) both links carried between two readings.
// Over a threshold only the downlink is asserted: the UE learns that an
// access became a backup from MP_PRIO, a TCP option on one ACK of that
// subflow that is never sent again, and over the lossy access it is lost
// now and then (15 % loss: once the UE kept 29 % of an existing
// connection's uplink there, once 2 MB of a new one's).
func downShare3GPP(before, after [2]lab.Counters) float64 {
	var m [2]float64
	for _, a := range atsss.Accesses {
		m[a] = float64(after[a].TxBytes - before[a].TxBytes)
	}
	if m[0]+m[1] == 0 {
		return 0
	}
	return 100 * m[atsss.Access3GPP] / (m[0] + m[1])
}

// share3GPP is the 3GPP access's share in percent of the bytes both links
// carried, both ways, between two readings.
func share3GPP(before, after [2]lab.Counters) float64 {
	m := bothWays(before, after)
	if m[0]+m[1] == 0 {
		return 0
	}
	return 100 * m[atsss.Access3GPP] / (m[0] + m[1])
}

// waitReason waits until atsssd's /paths shows a decision with reason
// want for ue's session. It only bounds the wait: how long steering took
// is not asserted.
func waitReason(t *testing.T, r *rig.Rig, ue *rig.UE, want steering.Reason, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := daemontest.WaitFor(ctx, func() bool {
		paths, err := r.Daemon.Paths(ctx)
		return err == nil && slices.ContainsFunc(paths, func(p mptcpproxy.SessionPaths) bool {
			return p.SEID == ue.SEID && p.Reason == want.String()
		})
	}); err != nil {
		t.Fatalf("%s: no decision %q in /paths: %v", what, want, err)
	}
	t.Logf("%s: steering acted after %v", what, time.Since(start).Round(10*time.Millisecond))
}

// logEmulation logs both emulators' counters, to tell the emulated loss
// from the kernel's.
func logEmulation(t *testing.T, r *rig.Rig) {
	for _, a := range atsss.Accesses {
		st, err := r.Lab.EmulationStats(a)
		t.Logf("%v emulator (uplink, downlink): %+v %v", a, st, err)
	}
}
