package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/test/continuity"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/pace"
	"github.com/openatsss/atsss/test/rig"
)

// scenario is a steering mode shown in the lab: atsssd steers (userspace
// path manager, access links followed, and the PMF where the mode needs
// RTTs) and the SMF installs a session in that mode. A bulk scenario moves
// one checked transfer each way (continuity) and takes the access the mode
// prefers down halfway and back; a paced one (paced.go) runs phases of
// connections at set rates, for modes whose effect one bulk connection
// cannot show.
type scenario struct {
	session   sessionSpec
	rates     *[2]lab.Rate       // the lab's shaping unless -rate-* is given; nil: the flags' defaults
	emulate   [2]linkemu.Profile // per access; zero: none
	pmf       bool               // the mode steers by PMF RTT
	pfcpATSSS map[string]any     // pfcp.atsss settings the mode needs (rig.Options.ATSSS)
	api       bool               // atsssd serves its gRPC API (rig.Options.API): the scenario runs atsssctl
	cut       atsss.AccessType
	story     string
	// paced, if set, makes this a paced scenario: its plan, given how long
	// an access stays down (-for).
	paced func(cutFor time.Duration) pacedPlan
}

var scenarios = map[string]scenario{
	"active-standby": {
		session: sessionSpec{rig.SessionSpec{Mode: "active-standby", Priorities: "active/standby"}, "MPTCP Active-Standby, 3GPP active"},
		cut:     atsss.Access3GPP,
		story:   "the traffic goes over the active 3GPP access only; halfway 3GPP's link goes down: the standby (non-3GPP) takes over at once, and the traffic goes back when 3GPP returns",
	},
	"smallest-delay": {
		session: sessionSpec{rig.SessionSpec{Mode: "smallest-delay"}, "MPTCP Smallest Delay"},
		emulate: [2]linkemu.Profile{atsss.Access3GPP: {Delay: 20 * time.Millisecond}, atsss.AccessNon3GPP: {Delay: 5 * time.Millisecond}},
		pmf:     true,
		cut:     atsss.AccessNon3GPP,
		story:   "3GPP has 40 ms of RTT and non-3GPP 10 ms (link emulator), measured by the PMF; the traffic goes over non-3GPP; halfway its link goes down: 3GPP takes over, and the traffic goes back when non-3GPP returns",
	},
	"load-balancing": {
		session: sessionSpec{rig.SessionSpec{Mode: "load-balancing", Weights: "70/30"}, "MPTCP Load-Balancing 70/30"},
		cut:     atsss.Access3GPP,
		story: fmt.Sprintf("this kernel has no weighted MPTCP scheduler, so the proxy pins each new connection to one access by smooth weighted round robin "+
			"(the other access's subflow is its backup): one connection shows one access. %d connections, opened one every %v, each sending %g Mbit/s up and %g down, "+
			"go %d to 3GPP and %d to non-3GPP, and the bytes split 70/30; then 3GPP's link goes down and every connection moves to non-3GPP; "+
			"when it returns and the UE rejoins, the connections pinned to 3GPP go back to it",
			lbConns, lbGap, lbUp, lbDown, lbConns*70/100, lbConns-lbConns*70/100),
		paced: loadBalancing,
	},
	// Not a mode of the SMF's MAR: operator policies overriding it.
	// The session's PDRs detect the DN server's flows by the SDF filter
	// that the policy matches: the API then shows the policy in force on
	// their MAR (a policy for a flow filter shows on the PDRs with the
	// same filter; it steers the flows it matches either way).
	"policy": {
		session: sessionSpec{rig.SessionSpec{Mode: "active-standby", Priorities: "active/standby", SDF: rig.DNFlow}, "MPTCP Active-Standby, 3GPP active, PDRs for " + rig.DNFlow},
		// Room on 3GPP for what the rate cap held back to drain quickly
		// once the policy is gone: at 100 Mbit/s it took seconds, with
		// 3GPP saturated and the kernel re-sending some over the backup.
		rates: &[2]lab.Rate{atsss.Access3GPP: {UpMbit: 200, DownMbit: 200}, atsss.AccessNon3GPP: {UpMbit: 200, DownMbit: 200}},
		api:   true,
		story: polStory,
		paced: operatorPolicy,
	},
	"priority-based": {
		session: sessionSpec{rig.SessionSpec{Mode: "priority-based", Priorities: "high/low"}, "MPTCP Priority-based, 3GPP high, non-3GPP low"},
		rates:   &[2]lab.Rate{atsss.Access3GPP: {UpMbit: prHighMbit, DownMbit: prHighMbit}, atsss.AccessNon3GPP: {UpMbit: 100, DownMbit: 100}},
		story: fmt.Sprintf("the high-priority 3GPP access is shaped to %d Mbit/s, the low non-3GPP one to 100. One connection (opened over non-3GPP) gets %g Mbit/s down "+
			"and %g up: all of it goes over 3GPP. Then the DN sends in bulk: 3GPP saturates and the proxy lets the excess overflow to non-3GPP. "+
			"Then %g Mbit/s again: once the backlog has drained and the overflow's %v hold has passed, non-3GPP carries nothing again (the summary measures from %v in)",
			prHighMbit, prPaced, prUp, prPaced, steering.OverflowHold, prAgainSettle),
		paced: priorityBased,
	},
	"redundant": {
		session: sessionSpec{rig.SessionSpec{Mode: "redundant", Priorities: "primary/secondary"}, "MPTCP Redundant, 3GPP primary"},
		// atsssd accepts Redundant MPTCP MARs only when told that serving
		// them without duplicates will do.
		pfcpATSSS: map[string]any{"redundant_mptcp": true},
		cut:       atsss.Access3GPP,
		story: "Redundant asks for every packet on both accesses, but this kernel's MPTCP has no redundant scheduler ({schedulers}), " +
			"so nothing is duplicated: the proxy keeps both subflows active and the default scheduler sends each byte once, over whichever has room — " +
			"both accesses carry. Halfway the primary 3GPP access's link goes down and non-3GPP carries alone, until 3GPP returns",
	},
}

