package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// policyPrefix starts every policy's resource name (AIP-122).
const policyPrefix = "policies/"

func (a *app) policyCommand() *cobra.Command {
	return groupCommand("policy", "Apply, show, list and delete steering policies",
		a.policyApplyCommand(), a.policyGetCommand(), a.policyListCommand(), a.policyDeleteCommand())
}

// policyName makes a policy name argument a resource name: "lb-8020" and
// "policies/lb-8020" are the same policy.
func policyName(s string) (string, error) {
	id := strings.TrimPrefix(s, policyPrefix)
	if id == "" {
		return "", usageError{fmt.Errorf("policy name %q: want NAME or policies/NAME", s)}
	}
	return policyPrefix + id, nil
}

func (a *app) policyApplyCommand() *cobra.Command {
	var (
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or replace policies from a YAML file",
		Long: `Create or replace the policies of a YAML file (-f -: standard input). Each
YAML document (separated by ---) is one atsss.v1.Policy (api/atsss/v1/policy.proto)
in its protojson shape:

  - field names in lowerCamel (steerModeDl, threeGLoad) or snake_case
    (steer_mode_dl, three_g_load), as protojson accepts them;
  - enums by full name (STEERING_MODE_VALUE_LOAD_BALANCING) or by the name
    without the enum's prefix (LOAD_BALANCING, 3GPP, MPTCP, PREFER_3GPP);
  - name as "lb-8020" or "policies/lb-8020";
  - the output-only fields revision and updateTime are accepted (so that
    "policy get NAME -o yaml" can be applied back) and ignored by the server.

An unknown field, a wrong type or an unknown enum value is an error naming
the field and its line; the whole file is checked before anything is sent,
then the policies are put in file order, stopping at the first refusal. The
server checks the rest (e.g. weights summing to 100) and answers
InvalidArgument (exit 67) naming the field.

Example (deploy/examples/policy-lb-8020.yaml):

  name: lb-8020
  match:
    application:
      flowDescription: permit out ip from 203.0.113.128/25 to assigned
  steerModeDl:
    steerModeValue: STEERING_MODE_VALUE_LOAD_BALANCING
    threeGLoad: 80

--dry-run only reads and checks the file and prints the policies as they
would be sent.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{errors.New("-f FILE is required (- for standard input)")}
			}
			policies, err := a.readPolicies(file)
			if err != nil {
				return err
			}
			if dryRun {
				return a.printPolicies(policies, func(w io.Writer, p *atsssv1.Policy) {
					fmt.Fprintf(w, "%s valid (dry run)\n", p.GetName())
				})
			}
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			c := atsssv1.NewPolicyServiceClient(conn)
			for _, p := range policies {
				resp, err := c.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: p})
				if err != nil {
					if len(policies) > 1 {
						return prefixStatus(p.GetName(), err)
					}
					return err
				}
				stored := resp.GetPolicy()
				verb := "configured"
				if resp.GetCreated() {
					verb = "created"
				}
				err = a.printPolicies([]*atsssv1.Policy{stored}, func(w io.Writer, p *atsssv1.Policy) {
					fmt.Fprintf(w, "%s %s (revision %d)\n", p.GetName(), verb, p.GetRevision())
				})
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "YAML file of policies, - for standard input")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and print the policies without sending them")
	return cmd
}

// readPolicies reads the policies of file, "-" being standard input.
func (a *app) readPolicies(file string) ([]*atsssv1.Policy, error) {
	if file == "-" {
		return decodePolicies(a.stdin, "stdin")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	defer f.Close()
	return decodePolicies(f, file)
}

// printPolicies prints policies one by one: -o json as one JSON document
// each, -o yaml as YAML documents, else the line that line writes.
func (a *app) printPolicies(policies []*atsssv1.Policy, line func(io.Writer, *atsssv1.Policy)) error {
	for _, p := range policies {
		var err error
		switch a.output {
		case "json":
			err = a.printMessage(p, nil)
		case "yaml":
			if _, err = io.WriteString(a.stdout, "---\n"); err == nil {
				err = a.printMessage(p, nil)
			}
		default:
			line(a.stdout, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prefixStatus puts the policy's name before the message of a status error,
// keeping its code and details.
func prefixStatus(name string, err error) error {
	st, ok := grpcStatus(err)
	if !ok {
		return fmt.Errorf("%s: %w", name, err)
	}
	p := st.Proto()
	p.Message = name + ": " + p.GetMessage()
	return status.FromProto(p).Err()
}

func (a *app) policyGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show one policy",
		Long: `Show one policy by name ("lb-8020" or "policies/lb-8020"). NotFound (exit 69)
when there is none. "-o yaml" prints a document that "policy apply -f" takes back.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := policyName(args[0])
			if err != nil {
				return err
			}
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := atsssv1.NewPolicyServiceClient(conn).GetPolicy(ctx, &atsssv1.GetPolicyRequest{Name: name})
			if err != nil {
				return err
			}
			p := resp.GetPolicy()
			return a.printMessage(p, func(w io.Writer) { policyDetail(w, p) })
		},
	}
}

