package steering_test

import (
	"fmt"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// An Active-Standby MAR: 3GPP active, non-3GPP standby. The UE reports the
// 3GPP access unavailable over the PMF; the decision moves to the standby
// access at once and marks the 3GPP access down, so the proxy destroys its
// subflow instead of waiting for MPTCP to notice.
func ExampleDecide() {
	mar := atsss.MAR{
		ID:            1,
		Functionality: atsss.FunctionalityMPTCP,
		Mode:          atsss.ModeActiveStandby,
		Legs: [2]atsss.Leg{
			atsss.Access3GPP:    {Present: true, FARID: 1, Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}},
			atsss.AccessNon3GPP: {Present: true, FARID: 2, Priority: atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}},
		},
	}
	rule, err := steering.NewRule(&mar)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	st := steering.State{Direction: steering.Downlink}

	d := steering.Decide(&rule, &st, now)
	fmt.Println(d)
	fmt.Println("backup flag on non-3GPP:", d.Backup(atsss.AccessNon3GPP))

	st.Paths[atsss.Access3GPP].Report(steering.SourcePMF, false)
	d = steering.Decide(&rule, &st, now.Add(10*time.Millisecond))
	fmt.Println(d)
	fmt.Println("3GPP down by:", st.Paths[atsss.Access3GPP].DownBy())
	// Output:
	// 3gpp 100% active, non3gpp 0% backup (active access)
	// backup flag on non-3GPP: true
	// 3gpp 0% down, non3gpp 100% active (active access down: standby)
	// 3GPP down by: pmf
}

// Smallest Delay follows the lower RTT only when it is lower by the margin
// for the hold time.
func ExampleDecide_smallestDelay() {
	mar := atsss.MAR{ID: 2, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeSmallestDelay,
		Legs: [2]atsss.Leg{{Present: true, FARID: 1}, {Present: true, FARID: 2}}}
	rule, _ := steering.NewRule(&mar)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var st steering.State
	set := func(rtt3, rttN time.Duration) {
		st.Paths[atsss.Access3GPP].RTT, st.Paths[atsss.AccessNon3GPP].RTT = rtt3, rttN
	}
	set(40*time.Millisecond, 10*time.Millisecond)
	d := steering.Decide(&rule, &st, now)
	fmt.Println(d.Primary)
	set(10*time.Millisecond, 12*time.Millisecond) // better by 2 ms: within the margin
	d = steering.Decide(&rule, &st, now.Add(time.Second))
	fmt.Println(d.Primary)
	set(10*time.Millisecond, 40*time.Millisecond) // clearly better: held, then switched
	d = steering.Decide(&rule, &st, now.Add(2*time.Second))
	fmt.Println(d.Primary)
	d = steering.Decide(&rule, &st, now.Add(2*time.Second+steering.DelayHold))
	fmt.Println(d.Primary)
	// Output:
	// non3gpp
	// non3gpp
	// non3gpp
	// 3gpp
}
