package steering

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// BenchmarkDecide measures one decision per mode on changing RTTs, with the
// State carried from call to call as a data plane would.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name string
		mar  atsss.MAR
	}{
		{"active-standby", marAS(pActive, pStandby)},
		{"smallest-delay", marSD()},
		{"load-balancing", withRTT(marLB(70), 30)},
		{"load-balancing-albi", withSMI(marLB(70), true, false)},
		{"priority-based", withRTT(marPB(pHigh, pLow), 30)},
		{"redundant", withRTT(marRed(pPrimary, pSecondary), 30)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := mustRule(b, bc.mar)
			s := State{Paths: paths(bothUp, 20, 25, 0, 0)}
			now := t0
			var d Decision
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				now = now.Add(10 * time.Millisecond)
				// Move the RTTs across each other and the threshold
				// every 64 calls.
				if i&63 == 0 {
					s.Paths[a3].RTT, s.Paths[aN].RTT = s.Paths[aN].RTT, s.Paths[a3].RTT+15*ms
					if s.Paths[aN].RTT > 60*ms {
						s.Paths[aN].RTT = 20 * ms
					}
				}
				d = Decide(&r, &s, now)
			}
			sink = d
		})
	}
}

var sink Decision
