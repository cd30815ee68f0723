package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func (a *app) healthCommand() *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check the server's grpc.health.v1 status",
		Long: `Call grpc.health.v1.Health/Check for --service ("" is the server as a whole;
atsssd reports SERVING only once N4 and the data planes are up) and print the
status. Exit code 0 only when SERVING; 4 when the server answers with another
status (NOT_SERVING, UNKNOWN); 69 (NotFound) for a service the server does
not know; 78 (Unavailable) when the server cannot be reached.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				return err
			}
			if err := a.printMessage(resp, func(w io.Writer) { fmt.Fprintln(w, resp.GetStatus()) }); err != nil {
				return err
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return exitError{code: exitNotServing, msg: fmt.Sprintf("health: %s", resp.GetStatus())}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&service, "service", "", `service to check, e.g. atsss.v1.PolicyService ("" for the whole server)`)
	return cmd
}
