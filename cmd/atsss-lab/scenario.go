package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/continuity"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/linkemu"
	"github.com/openatsss/atsss/test/rig"
)

// scenario is a steering mode shown in the lab: atsssd steers (userspace
// path manager, access links followed, and the PMF where the mode needs
// RTTs), the SMF installs a session in that mode, and halfway through a
// transfer the access the mode prefers is taken down and brought back.
type scenario struct {
	session sessionSpec
	emulate [2]linkemu.Profile // per access; zero: none
	pmf     bool               // the mode steers by PMF RTT
	cut     atsss.AccessType
	story   string
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
	sizeMiB := fs.Uint64("size", 128, "MiB to move each way")
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
	if *plot == "" {
		*plot = "atsss-lab-" + mode + ".svg"
	}
	opts := rig.Options{
		Lab: rates.config(),
		Proxy: map[string]any{"steering": true, "access_links": map[string][]string{
			"3gpp": {lab.Access[atsss.Access3GPP].Link}, "non3gpp": {lab.Access[atsss.AccessNon3GPP].Link},
		}},
	}
	opts.Lab.Emulate = sc.emulate
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
	fmt.Fprintf(out, "%s: %s\n", mode, sc.story)
	return l.play(ctx, out, continuity.Scenario{
		// Opened over the access that goes down: when the proxy destroys a
		// UE's joined subflow, the UE's in-kernel path manager does not
		// open it again on re-add (README, Limitations).
		Size: *sizeMiB << 20, Cut: sc.cut, OpenOverCut: true, How: lab.LinkDown, For: *cutFor, CutAt: 0.5, DNPort: dnPort,
	}, *plot, fmt.Sprintf("atsss lab, %s: %v link down for %v, then back", mode, sc.cut, *cutFor))
}
