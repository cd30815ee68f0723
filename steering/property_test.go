package steering

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// checkInvariants fails t when d, decided for MAR m on state s, breaks a
// rule that holds whatever the measurements and the hysteresis memory.
// It reads the MAR, not the Rule, so it does not share Decide's reading.
func checkInvariants(t testing.TB, m atsss.MAR, s State, d Decision) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%v/%v %v: paths %+v, suspended %v, assist %+v: decision %v: %s",
			m.Mode, m.Functionality, s.Direction, s.Paths, s.DuplicationSuspended, s.Assist, d, fmt.Sprintf(format, args...))
	}
	var up [2]bool
	for _, a := range atsss.Accesses {
		up[a] = m.Legs[a].Present && s.Paths[a].Available()
	}
	anyUp := up[a3] || up[aN]
	sum := int(d.Share[a3]) + int(d.Share[aN])
	for _, a := range atsss.Accesses {
		if d.Share[a] > 0 && !up[a] {
			fail("sends on %v, which is unavailable or not in the MAR", a)
		}
		wantRole := RoleBackup
		switch {
		case !m.Legs[a].Present:
			wantRole = RoleUnused
		case !up[a]:
			wantRole = RoleDown
		case d.Share[a] > 0:
			wantRole = RoleActive
		case m.Mode == atsss.ModeActiveStandby && m.Legs[a].Priority.Value == atsss.PriorityNoStandby:
			wantRole = RoleUnused // no fallback, so no backup flag
		}
		if d.Role[a] != wantRole {
			fail("%v has role %v, want %v", a, d.Role[a], wantRole)
		}
	}
	if d.Reason == ReasonNone || d.Reason.String() == "" {
		fail("no reason")
	}
	switch {
	case d.Duplicate:
		if m.Mode != atsss.ModeRedundant || m.Functionality == atsss.FunctionalityATSSSLL {
			fail("duplicates in %v/%v", m.Mode, m.Functionality)
		}
		if d.Share != [2]uint8{100, 100} || !up[a3] || !up[aN] || s.DuplicationSuspended {
			fail("duplicates without sending 100 %% on two available accesses, or while suspended")
		}
	case sum != 0 && sum != 100:
		fail("shares sum to %d", sum)
	}
	if d.Overflow && m.Mode != atsss.ModePriorityBased {
		fail("overflow in %v", m.Mode)
	}
	if sum > 0 && d.Share[d.Primary] == 0 {
		fail("primary %v carries nothing", d.Primary)
	}
	active, standby := legWith(m, atsss.PriorityActive), legWith(m, atsss.PriorityStandby)
	if anyUp && sum == 0 {
		// Only Active-Standby may send nothing while an access is up: when
		// the active access is down and there is no standby.
		if m.Mode != atsss.ModeActiveStandby || active < 0 || up[active] || (standby >= 0 && up[standby]) {
			fail("sends nothing although an access is up")
		}
	}
	switch m.Mode {
	case atsss.ModeActiveStandby:
		if active >= 0 && up[active] && (d.Share[active] != 100 || d.Share[atsss.AccessType(active).Other()] != 0) {
			fail("does not send everything on the active access while it is up")
		}
		if active >= 0 && !up[active] && standby >= 0 && up[standby] && d.Share[standby] != 100 {
			fail("does not switch to the standby access while the active one is down")
		}
	case atsss.ModeLoadBalancing, atsss.ModeSmallestDelay, atsss.ModePriorityBased:
		if anyUp && sum != 100 {
			fail("shares sum to %d with an access up", sum)
		}
		if m.Mode == atsss.ModeSmallestDelay && d.Share[a3] > 0 && d.Share[aN] > 0 {
			fail("smallest delay sends on both accesses")
		}
		if high := legWith(m, atsss.PriorityHigh); m.Mode == atsss.ModePriorityBased && high >= 0 && up[high] && d.Share[high] == 0 {
			fail("priority-based leaves the available high priority access")
		}
	case atsss.ModeRedundant:
		if up[a3] && up[aN] && !s.DuplicationSuspended && m.Thresholds == nil && !d.Duplicate {
			fail("redundant does not duplicate on two available accesses")
		}
	}
}

