package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/rig"
)

// The policy scenario: an operator steers live connections with policies
// applied through atsssd's gRPC API with atsssctl, over an Active-Standby
// session whose MAR alone would keep them all on 3GPP.
const (
	polName = "lab-dn"
	// polCapMbit is the rate cap per connection, downlink: half of what
	// the DN sends each (lbDown), so that the downlink halves on the plot.
	// A cap above lbDown would show nothing: it holds each flow, not
	// their sum.
	polCapMbit = lbDown / 2
	// polUp is each connection's uplink, Mbit/s. The policy steers the
	// downlink; the uplink stays where the UE sends it (the MAR's 3GPP),
	// and the plot counts both ways: kept small, it hardly moves the split.
	polUp = 0.2
)

// polFile is the policy file given to atsssctl: the DN server's flows,
// with more YAML (steering, rate cap).
func polFile(more string) string { return rig.PolicyFile(polName, rig.DNFlow, more) }

const polSteer = "steerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 80}\n"

var polStory = fmt.Sprintf("atsssd serves its gRPC API on %v in upf, and the operator runs atsssctl there. "+
	"The SMF's MAR is Active-Standby with 3GPP active: %d connections, opened one every %v, each sending %g Mbit/s up and %g down, all go over 3GPP. "+
	"Then a policy for the DN server's flows (%q) overrides the MAR's downlink steering with Load-Balancing 80/20: within a second the proxy pins %d of the live connections to 3GPP and %d to non-3GPP. "+
	"The same policy with a rate cap of %g Mbit/s per connection (downlink) halves the downlink, still 80/20. "+
	"Deleting the policy puts the MAR back in force: all on 3GPP again, at first at 3GPP's full rate while what the cap held back in the DN's socket buffers drains",
	rig.APIAddr, lbConns, lbGap, polUp, lbDown, rig.DNFlow, lbConns*80/100, lbConns-lbConns*80/100, polCapMbit)

// operatorPolicy: connections open under the MAR, a steering policy is
// applied, a rate cap added to it, the policy deleted.
func operatorPolicy(time.Duration) pacedPlan {
	return pacedPlan{first: atsss.Access3GPP, up: polUp, down: lbDown, phases: []phase{
		{mark: fmt.Sprintf("opening %d connections", lbConns), length: lbConns*lbGap + 500*time.Millisecond,
			enter: func(ctx context.Context, p *pacedRun) error { p.dial(ctx, lbConns, lbGap); return nil }},
		{mark: "MAR active-standby", length: 3 * time.Second, settle: 500 * time.Millisecond,
			enter: func(context.Context, *pacedRun) error { return nil }},
		// A policy change reaches live connections within a second
		// (issue 5): each phase is measured from then.
		{mark: "policy: load-balancing 80/20", length: 5 * time.Second, settle: time.Second,
			enter: func(ctx context.Context, p *pacedRun) error {
				return p.ctl(ctx, polFile(polSteer), "policy", "apply", "-f", "-")
			},
			// By now the session's downlink steering comes from the
			// policy: the API shows it.
			atSettle: func(ctx context.Context, p *pacedRun) error {
				return p.ctl(ctx, "", "sessions", "get", strconv.FormatUint(uint64(p.l.ue.SEID), 10))
			}},
		{mark: fmt.Sprintf("policy: rate cap %g Mbit/s", polCapMbit), length: 4 * time.Second, settle: time.Second,
			enter: func(ctx context.Context, p *pacedRun) error {
				return p.ctl(ctx, polFile(polSteer+fmt.Sprintf("rateCap: {downlinkBps: %d}\n", int64(polCapMbit*1e6))), "policy", "apply", "-f", "-")
			}},
		{mark: "policy deleted", length: 5 * time.Second, settle: time.Second,
			enter: func(ctx context.Context, p *pacedRun) error { return p.ctl(ctx, "", "policy", "delete", polName) }},
	}}
}

// ctl runs atsssctl against atsssd's API, as the operator on the UPF's
// host would, and shows the command, its input and its output.
func (p *pacedRun) ctl(ctx context.Context, stdin string, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "$ atsssctl %s", strings.Join(append(rig.CtlArgs(), args...), " "))
	if stdin != "" {
		fmt.Fprintf(&b, " <<EOF\n%sEOF", stdin)
	}
	b.WriteString("\n")
	out, err := p.l.rig.Ctl(ctx, stdin, args...)
	b.WriteString(out)
	if out != "" && !strings.HasSuffix(out, "\n") {
		b.WriteString("\n")
	}
	p.say(b.String())
	return err
}