func (a *app) policyListCommand() *cobra.Command {
	var pageSize int32
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List policies, ordered by name",
		Long: `List every policy, ordered by name, fetching every page. The table shows
each policy's precedence (lowest wins), match key, functionality, steering,
rate cap, path preference and revision.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			c := atsssv1.NewPolicyServiceClient(conn)
			req := &atsssv1.ListPoliciesRequest{PageSize: pageSize}
			policies, err := fetchAll("list policies", req.PageToken, func(token string) ([]*atsssv1.Policy, string, error) {
				req.PageToken = token
				resp, err := c.ListPolicies(ctx, req)
				return resp.GetPolicies(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			all := &atsssv1.ListPoliciesResponse{Policies: policies}
			return a.printMessage(all, func(w io.Writer) { policiesTable(w, all.GetPolicies()) })
		},
	}
	cmd.Flags().Int32Var(&pageSize, "page-size", 0, "policies per call, 0..1000 (0: the server's default)")
	return cmd
}

func (a *app) policyDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a policy; the SMF's steering is in force again",
		Long: `Delete a policy by name ("lb-8020" or "policies/lb-8020"): the flows it
matched get the steering of the SMF's MAR back (or of the next matching
policy). NotFound (exit 69) when there is none.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := policyName(args[0])
			if err != nil {
				return err
			}
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := atsssv1.NewPolicyServiceClient(conn).DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: name})
			if err != nil {
				return err
			}
			return a.printMessage(resp, func(w io.Writer) { fmt.Fprintf(w, "%s deleted\n", name) })
		},
	}
}

func policiesTable(w io.Writer, policies []*atsssv1.Policy) {
	row(w, "NAME", "PRECEDENCE", "MATCH", "FUNCTION", "DL STEERING", "UL STEERING", "RATE CAP", "PATH PREFERENCE", "REVISION")
	for _, p := range policies {
		row(w, strings.TrimPrefix(p.GetName(), policyPrefix), strconv.FormatUint(uint64(p.GetPrecedence()), 10),
			match(p.GetMatch()), enumName(p.GetSteerFun()), steering(p.GetSteerModeDl()), steering(p.GetSteerModeUl()),
			rateCap(p.GetRateCap()), enumName(p.GetPathPreference()), strconv.FormatUint(p.GetRevision(), 10))
	}
}

func policyDetail(w io.Writer, p *atsssv1.Policy) {
	row(w, "Name:", p.GetName())
	row(w, "Precedence:", strconv.FormatUint(uint64(p.GetPrecedence()), 10))
	row(w, "Match:", match(p.GetMatch()))
	row(w, "Function:", enumName(p.GetSteerFun()))
	row(w, "DL steering:", steering(p.GetSteerModeDl()))
	row(w, "UL steering:", steering(p.GetSteerModeUl()))
	row(w, "Rate cap:", rateCap(p.GetRateCap()))
	row(w, "Path preference:", enumName(p.GetPathPreference()))
	row(w, "Revision:", strconv.FormatUint(p.GetRevision(), 10))
	row(w, "Updated:", timestamp(p.GetUpdateTime()))
}
