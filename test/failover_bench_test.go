package test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/netnstest"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/uesim"
)

// BenchmarkFailover times the loss of an Active-Standby session's active
// access (3GPP) in the middle of a 64 MiB transfer each way (issue 4, must
// show 3 and the PMF half of 4), per cause (see runFailover): the link
// going down (atsssd's access link watch) and a PMF unavailability report
// from the UE with the access silently dropped. Each iteration is a fresh
// rig; ns/op is meaningless (it is mostly building the lab). Metrics, p50
// and max over the iterations, in ms:
//
//   - to-standby-{up,down}: from the cut to the first 5 ms reading by
//     which the standby link carried 64 KiB within 10 ms in that
//     direction (real traffic, not ACKs; see flowBytes);
//   - app-{up,down}: from the cut to the receiving application's bytes
//     flowing again at that rate after they stopped (0 if they never
//     stopped);
//   - act: from the cause reaching the UPF (the cut for a link event, the
//     UE calling ReportAccess for a PMF report) to atsssd's log line that
//     it destroyed the 3GPP subflow (slog's time, ns resolution, same
//     clock): the proxy acting;
//   - link-event (link-down): from the cut to atsssd's "access link state"
//     line: the netlink event's delivery;
//   - report-to-standby-down (pmf-report): from ReportAccess to the
//     standby flowing downlink, the traffic-visible "acted on".
func BenchmarkFailover(b *testing.B) {
	netnstest.Require(b)
	if err := uesim.CheckKernel(); err != nil {
		b.Fatal(err)
	}
	bin := rigBinaries(b)
	for _, uePM := range []bool{false, true} {
		for _, cause := range lossCauses {
			fc := failoverCase{cause: cause, uePM: uePM}
			b.Run(fc.String(), func(b *testing.B) {
				m := failoverMetrics{}
				for b.Loop() {
					m.add(b, benchFailover(b, bin, fc))
				}
				m.report(b)
			})
		}
	}
}

// benchFailover runs one failover on a rig of its own, closed before it
// returns.
func benchFailover(b *testing.B, bin string, fc failoverCase) *failoverRun {
	r, err := rig.New(b.Context(), bin, failoverOptions(fc.cause))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if b.Failed() {
			b.Logf("atsssd log:\n%s", r.Daemon.Log())
		}
		if err := r.Close(); err != nil {
			b.Errorf("close rig: %v", err)
		}
	}()
	return runFailover(b, r, fc)
}

// failoverMetrics collects a benchmark's times by metric name, in ms.
type failoverMetrics map[string][]float64

func (m failoverMetrics) put(name string, d time.Duration) {
	m[name] = append(m[name], float64(d.Microseconds())/1000)
}

// add takes one run's times; a time that could not be measured fails b.
func (m failoverMetrics) add(b *testing.B, run *failoverRun) {
	var line strings.Builder
	fmt.Fprintf(&line, "%v:", run.failoverCase)
	for d := range dirNames {
		if s, ok := run.toStandby(d); ok {
			m.put("to-standby-"+dirNames[d], s)
			fmt.Fprintf(&line, " to-standby-%s %v", dirNames[d], s.Round(time.Microsecond))
		} else {
			b.Errorf("%v: the standby never carried %s traffic", run.failoverCase, dirNames[d])
		}
		if o, ok := run.appOutage(d); ok {
			m.put("app-"+dirNames[d], o)
			fmt.Fprintf(&line, " app-%s %v", dirNames[d], o.Round(time.Microsecond))
		} else {
			b.Errorf("%v: the %s application never flowed again", run.failoverCase, dirNames[d])
		}
		if sb, err := run.sent(atsss.AccessNon3GPP, d, run.cut); err == nil {
			fmt.Fprintf(&line, " standby-retrans-%s %dB", dirNames[d], sb.live.retrans+sb.closing.retrans)
		}
	}
	if at, ok := run.logTime(msgDestroyed, true); ok {
		m.put("act", at.Sub(run.causeAt()))
		fmt.Fprintf(&line, " act %v", at.Sub(run.causeAt()).Round(time.Microsecond))
	} else {
		b.Errorf("%v: atsssd did not log %q", run.failoverCase, msgDestroyed)
	}
	switch run.cause {
	case lossLinkDown:
		if at, ok := run.logTime(msgLinkState, true); ok {
			m.put("link-event", at.Sub(run.cut))
			fmt.Fprintf(&line, " link-event %v", at.Sub(run.cut).Round(time.Microsecond))
		} else {
			b.Errorf("%v: atsssd did not log %q", run.failoverCase, msgLinkState)
		}
	case lossPMF:
		if at, ok := run.flowing(run.report, func(s linkSample) uint64 { return s.bytes(atsss.AccessNon3GPP, dirDown) }); ok {
			m.put("report-to-standby-down", at.Sub(run.report))
			fmt.Fprintf(&line, " report-to-standby-down %v", at.Sub(run.report).Round(time.Microsecond))
		}
	}
	b.Log(line.String())
}

// report reports each metric's median and maximum as ms-<name>-p50 and
// ms-<name>-max.
func (m failoverMetrics) report(b *testing.B) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		v := slices.Sorted(slices.Values(m[name]))
		if len(v) == 0 {
			continue
		}
		p50 := v[len(v)/2]
		if len(v)%2 == 0 {
			p50 = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		b.ReportMetric(p50, "ms-"+name+"-p50")
		b.ReportMetric(v[len(v)-1], "ms-"+name+"-max")
	}
}
