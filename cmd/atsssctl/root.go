package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"

	"github.com/openatsss/atsss/api/client"
)

const (
	defaultAddr = "127.0.0.1:7788"
	envAddr     = "ATSSSCTL_ADDR"
	envToken    = "ATSSSCTL_TOKEN"
)

const rootLong = `atsssctl is the operator's command line over the atsss gRPC API: the UPF's
multi-access sessions (SessionService), steering policies (PolicyService) and
grpc.health.v1.

Connection:
  --addr is a grpc target (host:port, dns:///host:port or unix:///path); it
  defaults to $` + envAddr + `, else ` + defaultAddr + `.
  TLS is the default, verified against the system roots or --ca; --cert and
  --key present a client certificate; --server-name overrides the name
  checked in the server's certificate. --plaintext turns TLS off: it is meant
  for loopback labs.
  --token (or $` + envToken + `, which keeps the token out of the process
  list) is sent on every call as "authorization: Bearer <token>". Over
  --plaintext a token is only sent to a loopback address (127.0.0.0/8, ::1,
  localhost) or a Unix socket; any other target is refused before dialing.
  --timeout bounds each command's calls (0: no limit); it does not apply to
  the streams of "sessions watch".

Output (-o): table (aligned columns, the default), json (protojson, the API's
lowerCamel field names and enum names, as grpcurl prints them) or yaml (the
same document as YAML).

Exit codes:
  0        success
  1        local error (unreadable file, bad YAML, policy file errors)
  2        usage error (unknown command or flag, bad argument, contradictory
           flags)
  4        health: the server answered but the service is not SERVING
  64+code  the server or grpc returned gRPC status code "code" (the mapping
           grpcurl uses):
             65 Canceled            72 ResourceExhausted  77 Internal
             66 Unknown             73 FailedPrecondition 78 Unavailable
             67 InvalidArgument     74 Aborted            79 DataLoss
             68 DeadlineExceeded    75 OutOfRange         80 Unauthenticated
             69 NotFound            76 Unimplemented
             70 AlreadyExists       71 PermissionDenied
           The status is printed on stderr as "atsssctl: <code>: <message>",
           followed by one line per field violation when the status carries
           them (google.rpc.BadRequest or buf.validate.Violations).`

// app is one invocation of atsssctl: its streams, global flags and the
// connection its command dials. Owned by the goroutine running the command.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether w is a terminal; sessions watch redraws a
	// live table when it is.
	isTerminal func(w io.Writer) bool

	cfg     client.Config
	timeout time.Duration
	output  string
	// started is set once the global flags were parsed and checked: an
	// error before that is a usage error.
	started bool

	conn *grpc.ClientConn // dialed by dial, closed by run
}

// run executes atsssctl with args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, isTerminal: isTerminal}
	return a.execute(ctx, args)
}

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if a.conn != nil {
		a.conn.Close()
	}
	if err != nil && !a.started {
		err = usageError{err}
	}
	return a.report(cmd, err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "atsssctl",
		Short:         "Operate the atsss UPF-side ATSSS function over its gRPC API",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkGlobals(); err != nil {
				return usageError{err}
			}
			a.started = true
			return nil
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.HiddenDefaultCmd = true

	addr := a.getenv(envAddr)
	if addr == "" {
		addr = defaultAddr
	}
	f := root.PersistentFlags()
	f.StringVar(&a.cfg.Addr, "addr", addr, "server address (grpc target); env "+envAddr)
	f.BoolVar(&a.cfg.Plaintext, "plaintext", false, "no TLS: for loopback labs only")
	f.StringVar(&a.cfg.CAFile, "ca", "", "PEM file of the CA(s) that signed the server certificate (default: system roots)")
	f.StringVar(&a.cfg.CertFile, "cert", "", "PEM client certificate file (with --key)")
	f.StringVar(&a.cfg.KeyFile, "key", "", "PEM client key file (with --cert)")
	f.StringVar(&a.cfg.ServerName, "server-name", "", "name to verify in the server certificate (default: from --addr)")
	f.StringVar(&a.cfg.Token, "token", "", "bearer token sent on every call; env "+envToken)
	f.DurationVar(&a.timeout, "timeout", 10*time.Second, "deadline of each command's calls; 0 for none")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")

	root.AddCommand(a.sessionsCommand(), a.policyCommand(), a.healthCommand(), a.versionCommand())
	return root
}

// checkGlobals checks the global flags together, before any command runs.
func (a *app) checkGlobals() error {
	switch a.output {
	case "table", "json", "yaml":
	default:
		return fmt.Errorf("--output %q: want table, json or yaml", a.output)
	}
	if a.timeout < 0 {
		return errors.New("--timeout must not be negative")
	}
	if a.cfg.Token == "" {
		a.cfg.Token = a.getenv(envToken)
	}
	a.cfg.UserAgent = "atsssctl/" + buildVersion().Version
	return a.cfg.Validate()
}

// dial returns the connection to the server, creating it on first use. It
// does not connect: the first call does.
func (a *app) dial() (*grpc.ClientConn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	conn, err := client.Dial(a.cfg)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	return conn, nil
}

// call dials the server (once per run) and bounds a command's unary calls
// by --timeout.
func (a *app) call(ctx context.Context) (*grpc.ClientConn, context.Context, context.CancelFunc, error) {
	conn, err := a.dial()
	if err != nil {
		return nil, nil, nil, err
	}
	if a.timeout == 0 {
		ctx, cancel := context.WithCancel(ctx)
		return conn, ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	return conn, ctx, cancel, nil
}

// groupCommand is a command that only holds subcommands: without one it
// prints its help; an unknown one is a usage error.
func groupCommand(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	c.AddCommand(subs...)
	return c
}

// usageArgs marks the errors of an argument validator as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