// The load-balancing scenario's connections and their rates.
const (
	lbConns = 20
	lbGap   = 150 * time.Millisecond
	lbUp    = 1.0 // Mbit/s per connection
	lbDown  = 4.0
)

// loadBalancing: connections open one by one (the split converges as they
// come), all run, 3GPP goes down, 3GPP comes back.
func loadBalancing(cutFor time.Duration) pacedPlan {
	return pacedPlan{first: atsss.Access3GPP, up: lbUp, down: lbDown, phases: []phase{
		{mark: fmt.Sprintf("opening %d connections", lbConns), length: lbConns*lbGap + 500*time.Millisecond,
			enter: func(ctx context.Context, p *pacedRun) error { p.dial(ctx, lbConns, lbGap); return nil }},
		{mark: fmt.Sprintf("%d connections", lbConns), length: 4 * time.Second, settle: 500 * time.Millisecond,
			enter: func(context.Context, *pacedRun) error { return nil }},
		{mark: "3gpp cut", length: cutFor, settle: min(time.Second, cutFor/2),
			enter: func(_ context.Context, p *pacedRun) error { return p.l.ue.LinkDown(atsss.Access3GPP) }},
		// Opened over 3GPP, every connection gets its 3GPP subflow back
		// when the UE re-adds its endpoint (README, Limitations).
		{mark: "3gpp restored, UE rejoined", length: 4 * time.Second, settle: 1500 * time.Millisecond,
			enter: func(_ context.Context, p *pacedRun) error { return p.l.ue.LinkUp(atsss.Access3GPP) }},
	}}
}

// The priority-based scenario's rates, Mbit/s.
const (
	prHighMbit = 20
	prPaced    = 5.0
	prUp       = 1.0
)

// prAgainSettle is when the summary starts measuring the priority-based
// scenario's last phase. The bulk phase leaves a backlog in the DN's and
// the proxy's socket buffers (0.7–3 s to drain, measured here), then the
// overflow holds (steering.OverflowHold). When the pacing sent 16 kB
// bursts every 25 ms, the hold started over once or twice after it ended
// (2 runs of 6: 200 ms to 2 s back on 3GPP, then 2 s more on non-3GPP):
// presumably the high access's subflow, its slow-start threshold lowered
// by the bulk phase's losses, looked saturated while each burst waited for
// its congestion window. With 3 kB every 5 ms (test/pace) it did not
// (3 of 3).
const prAgainSettle = 8 * time.Second

