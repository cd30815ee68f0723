package main

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestHealth(t *testing.T) {
	srv := startServer(t)
	srv.health.SetServingStatus("atsss.v1.PolicyService", healthpb.HealthCheckResponse_NOT_SERVING)
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"serving", []string{"health"}, exitOK, "SERVING\n", ""},
		{"serving json", []string{"-o", "json", "health"}, exitOK, "{\n  \"status\": \"SERVING\"\n}\n", ""},
		{"not serving", []string{"health", "--service", "atsss.v1.PolicyService"}, exitNotServing, "NOT_SERVING\n", "atsssctl: health: NOT_SERVING\n"},
		{"unknown service", []string{"health", "--service", "nope"}, exitStatusBase + 5, "", "atsssctl: NotFound: unknown service\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := srv.plain(t, tt.args...)
			r.want(t, tt.code)
			if r.stdout != tt.out || r.stderr != tt.err {
				t.Errorf("stdout %q stderr %q, want %q and %q", r.stdout, r.stderr, tt.out, tt.err)
			}
		})
	}

	srv.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	r := srv.plain(t, "health")
	r.want(t, exitNotServing)
}
