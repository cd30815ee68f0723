package steering

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openatsss/atsss/atsss"
)

// seqStep changes the State after some time and expects a Decision.
type seqStep struct {
	after time.Duration
	set   func(*State)
	want  Decision
}

type seqCase struct {
	name  string
	mar   atsss.MAR
	dir   Direction
	steps []seqStep
}

func do(fns ...func(*State)) func(*State) {
	return func(s *State) {
		for _, f := range fns {
			f(s)
		}
	}
}

func rtts(r3, rn int) func(*State) {
	return func(s *State) {
		s.Paths[a3].RTT, s.Paths[aN].RTT = time.Duration(r3)*ms, time.Duration(rn)*ms
	}
}

func report(a atsss.AccessType, src Source, available bool) func(*State) {
	return func(s *State) { s.Paths[a].Report(src, available) }
}

func congest(a atsss.AccessType, on bool) func(*State) {
	return func(s *State) { s.Paths[a].Congested = on }
}

func ueAssist(active bool, share3 uint8) func(*State) {
	return func(s *State) { s.Assist = UEAssistance{Active: active, Share3GPP: share3} }
}

func suspend(on bool) func(*State) { return func(s *State) { s.DuplicationSuspended = on } }

func nothing(*State) {}

var sequenceCases = []seqCase{
	{name: "sd/switch-after-hold", mar: marSD(), steps: []seqStep{
		{0, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, rtts(40, 10), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // hold starts
		{400 * ms, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, nothing, dec(0, 100, B, A, aN, ReasonLowerRTT)}, // 500 ms: switch
		{5 * time.Second, nothing, dec(0, 100, B, A, aN, ReasonLowerRTT)},
	}},
	{name: "sd/within-margin", mar: marSD(), steps: []seqStep{
		{0, rtts(20, 21), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, rtts(20, 18), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // 2 ms better: margin is 3 ms
		{5 * time.Second, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{5 * time.Second, rtts(100, 86), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // 14 ms better: margin is 15 ms
		{5 * time.Second, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, rtts(100, 85), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // 15 ms: hold starts
		{500 * ms, nothing, dec(0, 100, B, A, aN, ReasonLowerRTT)},
	}},
	{name: "sd/interrupted-hold", mar: marSD(), steps: []seqStep{
		{0, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, rtts(40, 10), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{300 * ms, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // hold reset
		{100 * ms, rtts(40, 10), dec(100, 0, A, B, a3, ReasonLowerRTT)}, // hold restarts
		{400 * ms, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, nothing, dec(0, 100, B, A, aN, ReasonLowerRTT)},
	}},
	{name: "sd/unmeasured-keeps", mar: marSD(), steps: []seqStep{
		{0, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{time.Second, rtts(0, 5), dec(100, 0, A, B, a3, ReasonRTTUnknown)},
		{time.Second, nothing, dec(100, 0, A, B, a3, ReasonRTTUnknown)},
	}},
	{name: "sd/down-is-immediate", mar: marSD(), steps: []seqStep{
		{0, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{10 * ms, report(a3, SourceLink, false), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
		{10 * ms, report(a3, SourceLink, true), dec(0, 100, B, A, aN, ReasonLowerRTT)}, // back: hysteresis again
		{500 * ms, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
	}},
	{name: "as/failover-failback", mar: marAS(pActive, pStandby), steps: []seqStep{
		{0, nothing, dec(100, 0, A, B, a3, ReasonActive)},
		{10 * ms, report(a3, SourceLink, false), dec(0, 100, D, A, aN, ReasonStandby)},
		{10 * ms, report(a3, SourcePMF, true), dec(0, 100, D, A, aN, ReasonStandby)}, // the link is still down
		{10 * ms, report(a3, SourceLink, true), dec(100, 0, A, B, a3, ReasonActive)},
		{10 * ms, report(a3, SourceN4, false), dec(0, 100, D, A, aN, ReasonStandby)},
		{10 * ms, report(a3, SourcePMF, true), dec(100, 0, A, B, a3, ReasonActive)}, // the UE's report clears the SMF's
		{10 * ms, report(aN, SourcePMF, false), dec(100, 0, A, D, a3, ReasonActive)},
	}},
	{name: "lb/threshold-recovery", mar: withRTT(marLB(70), 30), steps: []seqStep{
		{0, rtts(10, 10), dec(70, 30, A, A, a3, ReasonWeights)},
		{100 * ms, rtts(40, 10), dec(0, 100, B, A, aN, ReasonOverThreshold)},
		{100 * ms, rtts(29, 10), dec(0, 100, B, A, aN, ReasonOverThreshold)}, // under, within the 3 ms margin
		{2 * time.Second, nothing, dec(0, 100, B, A, aN, ReasonOverThreshold)},
		{100 * ms, rtts(27, 10), dec(0, 100, B, A, aN, ReasonOverThreshold)}, // clear: hold starts
		{900 * ms, nothing, dec(0, 100, B, A, aN, ReasonOverThreshold)},
		{100 * ms, nothing, dec(70, 30, A, A, a3, ReasonWeights)},
		{100 * ms, rtts(31, 10), dec(0, 100, B, A, aN, ReasonOverThreshold)}, // crossing again is immediate
	}},
	{name: "lb/small-threshold-recovers", mar: withRTT(marLB(70), 2), steps: []seqStep{
		// The margin is capped at half the threshold: 2 ms recovers at 1 ms.
		{0, rtts(1, 1), dec(70, 30, A, A, a3, ReasonWeights)},
		{100 * ms, rtts(5, 1), dec(0, 100, B, A, aN, ReasonOverThreshold)},
		{100 * ms, rtts(1, 1), dec(0, 100, B, A, aN, ReasonOverThreshold)}, // clear: hold starts
		{time.Second, nothing, dec(70, 30, A, A, a3, ReasonWeights)},
	}},
	{name: "lb/plr-recovery", mar: withPLR(marLB(70), 2), steps: []seqStep{
		{0, func(s *State) { s.Paths[aN].Loss, s.Paths[aN].LossKnown = 25, true }, dec(100, 0, A, B, a3, ReasonOverThreshold)},
		{time.Second, func(s *State) { s.Paths[aN].Loss = 16 }, dec(100, 0, A, B, a3, ReasonOverThreshold)}, // 1.6 %: margin 0.5 % not cleared
		{time.Second, func(s *State) { s.Paths[aN].Loss = 15 }, dec(100, 0, A, B, a3, ReasonOverThreshold)},
		{time.Second, nothing, dec(70, 30, A, A, a3, ReasonWeights)},
	}},
	{name: "pb/overflow-hold", mar: marPB(pHigh, pLow), steps: []seqStep{
		{0, nothing, dec(100, 0, A, B, a3, ReasonHighPriority)},
		{100 * ms, congest(a3, true), overflow(50, 50, a3, ReasonCongested)},
		{time.Second, congest(a3, false), overflow(50, 50, a3, ReasonCongested)},
		{1900 * ms, nothing, overflow(50, 50, a3, ReasonCongested)},
		{100 * ms, nothing, dec(100, 0, A, B, a3, ReasonHighPriority)},
		{100 * ms, congest(a3, true), overflow(50, 50, a3, ReasonCongested)},
		{100 * ms, report(a3, SourcePMF, false), dec(0, 100, D, A, aN, ReasonHighDown)},
		{100 * ms, do(report(a3, SourcePMF, true), congest(a3, false)), dec(100, 0, A, B, a3, ReasonHighPriority)},
	}},
	{name: "pb/threshold-overflow", mar: withRTT(marPB(pHigh, pLow), 30), steps: []seqStep{
		{0, rtts(20, 10), dec(100, 0, A, B, a3, ReasonHighPriority)},
		{100 * ms, rtts(35, 10), overflow(50, 50, a3, ReasonHighOver)},
		{100 * ms, rtts(20, 10), overflow(50, 50, a3, ReasonHighOver)}, // recovery hold
		{time.Second, nothing, overflow(50, 50, a3, ReasonHighOver)},   // recovered; overflow hold starts
		{2 * time.Second, nothing, dec(100, 0, A, B, a3, ReasonHighPriority)},
	}},
	{name: "lb/albi-steps", mar: withSMI(marLB(70), true, false), steps: []seqStep{
		{0, rtts(40, 10), dec(20, 80, A, A, aN, ReasonAutonomous)},
		{100 * ms, rtts(30, 10), dec(20, 80, A, A, aN, ReasonAutonomous)}, // 25: a step of 5 is too small
		{3 * time.Second, rtts(10, 10), dec(50, 50, A, A, a3, ReasonAutonomous)},
		{100 * ms, rtts(40, 10), dec(50, 50, A, A, a3, ReasonAutonomous)}, // within the 2 s hold
		{2 * time.Second, nothing, dec(20, 80, A, A, aN, ReasonAutonomous)},
		{100 * ms, report(a3, SourceN4, false), dec(0, 100, D, A, aN, ReasonOnlyAvailable)},
		{100 * ms, do(report(a3, SourceN4, true), rtts(10, 10)), dec(50, 50, A, A, a3, ReasonAutonomous)}, // afresh
		{100 * ms, rtts(0, 10), dec(70, 30, A, A, a3, ReasonNoMeasurement)},
	}},
	{name: "lb/ueai-until-terminated", mar: withSMI(marLB(70), false, true), steps: []seqStep{
		{0, nothing, dec(70, 30, A, A, a3, ReasonWeights)},
		{100 * ms, ueAssist(true, 20), dec(20, 80, A, A, aN, ReasonUEAssistance)},
		{100 * ms, ueAssist(false, 20), dec(70, 30, A, A, a3, ReasonWeights)}, // UAT: the SMF's weights again
	}},
	{name: "red/threshold-duplication", mar: withRTT(marRed(pPrimary, pSecondary), 30), steps: []seqStep{
		{0, rtts(20, 10), dec(100, 0, A, B, a3, ReasonUnderThr)},
		{100 * ms, rtts(40, 10), duplicate(a3, ReasonThresholdDup)},
		{100 * ms, suspend(true), dec(100, 0, A, B, a3, ReasonSuspended)},
		{100 * ms, suspend(false), duplicate(a3, ReasonThresholdDup)},
		{100 * ms, rtts(26, 10), duplicate(a3, ReasonThresholdDup)},
		{time.Second, nothing, dec(100, 0, A, B, a3, ReasonUnderThr)},
	}},
	{name: "clock-goes-back", mar: marSD(), steps: []seqStep{
		{0, rtts(10, 40), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, rtts(40, 10), dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{-time.Second, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)}, // hold restarts
		{400 * ms, nothing, dec(100, 0, A, B, a3, ReasonLowerRTT)},
		{100 * ms, nothing, dec(0, 100, B, A, aN, ReasonLowerRTT)},
	}},
}

func TestDecideSequences(t *testing.T) {
	for _, sq := range sequenceCases {
		t.Run(sq.name, func(t *testing.T) {
			r := mustRule(t, sq.mar)
			s := State{Direction: sq.dir}
			now := t0
			for i, step := range sq.steps {
				now = now.Add(step.after)
				step.set(&s)
				got := Decide(&r, &s, now)
				if diff := cmp.Diff(step.want, got); diff != "" {
					t.Fatalf("step %d (+%v): Decide() mismatch (-want +got):\n%s", i, now.Sub(t0), diff)
				}
				checkInvariants(t, sq.mar, s, got)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	r := mustRule(t, marSD())
	s := State{Paths: paths(bothUp, 10, 40, -1, -1)}
	Decide(&r, &s, t0)
	if d, ok := s.Deadline(); ok {
		t.Fatalf("Deadline() = %v, true with nothing pending", d)
	}
	s.Paths[a3].RTT, s.Paths[aN].RTT = 40*ms, 10*ms
	Decide(&r, &s, t0.Add(time.Second))
	if d, ok := s.Deadline(); !ok || !d.Equal(t0.Add(time.Second+DelayHold)) {
		t.Fatalf("Deadline() = %v, %v; want %v, true", d, ok, t0.Add(time.Second+DelayHold))
	}
}

func TestDeadlineBalance(t *testing.T) {
	r := mustRule(t, withSMI(marLB(70), true, false))
	s := State{Paths: paths(bothUp, 40, 10, -1, -1)}
	Decide(&r, &s, t0)
	s.Paths[a3].RTT = 10 * ms
	Decide(&r, &s, t0.Add(time.Second))
	if d, ok := s.Deadline(); !ok || !d.Equal(t0.Add(BalanceHold)) {
		t.Fatalf("Deadline() = %v, %v; want %v, true", d, ok, t0.Add(BalanceHold))
	}
	if got := Decide(&r, &s, t0.Add(BalanceHold)); got.Share != [2]uint8{50, 50} {
		t.Fatalf("Decide at the deadline = %v, want 50/50", got)
	}
	if d, ok := s.Deadline(); ok {
		t.Fatalf("Deadline() = %v, true after the split moved", d)
	}
}

func TestDeadlineOverflow(t *testing.T) {
	r := mustRule(t, marPB(pHigh, pLow))
	s := State{}
	s.Paths[a3].Congested = true
	Decide(&r, &s, t0)
	s.Paths[a3].Congested = false
	Decide(&r, &s, t0.Add(time.Second))
	if d, ok := s.Deadline(); !ok || !d.Equal(t0.Add(time.Second+OverflowHold)) {
		t.Fatalf("Deadline() = %v, %v; want %v, true", d, ok, t0.Add(time.Second+OverflowHold))
	}
}

// TestRuleChangeResetsMemory: an updated MAR starts without the memory of
// the old one (here Smallest Delay's choice).
func TestRuleChangeResetsMemory(t *testing.T) {
	s := State{Paths: paths(bothUp, 10, 40, -1, -1)}
	r := mustRule(t, marSD())
	Decide(&r, &s, t0)
	s.Paths[a3].RTT, s.Paths[aN].RTT = 40*ms, 10*ms
	m := marSD()
	m.Functionality = atsss.FunctionalityATSSSLL // Update MAR
	r = mustRule(t, m)
	got := Decide(&r, &s, t0)
	if want := dec(0, 100, B, A, aN, ReasonLowerRTT); got != want {
		t.Errorf("Decide() after a rule change = %v, want %v", got, want)
	}
}
