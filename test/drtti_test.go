package test

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/timeline"
	"github.com/openatsss/atsss/test/traffic"
)

// TestNetnsSteeringSmallestDelayDRTTI: a Smallest Delay session whose SMF
// set DRTTI (the UE may not use PMF RTT) and runs no PMF steers by the
// MPTCP subflows' own RTTs (RTTWP): with the emulator's 40 ms and 10 ms,
// the connection, opened over the slow access, sends at least 90 % of its
// bytes over the fast one.
func TestNetnsSteeringSmallestDelayDRTTI(t *testing.T) {
	r := newRig(t, rig.Options{
		Lab: lab.Config{
			Emulate: [2]linkemu.Profile{atsss.Access3GPP: {Delay: 20 * time.Millisecond}, atsss.AccessNon3GPP: {Delay: 5 * time.Millisecond}},
			Rate:    [2]lab.Rate{{UpMbit: 100, DownMbit: 100}, {UpMbit: 100, DownMbit: 100}},
		},
		Proxy: map[string]any{"steering": true},
	})
	ue, err := r.Establish(t.Context(), rig.SessionSpec{Mode: "smallest-delay", ATSSS: "mptcp,drtti"})
	if err != nil {
		t.Fatal(err)
	}
	var dnUp traffic.Counter
	serveDN(t, r, dnPort, &dnUp, nil)
	c := dialBoth(t, ue, atsss.Access3GPP)
	defer c.Close()
	const size = 32 << 20
	res, tl := startSampledTransfer(t, r, c, &dnUp, size, size, 31).finish()
	if res.Err != nil || res.Received != size {
		t.Fatalf("UE side: received %d: %v", res.Received, res.Err)
	}
	share := shareAfter(t, tl, atsss.AccessNon3GPP, time.Second)
	t.Logf("non-3GPP (10 ms) share of the bytes: %.1f %%", 100*share)
	if share < 0.9 {
		t.Errorf("non-3GPP carried %.1f %% of the bytes, want ≥ 90 %%", 100*share)
	}
}

// shareAfter returns access a's share of the bytes both accesses carried
// on tl from skip after its start to its end.
func shareAfter(t *testing.T, tl timeline.Timeline, a atsss.AccessType, skip time.Duration) float64 {
	t.Helper()
	from := tl.Start.Add(skip)
	g, n := tl.BytesBetween(0, from, tl.End()), tl.BytesBetween(1, from, tl.End())
	if g+n == 0 {
		t.Fatalf("no bytes on either access after %v", skip)
	}
	return float64([2]uint64{g, n}[a]) / float64(g+n)
}
