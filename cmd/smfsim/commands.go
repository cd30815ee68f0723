package main

import (
	"context"
	"flag"

	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// expectFlag binds -expect, the Cause the command's response must have.
func expectFlag(fs *flag.FlagSet) *pfcptest.Cause {
	c := new(pfcptest.Cause)
	fs.TextVar(c, "expect", atsssie.CauseAccepted, "the `Cause` to expect, by number or name (1 or accepted, 74 or congestion, ...)")
	return c
}

func associate(ctx context.Context, args []string, out *printer) error {
	var n node
	fs := newFlagSet("associate", "Sets up the PFCP association and prints the UPF's Recovery Time Stamp and ATSSS features.", out, &n)
	expect := expectFlag(fs)
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	r, err := c.Associate(ctx)
	return out.outcome(newOutcome("associate", *expect, r, err))
}

func establish(ctx context.Context, args []string, out *printer) error {
	var n node
	var sf sessionFlags
	fs := newFlagSet("establish", `Sets up the association, then establishes an MA PDU session: the UE at
-ue (203.0.113.1) with QFI 9 on both accesses, N3 to the gNB and the N3IWF, and
one MAR of the flags, which steers all of its traffic unless -sdf says
otherwise. With -scenario, runs a scenario file instead and exits.`, out, &n)
	sf.register(fs)
	expect := expectFlag(fs)
	scenario := fs.String("scenario", "", "run the steps of this YAML `file` instead")
	withAssociation := fs.Bool("associate", true, "set up the association first")
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	if *scenario != "" {
		return play(ctx, &n, *scenario, false, out)
	}
	spec, err := sf.spec()
	if err != nil {
		return err
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	if *withAssociation {
		r, err := c.Associate(ctx)
		if err := out.outcome(newOutcome("associate", atsssie.CauseAccepted, r, err)); err != nil {
			return err
		}
	}
	r, err := c.Establish(ctx, spec)
	o := newOutcome("establish", *expect, r, err)
	o.SEID = spec.SEID
	return out.outcome(o)
}

func modify(ctx context.Context, args []string, out *printer) error {
	var n node
	fs := newFlagSet("modify", `Sends a Session Modification Request for the session with UP SEID -up-seid:
an Update MAR with what the MAR flags give (and nothing else), or Access
Availability Information with -available or -unavailable.`, out, &n)
	up := fs.Uint64("up-seid", 0, "the UP `SEID` of the session, as establish printed it")
	mar := pfcptest.MARText{ID: 1}
	marFlags(fs, &mar, false)
	available := fs.String("available", "", "`access` that became available: 3gpp or non3gpp")
	unavailable := fs.String("unavailable", "", "`access` that became unavailable: 3gpp or non3gpp")
	expect := expectFlag(fs)
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	seid := atsss.SEID(*up)
	if seid == 0 {
		return usagef("-up-seid missing")
	}
	changesMAR := mar != pfcptest.MARText{ID: mar.ID}
	var req message.Message
	switch {
	case changesMAR && (*available != "" || *unavailable != ""):
		return usagef("a MAR change and an access availability go in separate requests")
	case *available != "" && *unavailable != "":
		return usagef("-available and -unavailable at once")
	case *available != "" || *unavailable != "":
		a, err := pfcptest.ParseAccess(*available + *unavailable)
		if err != nil {
			return usageError{err}
		}
		req = pfcptest.AccessAvailability(seid, 0, a, *available != "")
	default:
		u, err := mar.Update()
		if err != nil {
			return usageError{err}
		}
		req = pfcptest.UpdateMAR(seid, 0, u)
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	r, err := c.Do(ctx, req)
	o := newOutcome("modify", *expect, r, err)
	o.UPSEID = seid
	return out.outcome(o)
}

func deleteSession(ctx context.Context, args []string, out *printer) error {
	var n node
	fs := newFlagSet("delete", "Deletes the session with UP SEID -up-seid.", out, &n)
	up := fs.Uint64("up-seid", 0, "the UP `SEID` of the session, as establish printed it")
	expect := expectFlag(fs)
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	seid := atsss.SEID(*up)
	if seid == 0 {
		return usagef("-up-seid missing")
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	r, err := c.Do(ctx, pfcptest.Deletion(seid, 0))
	o := newOutcome("delete", *expect, r, err)
	o.UPSEID = seid
	return out.outcome(o)
}
