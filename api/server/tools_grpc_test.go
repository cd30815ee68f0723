package server_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/test/grpctools"
)

// TestGrpcurl drives the API with grpcurl, as an operator without the
// .proto files would: everything it knows comes from reflection.
func TestGrpcurl(t *testing.T) {
	grpcurl, _ := grpctools.Paths(t)
	h := start(t, options{auth: tokenAuth()})
	h.put(t, lbSession(0x11, "smf-a.example.net"), activeStandbySession(0x12, "smf-a.example.net"), lbSession(0x13, "smf-b.example.net"))
	auth := []string{"-plaintext", "-H", "authorization: Bearer " + viewerToken}

	// Reflection answers without a credential, like health: grpcurl
	// needs it before every call.
	t.Run("list", func(t *testing.T) {
		out, _, code := grpctools.Run(t, grpcurl, "-plaintext", h.addr, "list")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		got := strings.Fields(out)
		for _, want := range []string{"atsss.v1.SessionService", "atsss.v1.PolicyService", "grpc.health.v1.Health"} {
			if !slices.Contains(got, want) {
				t.Errorf("list = %q, missing %s", got, want)
			}
		}
	})

	t.Run("describe", func(t *testing.T) {
		out, _, code := grpctools.Run(t, grpcurl, append(auth, h.addr, "describe", "atsss.v1.PolicyService.PutPolicy")...)
		if code != 0 || !strings.Contains(out, "PutPolicyRequest") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})

	t.Run("ListSessions", func(t *testing.T) {
		out, _, code := grpctools.Run(t, grpcurl, append(auth, "-d", `{"page_size": 10}`, h.addr, "atsss.v1.SessionService/ListSessions")...)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var resp atsssv1.ListSessionsResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("grpcurl's JSON is not a ListSessionsResponse: %v", err)
		}
		if got, want := seids(resp.GetSessions()), []uint64{0x11, 0x12, 0x13}; !slices.Equal(got, want) {
			t.Errorf("seids = %#x, want %#x", got, want)
		}
		// uint64 are strings in proto JSON: a shell script reads them exactly.
		if !strings.Contains(out, `"seid": "17"`) {
			t.Errorf("no seid \"17\" in %s", out)
		}
	})

	t.Run("health without credential", func(t *testing.T) {
		for _, svc := range []string{"", "atsss.v1.SessionService", "atsss.v1.PolicyService"} {
			out, _, code := grpctools.Run(t, grpcurl, "-plaintext", "-d", `{"service": "`+svc+`"}`, h.addr, "grpc.health.v1.Health/Check")
			if code != 0 || !strings.Contains(out, `"status": "SERVING"`) {
				t.Errorf("service %q: exit %d, output %q", svc, code, out)
			}
		}
	})

	// grpcurl exits with 64 + the status code, which is what a script
	// branches on.
	for _, tc := range []struct {
		name   string
		args   []string
		method string
		data   string
		want   codes.Code
	}{
		{"GetSession unknown", auth, "atsss.v1.SessionService/GetSession", `{"seid": "999"}`, codes.NotFound},
		{"GetSession seid 0", auth, "atsss.v1.SessionService/GetSession", `{"seid": "0"}`, codes.InvalidArgument},
		{"GetPolicy unknown", auth, "atsss.v1.PolicyService/GetPolicy", `{"name": "policies/none"}`, codes.NotFound},
		{"no credential", []string{"-plaintext"}, "atsss.v1.SessionService/ListSessions", `{}`, codes.Unauthenticated},
		{"viewer writes", auth, "atsss.v1.PolicyService/DeletePolicy", `{"name": "policies/x"}`, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := grpctools.Run(t, grpcurl, append(slices.Clone(tc.args), "-d", tc.data, h.addr, tc.method)...)
			if want := 64 + int(tc.want); code != want {
				t.Errorf("exit %d, want %d (64 + %v); stderr %q", code, want, tc.want, errOut)
			}
			if !strings.Contains(errOut, tc.want.String()) {
				t.Errorf("stderr %q does not name %v", errOut, tc.want)
			}
		})
	}
}

// TestHealthProbe checks grpc-health-probe, as Kubernetes runs it: the
// server is NOT_SERVING (probe exit 4, "unhealthy") until the daemon calls
// SetServing, then SERVING (exit 0), and unreachable after Stop (exit 2,
// "connection failure"): grpc-health-probe's documented exit codes.
func TestHealthProbe(t *testing.T) {
	_, probe := grpctools.Paths(t)
	h := start(t, options{auth: tokenAuth(), notServing: true})
	check := func(t *testing.T, wantCode int, wantOut string, service string) {
		t.Helper()
		args := []string{"-addr=" + h.addr, "-connect-timeout=5s", "-rpc-timeout=5s"}
		if service != "" {
			args = append(args, "-service="+service)
		}
		out, errOut, code := grpctools.Run(t, probe, args...)
		if code != wantCode {
			t.Errorf("service %q: exit %d, want %d", service, code, wantCode)
		}
		if !strings.Contains(out+errOut, wantOut) {
			t.Errorf("service %q: output %q lacks %q", service, out+errOut, wantOut)
		}
	}
	services := []string{"", "atsss.v1.SessionService", "atsss.v1.PolicyService"}
	t.Run("before SetServing", func(t *testing.T) {
		for _, svc := range services {
			check(t, 4, "NOT_SERVING", svc)
		}
	})
	h.srv.SetServing()
	t.Run("after SetServing", func(t *testing.T) {
		for _, svc := range services {
			check(t, 0, "status: SERVING", svc)
		}
		check(t, 3, "NotFound", "atsss.v1.NoSuchService")
	})
	h.srv.Stop()
	t.Run("after Stop", func(t *testing.T) {
		// The probe retries a refused connection until its connect
		// timeout: a short one ends it sooner, with the same verdict.
		if _, _, code := grpctools.Run(t, probe, "-addr="+h.addr, "-connect-timeout=500ms"); code != 2 {
			t.Errorf("exit %d, want 2 (connection failure)", code)
		}
	})
}
