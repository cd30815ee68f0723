package test

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/traffic"
)

// TestNetnsSteeringRedundant checks the subset of Redundant that MPTCP on
// this kernel allows (README, Steering): its only scheduler sends each
// byte once, so the proxy cannot duplicate; it keeps both subflows active
// while the decision duplicates, and flags the Secondary as backup while
// it does not (a threshold the Primary is under).
//
//   - duplicate: no thresholds; both accesses carry a real share of a
//     transfer both ways (a backup flag on either would leave it under 1 %).
//   - under-threshold: RTT threshold 50 ms, PMF RTTs well under it; the
//     Primary (3GPP) carries at least 99 %, although the connection opened
//     over the Secondary.
func TestNetnsSteeringRedundant(t *testing.T) {
	cases := []struct {
		name       string
		thresholds string
		check      func(t *testing.T, primaryShare float64)
	}{
		{"duplicate", "", func(t *testing.T, s float64) {
			if s < 0.2 || s > 0.8 {
				t.Errorf("3GPP carried %.1f %% of the bytes, want both accesses ≥ 20 %%", 100*s)
			}
		}},
		{"under-threshold", "rtt=50ms", func(t *testing.T, s float64) {
			if s < 0.99 {
				t.Errorf("3GPP (Primary) carried %.2f %% of the bytes, want ≥ 99 %%", 100*s)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rig.Options{
				Proxy: map[string]any{"steering": true},
				PMF:   map[string]any{"echo_interval": "100ms"},
				ATSSS: map[string]any{"redundant_mptcp": true},
			})
			ctx := t.Context()
			ue, err := r.Establish(ctx, rig.SessionSpec{Mode: "redundant", Priorities: "primary/secondary", Thresholds: tc.thresholds})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ue.StartPMF(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // a few echoes: the RTTs are known
			serveDN(t, r, dnPort, nil, nil)
			c := dialBoth(t, ue, atsss.AccessNon3GPP)
			defer c.Close()
			before := linkCounters(t, r)
			const size = 32 << 20
			if res := traffic.Run(transferCtx(t), c, traffic.Request{Up: size, Down: size, Seed: 37, KeepWriteOpen: true}, nil, nil); res.Err != nil {
				t.Fatal(res.Err)
			}
			moved := bothWays(before, linkCounters(t, r))
			s := moved[atsss.Access3GPP] / (moved[0] + moved[1])
			t.Logf("bytes on the links: 3GPP %.0f, non-3GPP %.0f: 3GPP %.1f %%", moved[0], moved[1], 100*s)
			tc.check(t, s)
		})
	}
}