// legWith returns the access whose present leg has priority p, or -1.
func legWith(m atsss.MAR, p atsss.Priority) int {
	for _, a := range atsss.Accesses {
		if l := m.Legs[a]; l.Present && l.Priority.Set && l.Priority.Value == p {
			return int(a)
		}
	}
	return -1
}

// checkDelayHysteresis fails t when Smallest Delay moved between two
// consecutive decisions with both accesses up although the RTT difference
// was within the margin: only a clear difference may switch.
func checkDelayHysteresis(t testing.TB, m atsss.MAR, prev, d Decision, prevBoth bool, s State) {
	t.Helper()
	both := m.Legs[a3].Present && m.Legs[aN].Present && s.Paths[a3].Available() && s.Paths[aN].Available()
	if m.Mode != atsss.ModeSmallestDelay || !prevBoth || !both || d.Primary == prev.Primary {
		return
	}
	cur, o := prev.Primary, prev.Primary.Other()
	rc, ro := s.Paths[cur].RTT, s.Paths[o].RTT
	if rc <= 0 || ro <= 0 || rc-ro < delayMargin(rc) {
		t.Errorf("smallest delay moved %v -> %v on RTT %v vs %v, within the margin %v", cur, o, rc, ro, delayMargin(rc))
	}
}

// The byte encoding of a test case, shared by the seeded property test and
// FuzzDecide (whose seeds are the table cases, encoded).
const (
	marLen  = 12
	stepLen = 12
)

type byteReader struct {
	data []byte
	i    int
}

func (b *byteReader) byte() byte {
	if b.i >= len(b.data) {
		return 0
	}
	b.i++
	return b.data[b.i-1]
}

func (b *byteReader) uint16() uint16 { return uint16(b.byte())<<8 | uint16(b.byte()) }

func (b *byteReader) more() bool { return b.i < len(b.data) }

// decodeMAR reads a MAR. A priority byte below 8 is taken as is (7: not
// set); from 8 up it picks a valid priority pair for the mode, so random
// input reaches Decide more often than NewRule's errors.
func decodeMAR(b *byteReader) (atsss.MAR, Direction) {
	m := atsss.MAR{ID: 9, Functionality: atsss.SteeringFunctionality(b.byte() % 5), Mode: atsss.SteeringMode(b.byte() % 5)}
	legs := b.byte() % 4
	if legs == 0 {
		legs = 3
	}
	p := [2]byte{b.byte(), b.byte()}
	w3 := b.byte() % 101
	thr, rtt, plr := b.byte()%4, b.uint16()%1000, b.byte()%101
	smi := b.byte() % 3
	dir := Direction(b.byte() % 2)
	for _, a := range atsss.Accesses {
		if legs&(1<<a) == 0 {
			continue
		}
		l := weightLeg(uint32(a)+1, w3)
		if a == aN {
			l.Weight.Value = 100 - w3
		}
		m.Legs[a] = l
	}
	prio := validPriorities(m.Mode, p[0])
	for _, a := range atsss.Accesses {
		if p[a] < 8 {
			prio[a] = p[a]
		}
		if m.Legs[a].Present && prio[a] < 7 {
			m.Legs[a].Priority = atsss.OptionalPriority{Value: atsss.Priority(prio[a]), Set: true}
		}
	}
	if thr != 0 {
		m.Thresholds = &atsss.Thresholds{
			RTT: atsss.OptionalUint16{Value: rtt, Set: thr&1 != 0},
			PLR: atsss.OptionalUint8{Value: plr, Set: thr&2 != 0},
		}
	}
	if smi != 0 {
		m.SMI = &atsss.SteeringModeIndicator{AutonomousLoadBalancing: smi == 1, UEAssistance: smi == 2}
	}
	return m, dir
}

// validPriorities picks, from x, priorities (7: none) valid for mode.
func validPriorities(mode atsss.SteeringMode, x byte) [2]byte {
	var pair [2]byte
	switch mode {
	case atsss.ModeActiveStandby:
		pair = [2]byte{byte(atsss.PriorityActive), byte(atsss.PriorityStandby)}
		if x&2 != 0 {
			pair[1] = byte(atsss.PriorityNoStandby)
		}
	case atsss.ModePriorityBased:
		pair = [2]byte{byte(atsss.PriorityHigh), byte(atsss.PriorityLow)}
	case atsss.ModeRedundant:
		pair = [2]byte{byte(atsss.PriorityPrimary), byte(atsss.PrioritySecondary)}
		if x&2 != 0 {
			pair = [2]byte{7, 7}
		}
	default:
		return [2]byte{7, 7}
	}
	if x&1 != 0 {
		pair[0], pair[1] = pair[1], pair[0]
	}
	return pair
}

