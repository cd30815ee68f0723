// Command atsss-lab runs the two-access lab on this machine, as root: the
// namespaces ue, upf and dn, atsssd with its MPTCP proxy in upf, an SMF
// (smfsim) installing MA PDU sessions, and a lab UE.
//
//	atsss-lab demo [-size MiB] [-cut link-down|silent-drop] [-out file.svg]
//	atsss-lab scenario [-size MiB] [-for d] [-out file.svg] active-standby|smallest-delay|load-balancing|priority-based|redundant|policy
//	atsss-lab up                 # the lab with atsssd and one session, until Ctrl-C
//	atsss-lab list               # labs left in /run/netns
//	atsss-lab down [lab-id ...]  # remove them (default: every atsss lab)
//
// demo is atsss's main job: one UE connection through the proxy over both
// accesses moves a checked byte stream each way, the non-3GPP access is cut
// halfway through and restored, a per-access throughput line runs live,
// and at the end it prints a summary and writes a throughput-over-time plot.
// scenario does the same for one steering mode at a time, with atsssd
// steering: a story told before, a live line, a summary, a plot. Scenario
// policy shows operator policies instead: applied to live connections and
// deleted with atsssctl through atsssd's gRPC API.
// It builds atsssd and smfsim from this module, so run it from the
// repository: go run ./cmd/atsss-lab demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/openatsss/atsss/test/lab"
)

const usage = `usage: atsss-lab <command> [flags]

commands:
  demo   build the lab, move data through the MPTCP proxy over both accesses,
         cut the non-3GPP access halfway and restore it; print and plot it
  scenario <mode>
         show a steering mode with atsssd steering: active-standby,
         smallest-delay, load-balancing, priority-based or redundant;
         or policy: operator policies applied live with atsssctl through
         atsssd's gRPC API (Load-Balancing 80/20 over an Active-Standby
         session, a rate cap, then deleted)
  up     build the lab with atsssd and one MA PDU session; stay until Ctrl-C
  list   list the labs in /run/netns
  down   remove labs: the IDs given, or every lab named atsss-*

Run "atsss-lab <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted && err != nil:
		fmt.Fprintln(os.Stderr, "atsss-lab: interrupted; the lab is removed")
		os.Exit(130)
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "atsss-lab:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "demo":
		return demo(ctx, args, out)
	case "scenario":
		return runScenario(ctx, args, out)
	case "up":
		return up(ctx, args, out)
	case "list":
		return list(args, out)
	case "down":
		return down(args, out)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

func list(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	all := fs.Bool("all", false, "list labs of every prefix, not only atsss-*")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prefix := lab.DefaultName
	if *all {
		prefix = ""
	}
	ids, err := lab.List(prefix)
	if err != nil {
		return err
	}
	for _, id := range ids {
		fmt.Fprintln(out, id)
	}
	return nil
}

func down(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ids := fs.Args()
	if len(ids) == 0 {
		var err error
		if ids, err = lab.List(lab.DefaultName); err != nil {
			return err
		}
	}
	var errs []error
	for _, id := range ids {
		if err := lab.Remove(id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(out, "removed", id)
	}
	return errors.Join(errs...)
}
