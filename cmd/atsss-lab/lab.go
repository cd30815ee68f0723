package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/uesim"
)

// rates are the per-access shaping flags.
type rates [2]*float64

// rateFlagName is each access's rate flag.
var rateFlagName = [2]string{atsss.Access3GPP: "rate-3gpp", atsss.AccessNon3GPP: "rate-non3gpp"}

func rateFlags(fs *flag.FlagSet) rates {
	return rates{
		atsss.Access3GPP:    fs.Float64(rateFlagName[atsss.Access3GPP], 100, "3GPP access rate each way, Mbit/s (0: unshaped; scenario priority-based: 20, policy: 200 unless given)"),
		atsss.AccessNon3GPP: fs.Float64(rateFlagName[atsss.AccessNon3GPP], 200, "non-3GPP access rate each way, Mbit/s (0: unshaped; scenario priority-based: 100 unless given)"),
	}
}

func (r rates) config() lab.Config {
	var c lab.Config
	for _, a := range atsss.Accesses {
		c.Rate[a] = lab.Rate{UpMbit: *r[a], DownMbit: *r[a]}
	}
	return c
}

// running is a lab with atsssd, an SMF and one UE session.
type running struct {
	rig *rig.Rig
	ue  *rig.UE
}

// sessionSpec is the MA PDU session a command has the SMF establish, and
// how to say it.
type sessionSpec struct {
	spec  rig.SessionSpec
	about string
}

// start checks the machine, builds atsssd and smfsim, the lab, starts
// atsssd and has the SMF establish one MA PDU session, telling out each
// step. On error it removes what it made.
func start(ctx context.Context, out io.Writer, opts rig.Options, session sessionSpec) (*running, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("run as root: the lab makes network namespaces")
	}
	if err := uesim.CheckKernel(); err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "building atsssd, smfsim and atsssctl, then the lab (namespaces ue, upf, dn; 3GPP and non-3GPP access links)")
	r, err := rig.New(ctx, "", opts)
	if err != nil {
		return nil, err
	}
	l := &running{rig: r}
	fmt.Fprintf(out, "lab %s: atsssd (N4 and MPTCP proxy on %v:%d) runs in %s; shaping 3GPP %v, non-3GPP %v\n",
		r.Lab.ID(), lab.ProxyAddr, rig.ProxyPort, r.Lab.UPF.Name, rateString(opts.Lab.Rate[atsss.Access3GPP]), rateString(opts.Lab.Rate[atsss.AccessNon3GPP]))
	l.ue, err = r.Establish(ctx, session.spec)
	if err != nil {
		l.close(io.Discard, nil)
		return nil, fmt.Errorf("establish the MA PDU session: %w", err)
	}
	fmt.Fprintf(out, "SMF established an MA PDU session over N4: UE %v, link-specific addresses 3GPP %v, non-3GPP %v, %s\n",
		l.ue.Addr, l.ue.LinkSpecific[atsss.Access3GPP], l.ue.LinkSpecific[atsss.AccessNon3GPP], session.about)
	return l, nil
}

func rateString(r lab.Rate) string {
	if r == (lab.Rate{}) {
		return "unshaped"
	}
	return fmt.Sprintf("%g/%g Mbit/s", r.UpMbit, r.DownMbit)
}

// close stops atsssd and removes the lab; if the run failed, atsssd's log
// goes to out first.
func (l *running) close(out io.Writer, failed error) {
	if d := l.rig.Daemon; d != nil && failed != nil && !errors.Is(failed, context.Canceled) {
		fmt.Fprintf(out, "atsssd log:\n%s", d.Log())
	}
	if err := l.rig.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "atsss-lab: clean up:", err)
	}
}
