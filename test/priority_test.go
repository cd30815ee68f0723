package test

import (
	"io"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/pace"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/traffic"
)

// TestNetnsSteeringPriorityOverflow runs a Priority-based session (3GPP
// high, shaped to 20 Mbit/s; non-3GPP low, 100 Mbit/s) whose connection
// opened over the low access, and sends downlink at 5 Mbit/s, then as fast
// as it can, then at 5 Mbit/s again. The low access carries traffic only
// while the high one is saturated: under 1 % of the bytes in the paced
// phases (the second one measured after steering.OverflowHold), a real
// share in the bulk one, while 3GPP keeps carrying what it can.
func TestNetnsSteeringPriorityOverflow(t *testing.T) {
	const highMbit = 20
	r := newRig(t, rig.Options{
		Lab:   lab.Config{Rate: [2]lab.Rate{{UpMbit: highMbit, DownMbit: highMbit}, {UpMbit: 100, DownMbit: 100}}},
		Proxy: map[string]any{"steering": true},
	})
	_, rate := pacedDownlink(t, r, rig.SessionSpec{Mode: "priority-based", Priorities: "high/low"})

	paced := phase(t, r, "paced 5 Mbit/s", time.Second, 3*time.Second)
	rate.Set(pace.Bulk)
	saturated := phase(t, r, "bulk", time.Second, 4*time.Second)
	rate.Set(5)
	// The bulk phase left a backlog (measured: 1-2 MB in the proxy's send
	// buffer alone, 1.3 s to drain): the high access stays saturated while
	// it drains, then overflow holds for steering.OverflowHold.
	pacedAgain := phase(t, r, "paced again", 6*time.Second, 3*time.Second)

	if s := lowShare(paced); s > 0.01 {
		t.Errorf("paced below the high access's rate, the low access carried %.2f %% of the bytes, want < 1 %%", 100*s)
	}
	if s := lowShare(saturated); s < 0.25 {
		t.Errorf("with the high access saturated, the low access carried %.2f %% of the bytes, want ≥ 25 %% (overflow)", 100*s)
	}
	if mbit := saturated[atsss.Access3GPP] * 8 / 1e6 / 4; mbit < 0.7*highMbit {
		t.Errorf("during overflow the high access carried %.1f Mbit/s, want ≥ 70 %% of its %d", mbit, highMbit)
	}
	if s := lowShare(pacedAgain); s > 0.01 {
		t.Errorf("paced again, the low access carried %.2f %% of the bytes, want < 1 %%: overflow did not end", 100*s)
	}
}

// TestNetnsSteeringPriorityThreshold: a Priority-based session with an RTT
// threshold of 60 ms (3GPP high) sends 5 Mbit/s downlink, far below either
// access's rate. While 3GPP is under the threshold the low access carries
// under 1 % of the bytes; once the link emulator takes 3GPP to 80 ms and
// the PMF has measured it, the traffic overflows to the low access (most
// of it: the kernel's scheduler prefers the faster subflow); back under,
// it returns to 3GPP after the threshold's recovery and the overflow hold.
func TestNetnsSteeringPriorityThreshold(t *testing.T) {
	under, over := linkemu.Profile{Delay: 2 * time.Millisecond}, linkemu.Profile{Delay: 40 * time.Millisecond}
	r := newRig(t, rig.Options{
		Lab:   lab.Config{Emulate: [2]linkemu.Profile{under, under}},
		Proxy: map[string]any{"steering": true},
		PMF:   map[string]any{"echo_interval": "50ms"},
	})
	ue, _ := pacedDownlink(t, r, rig.SessionSpec{Mode: "priority-based", Priorities: "high/low", Thresholds: "rtt=60ms"})
	if _, err := ue.StartPMF(t.Context()); err != nil {
		t.Fatal(err)
	}

	before := phase(t, r, "3GPP under the threshold", time.Second, 3*time.Second)
	if err := r.Lab.SetEmulation(atsss.Access3GPP, over); err != nil {
		t.Fatal(err)
	}
	waitReason(t, r, ue, steering.ReasonHighOver, "3GPP over the threshold")
	overflow := phase(t, r, "3GPP over the threshold", 500*time.Millisecond, 3*time.Second)
	if err := r.Lab.SetEmulation(atsss.Access3GPP, under); err != nil {
		t.Fatal(err)
	}
	waitReason(t, r, ue, steering.ReasonHighPriority, "3GPP back under the threshold")
	after := phase(t, r, "3GPP back under", 500*time.Millisecond, 3*time.Second)

	if s := lowShare(before); s > 0.01 {
		t.Errorf("under the threshold the low access carried %.2f %% of the bytes, want < 1 %%", 100*s)
	}
	if s := lowShare(overflow); s < 0.5 {
		t.Errorf("over the threshold the low access carried %.2f %% of the bytes, want ≥ 50 %% (overflow)", 100*s)
	}
	if s := lowShare(after); s > 0.01 {
		t.Errorf("back under the threshold the low access carried %.2f %% of the bytes, want < 1 %%", 100*s)
	}
}

// pacedDownlink has the SMF install spec, serves one connection from the
// DN that sends downlink at the returned rate (5 Mbit/s until changed),
// and opens it from the UE over the low (non-3GPP) access.
func pacedDownlink(t *testing.T, r *rig.Rig, spec rig.SessionSpec) (*rig.UE, *pace.Rate) {
	ue, err := r.Establish(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	rate := new(pace.Rate)
	rate.Set(5)
	ln, err := r.ListenDN(dnPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go io.Copy(io.Discard, c)
		pace.Send(t.Context(), c, &traffic.Pattern{}, rate)
	}()
	c := dialBoth(t, ue, atsss.AccessNon3GPP)
	t.Cleanup(func() { c.Close() })
	go io.Copy(io.Discard, c)
	return ue, rate
}

// phase measures the bytes on both access links over d, after settle.
func phase(t *testing.T, r *rig.Rig, name string, settle, d time.Duration) [2]float64 {
	time.Sleep(settle)
	before := linkCounters(t, r)
	time.Sleep(d)
	moved := bothWays(before, linkCounters(t, r))
	t.Logf("%s: 3GPP %.2f MB (%.1f Mbit/s), non-3GPP %.2f MB: non-3GPP %.2f %%", name,
		moved[0]/1e6, moved[0]*8/1e6/d.Seconds(), moved[1]/1e6, 100*moved[1]/(moved[0]+moved[1]))
	return moved
}

// lowShare is the non-3GPP access's share of bytes both links carried.
func lowShare(m [2]float64) float64 { return m[atsss.AccessNon3GPP] / (m[0] + m[1]) }
