package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		code codes.Code
		want int
	}{
		{codes.Canceled, 65},
		{codes.InvalidArgument, 67},
		{codes.NotFound, 69},
		{codes.PermissionDenied, 71},
		{codes.Unavailable, 78},
		{codes.Unauthenticated, 80},
		{codes.Code(99), 66}, // beyond the defined codes: Unknown
	}
	for _, tt := range tests {
		if got := exitCode(tt.code); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

// TestBinaryExitCodes builds atsssctl and checks the exit codes and stderr
// of the real process.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := filepath.Join(t.TempDir(), "atsssctl")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := startServer(t)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string // a substring
	}{
		{"ok", []string{"sessions", "list"}, "", 0, ""},
		{"not found", []string{"sessions", "get", "9"}, "", 64 + 5, "atsssctl: NotFound: session 9 not found\n"},
		{"invalid argument", []string{"policy", "apply", "-f", "-"},
			"name: a\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 101}\n", 64 + 3,
			"atsssctl: InvalidArgument: invalid policy\n  policy.steer_mode_dl.three_g_load: value must be less than or equal to 100 [uint32.lte]\n"},
		{"invalid name", []string{"policy", "get", "Bad"}, "", 64 + 3, "  name: value \"policies/Bad\" does not match regex pattern [string.pattern]\n"},
		{"unknown command", []string{"sessions", "frobnicate"}, "", 2, `unknown command "frobnicate" for "atsssctl sessions"`},
		{"unknown flag", []string{"sessions", "list", "--nope"}, "", 2, "unknown flag: --nope"},
		{"bad output", []string{"-o", "xml", "sessions", "list"}, "", 2, `--output "xml"`},
		{"missing argument", []string{"sessions", "get"}, "", 2, "accepts 1 arg(s), received 0"},
		{"bad yaml", []string{"policy", "apply", "-f", "-"}, "name: [\n", 1, "stdin: document 1: yaml:"},
		{"not serving", []string{"health", "--service", "atsss.v1.SessionService"}, "", 4, "atsssctl: health: NOT_SERVING"},
	}
	srv.health.SetServingStatus("atsss.v1.SessionService", healthpb.HealthCheckResponse_NOT_SERVING)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"--plaintext", "--addr", srv.addr}, tt.args...)...)
			cmd.Env = cleanEnv()
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// cleanEnv is the test's environment without atsssctl's variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ATSSSCTL_") {
			env = append(env, kv)
		}
	}
	return env
}
