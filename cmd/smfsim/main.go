// Command smfsim plays the SMF toward a UPF over PFCP (N4, TS 29.244): it
// sets up MA PDU sessions with Multi-Access Rules, changes and deletes them,
// runs YAML scenarios of such steps, and measures how fast a UPF
// establishes sessions. It is a thin command line over package pfcptest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	pfcplib "github.com/wmnsk/go-pfcp"

	"github.com/openatsss/atsss/pfcp/pfcptest"
)

const usage = `smfsim plays the SMF toward a UPF over PFCP (N4, TS 29.244): it sets up
MA PDU sessions with Multi-Access Rules, changes and deletes them, and
measures how fast a UPF establishes them.

Usage:
  smfsim <command> [flags]

Commands:
  associate  set up the PFCP association and print the UPF's features
  establish  associate, then establish one MA PDU session
             (or run a scenario with -scenario FILE)
  modify     change a MAR of a session, or tell the UPF an access
             became available or unavailable
  delete     delete a session
  load       establish many sessions and report rate, latency and Causes
  run        run a YAML scenario, then answer heartbeats and print
             session reports until interrupted

Every command takes -upf, -local, -node-id, -recovery, -t1, -n1 and -o;
"smfsim <command> -h" lists all its flags. The exit status is 1 when a
response's Cause is not the one expected (-expect, or a scenario step's
expect) or a request fails, 2 for a usage error.
`

// Exit statuses.
const (
	exitOK         = 0
	exitUnexpected = 1
	exitUsage      = 2
)

func main() {
	pfcplib.DisableLogging() // go-pfcp logs to the standard logger by default
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// commands maps a command's name to what runs it.
var commands = map[string]func(ctx context.Context, args []string, out *printer) error{
	"associate": associate,
	"establish": establish,
	"modify":    modify,
	"delete":    deleteSession,
	"load":      load,
	"run":       runScenario,
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "smfsim: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	err := cmd(ctx, args[1:], &printer{w: stdout, errw: stderr})
	var usageErr usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "smfsim %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "smfsim %s: %v\n", args[0], err)
		return exitUnexpected
	}
}

// usageError is a wrong command line or scenario file.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// node holds the flags every command has: where the UPF is and who the SMF is.
type node struct {
	upf, local netip.AddrPort
	nodeID     string
	recovery   time.Time
	t1         time.Duration
	n1         int
	output     string
}

// defaultRecovery is the Recovery Time Stamp smfsim sends unless told
// otherwise. It is fixed so that commands run one after the other are the
// same SMF to the UPF: a new Recovery Time Stamp in an Association Setup
// says the SMF restarted, and a UPF may then drop its sessions.
var defaultRecovery = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newFlagSet returns the flag set of a command with the flags of node.
func newFlagSet(name, synopsis string, out *printer, n *node) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out.errw)
	fs.Usage = func() {
		fmt.Fprintf(out.errw, "Usage: smfsim %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	fs.TextVar(&n.upf, "upf", netip.MustParseAddrPort("127.0.0.1:8805"), "`address:port` of the UPF's PFCP endpoint")
	fs.TextVar(&n.local, "local", netip.MustParseAddrPort("127.0.0.2:8805"), "`address:port` to send from; port 0 picks one. atsssd sends its own requests (heartbeats, session reports) to the address the association came from; other UPFs may use port 8805")
	fs.StringVar(&n.nodeID, "node-id", "", "the SMF's Node ID, an IP address or an FQDN (default: the -local address)")
	fs.TextVar(&n.recovery, "recovery", defaultRecovery, "the SMF's Recovery Time Stamp, an RFC 3339 `time`; change it to play an SMF that restarted")
	fs.DurationVar(&n.t1, "t1", 3*time.Second, "how long to wait for a response before sending the request again (T1)")
	fs.IntVar(&n.n1, "n1", 3, "how many times to send an unanswered request again (N1)")
	fs.StringVar(&n.output, "o", "text", "output format: text, or json (one object per line)")
	return fs
}

// parse parses args into fs and checks the flags of node.
func (n *node) parse(fs *flag.FlagSet, args []string, out *printer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	switch n.output {
	case "text":
	case "json":
		out.json = true
	default:
		return usagef("-o %q: want text or json", n.output)
	}
	if n.n1 < 0 {
		return usagef("-n1 %d: want 0 or more", n.n1)
	}
	return nil
}

// dial opens a client and runs it until the returned stop is called.
func (n *node) dial(ctx context.Context, out *printer) (c *pfcptest.Client, stop func(), err error) {
	d := pfcptest.Dialer{T1: n.t1, N1: n.n1, Recovery: n.recovery}
	if n.n1 == 0 {
		d.N1 = -1 // the Dialer's 0 means its default
	}
	c, err = d.Dial(ctx, n.local, n.upf, n.nodeID)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			fmt.Fprintf(out.errw, "smfsim: %v\n", err)
		}
	}()
	return c, func() { cancel(); <-done }, nil
}
