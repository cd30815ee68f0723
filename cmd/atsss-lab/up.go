package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
)

// up builds the lab with atsssd and one session and keeps it until the
// context ends (Ctrl-C), for poking at by hand.
func up(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	rates := rateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := start(ctx, out, rig.Options{Lab: rates.config()}, demoSession)
	if err != nil {
		return err
	}
	defer func() { l.close(out, err) }()
	r := l.rig.Lab
	fmt.Fprintf(out, `
the lab is up until Ctrl-C. Inside it:
  ip netns exec %[1]s ss -Mtni                    # the UE's MPTCP connections and subflows
  ip netns exec %[2]s ss -Mtni                    # the proxy's
  ip netns exec %[2]s curl -s 127.0.0.1:9100/sessions  # what atsssd holds
  ip netns exec %[2]s curl -s 127.0.0.1:9100/metrics   # its metrics
  ip -n %[1]s link set %[3]s down                  # cut the non-3GPP access (and "up" again)
The UE's link-specific addresses: 3GPP %[4]v, non-3GPP %[5]v; the DN server address %[6]v.
`, r.UE.Name, r.UPF.Name, lab.Access[atsss.AccessNon3GPP].Link, l.ue.LinkSpecific[atsss.Access3GPP], l.ue.LinkSpecific[atsss.AccessNon3GPP], lab.DNAddr)
	<-ctx.Done()
	fmt.Fprintln(out, "\ntaking the lab down")
	return nil
}