// decodeStep reads one step into s and returns how far the clock moves:
// 20 ms per unit, or back by a second for 0xFF.
func decodeStep(b *byteReader, s *State) time.Duration {
	dt, flags, srcs := b.byte(), b.byte(), b.byte()
	for _, a := range atsss.Accesses {
		p := &s.Paths[a]
		p.Report(SourceLink, flags&(1<<(2*a)) == 0)
		src := SourcePMF
		if srcs&(1<<a) != 0 {
			src = SourceN4
		}
		p.Report(src, flags&(2<<(2*a)) == 0)
		p.Congested = flags&(16<<a) != 0
	}
	for _, a := range atsss.Accesses {
		s.Paths[a].RTT = time.Duration(b.uint16()%1024) * ms // around the thresholds (< 1 s)
	}
	for _, a := range atsss.Accesses {
		l := b.uint16()
		s.Paths[a].Loss, s.Paths[a].LossKnown = LossRate(l%1100), l != 0xFFFF
	}
	s.DuplicationSuspended = flags&64 != 0
	s.Assist = UEAssistance{Active: flags&128 != 0, Share3GPP: b.byte() % 110}
	if dt == 0xFF {
		return -time.Second
	}
	return time.Duration(dt) * 20 * ms
}

// encodeMAR and encodeStep are the inverses of decodeMAR and decodeStep,
// for the fuzz seeds: the table and sequence cases.
func encodeMAR(m atsss.MAR, dir Direction) []byte {
	out := []byte{byte(m.Functionality), byte(m.Mode)}
	legs := byte(0)
	var prio [2]byte
	for _, a := range atsss.Accesses {
		prio[a] = 7
		if l := m.Legs[a]; l.Present {
			legs |= 1 << a
			if l.Priority.Set {
				prio[a] = byte(l.Priority.Value)
			}
		}
	}
	out = append(out, legs, prio[0], prio[1], m.Legs[a3].Weight.Value)
	var thr, plr byte
	var rtt uint16
	if t := m.Thresholds; t != nil {
		if t.RTT.Set {
			thr |= 1
		}
		if t.PLR.Set {
			thr |= 2
		}
		rtt, plr = t.RTT.Value, t.PLR.Value
	}
	out = append(out, thr)
	out = binary.BigEndian.AppendUint16(out, rtt)
	out = append(out, plr)
	smi := byte(0)
	if m.SMI != nil && m.SMI.AutonomousLoadBalancing {
		smi = 1
	} else if m.SMI != nil && m.SMI.UEAssistance {
		smi = 2
	}
	return append(out, smi, byte(dir))
}

func encodeStep(out []byte, dt time.Duration, s State) []byte {
	var flags, srcs byte
	for _, a := range atsss.Accesses {
		p := s.Paths[a]
		if p.LinkDown {
			flags |= 1 << (2 * a)
		}
		if p.Unavailable {
			flags |= 2 << (2 * a)
		}
		if p.ReportedBy == SourceN4 {
			srcs |= 1 << a
		}
		if p.Congested {
			flags |= 16 << a
		}
	}
	if s.DuplicationSuspended {
		flags |= 64
	}
	if s.Assist.Active {
		flags |= 128
	}
	dtb := byte(min(dt/(20*ms), 0xFE))
	if dt < 0 {
		dtb = 0xFF
	}
	out = append(out, dtb, flags, srcs)
	for _, a := range atsss.Accesses {
		out = binary.BigEndian.AppendUint16(out, uint16(s.Paths[a].RTT/ms))
	}
	for _, a := range atsss.Accesses {
		l := uint16(0xFFFF)
		if s.Paths[a].LossKnown {
			l = uint16(s.Paths[a].Loss)
		}
		out = binary.BigEndian.AppendUint16(out, l)
	}
	return append(out, s.Assist.Share3GPP)
}