// priorityBased: paced, bulk, paced again.
func priorityBased(time.Duration) pacedPlan {
	setDown := func(mbit float64) func(context.Context, *pacedRun) error {
		return func(_ context.Context, p *pacedRun) error { p.down.Set(mbit); return nil }
	}
	return pacedPlan{first: atsss.AccessNon3GPP, up: prUp, down: prPaced, phases: []phase{
		{mark: fmt.Sprintf("paced %g Mbit/s", prPaced), length: 4 * time.Second, settle: time.Second,
			enter: func(ctx context.Context, p *pacedRun) error { p.dial(ctx, 1, 0); return nil }},
		{mark: "bulk", length: 5 * time.Second, settle: time.Second, enter: setDown(pace.Bulk)},
		{mark: fmt.Sprintf("paced %g Mbit/s again", prPaced), length: prAgainSettle + 3*time.Second, settle: prAgainSettle, enter: setDown(prPaced)},
	}}
}

func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func runScenario(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("scenario", flag.ContinueOnError)
	sizeMiB := fs.Uint64("size", 128, "MiB to move each way (bulk scenarios: active-standby, smallest-delay, redundant)")
	cutFor := fs.Duration("for", 2*time.Second, "how long the access stays down")
	plot := fs.String("out", "", "the plot to write (SVG; a PNG and a CSV go beside it); default atsss-lab-<mode>.svg")
	rates := rateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("scenario: name one mode: %s", strings.Join(scenarioNames(), ", "))
	}
	mode := fs.Arg(0)
	sc, ok := scenarios[mode]
	if !ok {
		return fmt.Errorf("scenario %q: want one of %s", mode, strings.Join(scenarioNames(), ", "))
	}
	if *sizeMiB == 0 {
		return fmt.Errorf("-size: must be at least 1 MiB")
	}
	if *cutFor <= 0 {
		return fmt.Errorf("-for: must be positive")
	}
	if *plot == "" {
		*plot = "atsss-lab-" + mode + ".svg"
	}
	opts := rig.Options{
		Lab: rates.config(),
		Proxy: map[string]any{"steering": true, "access_links": map[string][]string{
			"3gpp": {lab.Access[atsss.Access3GPP].Link}, "non3gpp": {lab.Access[atsss.AccessNon3GPP].Link},
		}},
	}
	if sc.rates != nil {
		// The scenario's shaping, but for what the flags set.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, a := range atsss.Accesses {
			if !set[rateFlagName[a]] {
				opts.Lab.Rate[a] = sc.rates[a]
			}
		}
	}
	opts.Lab.Emulate = sc.emulate
	opts.ATSSS = sc.pfcpATSSS
	opts.API = sc.api
	if sc.pmf {
		opts.PMF = map[string]any{"echo_interval": "100ms", "rtt_gain": 0.25}
	}
	l, err := start(ctx, out, opts, sc.session)
	if err != nil {
		return err
	}
	defer func() { l.close(out, err) }()
	if sc.pmf {
		if _, err := l.ue.StartPMF(ctx); err != nil {
			return err
		}
		fmt.Fprintln(out, "the lab UE's PMF client answers atsssd's RTT probes on both accesses")
		time.Sleep(time.Second) // ten probes per access: the RTTs settle
	}
	story := sc.story
	if strings.Contains(story, "{schedulers}") {
		story = strings.ReplaceAll(story, "{schedulers}", l.schedulers())
	}
	fmt.Fprintf(out, "%s: %s\n", mode, story)
	if sc.paced != nil {
		return l.playPaced(ctx, out, sc.paced(*cutFor), *plot, fmt.Sprintf("atsss lab, %s", mode))
	}
	return l.play(ctx, out, continuity.Scenario{
		// Opened over the access that goes down: when the proxy destroys a
		// UE's joined subflow, the UE's in-kernel path manager does not
		// open it again on re-add (README, Limitations).
		Size: *sizeMiB << 20, Cut: sc.cut, OpenOverCut: true, How: lab.LinkDown, For: *cutFor, CutAt: 0.5, DNPort: dnPort,
	}, *plot, fmt.Sprintf("atsss lab, %s: %v link down for %v, then back", mode, sc.cut, *cutFor))
}

// schedulers returns the MPTCP packet schedulers the kernel offers, as
// atsssd's namespace sees them (net.mptcp.available_schedulers).
func (l *running) schedulers() string {
	var b []byte
	err := l.rig.Lab.UPF.Do(func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/net/mptcp/available_schedulers")
		return err
	})
	if err != nil {
		return "net.mptcp.available_schedulers unreadable: " + err.Error()
	}
	return "net.mptcp.available_schedulers: " + strings.TrimSpace(string(b))
}