// runCase decodes a MAR and up to 64 steps from data and checks every
// decision: the invariants, determinism, and Smallest Delay's hysteresis.
func runCase(t *testing.T, data []byte) {
	t.Helper()
	b := &byteReader{data: data}
	m, dir := decodeMAR(b)
	r, err := NewRule(&m)
	if err != nil {
		if re := (*atsss.RuleError)(nil); !errors.As(err, &re) || re.Rule != atsss.RuleMAR || re.Field == "" {
			t.Fatalf("NewRule(%+v) = %v, want an *atsss.RuleError of the MAR naming a field", m, err)
		}
		return
	}
	s := State{Direction: dir}
	now := t0
	var prev Decision
	prevBoth := false
	for i := 0; i < 64 && (i == 0 || b.more()); i++ {
		now = now.Add(decodeStep(b, &s))
		next, again := s, s
		d := Decide(&r, &next, now)
		if d2 := Decide(&r, &again, now); d2 != d || again != next {
			t.Fatalf("step %d: Decide is not deterministic: %v then %v", i, d, d2)
		}
		if next.Direction != s.Direction || next.Paths != s.Paths || next.Assist != s.Assist || next.DuplicationSuspended != s.DuplicationSuspended {
			t.Fatalf("step %d: Decide changed its inputs", i)
		}
		checkInvariants(t, m, next, d)
		if dl, ok := next.Deadline(); ok && !dl.After(now) {
			t.Errorf("step %d: Deadline() = %v, not after now %v", i, dl, now)
		}
		if i > 0 {
			checkDelayHysteresis(t, m, prev, d, prevBoth, next)
		}
		prev, s = d, next
		prevBoth = m.Legs[a3].Present && m.Legs[aN].Present && s.Paths[a3].Available() && s.Paths[aN].Available()
		if t.Failed() {
			t.Fatalf("step %d failed; input %x", i, data)
		}
	}
}

// TestDecideProperties runs the invariants over seeded random MARs and
// step sequences: reproducible, unlike the fuzzer's own exploration.
func TestDecideProperties(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(4, 2026))
	data := make([]byte, marLen+20*stepLen)
	for range n {
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// Availability flips are rare in life; make most steps keep both
		// accesses up so the measurement paths get exercised.
		for i := marLen + 1; i < len(data); i += stepLen {
			if rng.IntN(4) != 0 {
				data[i] &^= 0x0f
			}
		}
		runCase(t, data)
	}
}

// TestSmallestDelayHysteresisProperty: once Smallest Delay has settled,
// RTTs that never differ by the margin in favour of the other access do
// not move it, however long they last.
func TestSmallestDelayHysteresisProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	r := mustRule(t, marSD())
	for range 2000 {
		s := State{Paths: paths(bothUp, 1+rng.IntN(200), 1+rng.IntN(200), -1, -1)}
		now := t0
		first := Decide(&r, &s, now)
		cur := first.Primary
		for range 50 {
			now = now.Add(time.Duration(rng.IntN(3000)) * ms)
			rc := time.Duration(1+rng.IntN(300)) * ms
			// The other access is worse, equal, or better by less than
			// the margin.
			lo := rc - delayMargin(rc) + 1
			ro := lo + time.Duration(rng.Int64N(int64(400*ms)))
			s.Paths[cur].RTT, s.Paths[cur.Other()].RTT = rc, max(ro, 1)
			if d := Decide(&r, &s, now); d != first {
				t.Fatalf("decision moved from %v to %v on RTT %v vs %v (margin %v)", first, d, rc, ro, delayMargin(rc))
			}
		}
	}
}

func FuzzDecide(f *testing.F) {
	for _, tc := range decideCases {
		f.Add(encodeStep(encodeMAR(tc.mar, tc.st.Direction), 0, tc.st))
	}
	for _, sq := range sequenceCases {
		data := encodeMAR(sq.mar, sq.dir)
		s := State{Direction: sq.dir}
		for _, step := range sq.steps {
			step.set(&s)
			data = encodeStep(data, step.after, s)
		}
		f.Add(data)
	}
	f.Fuzz(runCase)
}
